# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The generated messages import as skelsplat_ros.msg and travel over DDS on loopback."""

import os

from geometry_msgs.msg import Point, Transform, TransformStamped
import pytest
from ros_helpers import RosContext, spin_until
from skelsplat_ros.msg import (HumanPose3D, HumanPose3DArray, Keypoint2D, Keypoints2D,
                               Person2D)
from tf2_msgs.msg import TFMessage

pytestmark = pytest.mark.ros


def test_network_rule_is_in_force():
    assert os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'LOCALHOST'
    assert os.environ['ROS_DOMAIN_ID'].isdigit()


def _pose_array():
    person = HumanPose3D(
        id=7, skeleton_format='coco17', joint_names=['nose', 'left_eye'],
        positions=[Point(x=0.1, y=0.2, z=1.7), Point(x=0.12, y=0.2, z=1.75)],
        confidence=[0.9, 0.5], covariance=[1e-4] * 18, num_views=[4, 1],
        mean_reprojection_error=3.5)
    msg = HumanPose3DArray(people=[person])
    msg.header.frame_id = 'world'
    msg.header.stamp.sec = 12
    msg.header.stamp.nanosec = 345
    return msg


def _round_trip(msg_type, msg, topic):
    received = []
    with RosContext() as ros:
        sub_node = ros.node('receiver')
        sub_node.create_subscription(msg_type, topic, received.append, 10)
        pub = ros.node('sender').create_publisher(msg_type, topic, 10)
        # Publish until discovery has matched and the message arrived.
        assert spin_until(ros.executor, lambda: pub.get_subscription_count() > 0)
        pub.publish(msg)
        assert spin_until(ros.executor, lambda: received), f'nothing arrived on {topic}'
    return received[0]


def test_human_pose_3d_array_over_dds():
    sent = _pose_array()
    got = _round_trip(HumanPose3DArray, sent, '/human_pose_3d')
    assert got == sent
    person = got.people[0]
    assert person.id == 7 and list(person.num_views) == [4, 1]
    assert len(person.covariance) == 9 * len(person.joint_names)


def test_keypoints_2d_over_dds():
    sent = Keypoints2D(skeleton_format=Keypoints2D.FORMAT_BODY25B, image_width=1088,
                       image_height=1920)
    sent.header.frame_id = 'cam_01_optical_frame'
    # float32 fields: values exactly representable, so that equality is exact.
    sent.people = [Person2D(id=-1, score=0.75, keypoints=[
        Keypoint2D(x=10.5, y=20.25, confidence=0.75) for _ in range(25)])]
    got = _round_trip(Keypoints2D, sent, '/cam_01/keypoints')
    assert got == sent and got.skeleton_format == 'body25b'
    # The flat form: float32 arrays, received as array.array('f').
    flat = Keypoints2D(skeleton_format=Keypoints2D.FORMAT_BODY25B, num_joints=25,
                       xy=[10.5, 20.25] * 50, confidence=[0.75] * 50)
    got = _round_trip(Keypoints2D, flat, '/cam_01/keypoints_flat')
    assert got == flat and got.xy.typecode == 'f' and len(got.confidence) == 50


def test_tf_message_over_dds():
    sent = TFMessage(transforms=[TransformStamped(child_frame_id='body_1',
                                                  transform=Transform())])
    sent.transforms[0].header.frame_id = 'world'
    sent.transforms[0].transform.rotation.w = 1.0
    assert _round_trip(TFMessage, sent, '/tf') == sent
