# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Parameters of the SkelSplat node: declaration, validation, and dynamic updates.

ROS 2 parameters cannot hold a list of dictionaries, so the cameras are a list of names plus
one parameter namespace per camera (``config/multiview.yaml`` is the documented example)::

    camera_names: [cam_01, cam_02]
    cameras:
      cam_01:
        image_topic: /cam_01/image_raw               # .../compressed: sensor_msgs/CompressedImage
        camera_info_topic: /cam_01/camera_info       # '' = the image topic's sibling camera_info
        keypoints_topic: /cam_01/keypoints           # only for detector:=keypoints_topic

Every other parameter is listed in :data:`PARAMETERS`.  Those of the solver and of the
multi-person tracker are generated from the fields of
:class:`skelsplat_ros.solver.SolverConfig` and :class:`skelsplat_ros.tracking.TrackerConfig`
(``solver_<field>``, ``tracker_<field>``: the field's default, description and bounds, see
:mod:`skelsplat_ros.settings`), so a new solver setting is declared in its field only.
:func:`config_from_values` checks a complete set of values without ROS and raises
:class:`ParameterError` with a message that names the parameter; :func:`read_config`
declares the parameters on a node and uses it.
Parameters that are safe to change at run time are :data:`DYNAMIC`; the others are read-only.
:func:`make_engine` builds the fusion engine a configuration describes, for the node and for
``skelsplat bag`` alike.
"""

import dataclasses
import os
import re
from typing import Callable, Dict, Mapping, Optional, Tuple

from skelsplat_ros import settings
from skelsplat_ros.live import FusionEngine
from skelsplat_ros.skeletons import get_skeleton, Skeleton, SKELETON_NAMES
from skelsplat_ros.solver import SolverConfig
from skelsplat_ros.tracking import TrackerConfig

__all__ = [
    'CameraConfig', 'DYNAMIC', 'NodeConfig', 'PARAMETERS', 'ParameterError',
    'camera_info_topic_for', 'config_from_values', 'load_calibrated_cameras', 'make_engine',
    'parameter_names', 'parameter_values', 'read_config', 'validate_update',
]

DETECTORS = ('mediapipe', 'onnx', 'keypoints_topic')
EXTRINSICS_SOURCES = ('calibration_file', 'tf')
INTRINSICS_SOURCES = ('camera_info', 'calibration_file')
IMAGE_QOS = ('sensor_data', 'reliable')
_DEVICE = re.compile(r'^(auto|cpu|cuda(:\d+)?)$')
_CAMERA_NAME = re.compile(r'^[A-Za-z][A-Za-z0-9_]*$')

# NodeConfig field -> the configuration class whose exposed fields are the node parameters
# '<NodeConfig field>_<its field>'.
CONFIG_CLASSES = {'solver': SolverConfig, 'tracker': TrackerConfig}
# Parameter name -> its configuration field, e.g. 'solver_accel_sigma' -> accel_sigma.
CONFIG_FIELDS: Dict[str, dataclasses.Field] = {
    f'{part}_{field.name}': field
    for part, config_class in CONFIG_CLASSES.items() for field in settings.exposed(config_class)}

# name -> (default, description).  Per-camera parameters are described in the module docstring.
PARAMETERS: Dict[str, Tuple[object, str]] = {
    'world_frame': ('world', 'frame of the output poses, the calibration world (Z up)'),
    'extrinsics_source': ('calibration_file', 'camera poses from: calibration_file | tf'),
    'intrinsics_source': ('camera_info', 'K, D and image size from: camera_info | '
                          'calibration_file'),
    'calibration_file': ('', 'anipose/pose2sim TOML or camera YAML, cameras named as in '
                         'camera_names'),
    'detector': ('mediapipe', '2D keypoints from: mediapipe | onnx | keypoints_topic'),
    'onnx_model_path': ('', 'RTMPose/RTMO-style ONNX model (detector:=onnx)'),
    'multi_person': (False, 'fuse and track every person in view, each under a stable id '
                     '(detector:=onnx or keypoints_topic; MediaPipe finds one person)'),
    'detector_max_side': (0, 'mediapipe: images whose longer side exceeds this many pixels '
                          'are shrunk to it before detection (faster; for people who fill a '
                          'good part of the image); 0 keeps the full size'),
    'slop': (0.02, 'largest stamp difference within a frame group, seconds'),
    'max_wait': (0.1, 'longest wait for missing cameras after a group starts, seconds'),
    'min_views': (2, 'fewest cameras a group needs to be fused'),
    'image_qos': ('sensor_data', 'QoS of the input subscriptions: sensor_data | reliable'),
    'device': ('auto', 'solver device: auto | cpu | cuda'),
    'skeleton': ('coco17', f'joint set fitted and published: {" | ".join(SKELETON_NAMES)}'),
    'publish_markers': (True, 'publish visualization_msgs/MarkerArray on ~markers'),
    'publish_points': (True, 'publish sensor_msgs/PointCloud2 of the joints'),
    'publish_tf': (True, 'publish REP-155 body_<id> and <joint>_<id> frames on /tf'),
    'publish_covariance_ellipsoids': (False, 'add one 1-sigma ellipsoid per joint to the '
                                      'markers'),
    'marker_lifetime': (0.5, 'marker lifetime, seconds'),
    'input_timeout': (1.0, 'a camera without frames for this long is reported as stalled, '
                      'seconds'),
    'diagnostics_period': (1.0, 'period of /diagnostics, seconds'),
    **{name: (field.default, settings.describe(field)) for name, field in CONFIG_FIELDS.items()},
}
DYNAMIC = frozenset({'slop', 'max_wait', 'min_views', 'publish_markers', 'publish_points',
                     'publish_tf', 'publish_covariance_ellipsoids', 'marker_lifetime',
                     'input_timeout'})
CAMERA_PARAMETERS = ('image_topic', 'camera_info_topic', 'keypoints_topic')


class ParameterError(ValueError):
    """A parameter value (or parameter file) the node cannot run with."""


@dataclasses.dataclass(frozen=True)
class CameraConfig:
    """One camera's topics."""

    name: str
    image_topic: str
    camera_info_topic: str
    keypoints_topic: str

    @property
    def compressed(self) -> bool:
        """Whether the image topic carries ``sensor_msgs/CompressedImage``."""
        return self.image_topic.rstrip('/').endswith('/compressed')


