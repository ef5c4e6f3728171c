# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Start the SkelSplat node in-process with a parameter file, without ``ros2 launch``.

``python -m skelsplat_ros.ros.runner [--params-file FILE] [-p name:=value ...]`` runs the same
node with the same file as ``ros2 launch skelsplat_ros multiview.launch.py``; CI and the demo
use it where the launch packages are not installed.  rcl reads the file (the same parser as
``ros2 launch``), after :func:`check_params_file` has checked its layout so that a bad file
gives a clear message and exit status 2.  ``-p`` values are YAML, as with ``ros2 run``.

Tests build the node inside their own rclpy context with :func:`create_node`.
"""

import argparse
import os
import sys
import tempfile
from typing import Mapping, Optional

from skelsplat_ros.ros.launch_arguments import arguments, default_params_file, \
    distributed_arguments, distributed_nodes, FUSION_NODE, node_parameters, parameter_file
from skelsplat_ros.ros.params import ParameterError
import yaml

__all__ = ['check_params_file', 'compose_from_arguments', 'create_node', 'default_params_file',
           'main', 'node_from_arguments', 'spin_composed']

NODE_NAME = FUSION_NODE


def check_params_file(path, node_name: str = NODE_NAME) -> dict:
    """Check a ROS 2 parameter file for the node and return its ``ros__parameters``.

    Args:
        path: the YAML file (``{node key: {ros__parameters: {...}}}``).
        node_name: the node the file must configure.

    Returns:
        The merged ``ros__parameters`` of every key that applies to the node.

    Raises:
        ParameterError: when the file cannot be read, is not YAML, or has no parameters for
            the node.
    """
    try:
        return node_parameters(path, node_name)
    except ValueError as error:
        raise ParameterError(str(error)) from None


def create_node(params_file=None, overrides: Optional[Mapping[str, object]] = None,
                context=None, namespace: Optional[str] = None):
    """Create a :class:`skelsplat_ros.ros.node.SkelSplatNode` from a parameter file.

    Args:
        params_file: the ROS 2 parameter file, or None for none.
        overrides: parameter name -> value, taking precedence over the file.
        context: the rclpy context (None: the default one, which must be initialised).
        namespace: the node's namespace.

    Returns:
        The node; the caller spins and destroys it.

    Raises:
        ParameterError: for a bad file or bad parameters.
    """
    cli_args = []
    if params_file is not None:
        check_params_file(params_file)
        cli_args = ['--ros-args', '--params-file', os.fspath(params_file)]
    from rclpy.parameter import Parameter

    from skelsplat_ros.ros.node import SkelSplatNode

    parameters = [Parameter(name, value=value) for name, value in (overrides or {}).items()]
    return SkelSplatNode(context=context, namespace=namespace, cli_args=cli_args,
                         parameter_overrides=parameters)


def node_from_arguments(params_file=None, namespace=None, use_sim_time=None,
                        overrides: Optional[Mapping[str, object]] = None, context=None):
    """Create the node as ``ros2 launch skelsplat_ros multiview.launch.py`` does.

    Each argument left None takes the launch file's default
    (:func:`skelsplat_ros.ros.launch_arguments.arguments`); ``overrides`` are ``-p`` values.

    Raises:
        ParameterError: for a bad file or bad parameters.
    """
    defaults = {name: default for name, (default, _) in arguments().items()}
    params_file = params_file or defaults['params_file']
    namespace = defaults['namespace'] if namespace is None else namespace
    use_sim_time = yaml.safe_load(defaults['use_sim_time'] if use_sim_time is None
                                  else use_sim_time)
    return create_node(params_file, {'use_sim_time': use_sim_time, **(overrides or {})},
                       context=context, namespace=namespace or None)


def compose_from_arguments(params_file=None, namespace=None, use_sim_time=None,
                           context=None, **launch_arguments) -> list:
    """Create in one process the nodes that ``distributed.launch.py`` starts as processes.

    Arguments left None take the launch file's defaults
    (:func:`skelsplat_ros.ros.launch_arguments.distributed_arguments`); ``launch_arguments``
    are its others (``cameras``, ``start_detectors``, ``start_fusion``,
    ``detector_per_camera``), as strings or values.  The caller spins the nodes (one executor:
    :func:`spin_composed`) and destroys them.

    Raises:
        ParameterError: for a bad file, bad parameters or an unknown argument (the nodes
            already created are destroyed first).
    """
    from rclpy.parameter import Parameter

    from skelsplat_ros.ros.detector_node import DetectorNode
    from skelsplat_ros.ros.node import SkelSplatNode

    defaults = {name: default for name, (default, _) in distributed_arguments().items()}
    unknown = set(launch_arguments) - set(defaults)
    if unknown:
        raise ParameterError(f'unknown launch argument(s) {", ".join(sorted(unknown))}')
    given = {**defaults, **{name: value for name, value in launch_arguments.items()
                            if value is not None}}
    flags = {name: yaml.safe_load(str(given[name]).lower()) is True for name in (
        'start_detectors', 'start_fusion', 'detector_per_camera')}
    params_file = params_file or defaults['params_file']
    namespace = (defaults['namespace'] if namespace is None else namespace) or None
    sim_time = yaml.safe_load(str(defaults['use_sim_time'] if use_sim_time is None
                                  else use_sim_time).lower())
    try:
        launched = distributed_nodes(params_file, given['cameras'], **flags)
    except ValueError as error:
        raise ParameterError(str(error)) from None
    kinds = {'skelsplat_node': SkelSplatNode, 'skelsplat_detector_node': DetectorNode}
    nodes = []
    try:
        with tempfile.TemporaryDirectory(prefix='skelsplat_compose_') as directory:
            for node in launched:
                path = parameter_file(node, directory)  # as the launch file passes them
                nodes.append(kinds[node.executable](
                    node.name, context=context, namespace=namespace,
                    cli_args=['--ros-args', '--params-file', str(path)],
                    parameter_overrides=[Parameter('use_sim_time', value=sim_time)]))
    except BaseException:
        for node in nodes:
            node.destroy_node()
        raise
    return nodes


def spin_composed(nodes, context=None) -> int:
    """Spin ``nodes`` in one executor until shutdown; destroy them; return status 0.

    One process, one executor thread: the nodes' callbacks only take messages in (detection
    and fusion run on the nodes' worker threads), and rclpy's ``MultiThreadedExecutor`` was
    measured slower here (bench/distributed.py: 2.5 against 4.8 Hz for the split rig).  Their
    messages still go through the middleware: rclpy has no intra-process hand-over.
    """
    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

    from skelsplat_ros.ros.node import freeze_startup_objects

    executor = SingleThreadedExecutor(context=context)
    for node in nodes:
        executor.add_node(node)
    freeze_startup_objects()
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        for node in nodes:
            executor.remove_node(node)
            node.destroy_node()
        executor.shutdown()
        rclpy.try_shutdown(context=context)
    return 0


def _parse_override(text):
    name, sep, value = text.partition(':=')
    if not sep or not name:
        raise ParameterError(f'-p {text!r}: expected name:=value')
    try:
        return name, yaml.safe_load(value)
    except yaml.YAMLError as error:
        raise ParameterError(f'-p {text!r}: value is not YAML: {error}') from None


def main(argv=None) -> int:
    """Run the node (or with --distributed the split rig) until Ctrl-C; the exit status.

    Bad parameters give status 2.
    """
    import rclpy
    from skelsplat_ros.ros.node import spin

    parser = argparse.ArgumentParser(
        prog='python -m skelsplat_ros.ros.runner',
        description='Run skelsplat_node in-process with a ROS 2 parameter file; with '
        '--distributed, the nodes of distributed.launch.py in one process.')
    parser.add_argument('--params-file', default=None,
                        help=f'ROS 2 parameter file (default: {default_params_file()})')
    parser.add_argument('-p', '--param', action='append', default=[], metavar='NAME:=VALUE',
                        help='override one parameter (YAML value); repeatable')
    parser.add_argument('--namespace', default=None, help='node namespace')
    parser.add_argument('--use-sim-time', default=None, choices=('true', 'false'),
                        help='use /clock (bag replay)')
    parser.add_argument('--distributed', action='store_true',
                        help='detector nodes plus the fusion node, as distributed.launch.py')
    for name, (default, description) in distributed_arguments().items():
        if name not in ('params_file', 'namespace', 'use_sim_time'):
            parser.add_argument(f"--{name.replace('_', '-')}", default=None,
                                help=f'--distributed: {description} (default: {default!r})')
    args = parser.parse_args(argv)
    try:
        overrides = dict(_parse_override(text) for text in args.param)
        if args.distributed and overrides:
            raise ParameterError('-p applies to one node; with --distributed, write the '
                                 'parameters in the file')
        rclpy.init(args=[])
    except ParameterError as error:
        print(f'{NODE_NAME}: {error}', file=sys.stderr)
        return 2
    if args.distributed:
        try:
            nodes = compose_from_arguments(
                args.params_file, args.namespace, args.use_sim_time, cameras=args.cameras,
                start_detectors=args.start_detectors, start_fusion=args.start_fusion,
                detector_per_camera=args.detector_per_camera)
        except ParameterError as error:
            print(f'{NODE_NAME}: invalid parameters: {error}', file=sys.stderr)
            rclpy.try_shutdown()
            return 2
        return spin_composed(nodes)
    return spin(lambda: node_from_arguments(args.params_file, args.namespace,
                                            args.use_sim_time, overrides))


if __name__ == '__main__':
    sys.exit(main())
