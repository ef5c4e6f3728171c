# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The split rig over real DDS on loopback: detector nodes, then the fusion node on keypoints.

The nodes of ``distributed.launch.py`` (one detector node per camera plus the fusion node in
``keypoints_topic`` mode, composed in-process by the runner from the same parameter file) and
today's single node run side by side on the pose2sim demo videos (raw and compressed images).
The split's ``human_pose_3d`` must match the single node's within the solver's tolerance; the
keypoints carry their image's header; each detector node reports its camera on
``/diagnostics``.  Then one detector node stops: the fusion node goes on with the other three
cameras and its ``/diagnostics`` names the stalled one.
"""

import ast
import threading
import time

import cv2
from diagnostic_msgs.msg import DiagnosticStatus
from node_helpers import Probe, stamp_ns, stamp_of
import numpy as np
import pytest
import rclpy
from rclpy.parameter import Parameter
from ros_helpers import RosContext, spin_until
from sensor_msgs.msg import Image
from skelsplat_ros.imaging import bgr_to_image_fields
from skelsplat_ros.msg import HumanPose3DArray, Keypoints2D
from skelsplat_ros.ros import detector_node, runner
from skelsplat_ros.ros.conversions import camera_info_msg
from skelsplat_ros.ros.detector_node import DetectorNode
from skelsplat_ros.ros.launch_arguments import distributed_arguments, distributed_nodes, \
    node_parameters
from test_node_keypoints import OUTPUT_TIMEOUT_S, PARAMS
from test_node_video import _message, CAMERAS, KINDS, video  # noqa: F401 - the fixture
import yaml

pytestmark = pytest.mark.ros

NUM_FRAMES = 3
OVERRIDES = {'detector': 'mediapipe', 'image_qos': 'reliable', 'device': 'cpu',
             'diagnostics_period': 0.2, 'max_wait': 5.0}


def _params_file(tmp_path, calibration):
    """Write the demo's parameter file with the test's settings (cam_03 sends JPEG)."""
    parameters = node_parameters(PARAMS)
    parameters.update(OVERRIDES, calibration_file=str(calibration))
    parameters['cameras']['cam_03']['image_topic'] = '/cam_03/image_raw/compressed'
    path = tmp_path / 'rig.yaml'
    path.write_text(yaml.safe_dump({'/**/skelsplat_node': {'ros__parameters': parameters}}))
    return path


def _all_calibrated(probe):
    """Whether the newest reports of both fusion nodes (every 0.2 s) say all calibrated."""
    arrays = [array for array in probe.messages('/diagnostics')
              if any(kv.key == 'calibrated' for s in array.status for kv in s.values)][-4:]
    return len(arrays) == 4 and all(
        {kv.key: kv.value for kv in s.values}.get('calibrated') == 'True'
        for array in arrays for s in array.status if ': camera ' in s.name)


def _status(probe, name):
    for array in reversed(probe.messages('/diagnostics')):
        for status in array.status:
            if status.name == name:
                return status
    return None


def test_split_rig_matches_single_node_and_survives_a_dead_detector(video, tmp_path):  # noqa: F811
    calibration, cameras, frames = video
    params_file = _params_file(tmp_path, calibration)
    messages = [{name: _message(name, frames[name][i], stamp_of(i)) for name in CAMERAS}
                for i in range(NUM_FRAMES)]
    with RosContext() as ros:
        single = runner.create_node(
            PARAMS, {**OVERRIDES, 'calibration_file': str(calibration),
                     'cameras.cam_03.image_topic': '/cam_03/image_raw/compressed'},
            context=ros.context, namespace='single')
        split = runner.compose_from_arguments(params_file, namespace='split', context=ros.context)
        assert [node.get_name() for node in split] == [
            f'skelsplat_detector_{name}' for name in CAMERAS] + ['skelsplat_node']
        for node in [single, *split]:
            ros.executor.add_node(node)
            ros.nodes.append(node)
        probe = Probe(ros.node('probe'), {name: kind for name, (kind, _) in KINDS.items()})
        for namespace in ('single', 'split'):
            probe.listen(f'/{namespace}/human_pose_3d', HumanPose3DArray)
        probe.listen('/cam_01/keypoints', Keypoints2D)
        probe.listen('/cam_03/keypoints', Keypoints2D)
        assert spin_until(ros.executor, probe.connected)
        for name in CAMERAS:
            probe.info[name].publish(camera_info_msg(cameras[name], stamp_of(0),
                                                     f'{name}_optical_frame'))
        assert spin_until(ros.executor, lambda: _all_calibrated(probe), timeout_s=10.0)

        def wait_outputs(count, namespaces=('single', 'split')):
            for namespace in namespaces:
                topic = f'/{namespace}/human_pose_3d'
                assert spin_until(ros.executor, lambda: probe.count(topic) >= count,
                                  timeout_s=OUTPUT_TIMEOUT_S), f'no output #{count} on {topic}'

        for index, group in enumerate(messages):
            for name in CAMERAS:
                probe.inputs[name].publish(group[name])
            wait_outputs(index + 1)
        assert spin_until(ros.executor, lambda: probe.count('/cam_03/keypoints') >= NUM_FRAMES)
        detector_statuses = [status for array in probe.messages('/diagnostics')
                             for status in array.status
                             if status.name == 'skelsplat_detector_cam_03: camera cam_03']

        # cam_04's detector node stops: the three other cameras are still fused.
        stopped = split[3]
        ros.executor.remove_node(stopped)
        ros.nodes.remove(stopped)
        stopped.destroy_node()
        for name in CAMERAS:
            probe.inputs[name].publish(_message(name, frames[name][0], stamp_of(NUM_FRAMES)))
        wait_outputs(NUM_FRAMES + 1, ('split',))
        stalled = 'skelsplat_node: camera cam_04'
        assert spin_until(ros.executor, lambda: 'stalled' in getattr(
            _status(probe, stalled), 'message', ''), timeout_s=10.0)
        cam_04 = _status(probe, stalled)
        single_out = probe.messages('/single/human_pose_3d')
        split_out = probe.messages('/split/human_pose_3d')
        keypoints = probe.messages('/cam_03/keypoints')

    for index in range(NUM_FRAMES):
        expected, output = single_out[index], split_out[index]
        assert stamp_ns(output.header.stamp) == stamp_ns(expected.header.stamp) \
            == stamp_ns(stamp_of(index))
        assert len(expected.people) == len(output.people) == 1
        positions = [np.array([[p.x, p.y, p.z] for p in msg.people[0].positions])
                     for msg in (expected, output)]
        assert np.isfinite(positions[0]).all()
        # The split sends float32 pixels: the fits differ far below a millimetre.
        np.testing.assert_allclose(positions[1], positions[0], atol=1e-3)
        assert not np.array_equal(positions[1], np.zeros_like(positions[1]))
        assert list(output.people[0].num_views) == list(expected.people[0].num_views)
        assert max(output.people[0].num_views) == 4

    # The keypoints: the image's stamp and frame_id, flat, the skeleton's format and size.
    assert [stamp_ns(msg.header.stamp) for msg in keypoints[:NUM_FRAMES]] == [
        stamp_ns(stamp_of(index)) for index in range(NUM_FRAMES)]
    first = keypoints[0]
    assert first.header.frame_id == 'cam_03_optical_frame'
    assert first.skeleton_format == 'coco17' and first.num_joints == 17 and not first.people
    assert len(first.xy) == 2 * len(first.confidence) and len(first.confidence) % 17 == 0
    assert (first.image_width, first.image_height) == (cameras['cam_03'].width,
                                                       cameras['cam_03'].height)
    # Its diagnostics: the windows in which it published say how fast and how late.
    busy = [{kv.key: kv.value for kv in status.values} for status in detector_statuses
            if status.level == DiagnosticStatus.OK]
    busy = [values for values in busy if float(values['output_rate_hz']) > 0]
    assert busy, [status.message for status in detector_statuses]
    assert all(float(values['latency_median_ms']) > 0 and values['detector'] == 'mediapipe'
               and values['people_in_view'] == '1' for values in busy)

    # After the stop: fused from three views, and the fusion node names the silent camera.
    assert len(split_out[NUM_FRAMES].people) == 1
    assert max(split_out[NUM_FRAMES].people[0].num_views) == 3
    assert cam_04.level == DiagnosticStatus.WARN


def test_distributed_nodes_split_by_host():
    camera_host = distributed_nodes(PARAMS, 'cam_02, cam_04', start_fusion=False)
    assert [(node.executable, node.name, node.parameters['camera_names'])
            for node in camera_host] == [
        ('skelsplat_detector_node', 'skelsplat_detector_cam_02', ['cam_02']),
        ('skelsplat_detector_node', 'skelsplat_detector_cam_04', ['cam_04'])]
    one_node = distributed_nodes(PARAMS, start_fusion=False, detector_per_camera=False)
    assert [(node.name, node.parameters['camera_names']) for node in one_node] == [
        ('skelsplat_detector', list(CAMERAS))]
    fusion_host = distributed_nodes(PARAMS, start_detectors=False)
    assert [(node.executable, node.parameters['detector']) for node in fusion_host] == [
        ('skelsplat_node', 'keypoints_topic')]
    assert fusion_host[0].parameters['camera_names'] == list(CAMERAS)
    with pytest.raises(ValueError, match='cam_09 not in the camera_names'):
        distributed_nodes(PARAMS, 'cam_09')


def _camera_01_detector(ros, camera, stamp, **parameters):
    """Start a detector node for cam_01 and a probe; return them once the CameraInfo is sent.

    The node has reliable input and ``parameters``; the CameraInfo is stamped ``stamp``.
    """
    node = DetectorNode(context=ros.context, parameter_overrides=[
        Parameter('camera_names', value=['cam_01']), Parameter('image_qos', value='reliable'),
        *(Parameter(name, value=value) for name, value in parameters.items())])
    ros.executor.add_node(node)
    ros.nodes.append(node)
    probe = Probe(ros.node('probe'), {'cam_01': 'image'})
    probe.listen('/cam_01/keypoints', Keypoints2D)
    assert spin_until(ros.executor, probe.connected)
    probe.info['cam_01'].publish(camera_info_msg(camera, stamp, 'cam_01_optical_frame'))
    return node, probe


def test_detector_node_refuses_bad_frames_and_keeps_detecting(video):  # noqa: F811
    _, cameras, frames = video
    bgr = frames['cam_01'][0]
    with RosContext() as ros:
        node, probe = _camera_01_detector(ros, cameras['cam_01'], stamp_of(0),
                                          diagnostics_period=0.2)
        status_name = 'skelsplat_detector_node: camera cam_01'

        def values():
            status = _status(probe, status_name)
            return {} if status is None else {kv.key: kv.value for kv in status.values}

        assert spin_until(ros.executor, lambda: values().get('camera_info') == 'ok')
        bad = _message('cam_01', bgr, stamp_of(0))
        bad.encoding = 'bogus16'
        probe.inputs['cam_01'].publish(bad)
        assert spin_until(ros.executor, lambda: any(
            'bogus16' in line for line in probe.logs('skelsplat_detector_node')))
        encoding, width, height, step, data = bgr_to_image_fields(cv2.resize(bgr, (540, 960)))
        small = Image(encoding=encoding, width=width, height=height, step=step, data=data)
        small.header.stamp, small.header.frame_id = stamp_of(1), 'cam_01_optical_frame'
        probe.inputs['cam_01'].publish(small)
        probe.inputs['cam_01'].publish(_message('cam_01', bgr, stamp_of(2)))
        assert spin_until(ros.executor, lambda: probe.count('/cam_01/keypoints') >= 1,
                          timeout_s=OUTPUT_TIMEOUT_S)
        assert spin_until(ros.executor, lambda: 'size 540x960' in '\n'.join(
            probe.logs('skelsplat_detector_node')))

        def faults():
            return [status for array in probe.messages('/diagnostics')
                    for status in array.status
                    if status.name == status_name and status.level == DiagnosticStatus.WARN]

        assert spin_until(ros.executor, faults)
        logs = '\n'.join(probe.logs('skelsplat_detector_node'))
        warned = faults()[0]
        keypoints = probe.messages('/cam_01/keypoints')

    assert "cam_01: frame dropped: unsupported image encoding 'bogus16'" in logs
    assert 'cam_01: image refused, its size 540x960 differs from CameraInfo 1080x1920' in logs
    assert 'frames dropped: cam_01: ' in warned.message
    # Only the good frame was detected: nothing published for the refused ones.
    assert [stamp_ns(msg.header.stamp) for msg in keypoints] == [stamp_ns(stamp_of(2))]
    assert len(keypoints[0].confidence) == 17 and np.isfinite(keypoints[0].xy).all()


def test_detector_node_detects_only_the_first_frame_of_each_detection_period(video):  # noqa: F811
    # Six 30 Hz frames with detection_period 0.1 s: frames 0 and 3 open the two slots.  Each
    # frame is sent once the node has taken in the last one and detected what it took, so
    # none is dropped for being busy.
    _, cameras, frames = video
    bgr = frames['cam_01'][0]
    stamps = [stamp_of(k, rate_hz=30.0, start_s=1000) for k in range(6)]
    with RosContext() as ros:
        node, probe = _camera_01_detector(ros, cameras['cam_01'], stamps[0],
                                          detection_period=0.1)
        state = node._states['cam_01']
        for k, stamp in enumerate(stamps):
            before = state.last_arrival
            probe.inputs['cam_01'].publish(_message('cam_01', bgr, stamp))
            assert spin_until(ros.executor, lambda: state.last_arrival != before)
            assert spin_until(ros.executor, lambda: probe.count('/cam_01/keypoints')
                              == (k >= 0) + (k >= 3), timeout_s=OUTPUT_TIMEOUT_S)
        spin_until(ros.executor, lambda: probe.count('/cam_01/keypoints') > 2, timeout_s=1.0)
        detected = [stamp_ns(msg.header.stamp) for msg in probe.messages('/cam_01/keypoints')]
        dropped = node._detections['cam_01'].mailbox.dropped
    assert dropped == 0
    assert detected == [stamp_ns(stamps[0]), stamp_ns(stamps[3])]


def test_runner_distributed_refuses_an_unknown_camera(capsys):
    assert runner.main(['--distributed', '--params-file', str(PARAMS), '--cameras',
                        'cam_09']) == 2
    assert 'cam_09 not in the camera_names' in capsys.readouterr().err
    # A detector node started without the rig's file says how to start it.
    assert detector_node.main([]) == 2
    error = capsys.readouterr().err
    assert 'camera_names: give the list of cameras' in error
    assert 'distributed.launch.py' in error and 'start_fusion:=false' in error


def test_spin_composed_spins_both_halves_in_one_process_until_shutdown(data_root):
    context, probe_context = rclpy.Context(), rclpy.Context()
    rclpy.init(context=context)
    rclpy.init(context=probe_context)
    nodes = runner.compose_from_arguments(PARAMS, context=context, cameras='cam_02')
    status = []
    spinner = threading.Thread(target=lambda: status.append(runner.spin_composed(nodes,
                                                                                 context)))
    spinner.start()
    probe = rclpy.create_node('probe', context=probe_context)
    try:
        expected = {'skelsplat_detector_cam_02', 'skelsplat_node'}
        deadline = time.monotonic() + 10.0
        while not expected <= set(probe.get_node_names()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert expected <= set(probe.get_node_names())
    finally:
        rclpy.shutdown(context=context)
        spinner.join(timeout=20.0)
        probe.destroy_node()
        rclpy.shutdown(context=probe_context)
    assert status == [0] and not spinner.is_alive()


def test_distributed_launch_file_builds_the_runners_composition():
    # launch_ros is not installable here: read the launch file instead of running it.
    path = PARAMS.parents[1] / 'launch' / 'distributed.launch.py'
    source = ast.unparse(ast.parse(path.read_text(), str(path)))
    assert 'in distributed_arguments().items()' in source
    assert 'OpaqueFunction(function=_nodes)' in source
    # The nodes, and each node's parameter file, come from the functions the runner uses.
    assert 'nodes = distributed_nodes(' in source and 'parameter_file(node, directory)' in source
    for name in distributed_arguments():
        assert f"'{name}'" in source, f'launch argument {name} is not read'
