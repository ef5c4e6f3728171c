# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The live node in keypoints_topic mode, over real DDS on loopback, against the offline CLI.

The pose2sim demo's OpenPose BODY_25B keypoints go to the node as Keypoints2D messages, one
group at a time (each published after the previous output arrived, so that the node fuses
every group, in order, as ``skelsplat solve`` does).  Messages carry float32, so the reference
gets the same float32-rounded keypoints.
"""

import dataclasses
import pathlib
import subprocess
import sys
import time

from diagnostic_msgs.msg import DiagnosticStatus
from node_helpers import calibrate, CAMERAS, Probe, stamp_ns, stamp_of, STAMP_RATE_HZ
import numpy as np
import pytest
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.msg import ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from ros_helpers import RosContext, spin_until
from skelsplat_ros.cameras import load_calibration
from skelsplat_ros.cli import load_keypoint_frames
from skelsplat_ros.estimators import make_estimator
from skelsplat_ros.fileio.openpose import list_openpose_files, read_openpose_json
from skelsplat_ros.ros.conversions import camera_info_msg, keypoints_msg
from skelsplat_ros.ros.runner import create_node
from skelsplat_ros.skeletons import COCO17_JOINTS
from skelsplat_ros.solver import SolverConfig

pytestmark = pytest.mark.ros

ROOT = pathlib.Path(__file__).resolve().parents[1]
PARAMS = ROOT / 'config' / 'multiview.yaml'
NUM_FRAMES = 5
# Generous: a solve takes ~0.1 s on an idle CPU but far longer on a loaded CI machine.
OUTPUT_TIMEOUT_S = 60.0


@pytest.fixture(scope='module')
def demo(data_root):
    demo = data_root / 'pose2sim-0.4.15' / 'Pose2Sim' / 'Demo'
    calibration = demo / 'calibration' / 'Calib_qualisys.toml'
    dirs = [demo / 'pose' / f'cam{v}_json' for v in range(1, 5)]
    body25b = [[read_openpose_json(path, 25) for path in list_openpose_files(d)[:NUM_FRAMES]]
               for d in dirs]
    return calibration, dirs, [list(frame) for frame in zip(*body25b)]


def _node_overrides(calibration, **extra):
    # Single-person fusion, as the reference (`skelsplat solve` without --multi-person).
    return {'calibration_file': str(calibration), 'detector': 'keypoints_topic',
            'multi_person': False, 'image_qos': 'reliable', 'device': 'cpu',
            'diagnostics_period': 0.2, **extra}


def _publish_group(probe, cameras, index, views, names=CAMERAS, flat=False):
    stamp = stamp_of(index)
    for name in names:
        camera = cameras[name]
        probe.info[name].publish(camera_info_msg(camera, stamp, f'{name}_optical_frame'))
        probe.inputs[name].publish(keypoints_msg(
            views[CAMERAS.index(name)], 'body25b', stamp, f'{name}_optical_frame', flat=flat))
    return stamp


def _lockstep_node(ros, calibration, cameras, **overrides):
    """Start the node (max_wait 5 s, ``overrides``) and a calibrated probe; return the probe."""
    node = create_node(PARAMS, _node_overrides(calibration, max_wait=5.0, **overrides),
                       context=ros.context)
    ros.executor.add_node(node)
    ros.nodes.append(node)
    probe = Probe(ros.node('probe'), dict.fromkeys(CAMERAS, 'keypoints'))
    calibrate(ros, probe, cameras)
    return probe


def _positions(person):
    return np.array([[p.x, p.y, p.z] for p in person.positions])


# Node parameters, and the solver settings they stand for.
SOLVER_CASES = {
    'defaults': ({}, {}),
    'slower motion model': ({'solver_accel_sigma': 2.0}, {'accel_sigma': 2.0}),
    'per frame': ({'solver_temporal': False}, {'temporal': False}),
    # The same keypoints in the flat arrays of Keypoints2D give the same output.
    'defaults, flat messages': ({}, {}),
}


@pytest.mark.parametrize('case', SOLVER_CASES)
def test_keypoints_mode_matches_cli(demo, case):
    calibration, dirs, frames = demo
    cameras = {camera.name: camera for camera in load_calibration(calibration)}
    overrides, solver_settings = SOLVER_CASES[case]
    with RosContext() as ros:
        # Lockstep publishing: a long max_wait makes every group complete even when a busy
        # machine delivers its four messages far apart, so the causal state matches the CLI's.
        probe = _lockstep_node(ros, calibration, cameras, **overrides)
        for index, views in enumerate(frames):
            _publish_group(probe, cameras, index, views, flat=case.endswith('flat messages'))
            assert spin_until(ros.executor, lambda: probe.count('/human_pose_3d') > index,
                              timeout_s=OUTPUT_TIMEOUT_S), f'no output for group {index}'
        outputs = probe.messages('/human_pose_3d')
        assert spin_until(ros.executor, lambda: probe.count('/tf') >= 1)

    # The reference: the CLI's loader and estimator, same causal order and solver config.
    reference = load_keypoint_frames(dirs, 'body25b')[:NUM_FRAMES]
    # solver_objective:=auto runs the analytic objective on a CPU.
    base = SolverConfig(device='cpu', objective='analytic', frame_rate=STAMP_RATE_HZ)
    estimate = make_estimator('skelsplat', list(cameras.values()),
                              dataclasses.replace(base, **solver_settings))
    # The defaults' output, to show that the parameters reached the solver.
    default = make_estimator('skelsplat', list(cameras.values()), base)
    differs = []
    for index, (frame, output) in enumerate(zip(reference, outputs)):
        assert stamp_ns(output.header.stamp) == stamp_ns(stamp_of(index))
        assert output.header.frame_id == 'world'
        views = [np.asarray(view, np.float32).astype(float) for view in frame]
        positions, confidence = estimate(views)
        differs.append(np.nanmax(np.abs(default(views)[0] - positions)) > 1e-4)
        assert len(output.people) == 1
        person = output.people[0]
        assert person.id == 1 and tuple(person.joint_names) == COCO17_JOINTS
        got = _positions(person)
        known = np.isfinite(positions).all(axis=1)
        assert known.sum() >= 15
        np.testing.assert_allclose(got[known], positions[known], atol=1e-6)
        np.testing.assert_allclose(np.array(person.confidence)[known], confidence[known],
                                   atol=1e-6)
        assert np.isfinite(got).all() and np.isfinite(person.covariance).all()
        assert len(person.covariance) == 9 * 17
        assert max(person.num_views) == 4
    assert any(differs) == bool(solver_settings)


def test_detection_period_fuses_the_first_group_of_each_period(demo):
    # Six groups at STAMP_RATE_HZ with detection_period three frames long: groups 0 and 3 open
    # the two periods of the stamp timeline, the others are not fused.
    calibration, _, frames = demo
    cameras = {camera.name: camera for camera in load_calibration(calibration)}
    groups = [frames[index % len(frames)] for index in range(6)]
    with RosContext() as ros:
        probe = _lockstep_node(ros, calibration, cameras, detection_period=3 / STAMP_RATE_HZ)
        for index, views in enumerate(groups):
            _publish_group(probe, cameras, index, views)
            assert spin_until(ros.executor, lambda: probe.count('/human_pose_3d')
                              == (index >= 0) + (index >= 3), timeout_s=OUTPUT_TIMEOUT_S)
        spin_until(ros.executor, lambda: probe.count('/human_pose_3d') > 2, timeout_s=1.0)
        stamps = [stamp_ns(msg.header.stamp) for msg in probe.messages('/human_pose_3d')]
    assert stamps == [stamp_ns(stamp_of(0)), stamp_ns(stamp_of(3))]


def _float_parameter(name, value):
    return ParameterMsg(name=name, value=ParameterValue(type=ParameterType.PARAMETER_DOUBLE,
                                                        double_value=value))


def _int_parameter(name, value):
    return ParameterMsg(name=name, value=ParameterValue(type=ParameterType.PARAMETER_INTEGER,
                                                        integer_value=value))


class _Stream:
    """Publishes groups at about 10 Hz (cycling through the demo frames) while spinning."""

    def __init__(self, ros, probe, cameras, frames):
        self.ros, self.probe, self.cameras, self.frames = ros, probe, cameras, frames
        self.index = 0

    def until(self, predicate, names, timeout_s=OUTPUT_TIMEOUT_S):
        """Publish ``names``' frames until ``predicate()``; return the first index sent."""
        first = self.index
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            _publish_group(self.probe, self.cameras, self.index,
                           self.frames[self.index % len(self.frames)], names=names)
            self.index += 1
            if spin_until(self.ros.executor, predicate, timeout_s=0.1):
                return first
        raise AssertionError(f'timed out publishing {names} from group {first}')


