# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What the node knows of each camera, and the calibrated cameras it gives the fusion engine.

A camera is usable once its intrinsics (``CameraInfo`` or the calibration file) and its pose
(the calibration file or TF) are both known; :class:`CameraStates` then registers it with the
:class:`skelsplat_ros.live.FusionEngine`, and replaces it when either changes.  The node and
``skelsplat bag`` both use it.  :class:`InputLimiter` bounds what a camera that sends far
faster than the others can cost the live node.
"""

import collections
import time
from typing import Dict, Mapping, Sequence

import numpy as np
from skelsplat_ros.cameras import CalibrationError, camera_from_camera_info
from skelsplat_ros.ros import conversions

__all__ = ['CameraState', 'CameraStates', 'InputLimiter', 'RATE_RATIO']

RATE_RATIO = 2.5  # a camera may send this many times the median rate of the others


class CameraState:
    """What the node knows about one camera (written on the executor thread)."""

    def __init__(self):
        self.frame_id = ''
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
    """

    def __init__(self, config, engine, file_cameras: Mapping[str, object]):
        self._world_frame = config.world_frame
        self._engine = engine
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
        key = (tuple(msg.k), tuple(msg.d), msg.distortion_model, msg.width, msg.height)
        if key == state.info_key:
            return ''
        state.info_key = key
        error = ''
        try:
            state.intrinsics = conversions.camera_from_info_msg(msg, name)
        except CalibrationError as rejected:
            error = str(rejected)
            state.intrinsics = None
            state.not_ready = f'CameraInfo rejected: {error}'
        self._register(name)
        return error

    def set_extrinsics(self, name: str, R: np.ndarray, t: np.ndarray):
        """Set camera ``name``'s world-to-camera pose (TF); a repeated pose changes nothing."""
        state = self.states[name]
        if state.extrinsics is not None and np.allclose(state.extrinsics[0], R, atol=1e-9) \
                and np.allclose(state.extrinsics[1], t, atol=1e-9):
            return
        state.extrinsics = (R, t)
        self._register(name)

    def _register(self, name):
        """Register the camera with the engine once intrinsics and extrinsics are known."""
        state = self.states[name]
        camera = None
        if state.intrinsics is not None and state.extrinsics is not None:
            intrinsics = state.intrinsics
            R, t = state.extrinsics
            camera = camera_from_camera_info(intrinsics.K, intrinsics.dist,
                                             intrinsics.distortion_model, intrinsics.width,
                                             intrinsics.height, name=name, R=R, t=t)
            state.not_ready = ''
        elif state.intrinsics is not None:
            state.not_ready = f'waiting for the TF {self._world_frame} -> ' \
                              f'{state.frame_id or "<camera frame>"}'
        self._engine.set_camera(name, camera)


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
