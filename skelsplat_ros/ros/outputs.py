# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The output policy: the messages of one fused frame group, for the node and the bag alike.

:class:`Outputs` turns the people of a group into ``(topic, message)`` pairs: the
``HumanPose3DArray`` always, the RViz markers (with DELETE markers for what is no longer
shown), the ``PointCloud2`` of the joints, the REP-155 TF frames (named as ``frame_style``
says) and the ROS4HRI topics (:mod:`skelsplat_ros.ros.hri`: ``/humans/bodies/tracked`` and the
per-body ones, whose names hold the body id) as the ``publish_*`` parameters enable them.
:class:`skelsplat_ros.ros.node.SkelSplatNode` publishes the pairs and
``skelsplat bag`` writes them to MCAP, so a new output topic is added here only.

:meth:`Outputs.camera_frames` gives the cameras' REP-103 optical frames on ``/tf_static``
(``world_frame -> <frame_id of the camera's CameraInfo or frames>``) when the calibration
file places the cameras, with tf2_ros ``StaticTransformBroadcaster``'s QoS
(:data:`TF_STATIC_QOS`), so that RViz shows the cameras and other nodes can use them.
"""

from typing import List, Mapping, Sequence, Tuple

from hri_msgs.msg import IdsList
import numpy as np
from rclpy.qos import QoSDurabilityPolicy, QoSHistoryPolicy, QoSProfile, QoSReliabilityPolicy
try:  # Jazzy and later
    from rclpy.event_handler import PublisherEventCallbacks
except ImportError:  # Humble
    from rclpy.qos_event import PublisherEventCallbacks
from rclpy.time import Time
from sensor_msgs.msg import PointCloud2
from skelsplat_ros import skeletons
from skelsplat_ros.hri_bodies import HriBodies
from skelsplat_ros.live import PersonPose
from skelsplat_ros.msg import HumanPose3DArray
from skelsplat_ros.ros import conversions, hri
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import MarkerArray

__all__ = ['MARKERS', 'OUTPUT_EVENTS', 'OUTPUT_TOPICS', 'Outputs', 'POINTS', 'POSES',
           'STATIC_TOPICS', 'TF', 'TF_STATIC', 'TF_STATIC_QOS', 'TRACKED', 'type_name']

# Relative names, so that the node's namespace applies; /tf is absolute.
POSES = 'human_pose_3d'
MARKERS = 'human_pose_3d/markers'
POINTS = 'human_pose_3d/points'
TF = '/tf'
TRACKED = hri.TRACKED
# topic -> message type, in the order a group gives them; the per-body ROS4HRI topics follow.
OUTPUT_TOPICS = {POSES: HumanPose3DArray, MARKERS: MarkerArray, POINTS: PointCloud2,
                 TF: TFMessage, TRACKED: IdsList}
TF_STATIC = '/tf_static'
# Topics given once and again only when they change (latched), not per group.
STATIC_TOPICS = {TF_STATIC: TFMessage}
# tf2_ros StaticTransformBroadcaster's QoS: a subscriber that joins late still gets the frames.
TF_STATIC_QOS = QoSProfile(depth=1, history=QoSHistoryPolicy.KEEP_LAST,
                           reliability=QoSReliabilityPolicy.RELIABLE,
                           durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)

# The output publishers get no QoS event handlers.  rclpy's executor walks every handler of
# every entity at each wake-up, and by default each publisher has two (incompatible QoS and
# incompatible type).  With 16 cameras and 5 people (about 22 publishers, the per-body ones
# included) they took a third of the executor thread's time.  A subscriber that requests an
# incompatible QoS still logs the warning on its own side.
OUTPUT_EVENTS = PublisherEventCallbacks(use_default_callbacks=False)


def type_name(message_type) -> str:
    """Return a message type's ROS name, e.g. ``tf2_msgs/msg/TFMessage``."""
    return f'{message_type.__module__.split(".")[0]}/msg/{message_type.__name__}'


class Outputs:
    """What one frame group gives on each output topic; it remembers what it showed before.

    Markers of a person (or ellipsoid) no longer shown are deleted explicitly, and TF frames
    are sent only for a stamp later than the last one sent (tf2 rejects repeated stamps).

    Args:
        skeleton: the joint set of the people (joint names, bones, TF frame names).
    """

    def __init__(self, skeleton: skeletons.Skeleton = skeletons.COCO17):
        self.skeleton = skeleton
        self._shown_markers = set()   # (namespace, id) of the markers on display
        self._last_tf_ns = None
        self._camera_frames = None    # what camera_frames gave last
        self._hri = HriBodies()
        self.bodies = []              # the ROS4HRI records of the last group

    def restart(self):
        """Forget the last TF stamp: the clock jumped back (bag loop, restarted cameras)."""
        self._last_tf_ns = None

    def camera_frames(self, frames: Mapping[str, Tuple[str, np.ndarray, np.ndarray]],
                      stamp_ns: int, world_frame: str) -> List[Tuple[str, object]]:
        """Return the ``/tf_static`` message of the cameras' frames, when they changed.

        Every camera is in the one message: ``/tf_static`` keeps the last message of each
        publisher (depth 1), as ``StaticTransformBroadcaster.sendTransform`` of a list.

        Args:
            frames: camera name -> (its optical frame, R, t) with ``x_cam = R x_world + t``
                (:meth:`skelsplat_ros.ros.camera_states.CameraStates.fixed_frames`).
            stamp_ns: the stamp of the transforms, nanoseconds.
            world_frame: their parent frame.

        Returns:
            ``[(TF_STATIC, TFMessage)]``, or ``[]`` when nothing changed since the last call.
        """
        key = (world_frame, tuple((name, frame_id, np.asarray(R).tobytes(),
                                   np.asarray(t).tobytes())
                                  for name, (frame_id, R, t) in sorted(frames.items())))
        if not frames or key == self._camera_frames:
            return []
        self._camera_frames = key
        stamp = Time(nanoseconds=stamp_ns).to_msg()
        return [(TF_STATIC, TFMessage(transforms=[
            conversions.camera_transform(stamp, world_frame, frame_id, R, t)
            for _, (frame_id, R, t) in sorted(frames.items())]))]

    def messages(self, people: Sequence[PersonPose], stamp_ns: int,
                 config) -> List[Tuple[str, object]]:
        """Return the ``(topic, message)`` pairs of one group, in :data:`OUTPUT_TOPICS` order.

        Args:
            people: the people of the group (empty: nobody located).
            stamp_ns: the group's stamp, nanoseconds.
            config: the :class:`skelsplat_ros.ros.params.NodeConfig` (world_frame and the
                ``publish_*``, marker parameters; read on every call, as they may change).
        """
        skeleton = self.skeleton
        stamp = Time(nanoseconds=stamp_ns).to_msg()
        frame = config.world_frame
        out = [(POSES, conversions.pose_array_msg(people, stamp, frame, skeleton))]
        if config.publish_markers:
            markers, shown = [], set()
            for person in people:
                new = conversions.person_markers(person, stamp, frame, config.marker_lifetime,
                                                 config.publish_covariance_ellipsoids,
                                                 bones=skeleton.bones)
                markers += new
                shown |= {(m.ns, m.id) for m in new}
            markers += conversions.delete_markers(sorted(self._shown_markers - shown), stamp,
                                                  frame)
            self._shown_markers = shown
            if markers:
                out.append((MARKERS, MarkerArray(markers=markers)))
        if config.publish_points:
            out.append((POINTS, conversions.points_msg(people, stamp, frame)))
        ros4hri = config.frame_style == 'ros4hri'
        self.bodies = (self._hri.update(people, skeleton.joint_names)
                       if config.publish_hri or (config.publish_tf and ros4hri) else [])
        if config.publish_tf and people and (self._last_tf_ns is None
                                             or stamp_ns > self._last_tf_ns):
            if ros4hri:
                transforms = hri.model_transforms(self.bodies, stamp, frame,
                                                  config.model_frames_by == 'node')
            else:
                transforms = [msg for person in people for msg in conversions.person_transforms(
                    person, stamp, frame, skeleton.joint_names)]
            out.append((TF, TFMessage(transforms=transforms)))
            self._last_tf_ns = stamp_ns
        if config.publish_hri:
            out += hri.body_messages(self.bodies, stamp, config)
        return out
