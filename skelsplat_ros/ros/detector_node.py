# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The detector half of a split rig: camera images in, ``skelsplat_ros/Keypoints2D`` out.

One node per camera, or one per host for the cameras that host reads; the fusion node
(``detector:=keypoints_topic``) fuses their keypoints on another host, or in the same process.
It takes the fusion node's parameter file: ``camera_names`` (the cameras it detects; their
``cameras.<name>.*`` topics) and the detector parameters
(:data:`skelsplat_ros.ros.params.DETECTOR_FIELDS`).

Topics per camera (relative names, so a namespace applies):

- in: the image topic (``sensor_msgs/Image``, or ``CompressedImage`` when it ends in
  ``/compressed``) and ``sensor_msgs/CameraInfo`` (optional: when it comes, images of another
  size are refused, as the fusion node would);
- out: the keypoints topic, flat ``Keypoints2D`` with the image's header stamp and frame_id
  and the ``skeleton`` parameter's format; ``/diagnostics``: per camera input and output rate,
  frames dropped while the detector was busy, latency, faults.

Each camera's newest image waits for its worker thread (:mod:`skelsplat_ros.ros.detection`):
a detector slower than its camera drops frames instead of queueing them.  Faults are logged
at most once per camera and kind every few seconds (:mod:`skelsplat_ros.ros.faults`), and
cost only that frame.
"""

from functools import partial
import sys
import time

from diagnostic_msgs.msg import DiagnosticArray
import rclpy
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from skelsplat_ros.cameras import CalibrationError
from skelsplat_ros.msg import Keypoints2D
from skelsplat_ros.pacing import WindowStats
from skelsplat_ros.ros import conversions
from skelsplat_ros.ros.camera_states import CameraState
from skelsplat_ros.ros.detection import CameraDetection
from skelsplat_ros.ros.diagnostics import detector_statuses
from skelsplat_ros.ros.faults import fault_key, FaultLog
from skelsplat_ros.ros.node import input_qos, RELIABLE_QOS, spin
from skelsplat_ros.ros.params import prepared_engine, read_detector_config

__all__ = ['DetectorNode', 'main']

NODE_NAME = 'skelsplat_detector_node'
PARAMS_HINT = ('ros2 launch skelsplat_ros distributed.launch.py params_file:=<the fusion '
               "node's parameter file> start_fusion:=false cameras:=<this host's cameras>")


class DetectorNode(Node):
    """Detects people in each configured camera's images; see the module docstring.

    Args:
        node_name: the node's name.
        **kwargs: passed to ``rclpy.node.Node``.

    Raises:
        ParameterError: for invalid parameters (the node is destroyed first).
    """

    def __init__(self, node_name: str = NODE_NAME, **kwargs):
        super().__init__(node_name, **kwargs)
        self._detections = {}
        try:
            self._setup()
        except BaseException:
            self.destroy_node()
            raise

    def _setup(self):
        self.config = config = read_detector_config(self)
        self._engine = prepared_engine(config, notify=self.get_logger().info)
        self._stats = WindowStats()
        self._states = {name: CameraState() for name in config.camera_names}
        self._faults = FaultLog(self.get_logger(), self._stats, self._states)
        qos = input_qos(config)
        now_ns = self.get_clock().now
        for camera in config.cameras:
            name = camera.name
            publisher = self.create_publisher(Keypoints2D, camera.keypoints_topic, RELIABLE_QOS)
            self._detections[name] = CameraDetection(
                name, self._engine, config.skeleton.name, publisher.publish, self._faults,
                self._stats, lambda: now_ns().nanoseconds, config.detection_period)
            kind = CompressedImage if camera.compressed else Image
            self.create_subscription(kind, camera.image_topic, partial(self._on_image, name),
                                     qos)
            self.create_subscription(CameraInfo, camera.camera_info_topic,
                                     partial(self._on_camera_info, name, camera.rectified), qos)
        self._diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', RELIABLE_QOS)
        self._diag_timer = self.create_timer(  # steady: a paused /clock must not stop it
            config.diagnostics_period, self._publish_diagnostics,
            clock=Clock(clock_type=ClockType.STEADY_TIME))
        self.get_logger().info(
            f'detecting {len(config.cameras)} cameras ({", ".join(config.camera_names)}) with '
            f'{config.detector}, {config.skeleton.name} keypoints on '
            f'{", ".join(camera.keypoints_topic for camera in config.cameras)}')

    def _on_camera_info(self, name, rectified, msg):
        state = self._states[name]
        key = conversions.camera_info_key(msg)
        if key == state.info_key:
            return
        state.info_key = key
        try:
            camera = conversions.camera_from_info_msg(msg, name, rectified=rectified)
        except CalibrationError as error:
            camera, state.not_ready = None, f'CameraInfo rejected: {error}'
            self._faults.warn(('info', name, fault_key(str(error))),
                              f'{name}: CameraInfo rejected: {error}', camera=name)
        else:
            state.not_ready = ''
        state.info_frame_id = msg.header.frame_id
        self._engine.set_camera(name, camera)  # its size checks compressed images

    def _on_image(self, name, msg):
        state = self._states[name]
        state.last_arrival = time.monotonic()
        state.frame_id = msg.header.frame_id
        self._stats.count(f'frames/{name}')
        camera = self._engine.camera(name)
        if camera is not None and isinstance(msg, Image) \
                and (msg.width, msg.height) != (camera.width, camera.height):
            self._faults.warn(('size', name), f'{name}: image refused, its size {msg.width}x'
                              f'{msg.height} differs from CameraInfo {camera.width}x'
                              f'{camera.height}', camera=name)
            return
        self._detections[name].put(msg)

    def _publish_diagnostics(self):
        self._diag_pub.publish(detector_statuses(
            self.get_clock().now().to_msg(), self.get_name(), self.config, self._states,
            self._detections, self._stats, time.monotonic()))

    def destroy_node(self):
        """Stop the worker threads, release the detectors, then destroy the node."""
        for detection in self._detections.values():
            detection.close()
        if self._detections:
            self._engine.close()
        return super().destroy_node()


def main(args=None):
    """Run the node (``ros2 run skelsplat_ros skelsplat_detector_node``); the exit status."""
    try:
        rclpy.init(args=args)
    except Exception as error:  # noqa: B902 - rcl raises its own types for bad arguments
        print(f'{NODE_NAME}: cannot start: {error}', file=sys.stderr, flush=True)
        return 2
    return spin(DetectorNode, NODE_NAME, PARAMS_HINT)
