# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Launch a split rig: detector nodes next to the cameras, one fusion node.

``ros2 launch skelsplat_ros distributed.launch.py [params_file:=FILE] [cameras:=cam_01,cam_02]
[start_detectors:=true|false] [start_fusion:=true|false] [detector_per_camera:=true|false]
[namespace:=NS] [use_sim_time:=true|false]``

On a camera host: ``start_fusion:=false cameras:=<its cameras>``; on the fusion host:
``start_detectors:=false``.  Both read the same parameter file (the fusion node's, e.g.
``config/multiview.yaml``).  The nodes and their parameters are those of
:func:`skelsplat_ros.ros.launch_arguments.distributed_nodes`, which the in-process runner
(``python -m skelsplat_ros.ros.runner --distributed``) starts in one process.
"""

import tempfile

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from skelsplat_ros.ros.launch_arguments import distributed_arguments, distributed_nodes, \
    parameter_file
import yaml


def _flag(context, name):
    return yaml.safe_load(LaunchConfiguration(name).perform(context).lower()) is True


def _nodes(context):
    """Build the nodes once the arguments are known (the cameras come from the file)."""
    use_sim_time = _flag(context, 'use_sim_time')
    namespace = LaunchConfiguration('namespace').perform(context)
    nodes = distributed_nodes(
        LaunchConfiguration('params_file').perform(context),
        LaunchConfiguration('cameras').perform(context),
        start_detectors=_flag(context, 'start_detectors'),
        start_fusion=_flag(context, 'start_fusion'),
        detector_per_camera=_flag(context, 'detector_per_camera'))
    # Kept for the launch's life: the nodes read their files when they start.
    directory = tempfile.mkdtemp(prefix='skelsplat_distributed_')
    return [Node(package='skelsplat_ros', executable=node.executable, name=node.name,
                 namespace=namespace, output='screen', emulate_tty=True,
                 parameters=[parameter_file(node, directory), {'use_sim_time': use_sim_time}])
            for node in nodes]


def generate_launch_description():
    """Return the launch description: the arguments, then the nodes they select."""
    return LaunchDescription([
        *(DeclareLaunchArgument(name, default_value=default, description=description)
          for name, (default, description) in distributed_arguments().items()),
        OpaqueFunction(function=_nodes),
    ])