@dataclasses.dataclass(frozen=True)
class NodeConfig:
    """All validated parameters (names as in :data:`PARAMETERS`).

    ``solver`` and ``tracker`` hold the ``solver_*`` and ``tracker_*`` parameters.
    """

    cameras: Tuple[CameraConfig, ...]
    world_frame: str
    extrinsics_source: str
    intrinsics_source: str
    calibration_file: str
    detector: str
    onnx_model_path: str
    multi_person: bool
    detector_max_side: int
    slop: float
    max_wait: float
    min_views: int
    image_qos: str
    device: str
    skeleton: Skeleton
    solver: SolverConfig
    tracker: TrackerConfig
    publish_markers: bool
    publish_points: bool
    publish_tf: bool
    publish_covariance_ellipsoids: bool
    marker_lifetime: float
    input_timeout: float
    diagnostics_period: float

    @property
    def camera_names(self) -> Tuple[str, ...]:
        """The camera names, in order."""
        return tuple(camera.name for camera in self.cameras)


def camera_info_topic_for(image_topic: str) -> str:
    """Return the ``camera_info`` topic beside an image topic (image_transport's convention).

    ``/cam/image_raw`` and ``/cam/image_raw/compressed`` give ``/cam/camera_info``.
    """
    topic = image_topic.rstrip('/')
    if topic.endswith('/compressed'):
        topic = topic[:-len('/compressed')]
    head, _, _ = topic.rpartition('/')
    return f'{head}/camera_info' if head or topic.startswith('/') else 'camera_info'


def _choice(values, name, choices):
    value = values[name]
    if value not in choices:
        raise ParameterError(f'{name}: {value!r} is not one of {", ".join(choices)}')
    return value


