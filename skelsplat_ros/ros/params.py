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
        rectified: false                             # true: image_rect, CameraInfo P, no D

Every other parameter is listed in :data:`PARAMETERS`, generated from fields that each
declare one parameter with its default, description and bounds (:mod:`skelsplat_ros.settings`):
the node's own in :class:`NodeConfig`, those of the solver and of the multi-person tracker in
:class:`skelsplat_ros.solver.SolverConfig` and :class:`skelsplat_ros.tracking.TrackerConfig`
(``solver_<field>``, ``tracker_<field>``).  Every number is checked as finite and within its
bounds before anything uses it, at start-up and for each run-time change.
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
from skelsplat_ros.detect.mediapipe_detector import check_model, DEFAULT_NUM_POSES, \
    MAX_NUM_POSES, ModelError
from skelsplat_ros.detect.pose_bundle import default_model_path
from skelsplat_ros.live import FusionEngine
from skelsplat_ros.skeletons import get_skeleton, Skeleton, SKELETON_NAMES
from skelsplat_ros.solver import SolverConfig
from skelsplat_ros.tracking import TrackerConfig

__all__ = [
    'camera_info_topic_for', 'CameraConfig', 'config_from_values', 'detector_config_from_values',
    'DETECTOR_FIELDS', 'detector_options', 'DETECTOR_PARAMETERS', 'DetectorNodeConfig', 'DYNAMIC',
    'load_calibrated_cameras', 'make_engine', 'NODE_FIELDS', 'NodeConfig', 'parameter_names',
    'parameter_values', 'ParameterError', 'PARAMETERS', 'prepared_engine', 'read_config',
    'read_detector_config', 'validate_update']

DETECTORS = ('mediapipe', 'onnx', 'keypoints_topic')
EXTRINSICS_SOURCES = ('calibration_file', 'tf')
INTRINSICS_SOURCES = ('camera_info', 'calibration_file')
IMAGE_QOS = ('sensor_data', 'reliable')
FRAME_STYLES = ('ros4hri', 'skelsplat')
MODEL_FRAMES_BY = ('node', 'robot_state_publisher')
_DEVICE = re.compile(r'^(auto|cpu|cuda(:\d+)?)$')
_CAMERA_NAME = re.compile(r'^[A-Za-z][A-Za-z0-9_]*$')

# NodeConfig field -> the configuration class whose exposed fields are the node parameters
# '<NodeConfig field>_<its field>'.
CONFIG_CLASSES = {'solver': SolverConfig, 'tracker': TrackerConfig}
# Parameter name -> its configuration field, e.g. 'solver_accel_sigma' -> accel_sigma.
CONFIG_FIELDS: Dict[str, dataclasses.Field] = {
    f'{part}_{field.name}': field
    for part, config_class in CONFIG_CLASSES.items() for field in settings.exposed(config_class)}


class ParameterError(ValueError):
    """A parameter value (or parameter file) the node cannot run with."""


setting = settings.setting


@dataclasses.dataclass(frozen=True)
class CameraConfig:
    """One camera's topics and options: the parameters ``cameras.<name>.<field>``.

    A topic parameter left empty takes its default, built from the name or the image topic.
    """

    name: str
    image_topic: str = setting('', 'image topic; default <name>/image_raw, a topic ending in '
                               '/compressed carries sensor_msgs/CompressedImage')
    camera_info_topic: str = setting('', "CameraInfo topic; '' = the image topic's sibling "
                                     'camera_info')
    keypoints_topic: str = setting('', 'skelsplat_ros/Keypoints2D topic (detector:='
                                   'keypoints_topic); default <name>/keypoints')
    rectified: bool = setting(False, 'the images are rectified (image_rect): use CameraInfo P '
                              'with no distortion instead of K and D')

    @property
    def compressed(self) -> bool:
        """Whether the image topic carries ``sensor_msgs/CompressedImage``."""
        return self.image_topic.rstrip('/').endswith('/compressed')


# Field name -> its field, for the per-camera parameters cameras.<name>.<field>.
CAMERA_FIELDS: Dict[str, dataclasses.Field] = {
    field.name: field for field in settings.exposed(CameraConfig)}
CAMERA_PARAMETERS = tuple(CAMERA_FIELDS)


# Longest marker lifetime, a day: Marker.lifetime is a Duration whose int32 seconds would wrap
# beyond 2**31 - 1 (a negative lifetime).
MARKER_LIFETIME_MAX_S = 86400.0


