# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Camera poses from TF at the stamp of each frame (``extrinsics_source: tf``).

:class:`TfPoseSource` is the node's pose source for
:meth:`skelsplat_ros.ros.camera_states.CameraStates.update_poses`: it looks up
``world_frame -> <the frame's header.frame_id>`` (a REP-103 optical frame) at the frame's
stamp with ``tf2_ros.Buffer.lookup_transform``, so that a camera on a moving base is placed
where it was when the frame was taken.

- Static camera frames (``/tf_static``) are valid at every stamp: the first lookup, without a
  timeout, finds them at once, and an unchanged pose rebuilds nothing.
- A moving frame whose transform for the stamp has not arrived yet (tf2's
  ``ExtrapolationException``) is waited for, at most the time left of the group's timeout.
  ``Buffer.can_transform`` waits by polling the buffer; the node's executor keeps filling it
  (``TransformListener`` subscribes on the node), as the lookup runs on the fusion worker
  thread, never on the executor's.
- Every other tf2 error (``TransformException``, the base of ``LookupException``,
  ``ConnectivityException``, ``InvalidArgumentException`` for a frame_id that starts with
  ``/``...) fails at once: waiting would not help.
"""

from rclpy.duration import Duration
from rclpy.time import Time
from skelsplat_ros.cameras import CalibrationError, optical_frame_extrinsics
from skelsplat_ros.ros import conversions
from skelsplat_ros.ros.camera_states import PoseUnavailable
from skelsplat_ros.ros.params import ParameterError

__all__ = ['TfPoseSource']


class TfPoseSource:
    """World-to-camera poses from TF, looked up at each frame's stamp.

    Args:
        node: the rclpy node whose executor receives ``/tf`` and ``/tf_static``.
        world_frame: the frame of the output poses.

    Raises:
        ParameterError: tf2_ros is not installed.
    """

    def __init__(self, node, world_frame: str):
        try:
            import tf2_ros  # only in this mode: a PyPI-only ROS has no tf2_ros
        except ImportError:
            raise ParameterError('extrinsics_source: tf needs tf2_ros (sudo apt install '
                                 'ros-$ROS_DISTRO-tf2-ros-py)') from None
        self._tf2 = tf2_ros
        self._world_frame = world_frame
        self.buffer = tf2_ros.Buffer()
        self._listener = tf2_ros.TransformListener(self.buffer, node)

    def __call__(self, frame_id: str, stamp_ns: int, timeout_s: float):
        """Return ``(R, t)`` of ``frame_id`` at ``stamp_ns``; raise :class:`PoseUnavailable`."""
        if stamp_ns < 0:  # rclpy.time.Time refuses it; tf2 has no transform there
            raise PoseUnavailable(f'no transform at the negative stamp {stamp_ns * 1e-9:.3f} s')
        stamp = Time(nanoseconds=stamp_ns)
        try:
            try:
                transform = self.buffer.lookup_transform(self._world_frame, frame_id, stamp)
            except self._tf2.ExtrapolationException:
                if timeout_s <= 0.0:
                    raise
                transform = self.buffer.lookup_transform(
                    self._world_frame, frame_id, stamp,
                    timeout=Duration(nanoseconds=int(timeout_s * 1e9)))
        except self._tf2.TransformException as error:
            raise PoseUnavailable(f'no transform {self._world_frame} -> {frame_id} at '
                                  f'{stamp_ns * 1e-9:.3f} s: {error}') from None
        try:
            return optical_frame_extrinsics(conversions.transform_to_matrix(transform.transform))
        except CalibrationError as error:
            raise PoseUnavailable(f'bad camera pose from TF: {error}') from None
