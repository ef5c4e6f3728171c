# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``skelsplat bag``: the node's pipeline over a recorded rosbag2 MCAP, as fast as it can go.

The input holds, per camera of the node's parameter file, the image topic
(``sensor_msgs/Image``, or ``CompressedImage`` when the topic ends in ``/compressed``) or the
``skelsplat_ros/Keypoints2D`` topic (``detector: keypoints_topic``), and the ``CameraInfo``
topic unless ``intrinsics_source`` is ``calibration_file``.  Messages are decoded from the
file's own schemas by mcap-ros2-support and converted by the node's converters; frames are
grouped by :class:`skelsplat_ros.sync.FrameSynchronizer` with their header stamps as the
clock, and each group is fused by :class:`skelsplat_ros.live.FusionEngine`, as in the node,
but without dropping any group.  The output holds the node's outputs
(:class:`skelsplat_ros.ros.outputs.Outputs`: ``/human_pose_3d``, ``/human_pose_3d/markers``,
``/human_pose_3d/points``, ``/tf``, as the ``publish_*`` parameters enable them) and
``/diagnostics``, each logged at the time of the input message that completed its group.

Camera poses come from ``calibration_file`` (``extrinsics_source: tf`` is not supported here).
"""

import dataclasses
from functools import partial
import pathlib
from typing import Callable, Dict, Optional

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.serialization import serialize_message
from rclpy.time import Time
from skelsplat_ros.cameras import CalibrationError
from skelsplat_ros.fileio.mcap_io import McapBagWriter, read_messages, read_summary
from skelsplat_ros.live import fuse_group, people_of, tracked_people
from skelsplat_ros.pacing import StampGrid
from skelsplat_ros.ros import conversions, outputs
from skelsplat_ros.ros.camera_states import CameraStates
from skelsplat_ros.ros.diagnostics import bag_statuses
from skelsplat_ros.ros.params import config_from_values, load_calibrated_cameras, make_engine
from skelsplat_ros.ros.params import ParameterError, PARAMETERS, unknown_parameters
from skelsplat_ros.ros.runner import check_params_file
from skelsplat_ros.sync import DROP_REASONS, FrameSynchronizer, stamp_ns
from std_msgs.msg import Header

__all__ = ['BagError', 'BagStats', 'OUTPUT_TYPES', 'load_config', 'process_bag']


def _absolute(topic):
    return topic if topic.startswith('/') else f'/{topic}'


# Output topic -> type: the node's outputs (absolute, as the node has no namespace here).
OUTPUT_TYPES = {
    **{_absolute(topic): outputs.type_name(kind)
       for topic, kind in {**outputs.OUTPUT_TOPICS, **outputs.STATIC_TOPICS}.items()},
    '/diagnostics': 'diagnostic_msgs/msg/DiagnosticArray',
}
_INPUT_TYPES = {'image': 'sensor_msgs/msg/Image', 'compressed': 'sensor_msgs/msg/CompressedImage',
                'keypoints': 'skelsplat_ros/msg/Keypoints2D',
                'info': 'sensor_msgs/msg/CameraInfo'}


class BagError(Exception):
    """A problem with the input file or the configuration, described in one line."""


@dataclasses.dataclass
class BagStats:
    """What :func:`process_bag` did.

    Attributes:
        frames_in: camera frames read, per camera.
        frames_dropped: frames left out (camera not ready, wrong size, undecodable,
            detector error, refused by the synchroniser: negative, duplicate or late stamp),
            per camera.
        groups: frame groups fused (one ``/human_pose_3d`` each).
        groups_with_person: of those, the ones with a person.
        sync: the synchroniser's counters (``dropped_incomplete`` etc.).
        written: messages written per output topic.
    """

    frames_in: Dict[str, int]
    frames_dropped: Dict[str, int]
    groups: int = 0
    groups_with_person: int = 0
    sync: Dict[str, int] = dataclasses.field(default_factory=dict)
    written: Dict[str, int] = dataclasses.field(default_factory=dict)


def load_config(params_file, overrides: Optional[Dict[str, object]] = None,
                warn: Callable[[str], None] = lambda line: None):
    """Read a node parameter file (as ``ros2 launch`` would) into a validated NodeConfig.

    Args:
        params_file: ROS 2 parameter file for ``skelsplat_node``.
        overrides: parameter name -> value, taking precedence over the file.
        warn: called with one line naming the parameters no one declares (as the node does).

    Raises:
        ParameterError: for a bad file or an invalid value.
    """
    values = {}

    def flatten(prefix, mapping):
        for key, value in mapping.items():
            if isinstance(value, dict):
                flatten(f'{prefix}{key}.', value)
            else:
                values[f'{prefix}{key}'] = value

    flatten('', check_params_file(params_file))
    values.update(overrides or {})
    unknown = unknown_parameters(values, values.get('camera_names') or [])
    if unknown:
        warn(f'{params_file}: {unknown}')
    for name, (default, _) in PARAMETERS.items():
        values.setdefault(name, default)
    return config_from_values(values)


class _Processor:
    """The node's per-frame and per-group work, offline."""

    def __init__(self, config, file_cameras, bag, log, smooth=False):
        self.config = config
        self.bag = bag
        self.log = log
        self.engine = make_engine(config, notify=log, smooth_all=smooth)
        self.cameras = CameraStates(config, self.engine, file_cameras)
        self.sync = FrameSynchronizer(config.camera_names, slop_s=config.slop,
                                      max_wait_s=config.max_wait, min_views=config.min_views)
        names = config.camera_names
        self.stats = BagStats(frames_in=dict.fromkeys(names, 0),
                              frames_dropped=dict.fromkeys(names, 0),
                              written=dict.fromkeys(OUTPUT_TYPES, 0))
        self._warned = set()
        self._outputs = outputs.Outputs(config.skeleton)
        self._grid = StampGrid(config.detection_period)   # the node's choice of groups
        self._next_diagnostics_ns = None
        self._epoch = 0  # the synchroniser's timeline of the last group fused

    def warn(self, key, message):
        """Print ``message`` the first time ``key`` comes up."""
        if key not in self._warned:
            self._warned.add(key)
            self.log(f'warning: {conversions.capped(message)} (reported once)')

    def camera_info(self, name, msg, log_time_ns):
        """Register a camera from its CameraInfo and the calibration file's pose."""
        error = self.cameras.camera_info(name, msg)
        if error:
            self.warn(('info', name), f'{name}: CameraInfo rejected, camera ignored: {error}')
        self._camera_frames(stamp_ns(msg.header.stamp), log_time_ns)

    def frame(self, name, msg, log_time_ns):
        """Add one image or keypoints message; fuse and write the groups it completes."""
        self.stats.frames_in[name] += 1
        state = self.cameras.states[name]
        if msg.header.frame_id and msg.header.frame_id != state.frame_id:
            state.frame_id = msg.header.frame_id
            self._camera_frames(stamp_ns(msg.header.stamp), log_time_ns)
        camera = self.engine.camera(name)
        if camera is None:
            self.stats.frames_dropped[name] += 1
            self.warn(('ready', name), f'{name}: frames before its CameraInfo are ignored')
            return
        width, height = getattr(msg, 'width', 0), getattr(msg, 'height', 0)
        if hasattr(msg, 'image_width'):
            width, height = msg.image_width, msg.image_height
        if width and height and (width, height) != (camera.width, camera.height):
            self.stats.frames_dropped[name] += 1
            self.warn(('size', name), f'{name}: frames of {width}x{height} refused, CameraInfo '
                      f'says {camera.width}x{camera.height}')
            return
        stamp = stamp_ns(msg.header.stamp)
        groups = self.sync.add(name, stamp, msg, stamp)
        if self.sync.last_drop is not None:
            self.stats.frames_dropped[name] += 1
            self.warn(('sync', name, self.sync.last_drop), f'{name}: frame dropped: '
                      f'{DROP_REASONS[self.sync.last_drop]} (stamp {stamp * 1e-9:.3f} s)')
        for group in groups:
            if self._grid.admits(group.stamp_ns):
                self._fuse(group, log_time_ns)

    def finish(self, log_time_ns):
        """Fuse what the synchroniser still holds and write the last diagnostics."""
        # Far in the future: every pending group stops waiting for its missing cameras.
        for group in self.sync.poll(2 ** 62):
            if self._grid.admits(group.stamp_ns):
                self._fuse(group, log_time_ns)
        self._flush_smoothing(log_time_ns)
        self._diagnostics(log_time_ns, None, force=True)

    def _fuse(self, group, log_time_ns):
        if group.epoch != self._epoch:  # the bag's clock jumped back: start over
            self._epoch = group.epoch
            self._flush_smoothing(log_time_ns)
            self.engine.reset()
            self._outputs.restart()
        frames = {name: msg for name, (_, msg) in group.frames.items()}
        result = fuse_group(self.engine, frames,
                            partial(conversions.frame_keypoints, self.engine),
                            stamp=group.stamp_ns * 1e-9, stamp_ns=group.stamp_ns)
        for name, error in result.faults.items():
            self.stats.frames_dropped[name] += 1
            self.warn(('frame', name), f'{name}: frame dropped: {error}')
        if result.diverged:
            self.warn('diverged', f'{result.diverged}; nothing written for stamp '
                      f'{group.stamp_ns * 1e-9:.3f} s')
        if result.stamp_ns is not None:  # else held for smoothing
            self._publish(result.people, result.stamp_ns, log_time_ns)
        self.stats.groups += 1
        self._diagnostics(log_time_ns, group.stamp_ns)

    def _flush_smoothing(self, log_time_ns):
        """Write the poses held for smoothing (the timeline ends)."""
        names = self.engine.ready_cameras()
        for stamp, estimate in self.engine.flush_smoothing():
            people = tracked_people(estimate, names) if self.engine.multi_person else \
                people_of(estimate, camera_names=names)
            self._publish(people, stamp, log_time_ns)

    def _publish(self, people, stamp, log_time_ns):
        for topic, msg in self._outputs.messages(people, stamp, self.config):
            self._write(_absolute(topic), msg, log_time_ns)
        self.stats.groups_with_person += bool(people)

    def _camera_frames(self, stamp, log_time_ns):
        """Write the cameras' frames on /tf_static when a frame_id became known or changed."""
        for topic, msg in self._outputs.camera_frames(self.cameras.fixed_frames(), stamp,
                                                      self.config.world_frame):
            self._write(topic, msg, log_time_ns)

    def _write(self, topic, msg, log_time_ns):
        # The per-body ROS4HRI topics appear with their bodies (a no-op for known topics).
        self.bag.add_topic(topic, outputs.type_name(type(msg)))
        self.bag.write_serialized(topic, serialize_message(msg), log_time_ns)
        self.stats.written[topic] = self.stats.written.get(topic, 0) + 1

    def _diagnostics(self, log_time_ns, stamp_ns, force=False):
        """Write /diagnostics every diagnostics_period of stamp time (and at the end)."""
        period = round(self.config.diagnostics_period * 1e9)
        if not force:
            if self._next_diagnostics_ns is None:
                self._next_diagnostics_ns = stamp_ns + period
            if stamp_ns < self._next_diagnostics_ns:
                return
            self._next_diagnostics_ns += period * max(
                1, (stamp_ns - self._next_diagnostics_ns) // period + 1)
        statuses = bag_statuses(self.config.camera_names, self.stats,
                                self.engine.ready_cameras(),
                                dataclasses.asdict(self.sync.stats), self.engine,
                                self.config.detector)
        header = Header(stamp=Time(nanoseconds=log_time_ns).to_msg())
        self._write('/diagnostics', DiagnosticArray(header=header, status=statuses), log_time_ns)


def _calibrated_cameras(config):
    """Return the calibration file's camera for each configured camera, or raise BagError."""
    from skelsplat_ros.cameras import load_calibration

    try:
        return load_calibrated_cameras(config)
    except ParameterError as error:
        try:
            count = len(load_calibration(config.calibration_file))
        except (CalibrationError, OSError):
            raise BagError(str(error)) from None
        if count != len(config.cameras):
            raise BagError(f'the config lists {len(config.cameras)} cameras but the calibration '
                           f'file has {count}: {error}') from None
        raise BagError(str(error)) from None


def _input_topics(config, topics):
    """Map the bag's topics to (camera, kind); raise BagError for a missing or mistyped one."""
    wanted = {}
    for camera in config.cameras:
        if config.detector == 'keypoints_topic':
            wanted[camera.keypoints_topic] = (camera.name, 'keypoints')
        else:
            kind = 'compressed' if camera.compressed else 'image'
            wanted[camera.image_topic] = (camera.name, kind)
        if config.intrinsics_source == 'camera_info':
            wanted[camera.camera_info_topic] = (camera.name, 'info')
    for topic, (name, kind) in wanted.items():
        topic_key = _absolute(topic)
        found = topics.get(topic_key)
        if found is None:
            present = ', '.join(sorted(topics)) or 'none'
            raise BagError(f'{name}: topic {topic_key} ({_INPUT_TYPES[kind]}) is not in the bag '
                           f'(its topics: {present})')
        if found['type'] != _INPUT_TYPES[kind]:
            raise BagError(f'{name}: topic {topic_key} has type {found["type"]}, expected '
                           f'{_INPUT_TYPES[kind]}')
        if not found['count']:
            raise BagError(f'{name}: topic {topic_key} has no messages')
    return {_absolute(topic): value for topic, value in wanted.items()}


def process_bag(input_path, config, output_path,
                progress: Optional[Callable[[int, int], None]] = None,
                log: Callable[[str], None] = print, smooth: bool = False) -> BagStats:
    """Run the pipeline over ``input_path`` and write the outputs to ``output_path``.

    Args:
        input_path: rosbag2 MCAP with the configured camera topics.
        config: the node's :class:`skelsplat_ros.ros.params.NodeConfig`.
        output_path: the MCAP to write.
        progress: called with (frame groups done, expected groups).
        log: called with one line per warning.
        smooth: smooth the whole recording (fixed interval): every pose is written after
            the last group, revised with the groups after it, with its own stamp.  Otherwise
            the node's ``smoothing_lag`` applies.

    Returns:
        The :class:`BagStats`.

    Raises:
        BagError: unreadable input, missing topics, a configuration the calibration file
            does not match, or an unsupported configuration.
    """
    input_path, output_path = pathlib.Path(input_path), pathlib.Path(output_path)
    if not input_path.is_file():
        raise BagError(f'{input_path}: no such file')
    if input_path.resolve() == output_path.resolve():
        raise BagError(f'{output_path}: the output must not overwrite the input')
    try:
        summary = read_summary(input_path)
    except Exception as error:  # noqa: B902 - mcap raises several types for a bad file
        raise BagError(f'{input_path}: not a readable MCAP file ({error})') from None
    if config.extrinsics_source != 'calibration_file':
        raise BagError('extrinsics_source: only calibration_file is supported by skelsplat bag')
    file_cameras = _calibrated_cameras(config)
    topics = _input_topics(config, summary['topics'])
    frame_topics = [t for t, (_, kind) in topics.items() if kind != 'info']
    expected = max(summary['topics'][topic]['count'] for topic in frame_topics)
    with McapBagWriter(output_path) as bag:
        for topic, type_name in OUTPUT_TYPES.items():
            bag.add_topic(topic, type_name)
        processor = _Processor(config, file_cameras, bag, log, smooth)
        last_log_ns = 0
        try:
            for topic, log_time_ns, msg in read_messages(input_path, list(topics)):
                last_log_ns = log_time_ns
                name, kind = topics[topic]
                if kind == 'info':
                    processor.camera_info(name, msg, log_time_ns)
                    continue
                groups_before = processor.stats.groups
                processor.frame(name, msg, log_time_ns)
                if progress and processor.stats.groups != groups_before:
                    progress(min(processor.stats.groups, expected), expected)
            processor.finish(last_log_ns)
        finally:
            processor.engine.close()
    if progress:
        progress(expected, expected)
    stats = processor.stats
    stats.sync = {key: value for key, value in dataclasses.asdict(processor.sync.stats).items()
                  if key != 'received'}
    return stats
