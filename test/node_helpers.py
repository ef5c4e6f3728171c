# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Shared pieces of the node tests: a probe node that feeds cameras and records the outputs."""

import collections
import threading

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import Log
from rclpy.qos import QoSProfile, QoSReliabilityPolicy
from ros_helpers import spin_until
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2
from skelsplat_ros.msg import HumanPose3DArray, Keypoints2D
from skelsplat_ros.ros.conversions import camera_info_msg
from skelsplat_ros.sync import stamp_ns  # noqa: F401 - the node tests' helper
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import MarkerArray

RELIABLE = QoSProfile(depth=50, reliability=QoSReliabilityPolicy.RELIABLE)
CAMERAS = ('cam_01', 'cam_02', 'cam_03', 'cam_04')


# The rate of the stamps the tests publish: the solver's frame_rate in their references.
STAMP_RATE_HZ = 60.0


def stamp_of(frame, rate_hz=STAMP_RATE_HZ, start_s=100):
    """Return the camera stamp of frame number ``frame`` at ``rate_hz``."""
    ns = start_s * 1_000_000_000 + round(frame * 1e9 / rate_hz)
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


class Probe:
    """Publishes camera inputs to the node and records everything it outputs.

    Args:
        node: an rclpy node of the test (in the same executor as the node under test).
        kind: ``'image'``, ``'compressed'`` or ``'keypoints'`` per camera name.
    """

    def __init__(self, node, kinds):
        self.node = node
        self.lock = threading.Lock()
        self.info = {}
        self.inputs = {}
        for name, kind in kinds.items():
            self.info[name] = node.create_publisher(CameraInfo, f'/{name}/camera_info', RELIABLE)
            if kind == 'image':
                self.inputs[name] = node.create_publisher(Image, f'/{name}/image_raw', RELIABLE)
            elif kind == 'compressed':
                self.inputs[name] = node.create_publisher(
                    CompressedImage, f'/{name}/image_raw/compressed', RELIABLE)
            else:
                self.inputs[name] = node.create_publisher(Keypoints2D, f'/{name}/keypoints',
                                                          RELIABLE)
        self.received = collections.defaultdict(list)
        for topic, kind in (('/human_pose_3d', HumanPose3DArray),
                            ('/human_pose_3d/markers', MarkerArray),
                            ('/human_pose_3d/points', PointCloud2),
                            ('/tf', TFMessage), ('/diagnostics', DiagnosticArray),
                            ('/rosout', Log)):
            qos = RELIABLE if topic != '/tf' else QoSProfile(depth=100)
            node.create_subscription(kind, topic, lambda msg, t=topic: self._keep(t, msg), qos)

    def listen(self, topic, kind, qos=RELIABLE):
        """Record ``topic`` too (e.g. a per-body ROS4HRI topic)."""
        self.node.create_subscription(kind, topic, lambda msg: self._keep(topic, msg), qos)

    def _keep(self, topic, msg):
        with self.lock:
            self.received[topic].append(msg)

    def count(self, topic):
        """Return how many messages arrived on ``topic``."""
        with self.lock:
            return len(self.received[topic])

    def messages(self, topic):
        """Return a copy of the messages received on ``topic``."""
        with self.lock:
            return list(self.received[topic])

    def connected(self):
        """Whether the node subscribes to every input (so that nothing published is lost)."""
        return all(pub.get_subscription_count() > 0
                   for pub in list(self.info.values()) + list(self.inputs.values()))

    def logs(self, node_name='skelsplat_node'):
        """Return the node's /rosout lines."""
        return [log.msg for log in self.messages('/rosout') if log.name.endswith(node_name)]

    def calibrated(self, names):
        """Whether the newest /diagnostics report every camera in ``names`` as calibrated."""
        for name in names:
            status = self.camera_status(name)
            values = {} if status is None else {kv.key: kv.value for kv in status.values}
            if values.get('calibrated') != 'True':
                return False
        return True

    def camera_status(self, camera):
        """Return the newest /diagnostics status of ``camera``, or None."""
        for array in reversed(self.messages('/diagnostics')):
            for status in array.status:
                if status.name.endswith(f'camera {camera}'):
                    return status
        return None


def calibrate(ros, probe, cameras, names=CAMERAS):
    """Wait for discovery, then send every CameraInfo until the node reports them in use.

    ``cameras`` maps each of ``names`` to its :class:`skelsplat_ros.cameras.Camera`.
    """
    assert spin_until(ros.executor, probe.connected)
    for name in names:
        probe.info[name].publish(camera_info_msg(cameras[name], stamp_of(0),
                                                 f'{name}_optical_frame'))
    assert spin_until(ros.executor, lambda: probe.calibrated(names), timeout_s=5.0)
