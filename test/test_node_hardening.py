# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Issue #20 over real DDS: what an attacker sends must not crash the node or break a guarantee.

The node runs in keypoints_topic mode (no detector, so each test takes seconds) on the pose2sim
demo's keypoints.  Covered: non-finite and out-of-range parameters at start-up and through the
parameter service (class 1), run-time reconfiguration that must never publish a stamp twice
(class 3), a camera flooding at 10 times the others' rate (class 6), one frame stamped far
ahead (class 7), negative stamps (class 8), and a 64 KB distortion_model echoed back
(class 10).
"""

import subprocess
import sys

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticStatus
from node_helpers import calibrate, CAMERAS, Probe, stamp_ns, stamp_of
import pytest
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.msg import ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters, SetParametersAtomically
from rclpy.serialization import serialize_message
from ros_helpers import RosContext, spin_until
from skelsplat_ros.cameras import load_calibration
from skelsplat_ros.ros.conversions import camera_info_msg, ECHO_LIMIT, keypoints_msg
from skelsplat_ros.ros.node import PARAMS_HINT
from skelsplat_ros.ros.params import ParameterError
from skelsplat_ros.ros.runner import create_node
from test_node_keypoints import _node_overrides, demo, PARAMS  # noqa: F401

pytestmark = pytest.mark.ros

TIMEOUT_S = 30.0
# Values that once crashed the node or wrapped silently, per numeric parameter.
BAD_VALUES = [
    ('slop', float('inf')), ('slop', float('nan')), ('slop', -0.01), ('slop', 1e300),
    ('max_wait', float('inf')), ('max_wait', 0.0), ('max_wait', -1.0),
    ('marker_lifetime', 3e9), ('marker_lifetime', float('inf')), ('marker_lifetime', 0.0),
    ('input_timeout', float('nan')), ('input_timeout', 1e300),
    ('diagnostics_period', float('inf')), ('diagnostics_period', -1.0),
    ('min_views', 99), ('min_views', 0), ('detector_max_side', -1),
    ('detector_max_side', 2 ** 40),
]


def _parameter(name, value):
    if isinstance(value, int):
        return ParameterMsg(name=name, value=ParameterValue(
            type=ParameterType.PARAMETER_INTEGER, integer_value=value))
    return ParameterMsg(name=name, value=ParameterValue(type=ParameterType.PARAMETER_DOUBLE,
                                                        double_value=value))


def _launch(ros, calibration, **extra):
    node = create_node(PARAMS, _node_overrides(calibration, **extra), context=ros.context)
    ros.executor.add_node(node)
    ros.nodes.append(node)
    probe_node = ros.node('probe')
    probe = Probe(probe_node, dict.fromkeys(CAMERAS, 'keypoints'))
    return node, probe_node, probe


def _send(probe, cameras, views, name, stamp):
    probe.inputs[name].publish(keypoints_msg(views[CAMERAS.index(name)], 'body25b', stamp,
                                             f'{name}_optical_frame'))


def _published(probe, stamp):
    return lambda: any(stamp_ns(msg.header.stamp) == stamp_ns(stamp)
                       for msg in probe.messages('/human_pose_3d'))


@pytest.mark.parametrize('name, value', BAD_VALUES)
def test_bad_numbers_are_refused_at_start_up(demo, name, value):  # noqa: F811
    with RosContext() as ros:
        with pytest.raises(ParameterError) as error:
            create_node(PARAMS, _node_overrides(demo[0], **{name: value}), context=ros.context)
    assert str(error.value).startswith(f'{name}: ') and '\n' not in str(error.value)


def test_an_infinite_slop_at_start_up_exits_with_one_line(tmp_path, demo):  # noqa: F811
    # Not from the source tree: there `skelsplat_ros` would shadow the install space (msg).
    result = subprocess.run(
        [sys.executable, '-m', 'skelsplat_ros.ros.runner', '--params-file', str(PARAMS),
         '-p', f'calibration_file:={demo[0]}', '-p', 'slop:=.inf'],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert 'Traceback' not in result.stderr
    assert [line for line in result.stderr.splitlines() if 'slop' in line] == [
        f'skelsplat_node: invalid parameters: slop: must be in [0, 10], got inf ({PARAMS_HINT})']


def test_a_64_kb_parameter_is_quoted_capped(tmp_path, demo):  # noqa: F811
    result = subprocess.run(
        [sys.executable, '-m', 'skelsplat_ros.ros.runner', '--params-file', str(PARAMS),
         '-p', f'calibration_file:={demo[0]}', '-p', 'world_frame:=/' + 'w' * 65536],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    line, = [line for line in result.stderr.splitlines() if 'world_frame' in line]
    # Capped, then what to pass.
    assert line.endswith(f'more characters) ({PARAMS_HINT})')
    assert len(line) < ECHO_LIMIT + 100 + len(PARAMS_HINT)


def test_bad_run_time_values_leave_the_configuration_and_the_node_alone(demo):  # noqa: F811
    calibration, _, frames = demo
    cameras = {camera.name: camera for camera in load_calibration(calibration)}
    with RosContext() as ros:
        node, probe_node, probe = _launch(ros, calibration, max_wait=1.0)
        calibrate(ros, probe, cameras)
        client = probe_node.create_client(SetParameters, '/skelsplat_node/set_parameters')
        assert client.wait_for_service(timeout_sec=5.0)

        def set_parameters(*parameters):
            future = client.call_async(SetParameters.Request(parameters=list(parameters)))
            assert spin_until(ros.executor, future.done)
            return future.result().results

        before = node.config
        for name, value in BAD_VALUES:
            if name in ('diagnostics_period', 'detector_max_side'):
                continue  # read-only: refused as such (test_node_parameters)
            result, = set_parameters(_parameter(name, value))
            assert not result.successful and result.reason.startswith(f'{name}: '), (name, value)
            assert node.config is before
        # Several at once, atomically: one bad value rejects them all.
        atomic = probe_node.create_client(SetParametersAtomically,
                                          '/skelsplat_node/set_parameters_atomically')
        assert atomic.wait_for_service(timeout_sec=5.0)
        future = atomic.call_async(SetParametersAtomically.Request(parameters=[
            _parameter('slop', 0.05), _parameter('max_wait', float('inf'))]))
        assert spin_until(ros.executor, future.done)
        assert not future.result().result.successful and node.config is before
        assert node.get_parameter('slop').value == before.slop
        # The node is alive and fuses with the old configuration.
        for index in range(2):
            stamp = stamp_of(index)
            for name in CAMERAS:
                _send(probe, cameras, frames[index], name, stamp)
            assert spin_until(ros.executor, _published(probe, stamp), timeout_s=TIMEOUT_S)


def test_reconfiguration_never_publishes_a_stamp_twice(demo):  # noqa: F811
    """slop, max_wait and min_views change between groups; frames of fused stamps come late."""
    calibration, _, frames = demo
    cameras = {camera.name: camera for camera in load_calibration(calibration)}
    changes = [('slop', 0.03), ('max_wait', 0.5), ('min_views', 3), ('slop', 0.02),
               ('min_views', 2), ('max_wait', 1.0)]
    with RosContext() as ros:
        node, probe_node, probe = _launch(ros, calibration, max_wait=1.0)
        calibrate(ros, probe, cameras)
        client = probe_node.create_client(SetParameters, '/skelsplat_node/set_parameters')
        assert client.wait_for_service(timeout_sec=5.0)
        for index, (name, value) in enumerate(changes):
            stamp = stamp_of(index)
            views = frames[index % len(frames)]
            for camera in CAMERAS:
                _send(probe, cameras, views, camera, stamp)
            assert spin_until(ros.executor, _published(probe, stamp), timeout_s=TIMEOUT_S)
            future = client.call_async(SetParameters.Request(parameters=[
                _parameter(name, value)]))
            assert spin_until(ros.executor, future.done)
            assert future.result().results[0].successful
            # The same stamp again, or one just before it, from three cameras after the
            # synchroniser changed: a fresh synchroniser once grouped them, and the node
            # published that stamp twice, or went back in time.
            ns = stamp_ns(stamp) - (index % 2) * 1_000_000
            for camera in CAMERAS[:3]:
                _send(probe, cameras, views, camera, Time(sec=ns // 10**9, nanosec=ns % 10**9))
        last = stamp_of(len(changes))
        for camera in CAMERAS:
            _send(probe, cameras, frames[0], camera, last)
        assert spin_until(ros.executor, _published(probe, last), timeout_s=TIMEOUT_S)
        spin_until(ros.executor, lambda: False, timeout_s=0.5)
        stamps = [stamp_ns(msg.header.stamp) for msg in probe.messages('/human_pose_3d')]
        logs = '\n'.join(probe.logs())
    assert stamps == sorted(set(stamps)) and len(stamps) == len(changes) + 1
    assert 'time jumped back' not in logs
    assert 'arrived after a later group was fused' in logs
    assert 'its stamp repeats one this camera already sent' in logs


def test_a_flooding_camera_costs_only_itself(demo):  # noqa: F811
    """cam_04 sends ten frames for each one of the others: every group is still fused.

    Its extra frames are serialised beforehand, so that the test's own publishing (in the
    node's process) costs little.  The node takes at most 2.5 times the others' rate from it
    and says so on /diagnostics; the others' groups are all fused.
    """
    calibration, _, frames = demo
    cameras = {camera.name: camera for camera in load_calibration(calibration)}
    groups = 40
    flood = []
    for index in range(groups):
        stamp = stamp_ns(stamp_of(index))
        flood.append([serialize_message(keypoints_msg(
            frames[index % len(frames)][3], 'body25b', Time(sec=ns // 10**9, nanosec=ns % 10**9),
            'cam_04_optical_frame'))  # its stamps between the others', never within slop
            for ns in (stamp + extra * 1_300_000 + 100_000 for extra in range(10))])
    with RosContext() as ros:
        node, _, probe = _launch(ros, calibration, max_wait=0.5, slop=0.004)
        calibrate(ros, probe, cameras)
        for index in range(groups):
            stamp = stamp_of(index)
            for data in flood[index]:
                probe.inputs['cam_04'].publish(data)
            for name in CAMERAS[:3]:
                _send(probe, cameras, frames[index % len(frames)], name, stamp)
            assert spin_until(ros.executor, _published(probe, stamp), timeout_s=TIMEOUT_S)
        outputs = probe.messages('/human_pose_3d')

        def limited():
            values = _values(probe, 'cam_04')
            return int(values.get('messages_dropped_too_fast', 0)) > 0 \
                and 'Keypoints2D messages dropped: they come faster than' in values['last_fault']

        assert spin_until(ros.executor, limited, timeout_s=5.0)
        statuses = [status for array in probe.messages('/diagnostics')
                    for status in array.status]
    assert any(status.name.endswith('camera cam_04') and status.level == DiagnosticStatus.WARN
               and 'faster than' in status.message for status in statuses)
    assert not any('faster than' in status.message for status in statuses
                   if not status.name.endswith('camera cam_04'))
    assert len(outputs) == groups
    assert all(msg.people and max(msg.people[0].num_views) >= 3 for msg in outputs)


def _values(probe, camera):
    status = probe.camera_status(camera)
    return {} if status is None else {kv.key: kv.value for kv in status.values}


def test_bad_stamps_cost_only_their_frame(demo):  # noqa: F811
    """A negative stamp is refused on arrival; one stamped far ahead does not poison cam_04."""
    calibration, _, frames = demo
    cameras = {camera.name: camera for camera in load_calibration(calibration)}
    with RosContext() as ros:
        node, _, probe = _launch(ros, calibration, max_wait=0.5)
        calibrate(ros, probe, cameras)
        for index in range(12):
            stamp = stamp_of(index)
            views = frames[index % len(frames)]
            if index == 3:
                probe.inputs['cam_04'].publish(keypoints_msg(
                    views[3], 'body25b', Time(sec=-5, nanosec=0), 'cam_04_optical_frame'))
            if index == 6:
                _send(probe, cameras, views, 'cam_04', Time(sec=2_000_000_000, nanosec=0))
            for name in CAMERAS:
                _send(probe, cameras, views, name, stamp)
            assert spin_until(ros.executor, _published(probe, stamp), timeout_s=TIMEOUT_S)
        outputs = probe.messages('/human_pose_3d')
        assert spin_until(ros.executor, lambda: any(
            'cam_04: frame dropped: its stamp is negative' in line for line in probe.logs()))

        def fusion():
            return {kv.key: kv.value for array in probe.messages('/diagnostics')[-1:]
                    for status in array.status if status.name.endswith('fusion')
                    for kv in status.values}

        assert spin_until(ros.executor, lambda: fusion().get(
            'frames_dropped_negative_stamp') == '1', timeout_s=5.0)
        assert fusion()['fusion_errors'] == '0'
        logs = '\n'.join(probe.logs())
    assert 'fusion failed' not in logs
    # Every group was fused with cam_04, but at most the one right after the glitch.
    with_cam_04 = [msg for msg in outputs if max(msg.people[0].num_views) == 4]
    assert len(outputs) == 12 and len(with_cam_04) >= 11


def test_echoed_input_is_capped(demo):  # noqa: F811
    """A 64 KB distortion_model and frame_id are quoted in at most ECHO_LIMIT characters.

    Then 40 CameraInfos, each with another unsupported model: one kind of fault, so one log
    line (a key made of the quoted input would log each, and keep each key forever).
    """
    calibration, _, _ = demo
    cameras = {camera.name: camera for camera in load_calibration(calibration)}
    with RosContext() as ros:
        _, _, probe = _launch(ros, calibration)
        calibrate(ros, probe, cameras)
        msg = camera_info_msg(cameras['cam_04'], stamp_of(1), 'f' * 65536)
        msg.distortion_model = 'x' * 65536
        probe.info['cam_04'].publish(msg)

        def rejected():
            status = probe.camera_status('cam_04')
            return status is not None and status.level == DiagnosticStatus.ERROR

        assert spin_until(ros.executor, rejected, timeout_s=5.0)
        assert spin_until(ros.executor, lambda: any('cam_04: CameraInfo rejected' in line
                                                    for line in probe.logs()), timeout_s=5.0)
        status = probe.camera_status('cam_04')
        for index in range(40):
            msg = camera_info_msg(cameras['cam_03'], stamp_of(2 + index), 'cam_03')
            msg.distortion_model = f'model_{chr(65 + index // 26)}{chr(65 + index % 26)}'
            probe.info['cam_03'].publish(msg)
            spin_until(ros.executor, lambda: False, timeout_s=0.04)  # 25 Hz: not a flood
        assert spin_until(ros.executor, lambda: "model_BN'" in _values(
            probe, 'cam_03').get('last_fault', ''), timeout_s=5.0)
        spin_until(ros.executor, lambda: False, timeout_s=0.5)
        lines = [line for line in probe.logs() if 'cam_04' in line]
        model_lines = [line for line in probe.logs() if 'model_' in line]
    assert 'more characters' in status.message
    assert all(len(kv.value) <= ECHO_LIMIT + 40 for kv in status.values)
    assert len(status.message) <= ECHO_LIMIT + 40
    assert lines and all(len(line) <= ECHO_LIMIT + 100 for line in lines)
    assert len(model_lines) == 1, model_lines