@dataclasses.dataclass(frozen=True)
class NodeConfig:
    """All validated parameters.

    Each field declared with :func:`skelsplat_ros.settings.setting` is the node parameter of
    that name, with its default, description and bounds: the one place a node parameter is
    declared (a new one is one field here).  ``cameras`` comes from ``camera_names`` and the
    ``cameras.<name>.*`` parameters, ``skeleton`` from the ``skeleton`` parameter
    (:class:`_BuiltFrom`), ``solver`` and ``tracker`` from the ``solver_*`` and ``tracker_*``
    ones.
    """

    cameras: Tuple[CameraConfig, ...]
    skeleton: Skeleton
    solver: SolverConfig
    tracker: TrackerConfig
    world_frame: str = setting('world', 'frame of the output poses, the calibration world '
                               '(Z up)')
    extrinsics_source: str = setting('calibration_file', 'camera poses from',
                                     choices=EXTRINSICS_SOURCES)
    tf_timeout: float = setting(0.05, 'extrinsics_source tf: longest wait for the camera '
                                'transforms at the stamps of a frame group, seconds (static '
                                'frames are found at once)', low=0.0, high=10.0)
    intrinsics_source: str = setting('camera_info', 'K, D and image size from',
                                     choices=INTRINSICS_SOURCES)
    calibration_file: str = setting('', 'anipose/pose2sim TOML or camera YAML, cameras named '
                                    'as in camera_names')
    detector: str = setting('mediapipe', '2D keypoints from', choices=DETECTORS)
    onnx_model_path: str = setting('', 'RTMPose/RTMO-style ONNX model (detector:=onnx)')
    model_path: str = setting('', 'MediaPipe PoseLandmarker .task bundle (detector:=mediapipe, '
                              'e.g. an official pose_landmarker_heavy.task); empty: the one '
                              'scripts/setup.sh builds')
    detector_num_poses: int = setting(DEFAULT_NUM_POSES, 'mediapipe: most people found per '
                                      'image (each costs one landmark pass; /diagnostics says '
                                      'when a camera reaches it)', low=1, high=MAX_NUM_POSES)
    detector_tracking: bool = setting(False, 'mediapipe: VIDEO mode, people followed from '
                                      'frame to frame (measured no faster, and it can merge '
                                      'two people into one track: bench/detector.py); false: '
                                      'each image afresh')
    multi_person: bool = setting(True, 'fuse and track every person in view, each under a '
                                 'stable id (one person is the case N = 1); false: one '
                                 'person, the one the cameras agree on')
    detector_max_side: int = setting(0, 'mediapipe: images whose longer side exceeds this '
                                     'many pixels are shrunk to it before detection (faster; '
                                     'for people who fill a good part of the image); 0 keeps '
                                     'the full size, else at least 32', low=0, high=16384)
    slop: float = setting(0.02, 'largest stamp difference within a frame group, seconds',
                          low=0.0, high=10.0)
    max_wait: float = setting(0.1, 'longest wait for missing cameras after a group starts, '
                              'seconds', low=0.0, low_open=True, high=60.0)
    min_views: int = setting(2, 'fewest cameras a group needs to be fused (at most the '
                             'number of cameras)', low=1, high=1000)
    image_qos: str = setting('sensor_data', 'QoS of the input subscriptions', choices=IMAGE_QOS)
    device: str = setting('auto', 'solver device: auto | cpu | cuda | cuda:N')
    publish_markers: bool = setting(True, 'publish visualization_msgs/MarkerArray on ~markers')
    publish_points: bool = setting(True, 'publish sensor_msgs/PointCloud2 of the joints')
    publish_tf: bool = setting(True, 'publish REP-155 body frames on /tf (frame_style names '
                               'them)')
    frame_style: str = setting('ros4hri', 'TF frame names: ros4hri (human_description links, '
                               'l_wrist_<body id>) or skelsplat (left_wrist_<id>)',
                               choices=FRAME_STYLES)
    model_frames_by: str = setting('node', 'ros4hri link frames below body_<body id> come from '
                                   'this node, or from one robot_state_publisher per body',
                                   choices=MODEL_FRAMES_BY)
    publish_hri: bool = setting(True, 'publish the ROS4HRI topics: /humans/bodies/tracked and '
                                'per body joint_states, velocity, urdf')
    hri_grace_period: float = setting(10.0, "a lost body's per-body publishers are destroyed "
                                      'after this long, seconds', low=0.0, high=3600.0)
    publish_covariance_ellipsoids: bool = setting(False, 'add one 1-sigma ellipsoid per joint '
                                                  'to the markers')
    marker_lifetime: float = setting(0.5, 'marker lifetime, seconds', low=0.0, low_open=True,
                                     high=MARKER_LIFETIME_MAX_S)
    input_timeout: float = setting(1.0, 'a camera without frames for this long is reported as '
                                   'stalled, seconds', low=0.0, low_open=True, high=3600.0)
    diagnostics_period: float = setting(1.0, 'period of /diagnostics, seconds', low=0.0,
                                        low_open=True, high=3600.0)
    detection_period: float = setting(
        0.0, 'detect and fuse only the first frame of each period of the stamp timeline, '
        'seconds: every camera and every detector node of the rig then takes the same stamps '
        '(0: every frame there is time for)', low=0.0, high=3600.0)
    smoothing_lag: int = setting(0, 'publish each pose this many frame groups late, with its '
                                 'own stamp, smoothed with the groups after it (fixed-lag '
                                 'smoother, each person along its track); 0 publishes at once',
                                 low=0, high=1000)

    @property
    def camera_names(self) -> Tuple[str, ...]:
        """The camera names, in order."""
        return tuple(camera.name for camera in self.cameras)


