# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The arguments of ``launch/multiview.launch.py``, with their defaults: one place for both.

The launch file declares these arguments, and the in-process runner
(``python -m skelsplat_ros.ros.runner``, :func:`skelsplat_ros.ros.runner.node_from_arguments`)
takes the same defaults, so that a test of the runner's defaults is a test of what
``ros2 launch skelsplat_ros multiview.launch.py`` starts.  Light on purpose: the launch file
imports it, and must not import the solver (torch).
"""

import pathlib
from typing import Dict, Tuple

__all__ = ['arguments', 'default_params_file']


def default_params_file() -> pathlib.Path:
    """Return ``config/multiview.yaml`` of the installed package, else of the source tree."""
    try:
        from ament_index_python.packages import get_package_share_directory
        share = pathlib.Path(get_package_share_directory('skelsplat_ros'))
        if (share / 'config' / 'multiview.yaml').is_file():
            return share / 'config' / 'multiview.yaml'
    except (ImportError, LookupError, ValueError):
        pass
    return pathlib.Path(__file__).resolve().parents[2] / 'config' / 'multiview.yaml'


def arguments() -> Dict[str, Tuple[str, str]]:
    """Return launch argument name -> (default value, description), in declaration order."""
    return {
        'params_file': (str(default_params_file()),
                        'ROS 2 parameter file of skelsplat_node (the default is the pose2sim '
                        "demo's: it needs the data of scripts/setup.sh, SKELSPLAT_DATA)"),
        'namespace': ('', 'namespace of the node, its output topics and RViz'),
        'use_sim_time': ('false', 'use /clock (bag replay)'),
        'rviz': ('false', 'start RViz with config/skelsplat.rviz'),
    }
