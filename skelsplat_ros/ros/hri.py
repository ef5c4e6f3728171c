# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""ROS4HRI (REP-155) messages of the tracked bodies, and the per-body publishers.

Topics (absolute, as REP-155 fixes them):

- ``/humans/bodies/tracked`` (``hri_msgs/IdsList``): the body ids of every frame group, with
  the group's stamp; a lost body is not in the next list;
- per body, ``/humans/bodies/<id>/joint_states`` (``sensor_msgs/JointState``, the
  human_description joint angles; joints whose limbs are not located are left out),
  ``/humans/bodies/<id>/velocity`` (``geometry_msgs/TwistStamped`` in ``body_<id>``: the hip
  midpoint's velocity and the turn rate about the body's up axis) and
  ``/humans/bodies/<id>/urdf`` (``std_msgs/String``, latched as hri_fullbody does: the body's
  URDF at its measured height, sent again when the estimate moves by 2 cm).

:class:`BodyPublishers` creates a per-body publisher on its first message and destroys it
when the body has been gone for ``hri_grace_period`` seconds.
"""

import time
from typing import List, Sequence

from diagnostic_msgs.msg import DiagnosticStatus
from geometry_msgs.msg import TwistStamped, Vector3
from hri_msgs.msg import IdsList
import numpy as np
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import JointState
from skelsplat_ros import human_model
from skelsplat_ros.body_frames import quaternion_from_matrix
from skelsplat_ros.hri_bodies import Body
from skelsplat_ros.ros.conversions import transform
from skelsplat_ros.ros.diagnostics import LEVELS, status
from std_msgs.msg import Header, String

__all__ = ['body_messages', 'BodyPublishers', 'body_topic', 'diagnostic_status',
           'model_transforms', 'TRACKED']

TRACKED = '/humans/bodies/tracked'
JOINT_STATES, VELOCITY, URDF = 'joint_states', 'velocity', 'urdf'
BODY_QOS = QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE)
# hri_fullbody's latching QoS for the URDF: a robot_state_publisher started later gets it.
LATCHED_QOS = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.RELIABLE,
                         durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)


def body_topic(body_id: str, leaf: str) -> str:
    """Return a per-body topic, e.g. ``/humans/bodies/a0qvt/joint_states``."""
    return f'/humans/bodies/{body_id}/{leaf}'


def model_transforms(bodies: Sequence[Body], stamp, world_frame: str,
                     links: bool = True) -> list:
    """Return the bodies' TF frames: each ``body_<id>`` in the world, then its links if ``links``.

    The quaternions of every frame of the group come from one conversion.
    """
    frames = [(body.body_id, frame) for body in bodies
              for frame in (body.frames if links else body.frames[:1])]
    if not frames:
        return []
    quaternions = quaternion_from_matrix(np.array([frame[3] for _, frame in frames])).tolist()
    return [transform(stamp, world_frame if parent is None else f'{parent}_{body_id}',
                      f'{link}_{body_id}', origin, quaternion)
            for (body_id, (link, parent, origin, _)), quaternion in zip(frames, quaternions)]


def _velocity_msg(body: Body, stamp, frame_style: str, world_frame: str) -> TwistStamped:
    linear, angular = body.twist
    frame = f'body_{body.body_id}'
    if frame_style != 'ros4hri':
        # No body_<body id> on /tf: the same velocity in the world (z is up in both).
        linear, frame = body.frames[0][3] @ linear, world_frame
    msg = TwistStamped(header=Header(stamp=stamp, frame_id=frame))
    msg.twist.linear = Vector3(x=float(linear[0]), y=float(linear[1]), z=float(linear[2]))
    msg.twist.angular = Vector3(x=float(angular[0]), y=float(angular[1]), z=float(angular[2]))
    return msg


def body_messages(bodies: Sequence[Body], stamp, config) -> List[tuple]:
    """Return the ``(topic, message)`` pairs of ROS4HRI's topics for one group.

    Args:
        bodies: the group's :class:`skelsplat_ros.hri_bodies.Body` records.
        stamp: ``builtin_interfaces/Time`` of the group.
        config: the node's configuration (``world_frame``, ``frame_style``).
    """
    out = [(TRACKED, IdsList(header=Header(stamp=stamp, frame_id=config.world_frame),
                             ids=[body.body_id for body in bodies]))]
    for body in bodies:
        angles = body.solution.angles
        if angles:
            names = [name for name in human_model.MOVING if name in angles]
            out.append((body_topic(body.body_id, JOINT_STATES), JointState(
                header=Header(stamp=stamp), name=[f'{name}_{body.body_id}' for name in names],
                position=[float(angles[name]) for name in names])))
        if body.twist is not None:
            out.append((body_topic(body.body_id, VELOCITY),
                        _velocity_msg(body, stamp, config.frame_style, config.world_frame)))
        if body.urdf_due:
            out.append((body_topic(body.body_id, URDF),
                        String(data=human_model.urdf(body.body_id, body.height))))
    return out


def diagnostic_status(bodies: Sequence[Body], node_name: str,
                      publishers: int) -> DiagnosticStatus:
    """Return the ROS4HRI status: WARN while a body's joints are left out of its joint states.

    Its values name the bodies, per body the joints left out (limbs not located) and the
    parts whose pose the model's joint limits forbid (clamped, with the error), and the
    number of per-body publishers alive.
    """
    values = {'bodies': ' '.join(body.body_id for body in bodies) or '(none)',
              'per_body_publishers': str(publishers)}
    for body in bodies:
        solution = body.solution
        if solution.unsupported:
            values[f'{body.body_id}/joints_left_out'] = ' '.join(solution.unsupported)
        if solution.clamped:
            values[f'{body.body_id}/clamped'] = ' '.join(
                f'{part} {solution.errors_deg[part]:.0f} deg' for part in solution.clamped)
    left_out = [body.body_id for body in bodies if body.solution.unsupported]
    message = (f'joints left out of joint_states (limbs not located) for {" ".join(left_out)}'
               if left_out else f'{len(bodies)} bodies tracked')
    return status(f'{node_name}: ROS4HRI bodies', LEVELS['WARN' if left_out else 'OK'],
                  message, values, node_name)


class BodyPublishers:
    """Per-body publishers, created on first use and destroyed after a grace period.

    Args:
        node: the ``rclpy`` node that owns them.
        clock: monotonic seconds (wall time: a paused or looping ``/clock`` must not keep or
            drop publishers).
        event_callbacks: the publishers' ``PublisherEventCallbacks`` (None: rclpy's default).
    """

    def __init__(self, node, clock=time.monotonic, event_callbacks=None):
        self._node = node
        self._clock = clock
        self._event_callbacks = event_callbacks
        self._publishers = {}  # topic -> publisher
        self._last_used = {}  # topic -> clock seconds

    def __len__(self):
        return len(self._publishers)

    def publish(self, topic: str, msg):
        """Publish ``msg`` on the per-body ``topic``, creating its publisher if needed."""
        publisher = self._publishers.get(topic)
        if publisher is None:
            qos = LATCHED_QOS if topic.endswith('/' + URDF) else BODY_QOS
            publisher = self._node.create_publisher(
                type(msg), topic, qos, event_callbacks=self._event_callbacks)
            self._publishers[topic] = publisher
        self._last_used[topic] = self._clock()
        publisher.publish(msg)

    def expire(self, grace_s: float, current: Sequence[str] = ()) -> int:
        """Destroy the publishers of bodies gone for ``grace_s``; return how many.

        Args:
            grace_s: seconds since the last message.
            current: body ids in view now, whose publishers are kept whatever their age (a
                body without velocity for a while keeps its velocity topic).
        """
        now = self._clock()
        keep = {body_topic(body_id, '') for body_id in current}
        old = [topic for topic, used in self._last_used.items()
               if now - used > grace_s and topic.rsplit('/', 1)[0] + '/' not in keep]
        for topic in old:
            self._node.destroy_publisher(self._publishers.pop(topic))
            del self._last_used[topic]
        return len(old)
