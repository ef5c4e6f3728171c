# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Launch skelsplat_node with a parameter file, and optionally RViz.

``ros2 launch skelsplat_ros multiview.launch.py [params_file:=FILE] [namespace:=NS]
[use_sim_time:=true|false] [rviz:=true|false]``

The arguments and their defaults are those of :mod:`skelsplat_ros.ros.launch_arguments`, which
the in-process runner (``python -m skelsplat_ros.ros.runner``) takes too.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from skelsplat_ros.ros.launch_arguments import arguments


def generate_launch_description():
    """Return the launch description: the node, plus RViz when rviz:=true."""
    share = get_package_share_directory('skelsplat_ros')
    params_file = LaunchConfiguration('params_file')
    namespace = LaunchConfiguration('namespace')
    use_sim_time = LaunchConfiguration('use_sim_time')
    sim_time = ParameterValue(use_sim_time, value_type=bool)
    return LaunchDescription([
        *(DeclareLaunchArgument(name, default_value=default, description=description)
          for name, (default, description) in arguments().items()),
        Node(
            package='skelsplat_ros', executable='skelsplat_node', name='skelsplat_node',
            namespace=namespace, output='screen', emulate_tty=True,
            parameters=[params_file, {'use_sim_time': sim_time}]),
        # In the node's namespace: config/skelsplat.rviz names its topics relative to it.
        Node(
            package='rviz2', executable='rviz2', name='rviz2', namespace=namespace,
            output='screen',
            arguments=['-d', os.path.join(share, 'config', 'skelsplat.rviz')],
            parameters=[{'use_sim_time': sim_time}],
            condition=IfCondition(LaunchConfiguration('rviz'))),
    ])