def _outputs_since(probe, index):
    return [msg for msg in probe.messages('/human_pose_3d')
            if stamp_ns(msg.header.stamp) >= stamp_ns(stamp_of(index))]


def test_camera_stops_and_bad_updates(demo):
    """cam_04 stops: output goes on from 3 views, diagnostics flag it; bad updates rejected."""
    calibration, _, frames = demo
    cameras = {camera.name: camera for camera in load_calibration(calibration)}
    overrides = _node_overrides(calibration, max_wait=0.15, input_timeout=1.0, min_views=3)
    with RosContext() as ros:
        node = create_node(PARAMS, overrides, context=ros.context)
        ros.executor.add_node(node)
        ros.nodes.append(node)
        probe_node = ros.node('probe')
        probe = Probe(probe_node, dict.fromkeys(CAMERAS, 'keypoints'))
        calibrate(ros, probe, cameras)
        stream = _Stream(ros, probe, cameras, frames)

        def fused_since(index, views):
            return lambda: any(msg.people and max(msg.people[0].num_views) == views
                               for msg in _outputs_since(probe, index))

        stream.until(fused_since(0, 4), CAMERAS)
        # cam_04 goes silent; the other three keep going.
        stopped = stream.until(fused_since(stream.index, 3), CAMERAS[:3])

        def cam_04_stalled():
            status = probe.camera_status('cam_04')
            return status is not None and 'stalled' in status.message

        stream.until(cam_04_stalled, CAMERAS[:3])
        assert probe.camera_status('cam_01').level == DiagnosticStatus.OK
        after_stop = _outputs_since(probe, stopped)
        assert after_stop and all(max(msg.people[0].num_views) == 3 for msg in after_stop)

        # Only two cameras left: below min_views=3, so groups are dropped, not fused.
        two_only = stream.index
        stream.until(lambda: stream.index >= two_only + 8, CAMERAS[:2])
        spin_until(ros.executor, lambda: False, timeout_s=0.5)
        assert not _outputs_since(probe, two_only)

        # Parameter updates through the real parameter service.
        client = probe_node.create_client(SetParameters, '/skelsplat_node/set_parameters')
        assert client.wait_for_service(timeout_sec=5.0)

        def set_parameters(*parameters):
            future = client.call_async(SetParameters.Request(parameters=list(parameters)))
            assert spin_until(ros.executor, future.done)
            return future.result().results[0]

        result = set_parameters(_int_parameter('min_views', 9))
        assert not result.successful and 'min_views' in result.reason
        result = set_parameters(_float_parameter('slop', -1.0))
        assert not result.successful and 'slop' in result.reason
        result = set_parameters(ParameterMsg(name='detector', value=ParameterValue(
            type=ParameterType.PARAMETER_STRING, string_value='onnx')))
        assert not result.successful
        assert set_parameters(_int_parameter('min_views', 2)).successful
        assert node.get_parameter('min_views').value == 2
        # Now two views are enough again.
        stream.until(fused_since(stream.index, 2), CAMERAS[:2])


def _run_runner(*args, cwd):
    # Not from the source tree: there `skelsplat_ros` would shadow the install space (msg).
    return subprocess.run([sys.executable, '-m', 'skelsplat_ros.ros.runner', *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_bad_parameters_exit_non_zero(tmp_path, demo):
    calibration = f'calibration_file:={demo[0]}'
    bad_yaml = tmp_path / 'bad.yaml'
    bad_yaml.write_text('skelsplat_node: [\n')
    result = _run_runner('--params-file', str(bad_yaml), cwd=tmp_path)
    assert result.returncode == 2 and 'not valid YAML' in result.stderr

    result = _run_runner('--params-file', str(PARAMS), '-p', 'min_views:=7', '-p', calibration,
                         cwd=tmp_path)
    assert result.returncode == 2
    assert 'min_views' in result.stderr and 'number of cameras (4)' in result.stderr
