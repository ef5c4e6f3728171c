# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``ros2 launch skelsplat_ros multiview.launch.py`` with no argument, through the runner.

The launch file and the in-process runner take their arguments' defaults from one place
(:mod:`skelsplat_ros.ros.launch_arguments`; test_ros_conversions checks the launch file), so
the runner started with no argument is the launch file started with none.  With the demo's
data (scripts/setup.sh) the node starts and reports on /diagnostics over DDS; without it, it
stops with one line that says what to pass.
"""

import os
import subprocess
import sys

from diagnostic_msgs.msg import DiagnosticArray
import pytest
from rclpy.qos import QoSProfile, QoSReliabilityPolicy
from ros_helpers import RosContext, spin_until
from skelsplat_ros.ros.runner import node_from_arguments

pytestmark = pytest.mark.ros


def test_the_launch_defaults_start_the_node(data_root, monkeypatch):
    monkeypatch.setenv('SKELSPLAT_DATA', str(data_root))
    with RosContext() as ros:
        node = node_from_arguments(context=ros.context)
        ros.executor.add_node(node)
        ros.nodes.append(node)
        assert node.get_namespace() == '/' and node.get_name() == 'skelsplat_node'
        assert node.get_parameter('use_sim_time').value is False
        probe = ros.node('probe')
        reports = []
        probe.create_subscription(DiagnosticArray, '/diagnostics', reports.append,
                                  QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE))
        assert spin_until(ros.executor, lambda: reports, timeout_s=20.0)
    # It runs, waiting for its cameras' CameraInfo.
    statuses = {status.name.split(': ')[-1]: status for status in reports[-1].status}
    assert 'camera cam_01' in statuses
    assert 'waiting for CameraInfo' in statuses['camera cam_01'].message


def test_without_the_demo_data_the_defaults_stop_with_one_line(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != 'SKELSPLAT_DATA'}
    # Not from the source tree: there `skelsplat_ros` would shadow the install space (msg).
    result = subprocess.run([sys.executable, '-m', 'skelsplat_ros.ros.runner'], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith('skelsplat_node: invalid parameters: calibration_file: ')
    assert 'SKELSPLAT_DATA' in lines[0] and 'params_file:=<your parameter file>' in lines[0]