def _number(values, name, minimum, inclusive=True):
    value = values[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParameterError(f'{name}: expected a number, got {value!r}')
    if value != value or value < minimum or (value == minimum and not inclusive):
        relation = '>=' if inclusive else '>'
        raise ParameterError(f'{name}: must be {relation} {minimum}, got {value!r}')
    return float(value)


def _flag(values, name):
    value = values[name]
    if not isinstance(value, bool):
        raise ParameterError(f'{name}: expected true or false, got {value!r}')
    return value


def _path(values, name):
    """Return the path parameter ``name`` with ~ and $VARIABLES expanded ('' stays '')."""
    value = values[name]
    if not isinstance(value, str):
        raise ParameterError(f'{name}: expected a path, got {value!r}')
    path = os.path.expanduser(os.path.expandvars(value))
    if '$' in path:
        raise ParameterError(f'{name}: {value!r} uses an environment variable that is not set')
    return path


def _topic(value, name):
    if not isinstance(value, str) or not value.strip() or ' ' in value:
        raise ParameterError(f'{name}: {value!r} is not a topic name')
    return value.strip()


def config_from_values(values: Mapping[str, object]) -> NodeConfig:
    """Validate parameter values and return the configuration.

    Args:
        values: every name of :data:`PARAMETERS` plus ``camera_names`` (list of str) and, per
            camera, ``cameras.<name>.<image_topic|camera_info_topic|keypoints_topic>`` (missing
            per-camera entries take their defaults: ``<name>/image_raw``, the image topic's
            sibling ``camera_info``, ``<name>/keypoints``).

    Returns:
        The configuration.

    Raises:
        ParameterError: naming the first bad parameter and why.
    """
    names = values.get('camera_names')
    if not names or isinstance(names, str) or not all(isinstance(n, str) for n in names):
        raise ParameterError('camera_names: give the list of cameras, e.g. [cam_01, cam_02]')
    names = [str(n) for n in names]
    for name in names:
        if not _CAMERA_NAME.match(name):
            raise ParameterError(f'camera_names: {name!r} is not a valid camera name (letters, '
                                 'digits and _, starting with a letter)')
    if len(set(names)) != len(names):
        raise ParameterError(f'camera_names: names must be distinct, got {names}')
    cameras = []
    for name in names:
        prefix = f'cameras.{name}.'
        image_topic = _topic(values.get(prefix + 'image_topic') or f'{name}/image_raw',
                             prefix + 'image_topic')
        info_topic = values.get(prefix + 'camera_info_topic') or camera_info_topic_for(image_topic)
        cameras.append(CameraConfig(
            name=name, image_topic=image_topic,
            camera_info_topic=_topic(info_topic, prefix + 'camera_info_topic'),
            keypoints_topic=_topic(values.get(prefix + 'keypoints_topic') or f'{name}/keypoints',
                                   prefix + 'keypoints_topic')))

    world_frame = values['world_frame']
    if not isinstance(world_frame, str) or not world_frame or world_frame.startswith('/') \
            or ' ' in world_frame:
        raise ParameterError(f'world_frame: {world_frame!r} is not a TF frame name (no leading '
                             '/, no spaces)')
    extrinsics = _choice(values, 'extrinsics_source', EXTRINSICS_SOURCES)
    intrinsics = _choice(values, 'intrinsics_source', INTRINSICS_SOURCES)
    calibration_file = _path(values, 'calibration_file')
    if 'calibration_file' in (extrinsics, intrinsics):
        if not calibration_file:
            raise ParameterError('calibration_file: required with extrinsics_source or '
                                 'intrinsics_source calibration_file')
        if not os.path.isfile(calibration_file):
            raise ParameterError(f'calibration_file: {calibration_file} does not exist')
    detector = _choice(values, 'detector', DETECTORS)
    onnx_model_path = _path(values, 'onnx_model_path')
    if detector == 'onnx' and not os.path.isfile(onnx_model_path):
        raise ParameterError(f'onnx_model_path: {onnx_model_path!r} is not a file (needed by '
                             'detector:=onnx)')
    multi_person = _flag(values, 'multi_person')
    if multi_person and detector == 'mediapipe':
        raise ParameterError('multi_person: MediaPipe finds one person per camera; use '
                             'detector:=onnx or keypoints_topic to track several')
    device = values['device']
    if not isinstance(device, str) or not _DEVICE.match(device):
        raise ParameterError(f'device: {device!r} is not one of auto, cpu, cuda, cuda:N')
    config = NodeConfig(
        cameras=tuple(cameras), world_frame=world_frame, extrinsics_source=extrinsics,
        intrinsics_source=intrinsics, calibration_file=calibration_file, detector=detector,
        onnx_model_path=onnx_model_path, multi_person=multi_person,
        detector_max_side=_max_side(values['detector_max_side']),
        slop=_number(values, 'slop', 0.0), max_wait=_number(values, 'max_wait', 0.0, False),
        min_views=_min_views(values['min_views'], len(cameras)),
        image_qos=_choice(values, 'image_qos', IMAGE_QOS), device=device,
        skeleton=get_skeleton(_choice(values, 'skeleton', SKELETON_NAMES)),
        **{part: _settings(part, values) for part in CONFIG_CLASSES},
        publish_markers=_flag(values, 'publish_markers'),
        publish_points=_flag(values, 'publish_points'),
        publish_tf=_flag(values, 'publish_tf'),
        publish_covariance_ellipsoids=_flag(values, 'publish_covariance_ellipsoids'),
        marker_lifetime=_number(values, 'marker_lifetime', 0.0, False),
        input_timeout=_number(values, 'input_timeout', 0.0, False),
        diagnostics_period=_number(values, 'diagnostics_period', 0.0, False))
    return config


def make_engine(config: NodeConfig, notify: Callable[[str], None]) -> FusionEngine:
    """Return the fusion engine that ``config`` describes (detector, device, solver, skeleton).

    The engine sets the solver's device, and resolves its objective for it.
    """
    detector = None if config.detector == 'keypoints_topic' else config.detector
    options = {}
    if detector == 'onnx':
        options = {'model_path': config.onnx_model_path,
                   'device': 'cpu' if config.device == 'cpu' else 'auto'}
    if detector == 'mediapipe' and config.detector_max_side:
        options['max_side'] = config.detector_max_side
    return FusionEngine(config.camera_names, detector=detector, detector_options=options,
                        device=config.device, solver_config=config.solver,
                        multi_person=config.multi_person, tracker_config=config.tracker,
                        skeleton=config.skeleton, notify=notify)


def _settings(part, values):
    """Build the configuration ``part`` ('solver'...) from its parameters, each checked."""
    config_class = CONFIG_CLASSES[part]
    fields = {}
    for field in settings.exposed(config_class):
        name = f'{part}_{field.name}'
        try:
            fields[field.name] = settings.check_value(field, values[name], name)
        except ValueError as error:
            raise ParameterError(str(error)) from None
    try:
        return config_class(**fields)
    except ValueError as error:  # a rule across fields
        raise ParameterError(f'{part}_*: {error}') from None


def _max_side(value):
    if isinstance(value, bool) or not isinstance(value, int) or (value != 0 and value < 32):
        raise ParameterError(f'detector_max_side: must be 0 (full size) or an integer of at '
                             f'least 32 pixels, got {value!r}')
    return value


def _min_views(value, num_cameras):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= num_cameras:
        raise ParameterError(f'min_views: must be an integer from 1 to the number of cameras '
                             f'({num_cameras}), got {value!r}')
    return value


def validate_update(config: NodeConfig, name: str, value) -> Tuple[Optional[NodeConfig], str]:
    """Check a run-time change of one parameter.

    Args:
        config: the current configuration.
        name: the parameter.
        value: its new value.

    Returns:
        ``(new config, '')`` when accepted, ``(None, reason)`` when rejected.
    """
    if name not in DYNAMIC:
        return None, f'{name} cannot change while the node runs; restart it with the new value'
    values = parameter_values(config)
    values[name] = value
    try:
        return config_from_values(values), ''
    except ParameterError as error:
        return None, str(error)


def parameter_names(camera_names) -> set:
    """Return the names of the node's own parameters for cameras ``camera_names``."""
    return set(PARAMETERS) | {'camera_names'} | {
        f'cameras.{name}.{field}' for name in camera_names for field in CAMERA_PARAMETERS}


def parameter_values(config: NodeConfig) -> Dict[str, object]:
    """Return the parameter values that ``config`` stands for (inverse of config_from_values)."""
    values = {field.name: getattr(config, field.name) for field in dataclasses.fields(config)
              if field.name not in ('cameras', 'skeleton', *CONFIG_CLASSES)}
    values['skeleton'] = config.skeleton.name
    for part, config_class in CONFIG_CLASSES.items():
        for field in settings.exposed(config_class):
            values[f'{part}_{field.name}'] = getattr(getattr(config, part), field.name)
    values['camera_names'] = list(config.camera_names)
    for camera in config.cameras:
        for field in CAMERA_PARAMETERS:
            values[f'cameras.{camera.name}.{field}'] = getattr(camera, field)
    return values


def load_calibrated_cameras(config: NodeConfig) -> Dict[str, object]:
    """Load the calibration file's cameras for the configured camera names.

    Args:
        config: the node configuration (its ``calibration_file`` must be set).

    Returns:
        camera name -> :class:`skelsplat_ros.cameras.Camera`.

    Raises:
        ParameterError: when the file does not load or lacks a configured camera.
    """
    from skelsplat_ros.cameras import CalibrationError, load_calibration
    try:
        cameras = {camera.name: camera for camera in load_calibration(config.calibration_file)}
    except CalibrationError as error:
        raise ParameterError(f'calibration_file: {error}') from None
    missing = [name for name in config.camera_names if name not in cameras]
    if missing:
        raise ParameterError(f'calibration_file: {config.calibration_file} has no camera '
                             f'{", ".join(missing)} (it has {", ".join(cameras) or "none"})')
    return {name: cameras[name] for name in config.camera_names}


def read_config(node) -> NodeConfig:
    """Declare every parameter on an rclpy node and return the validated configuration.

    Args:
        node: an ``rclpy.node.Node`` whose parameter overrides hold the user's values.

    Returns:
        The configuration.

    Raises:
        ParameterError: for a missing, mistyped, unknown or invalid parameter.
    """
    from rcl_interfaces.msg import ParameterDescriptor
    from rclpy.exceptions import InvalidParameterTypeException, ParameterUninitializedException
    from rclpy.parameter import Parameter

    def declare(name, default, description):
        descriptor = ParameterDescriptor(description=description, read_only=name not in DYNAMIC)
        try:
            return node.declare_parameter(name, default, descriptor).value
        except InvalidParameterTypeException as error:
            raise ParameterError(f'{name}: wrong type ({error}); the default is {default!r}, '
                                 'write a value of that type (e.g. 1.0 for a number)') from None

    values = {}
    try:
        values['camera_names'] = declare('camera_names', Parameter.Type.STRING_ARRAY,
                                         'camera names; per camera cameras.<name>.* topics')
    except ParameterUninitializedException:
        values['camera_names'] = None
    config_names = values['camera_names'] or []
    for name, (default, description) in PARAMETERS.items():
        values[name] = declare(name, default, description)
    for camera in config_names:
        if not isinstance(camera, str) or not _CAMERA_NAME.match(camera):
            continue  # config_from_values reports it
        for field in CAMERA_PARAMETERS:
            key = f'cameras.{camera}.{field}'
            values[key] = declare(key, '', f'camera {camera}: {field} (see config/multiview.yaml)')
    declared = set(values) | {'use_sim_time'}
    unknown = sorted(name for name in getattr(node, '_parameter_overrides', {})
                     if name not in declared and not name.startswith('qos_overrides.'))
    if unknown:
        raise ParameterError(f'unknown parameter(s) {", ".join(unknown)} (typo? cameras must '
                             'also be listed in camera_names)')
    return config_from_values(values)
