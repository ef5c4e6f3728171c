# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The arguments of the launch files, with their defaults: one place for them and the runner.

``launch/multiview.launch.py`` declares :func:`arguments`, ``launch/distributed.launch.py``
:func:`distributed_arguments` and builds its nodes with :func:`distributed_nodes`; the
in-process runner (``python -m skelsplat_ros.ros.runner``,
:func:`skelsplat_ros.ros.runner.node_from_arguments` and
:func:`skelsplat_ros.ros.runner.compose_from_arguments`) takes the same defaults and the same
composition, so that a test of the runner is a test of what ``ros2 launch`` starts.  Light on
purpose: the launch files import it, and must not import the solver (torch).
"""

import pathlib
from typing import Dict, List, NamedTuple, Sequence, Tuple

import yaml

__all__ = ['FUSION_NODE', 'LaunchedNode', 'arguments', 'default_params_file',
           'distributed_arguments', 'distributed_nodes', 'node_parameters', 'parameter_file']

FUSION_NODE = 'skelsplat_node'
DETECTOR_EXECUTABLE = 'skelsplat_detector_node'


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


def distributed_arguments() -> Dict[str, Tuple[str, str]]:
    """Return ``distributed.launch.py``'s argument name -> (default value, description)."""
    shared = arguments()
    return {
        'params_file': (shared['params_file'][0],
                        'ROS 2 parameter file of skelsplat_node; the detector nodes take its '
                        'cameras and detector parameters'),
        'namespace': shared['namespace'],
        'use_sim_time': shared['use_sim_time'],
        'cameras': ('', 'cameras to detect on this host, comma-separated; empty: every camera '
                    'of the parameter file'),
        'start_detectors': ('true', 'start the detector nodes (a camera host)'),
        'start_fusion': ('true', 'start the fusion node, detector:=keypoints_topic (the fusion '
                         'host)'),
        'detector_per_camera': ('true', 'one detector node per camera; false: one detector '
                                'node for all the cameras of this host'),
    }


class LaunchedNode(NamedTuple):
    """One node of the distributed composition: what ``launch_ros`` or the runner starts."""

    executable: str
    name: str
    parameters: Dict[str, object]


def node_parameters(path, node_name: str = FUSION_NODE) -> dict:
    """Return the ``ros__parameters`` of a parameter file that apply to ``node_name``, merged.

    Raises:
        ValueError: when the file cannot be read, is not YAML, or has none for the node.
    """
    try:
        with open(path, encoding='utf-8') as stream:
            document = yaml.safe_load(stream)
    except OSError as error:
        raise ValueError(f'{path}: cannot read the parameter file: {error}') from None
    except yaml.YAMLError as error:
        raise ValueError(f'{path}: not valid YAML: {error}') from None
    if not isinstance(document, dict):
        raise ValueError(f'{path}: expected {{{node_name}: {{ros__parameters: ...}}}}')
    merged = {}
    for key, section in document.items():
        if not _matches(key, node_name):
            continue
        parameters = section.get('ros__parameters') if isinstance(section, dict) else None
        if not isinstance(parameters, dict):
            raise ValueError(f'{path}: section {key!r} needs a ros__parameters mapping')
        merged.update(parameters)
    if not merged:
        raise ValueError(f'{path}: no parameters for node {node_name!r} (keys: '
                         f'{", ".join(map(str, document)) or "none"})')
    return merged


def _matches(key, node_name):
    """Whether a parameter-file node key applies to a node called ``node_name``."""
    key = str(key)
    return key in (node_name, f'/{node_name}', '/**', f'/**/{node_name}') \
        or key.endswith(f'/{node_name}')


def parameter_file(node: LaunchedNode, directory) -> pathlib.Path:
    """Write ``node``'s parameters as a ROS 2 parameter file in ``directory``; its path.

    A file, not a dict of launch parameters: rcl's own parser then types the values as in
    the user's file (launch_ros re-reads dict strings as YAML, and refuses an empty one).
    """
    path = pathlib.Path(directory) / f'{node.name}.yaml'
    with open(path, 'w', encoding='utf-8') as stream:
        yaml.safe_dump({f'/**/{node.name}': {'ros__parameters': node.parameters}}, stream)
    return path


def distributed_nodes(params_file, cameras: str = '', start_detectors: bool = True,
                      start_fusion: bool = True, detector_per_camera: bool = True
                      ) -> List[LaunchedNode]:
    """Return the nodes that ``distributed.launch.py`` starts with these arguments.

    The detector nodes get the fusion node's parameters with ``camera_names`` set to their
    cameras; the fusion node gets the file's with ``detector:=keypoints_topic``.

    Raises:
        ValueError: for a bad file, or cameras that the file does not configure.
    """
    parameters = node_parameters(params_file)
    configured = list(parameters.get('camera_names') or [])
    names = [name.strip() for name in cameras.split(',') if name.strip()] or configured
    unknown = [name for name in names if name not in configured]
    if unknown:
        raise ValueError(f'cameras: {", ".join(unknown)} not in the camera_names of '
                         f'{params_file} ({", ".join(configured) or "none"})')
    nodes = []
    if start_detectors:
        groups: Sequence[List[str]] = [[name] for name in names] if detector_per_camera \
            else [names]
        for group in groups:
            node_name = f'skelsplat_detector_{group[0]}' if detector_per_camera \
                else 'skelsplat_detector'
            nodes.append(LaunchedNode(DETECTOR_EXECUTABLE, node_name,
                                      {**parameters, 'camera_names': group}))
    if start_fusion:
        nodes.append(LaunchedNode(FUSION_NODE, FUSION_NODE,
                                  {**parameters, 'detector': 'keypoints_topic'}))
    return nodes