@dataclasses.dataclass(frozen=True)
class _BuiltFrom:
    """Parameters that :class:`NodeConfig` does not keep as given but builds a field from."""

    skeleton: str = setting('coco17', 'joint set fitted and published',
                            choices=SKELETON_NAMES)


# Parameter name -> its field, for the node's own parameters (checked by config_from_values).
NODE_FIELDS: Dict[str, dataclasses.Field] = {
    field.name: field for config_class in (NodeConfig, _BuiltFrom)
    for field in settings.exposed(config_class)}
# name -> (default, description) of every parameter but the per-camera ones (module docstring).
PARAMETERS: Dict[str, Tuple[object, str]] = {
    name: (field.default, settings.describe(field))
    for name, field in {**NODE_FIELDS, **CONFIG_FIELDS}.items()}
DYNAMIC = frozenset({'slop', 'max_wait', 'min_views', 'publish_markers', 'publish_points',
                     'publish_tf', 'publish_covariance_ellipsoids', 'marker_lifetime',
                     'input_timeout', 'frame_style', 'model_frames_by', 'publish_hri',
                     'hri_grace_period'})


# The parameters of skelsplat_detector_node: NodeConfig's detector fields, shared (not
# redeclared), so that one parameter file configures both halves of a split rig alike.
DETECTOR_FIELDS = ('skeleton', 'detector', 'onnx_model_path', 'model_path', 'detector_num_poses',
                   'detector_tracking', 'detector_max_side', 'device', 'image_qos',
                   'input_timeout', 'diagnostics_period', 'detection_period')
DETECTOR_PARAMETERS: Dict[str, Tuple[object, str]] = {
    name: PARAMETERS[name] for name in DETECTOR_FIELDS}


def _shared_field(name):
    field = NODE_FIELDS[name]
    return name, field.type, dataclasses.field(default=field.default, metadata=field.metadata)


DetectorNodeConfig = dataclasses.make_dataclass(
    'DetectorNodeConfig',
    [('cameras', Tuple[CameraConfig, ...]), ('skeleton', Skeleton),
     *(_shared_field(name) for name in DETECTOR_FIELDS if name != 'skeleton')],
    frozen=True, namespace={'camera_names': NodeConfig.camera_names,
                            '__module__': __name__})
DetectorNodeConfig.__doc__ = """The validated parameters of skelsplat_detector_node.

Its fields are :class:`NodeConfig`'s of the same name (:data:`DETECTOR_FIELDS`: the same
defaults, descriptions and bounds), plus the cameras (whose ``keypoints_topic`` it publishes).
"""


def camera_info_topic_for(image_topic: str) -> str:
    """Return the ``camera_info`` topic beside an image topic (image_transport's convention).

    ``/cam/image_raw`` and ``/cam/image_raw/compressed`` give ``/cam/camera_info``.
    """
    topic = image_topic.rstrip('/')
    if topic.endswith('/compressed'):
        topic = topic[:-len('/compressed')]
    head, _, _ = topic.rpartition('/')
    return f'{head}/camera_info' if head or topic.startswith('/') else 'camera_info'


def _path(value, name):
    """Return the path parameter ``name`` with ~ and $VARIABLES expanded ('' stays '')."""
    path = os.path.expanduser(os.path.expandvars(value))
    if '$' in path:
        raise ParameterError(f'{name}: {value!r} uses an environment variable that is not set')
    return path


def _topic(value, name):
    if not isinstance(value, str) or not value.strip() or ' ' in value:
        raise ParameterError(f'{name}: {value!r} is not a topic name')
    return value.strip()


