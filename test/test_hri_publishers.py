# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""ROS4HRI per-body publishers on a real rclpy node: 200 bodies born and lost, bounded.

The output policy gives each group's messages, the node's :class:`BodyPublishers` publishes
them as the node does, and a listener on loopback DDS checks ``/humans/bodies/tracked``.
"""

import types

from hri_msgs.msg import IdsList
import numpy as np
import pytest
from ros_helpers import RosContext, spin_until
from sensor_msgs.msg import JointState
from skelsplat_ros.body_frames import body_id
from skelsplat_ros.live import PersonPose
from skelsplat_ros.ros import outputs
from skelsplat_ros.ros.hri import body_topic, BodyPublishers, TRACKED
from skelsplat_ros.ros.node import RELIABLE_QOS

pytestmark = pytest.mark.ros

GROUP_S = 0.1       # seconds between groups on the publishers' clock
GRACE_S = 1.0
LIFE_GROUPS = 4     # groups each body is seen in
BODIES = 200


def _person(track_id, step):
    """Return a standing person (COCO-17, metres) walking along x; velocities known."""
    base = np.array([
        [0.10, 0.0, 1.65], [0.08, 0.03, 1.68], [0.08, -0.03, 1.68], [0.0, 0.07, 1.66],
        [0.0, -0.07, 1.66], [0.0, 0.19, 1.45], [0.0, -0.19, 1.45], [0.05, 0.22, 1.15],
        [0.05, -0.22, 1.15], [0.25, 0.22, 1.10], [0.25, -0.22, 1.10], [0.0, 0.13, 0.95],
        [0.0, -0.13, 0.95], [0.03, 0.13, 0.52], [0.03, -0.13, 0.52], [-0.02, 0.13, 0.08],
        [-0.02, -0.13, 0.08]])
    positions = base + [0.05 * step, 3.0 * (track_id % 7), 0.0]
    return PersonPose(person_id=track_id, positions=positions, known=np.ones(17, bool),
                      confidence=np.full(17, 0.9), covariance=np.tile(np.eye(3) * 1e-4,
                                                                      (17, 1, 1)),
                      num_views=np.full(17, 3, np.uint8), mean_reprojection_error=1.0,
                      velocities=np.tile([0.5, 0.0, 0.0], (17, 1)),
                      velocity_covariance=np.tile(np.eye(3) * 1e-3, (17, 1, 1)))


def test_two_hundred_bodies_born_and_lost_keep_the_publishers_bounded():
    config = types.SimpleNamespace(
        world_frame='world', publish_markers=False, publish_points=False, publish_tf=True,
        publish_covariance_ellipsoids=False, marker_lifetime=0.5, frame_style='ros4hri',
        model_frames_by='node', publish_hri=True, hri_grace_period=GRACE_S)
    now = [0.0]
    with RosContext() as ros:
        node = ros.node('hri_soak')
        static = {topic: node.create_publisher(kind, topic, RELIABLE_QOS,
                                               event_callbacks=outputs.OUTPUT_EVENTS)
                  for topic, kind in outputs.OUTPUT_TOPICS.items()}
        baseline = len(list(node.publishers))
        bodies = BodyPublishers(node, clock=lambda: now[0], event_callbacks=outputs.OUTPUT_EVENTS)
        listener = ros.node('listener')
        lists = []
        listener.create_subscription(IdsList, TRACKED, lambda msg: lists.append(list(msg.ids)),
                                     RELIABLE_QOS)
        assert spin_until(ros.executor, lambda: static[TRACKED].get_subscription_count() > 0)
        policy = outputs.Outputs()
        expected, most = [], 0
        # Body n is seen in groups n .. n + LIFE_GROUPS - 1: a few overlap at any time.
        for group in range(BODIES + LIFE_GROUPS):
            now[0] = group * GROUP_S
            present = [n for n in range(BODIES) if n <= group < n + LIFE_GROUPS]
            people = [_person(n, group - n) for n in present]
            for topic, msg in policy.messages(people, 10**9 * (100 + group), config):
                if topic in static:
                    static[topic].publish(msg)
                else:
                    bodies.publish(topic, msg)
            bodies.expire(GRACE_S, [body.body_id for body in policy.bodies])
            expected.append([body_id(n) for n in present])
            most = max(most, len(bodies), len(list(node.publishers)) - baseline)
            assert spin_until(ros.executor, lambda: len(lists) > group)
        # Everything still alive goes once its grace period has passed.
        now[0] += GRACE_S + GROUP_S
        policy.messages([], 10**9 * (101 + group), config)
        bodies.expire(GRACE_S, [])
        assert len(bodies) == 0 and len(list(node.publishers)) == baseline
    # Alive at most: bodies in view plus those lost within the grace period, three topics each
    # (joint_states, velocity, urdf).
    bound = 3 * (LIFE_GROUPS + int(GRACE_S / GROUP_S) + 1)
    assert 0 < most <= bound
    # A lost body leaves /humans/bodies/tracked in the very next list.
    assert lists == expected


def test_a_body_back_within_the_grace_period_keeps_its_publishers():
    now = [0.0]
    with RosContext() as ros:
        node = ros.node('hri_grace')
        bodies = BodyPublishers(node, clock=lambda: now[0])
        topic = body_topic(body_id(5), 'joint_states')
        bodies.publish(topic, JointState())
        publisher = bodies._publishers[topic]
        now[0] = 0.5
        assert bodies.expire(1.0, []) == 0
        now[0] = 5.0
        # Still in view (its joints unsupported for a while): kept.
        assert bodies.expire(1.0, [body_id(5)]) == 0 and bodies._publishers[topic] is publisher
        assert bodies.expire(1.0, []) == 1 and len(bodies) == 0


def test_output_publishers_carry_no_qos_event_handlers():
    # rclpy's executor walks every event handler of every entity at each wake-up: the node's
    # output publishers (these per-body ones too) are created without rclpy's default two.
    with RosContext() as ros:
        node = ros.node('hri_quiet')
        quiet, default = (BodyPublishers(node, event_callbacks=outputs.OUTPUT_EVENTS),
                          BodyPublishers(node))
        for publishers, track_id in ((quiet, 1), (default, 2)):
            publishers.publish(body_topic(body_id(track_id), 'joint_states'), JointState())
        quiet_publisher, = quiet._publishers.values()
        default_publisher, = default._publishers.values()
        assert quiet_publisher.event_handlers == [] and default_publisher.event_handlers
