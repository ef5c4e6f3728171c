# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What the node knows of each camera, and the calibrated cameras it gives the fusion engine.

A camera is usable once its intrinsics (``CameraInfo`` or the calibration file) and its pose
are both known; :class:`CameraStates` then registers it with the
:class:`skelsplat_ros.live.FusionEngine`, and replaces it when either changes.  The node and
``skelsplat bag`` both use it.

Poses come from the calibration file (fixed), or from a *pose source* asked for each frame
group (:meth:`CameraStates.update_poses`): ``source(frame_id, stamp_ns, timeout_s) -> (R, t)``
gives the world-to-camera pose of a camera's frame at the stamp of its frame in the group, or
raises :class:`PoseUnavailable`.  A camera on a moving base (a robot's head or arm) is then
placed where it was when its frame was taken; a camera whose pose is unknown at that stamp
has its frame left out, never fused at a stale pose.  The node's source is TF
(:class:`skelsplat_ros.ros.tf_poses.TfPoseSource`).

:class:`InputLimiter` bounds what a camera that sends far faster than the others can cost
the live node.
"""

import collections
import threading
import time
from typing import Callable, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
from skelsplat_ros.cameras import CalibrationError, camera_from_camera_info
from skelsplat_ros.ros import conversions

__all__ = ['CameraState', 'CameraStates', 'InputLimiter', 'PoseSource', 'PoseUnavailable',
           'RATE_RATIO']

RATE_RATIO = 2.5  # a camera may send this many times the median rate of the others


class PoseUnavailable(Exception):
    """A pose source has no pose of the camera frame at the stamp asked for."""


# (frame_id, stamp_ns, timeout_s) -> (R (3, 3), t (3,)) world -> camera; may raise
# PoseUnavailable, and may wait up to timeout_s for the pose to arrive.
PoseSource = Callable[[str, int, float], Tuple[np.ndarray, np.ndarray]]


class CameraState:
    """What the node knows about one camera (written on the executor thread)."""

    def __init__(self):
        self.frame_id = ''
        self.info_frame_id = ''     # its CameraInfo's frame_id, '' until one arrives
        self.info_key = None        # last CameraInfo content seen, to skip identical repeats
        self.intrinsics = None      # Camera with identity extrinsics, or None
        self.extrinsics = None      # (R (3, 3), t (3,)) world -> camera, or None
        self.not_ready = 'waiting for CameraInfo'
        self.last_arrival = None    # monotonic seconds of the last frame
        self.last_stamp_ns = None   # header stamp of the last frame
        self.last_error = ''
        self.people_in_view = 0     # people detected in its last fused frame
        self.outvoted = False       # its last person contradicted the other cameras
        self.merged = 0             # its detections over two tracked people, last frame
        self.lone = 0               # its detections no other camera confirms, last frame
        self.poses_capped = False   # its detector found as many people as it may report
        self.too_fast = 0           # messages refused as a flood, over its life


class CameraStates:
    """Every configured camera's :class:`CameraState`; registers the calibrated ones.

    Args:
        config: the node's :class:`skelsplat_ros.ros.params.NodeConfig`.
        engine: the fusion engine to register cameras with.
        file_cameras: camera name -> the calibration file's camera, where the configuration
            takes intrinsics or extrinsics from the file.
        pose_source: where the poses come from, at each group's stamps, when the
            configuration takes them from TF (see the module docstring).
        pose_timeout: the longest :meth:`update_poses` waits for the poses of one group,
            seconds.
    """

    def __init__(self, config, engine, file_cameras: Mapping[str, object],
                 pose_source: Optional[PoseSource] = None, pose_timeout: float = 0.0):
        self._world_frame = config.world_frame
        self._engine = engine
        self._rectified = {camera.name: camera.rectified for camera in config.cameras}
        self._pose_source = pose_source
        self._pose_timeout = pose_timeout
        # The executor thread takes CameraInfo while the worker thread moves cameras.
        self._lock = threading.RLock()
        self.states: Dict[str, CameraState] = {name: CameraState()
                                               for name in config.camera_names}
        # Flood guards, for frames (False) and for CameraInfo (True).
        self._limiters = {info: InputLimiter(config.camera_names, ratio=RATE_RATIO)
                          for info in (False, True)}
        for name, state in self.states.items():
            if config.extrinsics_source == 'calibration_file':
                camera = file_cameras[name]
                state.extrinsics = (camera.R, camera.t)
            if config.intrinsics_source == 'calibration_file':
                camera = file_cameras[name]
                state.intrinsics = camera_from_camera_info(
                    camera.K, camera.dist, camera.distortion_model, camera.width, camera.height,
                    name=name)
            self._register(name)

    def admit(self, name: str, info: bool) -> str:
        """Count one message of camera ``name``; return why to refuse it (flood), else ''.

        Args:
            name: the camera.
            info: whether it is a CameraInfo (counted apart from frames).
        """
        limiter = self._limiters[info]
        if limiter.admit(name):
            return ''
        self.states[name].too_fast += 1
        return (f'messages dropped: they come faster than {limiter.limit_hz(name):.0f} Hz, '
                f'{RATE_RATIO:g} times the rate of the other cameras (a flooding publisher?)')

    def camera_info(self, name: str, msg) -> str:
        """Take camera ``name``'s ``CameraInfo``; return why it was rejected, '' if it was not."""
        state = self.states[name]
        state.frame_id = msg.header.frame_id or state.frame_id
        state.info_frame_id = msg.header.frame_id or state.info_frame_id
        key = conversions.camera_info_key(msg)
        if key == state.info_key:
            return ''
        state.info_key = key
        error = ''
        with self._lock:
            try:
                state.intrinsics = conversions.camera_from_info_msg(
                    msg, name, rectified=self._rectified[name])
            except CalibrationError as rejected:
                error = str(rejected)
                state.intrinsics = None
                state.not_ready = f'CameraInfo rejected: {error}'
            self._register(name)
        return error

    def keypoints_origin(self, name: str, header) -> str:
        """Why camera ``name``'s keypoints cannot be its images' (their header), else ''.

        Keypoints carry their image's stamp and frame_id: a zero stamp means a detector that
        did not copy them, a frame_id other than the camera's CameraInfo's another camera's
        keypoints on this camera's topic.  Either would be fused as if seen by this camera.
        """
        if not (header.stamp.sec or header.stamp.nanosec):
            return "their stamp is zero: the detector must copy its image's header"
        expected = self.states[name].info_frame_id
        if expected and header.frame_id != expected:
            return (f'their frame_id {conversions.capped(header.frame_id, 80)!r} is not the '
                    f"camera's ({conversions.capped(expected, 80)!r}, from its CameraInfo): "
                    "another camera's keypoints on this topic?")
        return ''

    def fixed_frames(self) -> Dict[str, Tuple[str, np.ndarray, np.ndarray]]:
        """Return camera name -> (frame_id, R, t) of the cameras the calibration file places.

        Only cameras whose frame_id is known (from their CameraInfo or frames), and none
        when the poses come from a pose source (TF already has those frames).
        """
        if self._pose_source is not None:
            return {}
        # A frame_id tf2 would refuse, or the world itself, is left out.
        return {name: (state.frame_id, *state.extrinsics) for name, state in self.states.items()
                if state.extrinsics is not None and state.frame_id
                and not state.frame_id.startswith('/') and state.frame_id != self._world_frame}

    def ready(self, name: str):
        """Return camera ``name``'s intrinsics once its frames can be fused, else None.

        With a pose source, a camera is ready once its intrinsics are known: its pose is
        looked up for each of its frames (:meth:`update_poses`).  ``states[name].not_ready``
        says what it waits for.
        """
        state = self.states[name]
        if state.extrinsics is None and self._pose_source is None:
            return None
        return state.intrinsics

    def update_poses(self, frames: Mapping[str, Tuple[str, int]]) -> Dict[str, str]:
        """Place each camera of a frame group where it was when its frame was taken.

        Asks the pose source for every camera of the group; the cameras wait together at
        most ``pose_timeout`` seconds.  A camera whose pose did not change keeps its place
        (nothing is rebuilt), as do all cameras without a pose source (calibration file).

        Args:
            frames: camera name -> (its frame's ``header.frame_id``, its stamp in ns).

        Returns:
            camera name -> why its pose is unknown at its frame's stamp: leave that frame
            out of the group (fused at a stale pose, it would misplace the skeleton).
        """
        if self._pose_source is None:
            return {}
        deadline = time.monotonic() + self._pose_timeout
        faults = {}
        for name, (frame_id, stamp_ns) in frames.items():
            if not frame_id:
                faults[name] = ('its frame has no header.frame_id, the TF frame its pose is '
                                'looked up for')
                continue
            try:
                R, t = self._pose_source(frame_id, stamp_ns,
                                         max(0.0, deadline - time.monotonic()))
            except PoseUnavailable as error:
                faults[name] = str(error)
                continue
            self.set_extrinsics(name, R, t)
        return faults

    def set_extrinsics(self, name: str, R: np.ndarray, t: np.ndarray):
        """Set camera ``name``'s world-to-camera pose; a repeated pose changes nothing.

        A registered camera that moves keeps the solver's temporal state
        (:meth:`skelsplat_ros.live.FusionEngine.set_pose`).
        """
        state = self.states[name]
        with self._lock:
            if state.extrinsics is not None and np.allclose(state.extrinsics[0], R, atol=1e-9) \
                    and np.allclose(state.extrinsics[1], t, atol=1e-9):
                return
            moved = state.extrinsics is not None
            state.extrinsics = (R, t)
            if not (moved and state.intrinsics is not None
                    and self._engine.set_pose(name, *_compose(state.intrinsics, R, t))):
                self._register(name)

    def _register(self, name):
        """Register the camera with the engine once intrinsics and extrinsics are known."""
        state = self.states[name]
        camera = None
        if state.intrinsics is not None and state.extrinsics is not None:
            intrinsics = state.intrinsics
            R, t = _compose(intrinsics, *state.extrinsics)
            camera = camera_from_camera_info(intrinsics.K, intrinsics.dist,
                                             intrinsics.distortion_model, intrinsics.width,
                                             intrinsics.height, name=name, R=R, t=t)
            state.not_ready = ''
        elif state.intrinsics is not None:
            state.not_ready = f'waiting for the TF {self._world_frame} -> ' \
                              f'{state.frame_id or "<camera frame>"}'
        self._engine.set_camera(name, camera)


def _compose(intrinsics, R, t):
    """Return the world-to-camera pose of a camera whose frame is at ``(R, t)``.

    The camera sits at ``intrinsics.R``, ``intrinsics.t`` in its frame: the identity, or a
    stereo right camera's offset in its CameraInfo's P.
    """
    return intrinsics.R @ R, intrinsics.R @ t + intrinsics.t


class InputLimiter:
    """Admit each camera's messages up to a rate set by the other cameras (flood guard).

    A camera may deliver at most ``ratio`` times the median rate of the other cameras over the
    last ``window_s`` seconds, and never less than ``floor_hz`` nor more than ``ceiling_hz``.
    The node asks first thing in a message's callback, so a flooding camera's extra messages
    cost their delivery only (rclpy has deserialised them): no conversion, no synchroniser
    entry, no bookkeeping.  (A raw subscription would skip that too, but costs two more copies
    of every admitted image.)  Cameras at the same rate, or at twice the others' rate, are
    never limited.  Memory is
    bounded: at most ``ceiling_hz * window_s`` arrival times per camera.

    Args:
        camera_names: the cameras.
        ratio: how many times the others' median rate a camera may send.
        floor_hz: the rate always allowed (the others may not have started yet).
        ceiling_hz: the rate never exceeded, whatever the others send.
        window_s: the window over which rates are counted, seconds.
        clock: monotonic seconds.
    """

    def __init__(self, camera_names: Sequence[str], ratio: float = 2.5,
                 floor_hz: float = 30.0, ceiling_hz: float = 500.0, window_s: float = 1.0,
                 clock=time.monotonic):
        self._arrivals = {name: collections.deque() for name in camera_names}
        self._ratio, self._floor, self._ceiling = ratio, floor_hz, ceiling_hz
        self._window, self._clock = window_s, clock

    def limit_hz(self, camera: str) -> float:
        """Return the rate ``camera`` may send at now, Hz."""
        others = sorted(len(times) for name, times in self._arrivals.items() if name != camera)
        if not others:
            return self._ceiling
        median = others[len(others) // 2] / self._window
        return min(self._ceiling, max(self._floor, self._ratio * median))

    def admit(self, camera: str) -> bool:
        """Count one message of ``camera`` and return whether to take it."""
        now = self._clock()
        for times in self._arrivals.values():
            while times and times[0] <= now - self._window:
                times.popleft()
        times = self._arrivals[camera]
        if len(times) >= self.limit_hz(camera) * self._window:
            return False
        times.append(now)
        return True