def _camera_configs(values: Mapping[str, object]) -> Tuple[CameraConfig, ...]:
    """Return the cameras of ``camera_names`` and ``cameras.<name>.*`` (see config_from_values)."""
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
        try:
            rectified = settings.check_value(CAMERA_FIELDS['rectified'],
                                             values.get(prefix + 'rectified', False),
                                             prefix + 'rectified')
        except ValueError as error:
            raise ParameterError(str(error)) from None
        cameras.append(CameraConfig(
            name=name, image_topic=image_topic,
            camera_info_topic=_topic(info_topic, prefix + 'camera_info_topic'),
            keypoints_topic=_topic(values.get(prefix + 'keypoints_topic') or f'{name}/keypoints',
                                   prefix + 'keypoints_topic'),
            rectified=rectified))
    return tuple(cameras)


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
    cameras = _camera_configs(values)
    checked = _checked(values, NODE_FIELDS)
    world_frame = checked['world_frame']
    if not world_frame or world_frame.startswith('/') or ' ' in world_frame:
        raise ParameterError(f'world_frame: {world_frame!r} is not a TF frame name (no leading '
                             '/, no spaces)')
    checked['calibration_file'] = _path(checked['calibration_file'], 'calibration_file')
    if 'calibration_file' in (checked['extrinsics_source'], checked['intrinsics_source']):
        if not checked['calibration_file']:
            raise ParameterError('calibration_file: required with extrinsics_source or '
                                 'intrinsics_source calibration_file')
        if not os.path.isfile(checked['calibration_file']):
            raise ParameterError(f"calibration_file: {checked['calibration_file']} does not "
                                 'exist')
    _check_detector(checked)
    if checked['min_views'] > len(cameras):
        raise ParameterError(f'min_views: must be an integer from 1 to the number of cameras '
                             f"({len(cameras)}), got {checked['min_views']!r}")
    return NodeConfig(cameras=cameras, **checked,
                      **{part: _settings(part, values) for part in CONFIG_CLASSES})


def _checked(values, fields: Mapping[str, dataclasses.Field]) -> Dict[str, object]:
    """Return each of ``fields``' value checked against its bounds (ParameterError if not)."""
    checked = {}
    for name, field in fields.items():
        try:
            checked[name] = settings.check_value(field, values[name], name)
        except ValueError as error:
            raise ParameterError(str(error)) from None
    if 'skeleton' in checked:
        checked['skeleton'] = get_skeleton(checked['skeleton'])
    return checked


def _check_detector(checked):
    """Check the detector parameters of ``checked`` in place (model paths expanded)."""
    for name in ('onnx_model_path', 'model_path'):
        checked[name] = _path(checked[name], name)
    if checked['detector'] == 'onnx' and not os.path.isfile(checked['onnx_model_path']):
        raise ParameterError(f"onnx_model_path: {checked['onnx_model_path']!r} is not a file "
                             '(needed by detector:=onnx)')
    if checked['detector'] == 'mediapipe':
        try:
            check_model(checked['model_path'] or default_model_path())
        except ModelError as error:
            raise ParameterError(f'model_path: {error}') from None
    if not _DEVICE.match(checked['device']):
        raise ParameterError(f"device: {checked['device']!r} is not one of auto, cpu, cuda, "
                             'cuda:N')
    if 0 < checked['detector_max_side'] < 32:
        raise ParameterError(f'detector_max_side: must be 0 (full size) or an integer of at '
                             f"least 32 pixels, got {checked['detector_max_side']!r}")


def detector_config_from_values(values: Mapping[str, object]) -> DetectorNodeConfig:
    """Validate a detector node's parameter values (as :func:`config_from_values` does).

    Raises:
        ParameterError: naming the first bad parameter and why.
    """
    cameras = _camera_configs(values)
    checked = _checked(values, {name: NODE_FIELDS[name] for name in DETECTOR_FIELDS})
    if checked['detector'] == 'keypoints_topic':
        raise ParameterError('detector: keypoints_topic is what the fusion node reads; a '
                             'detector node runs mediapipe or onnx')
    _check_detector(checked)
    return DetectorNodeConfig(cameras=cameras, **checked)


def detector_options(config) -> Dict[str, object]:
    """Return the keyword options of the detector that ``config`` (either config) describes."""
    if config.detector == 'onnx':
        return {'model_path': config.onnx_model_path,
                'device': 'cpu' if config.device == 'cpu' else 'auto'}
    if config.detector == 'mediapipe':
        options = {'model_path': config.model_path or None,
                   'num_poses': config.detector_num_poses,
                   'static_image_mode': not config.detector_tracking}
        if config.detector_max_side:
            options['max_side'] = config.detector_max_side
        return options
    return {}


