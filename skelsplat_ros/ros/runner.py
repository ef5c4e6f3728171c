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
from typing import Mapping, Optional

from skelsplat_ros.ros.launch_arguments import arguments, default_params_file
from skelsplat_ros.ros.params import ParameterError
import yaml

__all__ = ['check_params_file', 'create_node', 'default_params_file', 'main',
           'node_from_arguments']

NODE_NAME = 'skelsplat_node'


def _matches(key, node_name):
    """Whether a parameter-file node key applies to a node called ``node_name``."""
    key = str(key)
    return key in (node_name, f'/{node_name}', '/**', f'/**/{node_name}') \
        or key.endswith(f'/{node_name}')


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
        with open(path, encoding='utf-8') as stream:
            document = yaml.safe_load(stream)
    except OSError as error:
        raise ParameterError(f'{path}: cannot read the parameter file: {error}') from None
    except yaml.YAMLError as error:
        raise ParameterError(f'{path}: not valid YAML: {error}') from None
    if not isinstance(document, dict):
        raise ParameterError(f'{path}: expected {{{node_name}: {{ros__parameters: ...}}}}')
    merged = {}
    for key, section in document.items():
        if not _matches(key, node_name):
            continue
        parameters = section.get('ros__parameters') if isinstance(section, dict) else None
        if not isinstance(parameters, dict):
            raise ParameterError(f'{path}: section {key!r} needs a ros__parameters mapping')
        merged.update(parameters)
    if not merged:
        raise ParameterError(f'{path}: no parameters for node {node_name!r} (keys: '
                             f'{", ".join(map(str, document)) or "none"})')
    return merged


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


def _parse_override(text):
    name, sep, value = text.partition(':=')
    if not sep or not name:
        raise ParameterError(f'-p {text!r}: expected name:=value')
    try:
        return name, yaml.safe_load(value)
    except yaml.YAMLError as error:
        raise ParameterError(f'-p {text!r}: value is not YAML: {error}') from None


def main(argv=None) -> int:
    """Run the node until Ctrl-C; returns the exit status (2 for bad parameters)."""
    import rclpy
    from skelsplat_ros.ros.node import spin

    parser = argparse.ArgumentParser(
        prog='python -m skelsplat_ros.ros.runner',
        description='Run skelsplat_node in-process with a ROS 2 parameter file.')
    parser.add_argument('--params-file', default=None,
                        help=f'ROS 2 parameter file (default: {default_params_file()})')
    parser.add_argument('-p', '--param', action='append', default=[], metavar='NAME:=VALUE',
                        help='override one parameter (YAML value); repeatable')
    parser.add_argument('--namespace', default=None, help='node namespace')
    parser.add_argument('--use-sim-time', default=None, choices=('true', 'false'),
                        help='use /clock (bag replay)')
    args = parser.parse_args(argv)
    try:
        overrides = dict(_parse_override(text) for text in args.param)
        rclpy.init(args=[])
    except ParameterError as error:
        print(f'{NODE_NAME}: {error}', file=sys.stderr)
        return 2
    return spin(lambda: node_from_arguments(args.params_file, args.namespace,
                                            args.use_sim_time, overrides))


if __name__ == '__main__':
    sys.exit(main())
