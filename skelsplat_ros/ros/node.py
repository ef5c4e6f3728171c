# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The SkelSplat ROS 2 node: N synchronised cameras in; 3D poses, markers and TF out.

Thin by design: it converts messages (:mod:`skelsplat_ros.ros.conversions`), groups frames
(:class:`skelsplat_ros.sync.FrameSynchronizer`), and hands each group to one worker thread that
runs :class:`skelsplat_ros.live.FusionEngine` (detection and solving, off the executor
thread; the newest group wins when the worker is busy).  What a group publishes is decided
by :class:`skelsplat_ros.ros.outputs.Outputs`, the diagnostics by
:class:`skelsplat_ros.ros.diagnostics.NodeDiagnostics`.

Topics (relative names, so a namespace applies; ``/tf`` and ``/diagnostics`` are absolute):

- in, per camera: the image topic (``sensor_msgs/Image``, or ``CompressedImage`` when it ends
  in ``/compressed``) and ``sensor_msgs/CameraInfo``, or ``skelsplat_ros/Keypoints2D`` with
  ``detector:=keypoints_topic`` (mapped by joint name to the ``skeleton`` parameter's joints);
- out: ``human_pose_3d`` (``skelsplat_ros/HumanPose3DArray``), ``human_pose_3d/markers``
  (``visualization_msgs/MarkerArray``), ``human_pose_3d/points`` (``sensor_msgs/PointCloud2``),
  ``/tf`` (``tf2_msgs/TFMessage``, REP-155 frames), ``/diagnostics`` and ROS4HRI's
  ``/humans/bodies/tracked`` and per-body topics (:mod:`skelsplat_ros.ros.hri`).

Input faults (bad encoding, size mismatch, uncalibrated CameraInfo, undecodable data, detector
errors) are logged at most once per camera and fault kind every few seconds, reported on
``/diagnostics``, and cost only that camera's frame: the node keeps fusing the other views.
"""

import dataclasses
from functools import partial
import gc
import sys
import threading
import time

from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
import rclpy
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import qos_policy_name_from_kind, qos_profile_sensor_data
from rclpy.qos import QoSDurabilityPolicy, QoSHistoryPolicy, QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from skelsplat_ros.live import fuse_group, nobody_message
from skelsplat_ros.msg import Keypoints2D
from skelsplat_ros.pacing import LatestMailbox, StampGrid
from skelsplat_ros.ros import conversions, hri, outputs
from skelsplat_ros.ros.camera_states import CameraStates
from skelsplat_ros.ros.diagnostics import NodeDiagnostics
from skelsplat_ros.ros.faults import fault_key as _fault_key, FaultLog
from skelsplat_ros.ros.params import load_calibrated_cameras, ParameterError, prepared_engine
from skelsplat_ros.ros.params import parameter_names, read_config, validate_update
from skelsplat_ros.sync import DROP_REASONS, FrameSynchronizer, stamp_ns
try:  # Jazzy and later
    from rclpy.event_handler import SubscriptionEventCallbacks
except ImportError:  # Humble
    from rclpy.qos_event import SubscriptionEventCallbacks

__all__ = ['freeze_startup_objects', 'SkelSplatNode', 'input_qos', 'main', 'spin']

NODE_NAME = 'skelsplat_node'
POLL_PERIOD_S = 0.02      # how often the synchroniser checks for timed-out groups
PARAMS_HINT = ('ros2 launch skelsplat_ros multiview.launch.py params_file:=<your parameter '
               'file>, e.g. a copy of config/multiview.yaml with your cameras and calibration')

# tf2_ros.TransformBroadcaster's QoS, so that tf2 listeners see our frames as usual.
TF_QOS = QoSProfile(depth=100, history=QoSHistoryPolicy.KEEP_LAST,
                    reliability=QoSReliabilityPolicy.RELIABLE,
                    durability=QoSDurabilityPolicy.VOLATILE)
RELIABLE_QOS = QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE)
# The parameters of the synchroniser, changed in place so that its timeline is kept.
SYNC_PARAMETERS = ('slop', 'max_wait', 'min_views')


class SkelSplatNode(Node):
    """Multi-view 3D human pose node; see the module docstring.

    Args:
        **kwargs: passed to ``rclpy.node.Node`` (``context``, ``namespace``, ``cli_args``,
            ``parameter_overrides``).

    Raises:
        ParameterError: for invalid parameters (the node is destroyed first).
    """

    def __init__(self, node_name: str = NODE_NAME, **kwargs):
        super().__init__(node_name, **kwargs)
        try:
            self._setup()
        except BaseException:
            self.destroy_node()
            raise

    # --------------------------------------------------------------------------------- set-up
    def _setup(self):
        self.config = config = read_config(self)
        self._diagnostics = NodeDiagnostics(self.get_name(), NODE_NAME)
        self._stats = self._diagnostics.stats
        self._totals = self._diagnostics.totals
        file_cameras = {}
        if 'calibration_file' in (config.extrinsics_source, config.intrinsics_source):
            file_cameras = load_calibrated_cameras(config)
        self._engine = prepared_engine(config, notify=self.get_logger().info)
        pose_source = None
        if config.extrinsics_source == 'tf':
            from skelsplat_ros.ros.tf_poses import TfPoseSource  # needs tf2_ros
            pose_source = TfPoseSource(self, config.world_frame)
        self._cameras = CameraStates(config, self._engine, file_cameras, pose_source,
                                     config.tf_timeout)
        self._states = self._cameras.states
        self._faults = FaultLog(self.get_logger(), self._stats, self._states)

        self._sync_lock = threading.Lock()
        self._sync = FrameSynchronizer(config.camera_names, slop_s=config.slop,
                                       max_wait_s=config.max_wait, min_views=config.min_views)
        self._mailbox = LatestMailbox()
        self._grid = StampGrid(config.detection_period)
        self._last_published_ns = None
        self._epoch = 0           # the synchroniser's timeline of the last group processed
        self._outputs = outputs.Outputs(config.skeleton)
        self._last_views = ()
        self._why_nobody = ''  # the last empty group's reason, for /diagnostics

        self._publishers_by_topic = {
            topic: self.create_publisher(kind, topic, TF_QOS if topic == outputs.TF
                                         else RELIABLE_QOS, event_callbacks=outputs.OUTPUT_EVENTS)
            for topic, kind in outputs.OUTPUT_TOPICS.items()}
        self._tf_static_pub = self.create_publisher(outputs.STATIC_TOPICS[outputs.TF_STATIC],
                                                    outputs.TF_STATIC, outputs.TF_STATIC_QOS,
                                                    event_callbacks=outputs.OUTPUT_EVENTS)
        # ROS4HRI's per-body topics
        self._body_publishers = hri.BodyPublishers(self, event_callbacks=outputs.OUTPUT_EVENTS)
        self._diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', RELIABLE_QOS)
        self._subscribe(config)
        # Steady clock: with use_sim_time a paused or looping /clock must not stop the
        # synchroniser's timeouts or the diagnostics.
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        self._poll_timer = self.create_timer(POLL_PERIOD_S, self._poll, clock=steady)
        self._diag_timer = self.create_timer(config.diagnostics_period, self._publish_diagnostics,
                                             clock=steady)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._worker = threading.Thread(target=self._work, name='skelsplat_fusion', daemon=True)
        self._worker.start()
        for line in _startup_lines(config):
            self.get_logger().info(line)

    def _subscribe(self, config):
        qos = input_qos(config)
        self._subscriptions_by_camera = {}
        for camera in config.cameras:
            name = camera.name
            if config.detector == 'keypoints_topic':
                inputs = [(Keypoints2D, camera.keypoints_topic, self._on_keypoints)]
            else:
                inputs = [(CompressedImage if camera.compressed else Image, camera.image_topic,
                           self._on_image)]
            if config.intrinsics_source == 'camera_info':
                inputs.append((CameraInfo, camera.camera_info_topic, self._on_camera_info))
            self._subscriptions_by_camera[name] = [
                self.create_subscription(
                    kind, topic, partial(self._on_message, name, kind, handler), qos,
                    event_callbacks=SubscriptionEventCallbacks(
                        incompatible_qos=partial(self._on_incompatible_qos, name, topic),
                        use_default_callbacks=False))
                for kind, topic, handler in inputs]

    def _on_incompatible_qos(self, name, topic, event):
        # One handler per input instead of rclpy's default two (the executor walks them all
        # at each wake-up), and the warning reaches /diagnostics under the camera's name.
        self._warn(('qos', name, topic), f'{name}: a publisher on {topic} offers a QoS this '
                   f'node cannot take ({qos_policy_name_from_kind(event.last_policy_kind)}): '
                   'none of its messages arrive; set image_qos to match it', camera=name)

    def _on_message(self, name, kind, handler, msg):
        """Hand camera ``name``'s message to ``handler`` unless the camera floods."""
        refused = self._cameras.admit(name, kind is CameraInfo)
        if refused:
            self._warn(('too_fast', name, kind.__name__), f'{name}: {kind.__name__} {refused}',
                       camera=name)
        else:
            handler(name, msg)

    # ----------------------------------------------------------------------------- logging
    def _warn(self, key, message, camera=None):
        self._faults.warn(key, message, camera)

    def _note(self, key, message):
        self._faults.note(key, message)

    # ------------------------------------------------------------------------------ cameras
    def _on_camera_info(self, name, msg):
        error = self._cameras.camera_info(name, msg)
        self._publish_camera_frames()
        if error:
            self._warn(('info', name, _fault_key(error)),
                       f'{name}: CameraInfo rejected, camera ignored: {error}', camera=name)

    # ------------------------------------------------------------------------------- frames
    def _accept(self, name, header, width, height, what):
        """Bookkeeping common to every frame; return the camera or None to refuse the frame."""
        state = self._states[name]
        state.last_arrival = time.monotonic()
        self._stats.count(f'frames/{name}')
        # The latest frame's, not the first's: one bad frame must not set it for good.
        if header.frame_id and header.frame_id != state.frame_id:
            state.frame_id = header.frame_id
            self._publish_camera_frames()
        camera = self._cameras.ready(name)
        if camera is None:
            self._warn(('not_ready', name), f'{name}: {what} ignored, camera not ready '
                       f'({state.not_ready})', camera=name)
            return None
        if width and height and (width, height) != (camera.width, camera.height):
            self._warn(('size', name), f'{name}: {what} refused, its size {width}x{height} '
                       f'differs from CameraInfo {camera.width}x{camera.height}', camera=name)
            return None
        return camera

    def _on_image(self, name, msg):
        width, height = (0, 0) if isinstance(msg, CompressedImage) else (msg.width, msg.height)
        if self._accept(name, msg.header, width, height, 'image') is not None:
            self._add_frame(name, msg)

    def _on_keypoints(self, name, msg):
        refused = self._cameras.keypoints_origin(name, msg.header)
        if refused:
            self._warn(('origin', name), f'{name}: keypoints ignored: {refused}', camera=name)
            return
        if self._accept(name, msg.header, msg.image_width, msg.image_height,
                        'keypoints') is not None:
            self._add_frame(name, msg)

    def _add_frame(self, name, msg):
        stamp = stamp_ns(msg.header.stamp)
        with self._sync_lock:
            groups = self._sync.add(name, stamp, msg, time.monotonic_ns())
            drop = self._sync.last_drop
            waiting = self._sync.pending_group_count > 0
        self._arm_poll(waiting)
        self._states[name].last_stamp_ns = stamp
        if drop is not None:
            self._warn(('sync', name, drop), f'{name}: frame dropped: {DROP_REASONS[drop]} '
                       f'(stamp {stamp * 1e-9:.3f} s)', camera=name)
        self._dispatch(groups)

    def _poll(self):
        with self._sync_lock:
            groups = self._sync.poll(time.monotonic_ns())
            waiting = self._sync.pending_group_count > 0
        self._arm_poll(waiting)
        self._dispatch(groups)

    def _arm_poll(self, waiting):
        # The poll only times out groups still waiting for frames, so it runs only while one
        # is: 50 wake-ups a second of the executor's wait-set rebuild, for nothing, when every
        # group completes as its last frame arrives.  reset() only when stopped: a running
        # poll keeps its beat however often frames arrive.  Single-threaded executors only (a
        # multi-threaded one could run a poll that a message callback had just cancelled).
        if waiting and self._poll_timer.is_canceled():
            self._poll_timer.reset()
        elif not waiting and not self._poll_timer.is_canceled():
            self._poll_timer.cancel()

    def _dispatch(self, groups):
        for group in groups:
            for name in group.frames:
                self._stats.count(f'grouped/{name}')
            if self._grid.admits(group.stamp_ns):
                self._mailbox.put(group)

    # ------------------------------------------------------------------------------- worker
    def _work(self):
        while not self._mailbox.closed:
            group = self._mailbox.get(timeout=0.2)
            if group is None:
                continue
            try:
                self._process(group)
            except Exception as error:  # noqa: B902 - the worker must survive anything
                self._totals['errors'] += 1
                self._engine.reset()
                self._warn('fusion', f'fusion failed ({error.__class__.__name__}: {error}); '
                           'the solver state was reset')

    def _process(self, group):
        if group.epoch != self._epoch:
            # The synchroniser restarted its timeline: the clock jumped back (bag loop, sim
            # time).  Within one timeline its stamps only increase, whatever is reconfigured.
            self._epoch = group.epoch
            self._engine.reset()
            self._outputs.restart()
            self.get_logger().warning(
                f'time jumped back from {(self._last_published_ns or 0) * 1e-9:.3f} s to '
                f'{group.stamp_ns * 1e-9:.3f} s (bag loop or restarted cameras): the solver '
                'and TF output start over')
        # Each camera where it was at its frame's stamp (extrinsics from TF); off the executor
        # thread, so that waiting for a transform stalls no message intake.
        unplaced = self._cameras.update_poses({
            name: (msg.header.frame_id, stamp) for name, (stamp, msg) in group.frames.items()})
        for name, error in unplaced.items():
            self._warn(('tf', name), f'{name}: frame dropped, its camera pose is unknown at '
                       f'its stamp: {error}', camera=name)
        frames = {name: msg for name, (_, msg) in group.frames.items() if name not in unplaced}
        result = fuse_group(self._engine, frames,
                            partial(conversions.frame_keypoints, self._engine),
                            stamp=group.stamp_ns * 1e-9, stamp_ns=group.stamp_ns)
        for name, error in result.faults.items():
            self._warn(('frame', name, _fault_key(error)), f'{name}: frame dropped: {error}',
                       camera=name)
        for name, views in result.keypoints.items():
            self._states[name].people_in_view = len(views)
            self._states[name].outvoted = name in result.outvoted
            detections = self._engine.last_detections.get(name)
            self._states[name].poses_capped = detections is not None and detections.capped
            self._states[name].merged = result.merged.get(name, 0)
            self._states[name].lone = result.lone.get(name, 0)
        for name, count in result.merged.items():
            if count:
                self._note(('merged', name), f'{name}: {count} detections lie over two tracked '
                           'people (merged by the detector?): left out, the other cameras '
                           'decide')
        for name in result.outvoted:
            self._note(('outvoted', name), f'{name}: its person is not the one the other '
                       'cameras see, so it is left out of the fit (more than one person in '
                       'view? multi_person:=true tracks them all)')
        for name, count in result.crowded.items():
            self._note(('crowded', name), f'{name}: {count} people in view; the fit follows '
                       'the one the cameras agree on (multi_person:=true tracks them all)')
        self._last_views = tuple(result.keypoints)
        if result.diverged:
            self._totals['diverged'] += 1
            self._stats.count('diverged')
            self._warn('diverged', f'{result.diverged}; nothing published for stamp '
                       f'{group.stamp_ns * 1e-9:.3f} s')
            return
        if result.stamp_ns is None:  # the first groups are held for smoothing_lag
            return
        if not result.people:
            self._why_nobody = nobody_message(result, self.config.multi_person,
                                              self.config.tracker.birth_frames)
            self._note('nobody', f'{self._why_nobody} (publishing empty pose arrays)')
        self._publish(result.people, result.stamp_ns)

    def _publish(self, people, stamp_ns):
        for topic, msg in self._outputs.messages(people, stamp_ns, self.config):
            if topic in self._publishers_by_topic:
                self._publishers_by_topic[topic].publish(msg)
            else:
                self._body_publishers.publish(topic, msg)
        self._body_publishers.expire(self.config.hri_grace_period,
                                     [body.body_id for body in self._outputs.bodies])
        self._last_published_ns = stamp_ns
        clock = self.get_clock()
        latency = (clock.now().nanoseconds - stamp_ns) * 1e-9
        if not self._diagnostics.published(len(people), latency):
            self._warn('ahead_of_clock', f'output stamp {stamp_ns * 1e-9:.3f} s is '
                       f'{-latency:.3f} s ahead of the node clock '
                       f"({'/clock, use_sim_time' if clock.ros_time_is_active else 'system'}"
                       '): its latency is not counted (camera clocks ahead, or /clock paused '
                       'or behind the stamps?)')

    def _publish_camera_frames(self):
        for _, msg in self._outputs.camera_frames(self._cameras.fixed_frames(),
                                                  self.get_clock().now().nanoseconds,
                                                  self.config.world_frame):
            self._tf_static_pub.publish(msg)

    def _publish_diagnostics(self):
        with self._sync_lock:
            sync = dataclasses.asdict(self._sync.stats)
        report = self._diagnostics.report(
            self.get_clock().now().to_msg(), self.config, self._states, self._engine, sync,
            self._mailbox.dropped, self._last_views, self.get_clock().ros_time_is_active,
            self._why_nobody)
        if self.config.publish_hri:
            report.status.append(hri.diagnostic_status(self._outputs.bodies, self.get_name(),
                                                       len(self._body_publishers)))
        self._diag_pub.publish(report)

    # --------------------------------------------------------------------------- parameters
    def _on_set_parameters(self, parameters):
        """Check every change first; apply them together, or none (old configuration kept)."""
        config = self.config
        for parameter in parameters:
            if parameter.name not in parameter_names(config.camera_names):
                continue  # use_sim_time and other rclpy parameters
            config, reason = validate_update(config, parameter.name, parameter.value)
            if config is None:
                return SetParametersResult(successful=False, reason=conversions.capped(reason))
        if any(getattr(config, key) != getattr(self.config, key) for key in SYNC_PARAMETERS):
            try:
                with self._sync_lock:
                    groups = self._sync.reconfigure(
                        time.monotonic_ns(), slop_s=config.slop, max_wait_s=config.max_wait,
                        min_views=config.min_views)
            except ValueError as error:  # bounds checked above; the node must never die of one
                return SetParametersResult(successful=False, reason=str(error))
            self._dispatch(groups)
        self.config = config
        return SetParametersResult(successful=True)

    # ------------------------------------------------------------------------------ shutdown
    def destroy_node(self):
        """Stop the worker thread, release the detectors, then destroy the node."""
        mailbox = getattr(self, '_mailbox', None)
        if mailbox is not None:
            mailbox.close()
            self._worker.join(timeout=10.0)
            self._engine.close()
        return super().destroy_node()


def input_qos(config):
    """Return the QoS of the camera input subscriptions (the ``image_qos`` parameter)."""
    return qos_profile_sensor_data if config.image_qos == 'sensor_data' else RELIABLE_QOS


def _startup_lines(config):
    """Yield the log lines that say what the node does."""
    yield (f'fusing {len(config.cameras)} cameras ({", ".join(config.camera_names)}), '
           f'detector {config.detector}, extrinsics from {config.extrinsics_source}, '
           f'{config.skeleton.name} joints, output in {config.world_frame!r}')
    if config.multi_person:
        yield 'tracking every person in view, each under a stable id'
        if config.detector == 'mediapipe':
            yield ('MediaPipe may merge two overlapping people into one detection: such a '
                   'view is left out of both people, the other cameras decide')
    elif config.detector == 'mediapipe':
        yield (f'MediaPipe finds up to {config.detector_num_poses} people per camera; '
               'multi_person:=false fuses the one the cameras agree on')


def main(args=None):
    """Run the node (``ros2 run skelsplat_ros skelsplat_node``); returns the exit status."""
    try:
        rclpy.init(args=args)
    except Exception as error:  # noqa: B902 - rcl raises its own types for bad arguments
        print(f'{NODE_NAME}: cannot start: {error}', file=sys.stderr, flush=True)
        return 2
    return spin(SkelSplatNode)


def spin(make_node, node_name: str = NODE_NAME, hint: str = PARAMS_HINT) -> int:
    """Create the node with ``make_node()`` and spin it until shutdown; returns the exit status.

    rclpy must be initialised.  Invalid parameters print one line, which says what to pass,
    and give status 2.
    """
    try:
        node = make_node()
    except ParameterError as error:
        print(f'{node_name}: invalid parameters: {conversions.capped(error)} ({hint})',
              file=sys.stderr, flush=True)
        rclpy.try_shutdown()
        return 2
    freeze_startup_objects()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


def freeze_startup_objects():
    """Keep what start-up built (modules, models, nodes) out of the garbage collector's scans.

    Python's full collections rescan every object; with torch and numpy loaded each took
    about 0.15 s here, one every few seconds at 30 Hz: a stall of the fusion worker.  Frozen,
    they scan only what was made since (``gc.freeze``).  Calling it again (nodes spun one
    after another in one process) freezes what the earlier ones left; nothing is unfrozen.
    """
    gc.collect()
    gc.freeze()
