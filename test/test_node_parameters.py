# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The node's solver_* and tracker_* parameters, generated from the configuration fields.

Each exposed field of :class:`skelsplat_ros.solver.SolverConfig` and
:class:`skelsplat_ros.tracking.TrackerConfig` must be a declared, read-only parameter with the
field's default and description, over the real parameter services; a bad value must stop the
node with one line that names the parameter.
"""

import pathlib
import subprocess
import sys
import zipfile

import pytest
from rcl_interfaces.msg import Log
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.msg import ParameterType, ParameterValue
from rcl_interfaces.srv import DescribeParameters, GetParameters, SetParameters
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
from ros_helpers import RosContext, spin_until
from skelsplat_ros import settings
from skelsplat_ros.ros.node import PARAMS_HINT
from skelsplat_ros.ros.params import CONFIG_FIELDS, ParameterError
from skelsplat_ros.ros.runner import create_node
from skelsplat_ros.solver import SolverConfig
from skelsplat_ros.tracking import TrackerConfig

pytestmark = pytest.mark.ros

ROOT = pathlib.Path(__file__).resolve().parents[1]
PARAMS = ROOT / 'config' / 'multiview.yaml'


@pytest.fixture(scope='module')
def calibration(data_root):
    return data_root / 'pose2sim-0.4.15' / 'Pose2Sim' / 'Demo' / 'calibration' / \
        'Calib_qualisys.toml'


def _overrides(calibration, **extra):
    return {'calibration_file': str(calibration), 'detector': 'keypoints_topic',
            'device': 'cpu', **extra}


def _call(ros, client, request):
    assert client.wait_for_service(timeout_sec=5.0)
    future = client.call_async(request)
    assert spin_until(ros.executor, future.done)
    return future.result()


def _value(message):
    """Return the Python value of an ``rcl_interfaces/ParameterValue``."""
    return {ParameterType.PARAMETER_BOOL: message.bool_value,
            ParameterType.PARAMETER_INTEGER: message.integer_value,
            ParameterType.PARAMETER_DOUBLE: message.double_value,
            ParameterType.PARAMETER_STRING: message.string_value}[message.type]


def test_every_config_field_is_a_described_read_only_parameter(calibration):
    expected = {f'solver_{field.name}': field for field in settings.exposed(SolverConfig)}
    expected.update({f'tracker_{field.name}': field
                     for field in settings.exposed(TrackerConfig)})
    assert expected.keys() == CONFIG_FIELDS.keys()
    assert {'solver_objective', 'solver_temporal', 'solver_accel_sigma',
            'tracker_gate_m'} <= expected.keys()
    with RosContext() as ros:
        node = create_node(PARAMS, _overrides(calibration, solver_accel_sigma=7.5,
                                              tracker_birth_frames=5), context=ros.context)
        ros.executor.add_node(node)
        ros.nodes.append(node)
        probe = ros.node('probe')
        names = sorted(expected)
        described = _call(ros, probe.create_client(
            DescribeParameters, '/skelsplat_node/describe_parameters'),
            DescribeParameters.Request(names=names)).descriptors
        values = _call(ros, probe.create_client(
            GetParameters, '/skelsplat_node/get_parameters'),
            GetParameters.Request(names=names)).values
        for name, descriptor, value in zip(names, described, values):
            field = expected[name]
            assert descriptor.name == name
            assert descriptor.description == settings.describe(field), name
            assert descriptor.read_only, name
            default = {'solver_accel_sigma': 7.5, 'tracker_birth_frames': 5}.get(
                name, field.default)
            assert _value(value) == default, name
            assert type(_value(value)) is field.metadata['kind'], name
        # The values reached the configuration the engine is built from.
        assert node.config.solver.accel_sigma == 7.5 and node.config.tracker.birth_frames == 5
        assert node.config.solver == SolverConfig(accel_sigma=7.5)
        # Read-only: a change at run time is refused, naming the parameter.
        result = _call(ros, probe.create_client(
            SetParameters, '/skelsplat_node/set_parameters'),
            SetParameters.Request(parameters=[ParameterMsg(
                name='solver_accel_sigma', value=ParameterValue(
                    type=ParameterType.PARAMETER_DOUBLE, double_value=3.0))])).results[0]
        assert not result.successful and 'solver_accel_sigma' in result.reason
        assert node.get_parameter('solver_accel_sigma').value == 7.5


@pytest.mark.parametrize('name, value, why', [
    ('solver_accel_sigma', float('inf'), 'solver_accel_sigma: must be in (0, 1000], got inf'),
    ('solver_iterations', 0, 'solver_iterations: must be in [1, 1000], got 0'),
    ('solver_objective', 'fastest', "solver_objective: 'fastest' is not one of"),
    ('tracker_min_views', 1, 'tracker_min_views: must be in [2, 1000], got 1'),
])
def test_a_bad_value_is_refused_naming_the_parameter(calibration, name, value, why):
    with RosContext() as ros:
        with pytest.raises(ParameterError) as error:
            create_node(PARAMS, _overrides(calibration, **{name: value}), context=ros.context)
    assert str(error.value).startswith(why) and '\n' not in str(error.value)


def test_the_runner_exits_with_one_line_for_an_infinite_accel_sigma(tmp_path, calibration):
    # Not from the source tree: there `skelsplat_ros` would shadow the install space (msg).
    result = subprocess.run(
        [sys.executable, '-m', 'skelsplat_ros.ros.runner', '--params-file', str(PARAMS),
         '-p', f'calibration_file:={calibration}', '-p', 'solver_accel_sigma:=.inf'],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if 'solver_accel_sigma' in line]
    assert lines == ['skelsplat_node: invalid parameters: solver_accel_sigma: must be in '
                     f'(0, 1000], got inf ({PARAMS_HINT})'], result.stderr


def test_a_missing_or_corrupt_model_stops_the_node_with_one_line(tmp_path, calibration):
    """A bad MediaPipe model: exit 2 before anything runs, one line naming the file and the fix.

    The missing file is refused with the parameters; the corrupt one is a valid zip of two
    members that MediaPipe itself cannot load, refused when the node loads its detectors.
    """
    corrupt = tmp_path / 'corrupt.task'
    with zipfile.ZipFile(corrupt, 'w') as bundle:
        for member in ('pose_detector.tflite', 'pose_landmarks_detector.tflite'):
            bundle.writestr(member, b'not a model' * 100)
    for model in (tmp_path / 'missing.task', corrupt):
        result = subprocess.run(
            [sys.executable, '-m', 'skelsplat_ros.ros.runner', '--params-file', str(PARAMS),
             '-p', f'calibration_file:={calibration}', '-p', 'detector:=mediapipe',
             '-p', f'model_path:={model}'],
            cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, result.stderr[-2000:]
        lines = [line for line in result.stderr.splitlines() if str(model) in line]
        assert len(lines) == 1, result.stderr[-2000:]
        assert lines[0].startswith('skelsplat_node: invalid parameters: model_path: ')
        assert 'bash scripts/setup.sh' in lines[0] and 'pose_landmarker_full.task' in lines[0]


def test_unknown_and_rclpy_own_parameters_are_no_reason_to_stop(calibration, tmp_path):
    # A parameter file shared by several nodes (/**:) holds other nodes' parameters, and Jazzy's
    # rclpy gives every node start_type_description_service: the node starts, warns about the
    # first once, and says nothing about the second.
    shared = tmp_path / 'shared.yaml'
    shared.write_text(PARAMS.read_text().replace(
        '    min_views: 2', '    min_views: 2\n    min_view: 3\n    robot_radius: 0.4'))
    with RosContext() as ros:
        probe = ros.node('probe')
        logs = []
        # rclpy's /rosout keeps its last lines for late subscribers (transient local).
        probe.create_subscription(Log, '/rosout', logs.append, QoSProfile(
            depth=100, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL,
            reliability=QoSReliabilityPolicy.RELIABLE))
        node = create_node(shared, _overrides(calibration, start_type_description_service=True),
                           context=ros.context)
        ros.nodes.append(node)
        ros.executor.add_node(node)
        assert node.config.min_views == 2
        assert spin_until(ros.executor, lambda: any('unknown parameter' in m.msg for m in logs))
        warning = next(m for m in logs if 'unknown parameter' in m.msg)
        assert 'min_view, robot_radius' in warning.msg and warning.level == Log.WARN
        assert not any('start_type_description_service' in m.msg for m in logs)
