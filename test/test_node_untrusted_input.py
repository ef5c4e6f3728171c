# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Inputs of issue #20, over real DDS: the node survives them and publishes no false person.

cam_01 and cam_02 send good half-size frames of the pose2sim demo (MediaPipe); cam_03
(CompressedImage) sends a decompression bomb, a 631-byte-like JPEG that declares 30000 x 30000
pixels; cam_04 (Image) sends a 100000 x 1 image that matches its CameraInfo, which used to
abort the process inside MediaPipe's OpenCV remap.  Both are refused before any native call:
a log line, a /diagnostics status, and the person is still published from the good views,
without the memory a decoded bomb would take.  Keypoints that agree on a person 300 m away
give nobody.
"""

import resource

from diagnostic_msgs.msg import DiagnosticStatus
from node_helpers import calibrate, CAMERAS, Probe, stamp_ns, stamp_of
import numpy as np
import pytest
from ros_helpers import RosContext, spin_until
from sensor_msgs.msg import CompressedImage, Image
from skelsplat_ros.cameras import load_calibration, make_camera
from skelsplat_ros.fileio.trc import read_trc
from skelsplat_ros.imaging import encode_compressed
from skelsplat_ros.ros.conversions import camera_info_msg, keypoints_msg
from skelsplat_ros.ros.runner import create_node
from skelsplat_ros.skeletons import COCO17, trc_correspondence
from test_imaging import _declaring
from test_node_faults import _level_of, half_size, KINDS, RATE_HZ  # noqa: F401
from test_node_keypoints import _node_overrides, demo, OUTPUT_TIMEOUT_S  # noqa: F401
from test_node_keypoints import PARAMS
from test_node_video import _compressed, _image

pytestmark = pytest.mark.ros


def _max_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def test_extreme_sizes_and_bombs_are_refused_before_native_code(half_size):  # noqa: F811
    """The node survives both, reports each on its camera and fuses the good views."""
    calibration, cameras, frames = half_size
    overrides = {'calibration_file': str(calibration), 'detector': 'mediapipe',
                 'image_qos': 'reliable', 'device': 'cpu', 'diagnostics_period': 0.2,
                 'max_wait': 0.3, 'slop': 0.008,
                 'cameras.cam_03.image_topic': '/cam_03/image_raw/compressed'}
    # cam_04 states a 100000 x 1 image: a CameraInfo that passes every calibration check.
    good4 = cameras['cam_04']
    thin = make_camera('cam_04', good4.K, good4.dist, good4.distortion_model, 100000, 1,
                       good4.R, good4.t)
    bomb = CompressedImage(format='jpeg', data=_declaring(
        encode_compressed(np.zeros((8, 8, 3), np.uint8), 'jpeg')[1], 30000, 30000))
    encoding, width, height, step, data = 'bgr8', 100000, 1, 300000, bytes(300000)
    with RosContext() as ros:
        node = create_node(PARAMS, overrides, context=ros.context)
        ros.executor.add_node(node)
        ros.nodes.append(node)
        probe = Probe(ros.node('probe'), KINDS)
        assert spin_until(ros.executor, probe.connected)
        for name in CAMERAS:
            camera = thin if name == 'cam_04' else cameras[name]
            probe.info[name].publish(camera_info_msg(camera, stamp_of(0), f'{name}_optical_frame'))
        assert spin_until(ros.executor, lambda: probe.calibrated(CAMERAS))

        rss_before = _max_rss_bytes()
        for index in range(1, 4):
            stamp = stamp_of(index, rate_hz=RATE_HZ)
            for name in ('cam_01', 'cam_02'):
                probe.inputs[name].publish(_image(frames[name], 'bgr8', stamp,
                                                  f'{name}_optical_frame'))
            bomb.header.stamp = stamp
            probe.inputs['cam_03'].publish(bomb)
            extreme = Image(encoding=encoding, width=width, height=height, step=step, data=data)
            extreme.header.stamp = stamp
            probe.inputs['cam_04'].publish(extreme)
            assert spin_until(ros.executor, lambda: any(
                stamp_ns(msg.header.stamp) == stamp_ns(stamp) and msg.people
                for msg in probe.messages('/human_pose_3d')), timeout_s=OUTPUT_TIMEOUT_S)
        for camera, text in (('cam_03', '30000x30000 pixels is too large'),
                             ('cam_04', '100000x1 pixels is too large')):
            assert spin_until(ros.executor, lambda: _level_of(probe, camera, text) is not None,
                              timeout_s=5.0), f'{camera}: no diagnostics mentioning {text!r}'
            assert _level_of(probe, camera, text) in (DiagnosticStatus.WARN,
                                                      DiagnosticStatus.ERROR)
            assert spin_until(ros.executor, lambda: any(
                f'{camera}: ' in line and text in line for line in probe.logs()), timeout_s=5.0)
        # A decoded bomb alone is 2.7 GB of pixels.
        assert _max_rss_bytes() - rss_before < 500e6
        # cam_03 recovers with its next good frame: the refusal cost that frame only.
        stamp = stamp_of(5, rate_hz=RATE_HZ)
        for name in ('cam_01', 'cam_02', 'cam_03'):
            maker = _compressed if KINDS[name] == 'compressed' else \
                (lambda bgr, s, f: _image(bgr, 'bgr8', s, f))
            probe.inputs[name].publish(maker(frames[name], stamp, f'{name}_optical_frame'))
        assert spin_until(ros.executor, lambda: any(
            stamp_ns(msg.header.stamp) == stamp_ns(stamp) and msg.people
            and max(person.num_views) >= 3
            for msg in probe.messages('/human_pose_3d') for person in msg.people),
            timeout_s=OUTPUT_TIMEOUT_S)


def test_a_consistent_person_300_m_away_is_not_published(demo):  # noqa: F811
    """Keypoints that agree on a skeleton 300 m away (behind two cameras): nobody published.

    The same skeleton where it really stands is published, before and after.
    """
    calibration = demo[0]
    cameras = {camera.name: camera for camera in load_calibration(calibration)}
    truth = _trc_skeleton(calibration)
    far = truth + np.array([300.0, 0.0, 0.0])
    overrides = _node_overrides(calibration, max_wait=5.0, solver_workspace_radius_m=15.0)
    with RosContext() as ros:
        node = create_node(PARAMS, overrides, context=ros.context)
        ros.executor.add_node(node)
        ros.nodes.append(node)
        probe = Probe(ros.node('probe'), dict.fromkeys(CAMERAS, 'keypoints'))
        calibrate(ros, probe, cameras)
        for index, (skeleton, people) in enumerate(((truth, 1), (far, 0), (truth, 1))):
            stamp = stamp_of(index + 1)
            for name, camera in cameras.items():
                views = np.zeros((1, COCO17.num_joints, 3))
                known = np.isfinite(skeleton).all(axis=1)
                views[0, known, :2] = camera.project(skeleton[known])
                views[0, known, 2] = 0.9
                probe.inputs[name].publish(keypoints_msg(views, 'coco17', stamp,
                                                         f'{name}_optical_frame'))
            assert spin_until(ros.executor, lambda: any(
                stamp_ns(msg.header.stamp) == stamp_ns(stamp)
                for msg in probe.messages('/human_pose_3d')), timeout_s=OUTPUT_TIMEOUT_S)
            output = [msg for msg in probe.messages('/human_pose_3d')
                      if stamp_ns(msg.header.stamp) == stamp_ns(stamp)][0]
            assert len(output.people) == people, index
            for person in output.people:
                positions = np.array([[p.x, p.y, p.z] for p in person.positions])
                assert np.linalg.norm(positions, axis=1).max() < 15.0


def _trc_skeleton(calibration):
    """Return the COCO-17 joints (J, 3) of the first motion-capture frame, NaN where absent."""
    names, markers, _ = read_trc(calibration.parent.parent / 'opensim' / 'Balancing_for_IK.trc')
    marker_index, coco_index = trc_correspondence(names)
    truth = np.full((COCO17.num_joints, 3), np.nan)
    truth[coco_index] = markers[0, marker_index][..., [2, 0, 1]]  # OpenSim Y-up -> Z-up
    return truth


def test_an_absurd_camera_model_costs_only_its_camera(demo):  # noqa: F811
    """cam_04's CameraInfo has a principal point of 1e300 px: finite, accepted, absurd.

    The three good cameras' person is still published, supported by them alone.
    """
    calibration = demo[0]
    cameras = {camera.name: camera for camera in load_calibration(calibration)}
    truth = _trc_skeleton(calibration)
    good4 = cameras['cam_04']
    K = good4.K.copy()
    K[0, 2] = K[1, 2] = 1e300
    absurd = make_camera('cam_04', K, good4.dist, good4.distortion_model, good4.width,
                         good4.height, good4.R, good4.t)
    with RosContext() as ros:
        node = create_node(PARAMS, _node_overrides(calibration, max_wait=5.0),
                           context=ros.context)
        ros.executor.add_node(node)
        ros.nodes.append(node)
        probe = Probe(ros.node('probe'), dict.fromkeys(CAMERAS, 'keypoints'))
        calibrate(ros, probe, {**cameras, 'cam_04': absurd})
        for index in range(1, 4):
            stamp = stamp_of(index)
            for name, camera in cameras.items():   # the real detections, cam_04's too
                views = np.zeros((1, COCO17.num_joints, 3))
                known = np.isfinite(truth).all(axis=1)
                views[0, known, :2] = camera.project(truth[known])
                views[0, known, 2] = 0.9
                probe.inputs[name].publish(keypoints_msg(views, 'coco17', stamp,
                                                         f'{name}_optical_frame'))
            assert spin_until(ros.executor, lambda: any(
                stamp_ns(msg.header.stamp) == stamp_ns(stamp)
                for msg in probe.messages('/human_pose_3d')), timeout_s=OUTPUT_TIMEOUT_S)
            output = [msg for msg in probe.messages('/human_pose_3d')
                      if stamp_ns(msg.header.stamp) == stamp_ns(stamp)][0]
            assert len(output.people) == 1, index
            person = output.people[0]
            located = np.array(person.num_views) > 0
            assert located.sum() >= 12 and max(person.num_views) == 3
            positions = np.array([[p.x, p.y, p.z] for p in person.positions])
            assert np.abs(positions[located] - truth[located]).max() < 0.01
