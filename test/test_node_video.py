# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The live node on the pose2sim demo videos (MediaPipe), over real DDS on loopback.

Four cameras send real frames as ``sensor_msgs/Image`` (bgr8 and rgb8) and
``CompressedImage`` (jpeg), with CameraInfo from the calibration file.  The node's
``/human_pose_3d`` must equal the offline pipeline (fresh MediaPipe detectors and the solver,
in-process, on the same decoded frames), and it must publish markers, points and REP-155 TF.
Then bad inputs (unknown encoding, wrong size, K all zeros) are logged, reported on
``/diagnostics``, and the node keeps fusing the remaining views.

Image size: the calibration says 1088 x 1920 but cam01/cam02's videos are 1080 px wide (the
encoder's padding to a multiple of 16 was cropped, on the right: x pixel coordinates are
unchanged).  So the CameraInfo states the real width with the calibration's K, as a driver
for those files would; the node refuses images that disagree with their CameraInfo.
"""

import cv2
from diagnostic_msgs.msg import DiagnosticStatus
from node_helpers import Probe, stamp_ns, stamp_of, STAMP_RATE_HZ
import numpy as np
import pytest
from ros_helpers import RosContext, spin_until
from sensor_msgs.msg import CompressedImage, Image
from skelsplat_ros.body_frames import body_id
from skelsplat_ros.cameras import load_calibration, make_camera
from skelsplat_ros.detect import create_detector
from skelsplat_ros.imaging import bgr_to_image_fields, compressed_to_bgr, encode_compressed
from skelsplat_ros.ros.conversions import camera_info_msg
from skelsplat_ros.ros.runner import create_node
from skelsplat_ros.solver import SkelSplatSolver, SolverConfig
from test_node_keypoints import OUTPUT_TIMEOUT_S, PARAMS

pytestmark = pytest.mark.ros

NUM_FRAMES = 3
KINDS = {'cam_01': ('image', 'bgr8'), 'cam_02': ('image', 'rgb8'),
         'cam_03': ('compressed', 'jpeg'), 'cam_04': ('image', 'bgr8')}
CAMERAS = tuple(KINDS)


@pytest.fixture(scope='module')
def video(data_root):
    """Return (cameras with the real image sizes, per frame the 4 messages' payloads)."""
    calibration = data_root / 'pose2sim-0.4.15/Pose2Sim/Demo/calibration/Calib_qualisys.toml'
    videos = data_root / 'pose2sim-0.10.49/Pose2Sim/Demo_SinglePerson/videos'
    frames = {}
    for v, name in enumerate(CAMERAS, start=1):
        capture = cv2.VideoCapture(str(videos / f'cam0{v}.mp4'))
        frames[name] = [capture.read()[1] for _ in range(NUM_FRAMES)]
        capture.release()
    cameras = {}
    for camera in load_calibration(calibration):
        height, width = frames[camera.name][0].shape[:2]
        cameras[camera.name] = make_camera(camera.name, camera.K, camera.dist,
                                           camera.distortion_model, width, height,
                                           camera.R, camera.t)
    return calibration, cameras, frames


def _image(bgr, encoding, stamp, frame_id):
    encoding, width, height, step, data = bgr_to_image_fields(bgr, encoding)
    msg = Image(encoding=encoding, width=width, height=height, step=step, data=data)
    msg.header.stamp, msg.header.frame_id = stamp, frame_id
    return msg


def _compressed(bgr, stamp, frame_id):
    fmt, data = encode_compressed(bgr, 'jpeg', quality=90)
    msg = CompressedImage(format=fmt, data=data)
    msg.header.stamp, msg.header.frame_id = stamp, frame_id
    return msg


def _message(name, bgr, stamp):
    kind, detail = KINDS[name]
    if kind == 'compressed':
        return _compressed(bgr, stamp, f'{name}_optical_frame')
    return _image(bgr, detail, stamp, f'{name}_optical_frame')


def _offline(cameras, messages):
    """Run the reference: fresh detectors and solver, in order, on the decoded frames."""
    # config/multiview.yaml: detector_tracking false, every image detected afresh.
    detectors = {name: create_detector('mediapipe', static_image_mode=True) for name in CAMERAS}
    # solver_objective:=auto runs the analytic objective on a CPU.
    solver = SkelSplatSolver([cameras[name] for name in CAMERAS],
                             SolverConfig(device='cpu', objective='analytic',
                                          frame_rate=STAMP_RATE_HZ))
    results = []
    for group in messages:
        views = []
        for name in CAMERAS:
            msg = group[name]
            if isinstance(msg, CompressedImage):
                bgr = compressed_to_bgr(msg.format, msg.data)
            else:
                bgr = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.width, 3)
                bgr = bgr[:, :, ::-1] if msg.encoding == 'rgb8' else bgr
            views.append(detectors[name].detect(np.ascontiguousarray(bgr)))
        results.append(solver.solve(views))
    for detector in detectors.values():
        detector.close()
    return results


def _positions(person):
    return np.array([[p.x, p.y, p.z] for p in person.positions])