def make_engine(config, notify: Callable[[str], None], smooth_all: bool = False) -> FusionEngine:
    """Return the fusion engine that ``config`` describes (detector, device, solver, skeleton).

    ``config`` is a :class:`NodeConfig`, or a :class:`DetectorNodeConfig` (detection only).
    The engine sets the solver's device, and resolves its objective for it.  With
    ``smooth_all`` (a recording) it holds every group until its ``flush_smoothing`` instead
    of ``smoothing_lag`` groups.
    """
    detector = None if config.detector == 'keypoints_topic' else config.detector
    if isinstance(config, DetectorNodeConfig):  # detection only: no solver, nothing to say
        return FusionEngine(config.camera_names, detector=detector,
                            detector_options=detector_options(config), device=config.device,
                            skeleton=config.skeleton, notify=lambda _: None)
    return FusionEngine(config.camera_names, detector=detector,
                        detector_options=detector_options(config), device=config.device,
                        solver_config=config.solver, multi_person=config.multi_person,
                        tracker_config=config.tracker, skeleton=config.skeleton, notify=notify,
                        smoothing_lag=None if smooth_all else config.smoothing_lag)


def prepared_engine(config, notify: Callable[[str], None]) -> FusionEngine:
    """Return :func:`make_engine`'s engine with its detector loaded now, not on the first frames.

    Raises:
        ParameterError: the model passed the file check but does not load, or the detector's
            package is not installed.
    """
    engine = make_engine(config, notify)
    try:
        engine.prepare()
    except ModelError as error:
        raise ParameterError(f'model_path: {error}') from None
    except ImportError as error:
        raise ParameterError(f'detector: {error}') from None
    return engine


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


# rclpy's own parameters, which every node has (Jazzy adds start_type_description_service).
RCLPY_PARAMETERS = frozenset({'use_sim_time', 'start_type_description_service'})


def unknown_parameters(names, camera_names) -> str:
    """Return one line naming those of ``names`` that no one declares, '' when there are none.

    Unknown names are warned about, not refused: a parameter file shared by several nodes
    (``/**:``) holds other nodes' parameters.  rclpy's own parameters and ``qos_overrides.*``
    are never unknown.
    """
    known = parameter_names(camera_names) | RCLPY_PARAMETERS
    unknown = sorted(name for name in names
                     if name not in known and not name.startswith('qos_overrides.'))
    if not unknown:
        return ''
    return (f'ignoring unknown parameter(s) {", ".join(unknown)} (a typo? cameras must also be '
            'listed in camera_names)')


def parameter_values(config: NodeConfig) -> Dict[str, object]:
    """Return the parameter values that ``config`` stands for (inverse of config_from_values)."""
    values = {name: getattr(config, name) for name in NODE_FIELDS if name != 'skeleton'}
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
        ParameterError: for a missing, mistyped or invalid parameter (an unknown one is
            logged as a warning).
    """
    return config_from_values(_declare(node, PARAMETERS, DYNAMIC))


def read_detector_config(node) -> DetectorNodeConfig:
    """Declare a detector node's parameters (all read-only) and return its configuration.

    Raises:
        ParameterError: as :func:`read_config`.
    """
    return detector_config_from_values(_declare(node, DETECTOR_PARAMETERS, frozenset()))


def _declare(node, parameters, dynamic) -> Dict[str, object]:
    """Declare ``camera_names``, ``parameters`` and the per-camera ones; return their values."""
    from rcl_interfaces.msg import ParameterDescriptor
    from rclpy.exceptions import InvalidParameterTypeException, ParameterUninitializedException
    from rclpy.parameter import Parameter

    def declare(name, default, description):
        descriptor = ParameterDescriptor(description=description, read_only=name not in dynamic)
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
    for name, (default, description) in parameters.items():
        values[name] = declare(name, default, description)
    for camera in config_names:
        if not isinstance(camera, str) or not _CAMERA_NAME.match(camera):
            continue  # config_from_values reports it
        for field_name, field in CAMERA_FIELDS.items():
            key = f'cameras.{camera}.{field_name}'
            values[key] = declare(key, field.default,
                                  f'camera {camera}: {settings.describe(field)}')
    # The fusion node's parameters are known to a detector node too: both read one file.
    unknown = unknown_parameters(getattr(node, '_parameter_overrides', {}), config_names)
    if unknown:
        node.get_logger().warning(unknown)
    return values
