# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The node publishes the calibration file's camera frames on /tf_static, over real DDS.

A subscriber that joins after the frames were sent (transient local, as tf2's listener
subscribes) must receive every camera's REP-103 optical frame below ``world_frame``, at the
calibration's camera centre and with its axes (z forward, x right, y down).
"""

from node_helpers import calibrate, CAMERAS, Probe
import numpy as np
import pytest
from rclpy.qos import QoSDurabilityPolicy, QoSHistoryPolicy, QoSProfile
from ros_helpers import RosContext, spin_until
from skelsplat_ros.cameras import load_calibration, rotation_from_quaternion
from skelsplat_ros.ros.runner import create_node
from test_node_keypoints import _node_overrides, PARAMS
from tf2_msgs.msg import TFMessage

pytestmark = pytest.mark.ros

# tf2_ros TransformListener's /tf_static subscription.
LISTENER_STATIC_QOS = QoSProfile(depth=100, history=QoSHistoryPolicy.KEEP_LAST,
                                 durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)


def test_a_late_subscriber_gets_every_camera_frame(data_root):
    calibration = data_root / 'pose2sim-0.4.15/Pose2Sim/Demo/calibration/Calib_qualisys.toml'
    cameras = {camera.name: camera for camera in load_calibration(calibration)}
    with RosContext() as ros:
        node = create_node(PARAMS, _node_overrides(calibration, world_frame='mocap'),
                           context=ros.context)
        ros.executor.add_node(node)
        ros.nodes.append(node)
        probe = Probe(ros.node('probe'), dict.fromkeys(CAMERAS, 'keypoints'))
        calibrate(ros, probe, cameras)   # CameraInfo gives each camera's optical frame id

        # Joins after the node sent its frames.
        late = ros.node('late_listener')
        received = []
        late.create_subscription(TFMessage, '/tf_static', received.append, LISTENER_STATIC_QOS)
        assert spin_until(ros.executor, lambda: received, timeout_s=10.0)
        spin_until(ros.executor, lambda: False, timeout_s=0.5)
    # One message holds every camera (a latched topic keeps a publisher's last message).
    assert len(received) == 1
    transforms = {t.child_frame_id: t for t in received[0].transforms}
    assert set(transforms) == {f'{name}_optical_frame' for name in CAMERAS}
    for name in CAMERAS:
        transform = transforms[f'{name}_optical_frame']
        assert transform.header.frame_id == 'mocap'
        camera = cameras[name]
        v = transform.transform.translation
        np.testing.assert_allclose([v.x, v.y, v.z], camera.center, atol=1e-9)
        q = transform.transform.rotation
        axes = rotation_from_quaternion([q.x, q.y, q.z, q.w])  # columns: x, y, z in world
        np.testing.assert_allclose(axes, camera.R.T, atol=1e-9)
        # The optical axis points at the demo's capture area, near the world origin.
        to_origin = -camera.center / np.linalg.norm(camera.center)
        assert axes[:, 2] @ to_origin > 0.8