def test_video_node_matches_offline_and_survives_bad_input(video):
    calibration, cameras, frames = video
    messages = [{name: _message(name, frames[name][i], stamp_of(i)) for name in CAMERAS}
                for i in range(NUM_FRAMES)]
    overrides = {'calibration_file': str(calibration), 'detector': 'mediapipe',
                 'image_qos': 'reliable', 'device': 'cpu', 'diagnostics_period': 0.2,
                 'max_wait': 5.0,  # every group complete, even on a busy machine
                 'publish_covariance_ellipsoids': True,
                 'cameras.cam_03.image_topic': '/cam_03/image_raw/compressed'}
    with RosContext() as ros:
        node = create_node(PARAMS, overrides, context=ros.context)
        ros.executor.add_node(node)
        ros.nodes.append(node)
        probe = Probe(ros.node('probe'), {name: kind for name, (kind, _) in KINDS.items()})
        assert spin_until(ros.executor, probe.connected)

        def send_info(name, camera, stamp):
            probe.info[name].publish(camera_info_msg(camera, stamp, f'{name}_optical_frame'))

        for name in CAMERAS:
            send_info(name, cameras[name], stamp_of(0))
        assert spin_until(ros.executor, lambda: probe.calibrated(CAMERAS), timeout_s=10.0)

        def send(group, names=CAMERAS):
            for name in names:
                probe.inputs[name].publish(group[name])

        def wait_output(count):
            assert spin_until(ros.executor, lambda: probe.count('/human_pose_3d') >= count,
                              timeout_s=OUTPUT_TIMEOUT_S), f'no output #{count}'

        for index, group in enumerate(messages):
            send(group)
            wait_output(index + 1)
        outputs = probe.messages('/human_pose_3d')
        assert spin_until(ros.executor, lambda: probe.count('/human_pose_3d/markers') >= 3
                          and probe.count('/tf') >= 3
                          and probe.count('/human_pose_3d/points') >= 3)

        # Bad inputs.  Group 3: cam_01 has an unknown encoding (dropped when converted),
        # cam_02 the wrong size (refused on arrival); cam_03 and cam_04 still fuse.
        bad = {name: _message(name, frames[name][0], stamp_of(3)) for name in CAMERAS}
        bad['cam_01'].encoding = 'bogus16'
        small = cv2.resize(frames['cam_02'][0], (540, 960))
        bad['cam_02'] = _image(small, 'rgb8', stamp_of(3), 'cam_02_optical_frame')
        send(bad)
        wait_output(NUM_FRAMES + 1)
        # Then cam_04's CameraInfo says uncalibrated (K all zeros): it is ignored.
        zero = make_camera('cam_04', cameras['cam_04'].K, [], 'none', 1088, 1920)
        zero_info = camera_info_msg(zero, stamp_of(4), 'cam_04_optical_frame')
        zero_info.k = [0.0] * 9
        probe.info['cam_04'].publish(zero_info)
        assert spin_until(ros.executor, lambda: probe.camera_status('cam_04') is not None
                          and probe.camera_status('cam_04').level == DiagnosticStatus.ERROR)
        send({name: _message(name, frames[name][1], stamp_of(4)) for name in CAMERAS})
        wait_output(NUM_FRAMES + 2)
        after_bad = probe.messages('/human_pose_3d')[NUM_FRAMES:]
        # /rosout is a topic of its own: the log lines may arrive after the outputs.
        spin_until(ros.executor, lambda: 'K is all zeros' in '\n'.join(probe.logs()),
                   timeout_s=5.0)
        logs = '\n'.join(probe.logs())
        markers = probe.messages('/human_pose_3d/markers')
        transforms = [t for msg in probe.messages('/tf') for t in msg.transforms]
        points = probe.messages('/human_pose_3d/points')

    reference = _offline(cameras, messages)
    for index, (output, expected) in enumerate(zip(outputs, reference)):
        assert stamp_ns(output.header.stamp) == stamp_ns(stamp_of(index))
        assert expected is not None and len(output.people) == 1
        known = np.isfinite(expected.positions).all(axis=1)
        assert known.all()
        np.testing.assert_allclose(_positions(output.people[0]), expected.positions, atol=1e-3)
        assert list(output.people[0].num_views) == list(expected.num_views)

    assert [max(msg.people[0].num_views) for msg in after_bad] == [2, 3]
    assert "cam_01: frame dropped: unsupported image encoding 'bogus16'" in logs
    assert 'cam_02: image refused, its size 540x960 differs from CameraInfo 1080x1920' in logs
    assert 'cam_04: CameraInfo rejected, camera ignored' in logs and 'K is all zeros' in logs

    kinds = {marker.ns: marker for msg in markers[:1] for marker in msg.markers}
    assert len(kinds['skelsplat/joints'].points) == 17
    assert kinds['skelsplat/joints'].type == kinds['skelsplat/joints'].SPHERE_LIST
    assert len(kinds['skelsplat/bones'].points) == 2 * 16
    person_id = outputs[0].people[0].id  # several people by default: the tracker's id
    assert all(msg.people[0].id == person_id for msg in outputs)
    assert kinds['skelsplat/id'].text == f'person {person_id}'
    assert 'skelsplat/covariance' in kinds
    children = {t.child_frame_id: t.header.frame_id for t in transforms}
    body = body_id(person_id)  # ROS4HRI frames (frame_style ros4hri, the default)
    assert children[f'body_{body}'] == 'world'
    assert children[f'l_wrist_{body}'] == f'l_elbow_{body}'
    assert children[f'r_ankle_{body}'] == f'r_knee_{body}'
    stamps = [stamp_ns(t.header.stamp) for t in transforms if t.child_frame_id == f'body_{body}']
    assert stamps == sorted(set(stamps)), 'TF repeated or reordered a stamp'
    assert points[0].width == 17 and [f.name for f in points[0].fields] == [
        'x', 'y', 'z', 'confidence', 'joint', 'person']
