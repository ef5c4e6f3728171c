# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The parts of the live node that need no ROS: fusion, its output, and camera health.

The ROS node (:mod:`skelsplat_ros.ros.node`) receives frames on the executor thread, groups
them with :class:`skelsplat_ros.sync.FrameSynchronizer` and hands each group to one worker
thread through a :class:`skelsplat_ros.pacing.LatestMailbox`: when the worker is still busy,
a newer group replaces the waiting one (counted as dropped), so the node never builds a
backlog and its latency stays bounded.  The worker runs a :class:`FusionEngine`: one 2D
detector per camera, and one :class:`skelsplat_ros.solver.SkelSplatSolver` over the cameras
whose calibration is known (or, with several people, one
:class:`skelsplat_ros.tracking.MultiPersonTracker`).  With a ``smoothing_lag`` of L groups, each
group's pose is released L groups late, smoothed with the groups after it
(:class:`skelsplat_ros.solver.smoothing.FixedLagSmoother`), and published with its own stamp.
The views of a group are converted and detected concurrently, one thread per camera:
detection dominates the cost on a CPU, and the detectors release the GIL.
"""

from concurrent.futures import ThreadPoolExecutor
import dataclasses
from functools import partial
import threading
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from skelsplat_ros import skeletons
from skelsplat_ros.cameras import Camera
from skelsplat_ros.solver import (PoseEstimate, resolve_objective, SkelSplatSolver,
                                  SolverConfig, SolverDiverged)
from skelsplat_ros.solver.smoothing import FixedLagPeopleSmoother, FixedLagSmoother
from skelsplat_ros.tracking import MultiPersonTracker, TrackerConfig

__all__ = ['CameraHealth', 'FusionEngine', 'GroupResult', 'PERSON_ID', 'PersonPose',
           'SolverDiverged', 'diagnose_camera', 'fuse_group', 'people_of',
           'person_from_estimate', 'resolve_device', 'stamp_offsets', 'tracked_people']

PERSON_ID = 1   # the id of the one person a single-person engine fuses (REP-155 body_1)


def resolve_device(requested: str, cuda_available: bool) -> Tuple[str, str]:
    """Choose the solver's torch device.

    Args:
        requested: ``'auto'``, ``'cpu'`` or ``'cuda'`` (``'cuda:N'`` allowed).
        cuda_available: whether torch sees a CUDA device.

    Returns:
        ``(device, message)``: the device to use and one line saying why, for the log.
    """
    if requested == 'cpu':
        return 'cpu', 'the solver runs on the CPU (device:=cpu)'
    if cuda_available:
        device = 'cuda' if requested == 'auto' else requested
        return device, f'the solver runs on the GPU ({device})'
    if requested == 'auto':
        return 'cpu', 'no CUDA device: the solver runs on the CPU (slower)'
    return 'cpu', (f'device:={requested} but no CUDA device is available: '
                   'the solver runs on the CPU')


def _cuda_available():
    import torch
    return torch.cuda.is_available()


class FusionEngine:
    """Detectors and solver of the live pipeline; use it from one worker thread.

    Cameras are registered (and replaced) with :meth:`set_camera` from any thread; the solver
    is rebuilt over the cameras with a calibration whenever that set changes (which restarts
    its temporal state).  A camera that moves (on a robot's head or arm) gets its new pose
    with :meth:`set_pose`: the solver's cameras move and its temporal state, in world
    coordinates, is kept.

    Args:
        camera_names: all configured cameras, in the order the solver gets them.
        detector: ``'mediapipe'``, ``'onnx'``, or None when keypoints arrive ready-made.
        detector_options: keyword options of the detector (one instance per camera).
        device: ``'auto'``, ``'cpu'`` or ``'cuda'``.
        solver_config: solver parameters; its ``device`` is replaced by the chosen one, and
            its ``objective`` 'auto' resolved for that device
            (:func:`skelsplat_ros.solver.resolve_objective`).
        notify: called with one line for each event worth a log line (device choice, CPU
            fallback after a CUDA failure).
        cuda_available: override CUDA detection (tests); None asks torch.
        solver_factory: ``(cameras, config) -> solver`` with ``solve(views)`` and ``reset()``;
            by default a :class:`SkelSplatSolver` of ``skeleton`` (tests inject failing
            solvers).
        detector_factory: ``(name, skeleton=, **options) -> detector`` with ``detect(bgr)``
            giving (P, J, 3) in the skeleton's layout;
            :func:`skelsplat_ros.detect.create_detector` by default.
        reset_when_lost: forget the solver's motion state after every group in which nobody
            was located.  The solver otherwise keeps predicting a lost person for a number of
            frames, and a person who comes back elsewhere in view of only two cameras is then
            gated away as an outlier of that stale prediction.
        detection_workers: threads that convert and detect the views of a group at once
            (:meth:`map_views`); None: one per camera when a detector runs (measured faster
            than one per core, even on 2 cores: a detector thread also waits on MediaPipe's
            own threads), and 1 (in the calling thread) when keypoints arrive ready-made.
        multi_person: fuse every person in view with a :class:`MultiPersonTracker` (use
            :meth:`track`), instead of one person with one solver (use :meth:`solve`).
        tracker_config: tracking parameters of the multi-person tracker.
        skeleton: the joint set that detectors give and the solver fits (J joints).
        smoothing_lag: release each group's pose this many groups late, smoothed with the
            groups after it (fixed-lag smoothing; with ``multi_person``, each person along
            its track); 0: at once; None: hold every group until
            :meth:`flush_smoothing` (fixed-interval smoothing of a recording).  When
            smoothing, the motion filter runs with the solver's ``smoothing_accel_sigma``.
    """

    def __init__(self, camera_names: Sequence[str], detector: Optional[str] = 'mediapipe',
                 detector_options: Optional[Mapping] = None, device: str = 'auto',
                 solver_config: Optional[SolverConfig] = None,
                 notify: Callable[[str], None] = print, cuda_available: Optional[bool] = None,
                 solver_factory: Optional[Callable] = None,
                 detector_factory: Optional[Callable] = None, reset_when_lost: bool = True,
                 detection_workers: Optional[int] = None, multi_person: bool = False,
                 tracker_config: Optional[TrackerConfig] = None,
                 skeleton: skeletons.Skeleton = skeletons.COCO17,
                 smoothing_lag: Optional[int] = 0):
        self.camera_names = tuple(camera_names)
        self.skeleton = skeleton
        self._detector_name = detector
        self._detector_options = dict(detector_options or {})
        self._detectors: Dict[str, object] = {}
        self._detectors_lock = threading.Lock()
        self.last_detections: Dict[str, object] = {}
        """Camera name -> its last :class:`skelsplat_ros.detect.Detections` (each camera's
        entry is written by the one thread that detects it)."""
        if detection_workers is None:
            detection_workers = 1 if detector is None else max(len(self.camera_names), 1)
        if detection_workers < 1:
            raise ValueError(f'detection_workers must be at least 1, got {detection_workers}')
        self.detection_workers = int(detection_workers)
        self._pool: Optional[ThreadPoolExecutor] = None
        self._detector_factory = detector_factory
        self._solver_factory = solver_factory or partial(SkelSplatSolver, skeleton=skeleton)
        self._reset_when_lost = reset_when_lost
        self.multi_person = bool(multi_person)
        self._tracker_config = tracker_config
        self._notify = notify
        self.divergences = 0
        """Fits rejected as diverged (non-finite or absurd), each followed by a reset."""
        if cuda_available is None:
            cuda_available = _cuda_available()
        self.device, message = resolve_device(device, cuda_available)
        notify(message)
        self._solver_config = solver_config or SolverConfig()
        self._lock = threading.Lock()
        self._cameras: Dict[str, Camera] = {}
        # Per camera, how often set_camera changed it: a new calibration restarts the solver.
        self._generations: Dict[str, int] = dict.fromkeys(self.camera_names, 0)
        self._moved = False   # set_pose moved a camera since the last fit
        self._solver = None   # SkelSplatSolver, or MultiPersonTracker with multi_person
        self._solver_key = None
        # Several people: each along its own track.
        self._smoother = (FixedLagPeopleSmoother if self.multi_person
                          else FixedLagSmoother)(smoothing_lag)
        if smoothing_lag != 0:
            self._solver_config = self._solver_config.for_smoothing()

    @property
    def smoothing_lag(self) -> Optional[int]:
        """Groups each pose is held back to be smoothed (None: until flush_smoothing)."""
        return self._smoother.lag

    @property
    def objective(self) -> str:
        """The solver objective in use on the engine's device (see ``resolve_objective``)."""
        return resolve_objective(self._solver_config.objective, self.device)

    def set_camera(self, name: str, camera: Optional[Camera]):
        """Register the calibrated ``camera`` for ``name``, or None to leave that view out."""
        if name not in self.camera_names:
            raise ValueError(f'unknown camera {name!r}')
        with self._lock:
            if camera is None:
                self._cameras.pop(name, None)
            else:
                self._cameras[name] = camera
            self._generations[name] += 1

    def set_pose(self, name: str, R: np.ndarray, t: np.ndarray) -> bool:
        """Move the registered camera ``name`` to the world-to-camera pose ``(R, t)``.

        Unlike :meth:`set_camera`, the solver keeps its temporal state: the next fit runs over
        the moved cameras.  Returns False when ``name`` has no registered camera.
        """
        with self._lock:
            camera = self._cameras.get(name)
            if camera is None:
                return False
            self._cameras[name] = dataclasses.replace(camera, R=np.asarray(R, dtype=float),
                                                      t=np.asarray(t, dtype=float))
            self._moved = True
            return True

    def camera(self, name: str) -> Optional[Camera]:
        """Return the registered camera ``name``, or None."""
        with self._lock:
            return self._cameras.get(name)

    def ready_cameras(self) -> List[str]:
        """Names of the cameras with a calibration, in configuration order."""
        with self._lock:
            return [name for name in self.camera_names if name in self._cameras]

    def prepare(self):
        """Create every camera's detector and run it once on a blank image.

        Model loading and the first inference take seconds; done here, at start-up, they
        do not stall the first groups (which would then come out seconds late).
        """
        if self._detector_name is None:
            return
        blank = np.zeros((64, 64, 3), np.uint8)
        for name in self.camera_names:
            self._detector(name).detect(blank)

    def detect(self, name: str, bgr: np.ndarray, stamp: Optional[float] = None) -> np.ndarray:
        """Detect people in camera ``name``'s ``(H, W, 3) uint8`` BGR image; (P, J, 3).

        ``stamp`` is the image's capture time in seconds (a tracking detector needs its
        camera's frames in order).  What the detector says about the people
        (:class:`skelsplat_ros.detect.Detections`: doubtful ones, its cap) is kept in
        :attr:`last_detections` under the camera's name.
        """
        from skelsplat_ros.detect import detect_people
        detections = detect_people(self._detector(name), bgr, stamp)
        detections.keypoints = np.asarray(detections.keypoints, dtype=float).reshape(
            -1, self.skeleton.num_joints, 3)
        self.last_detections[name] = detections
        return detections.keypoints

    def map_views(self, function: Callable[[str, object], object],
                  items: Mapping[str, object]) -> Dict[str, Tuple[object, Optional[Exception]]]:
        """Call ``function(name, item)`` for every view, concurrently on ``detection_workers``.

        Each camera's detector is used by one call at a time (a group holds each camera once,
        and groups are processed one after the other), so detectors that are not thread-safe
        per instance, such as MediaPipe's, are fine.

        Returns:
            camera name -> ``(value, None)``, or ``(None, error)`` when the call raised.
        """
        if self.detection_workers == 1 or len(items) < 2:
            return {name: _call(function, name, item) for name, item in items.items()}
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.detection_workers,
                                            thread_name_prefix='skelsplat-detect')
        futures = {name: self._pool.submit(_call, function, name, item)
                   for name, item in items.items()}
        return {name: future.result() for name, future in futures.items()}

    def _detector(self, name):
        if self._detector_name is None:
            raise RuntimeError('this engine has no detector (keypoints arrive on topics)')
        with self._detectors_lock:
            detector = self._detectors.get(name)
            if detector is None:
                factory = self._detector_factory
                if factory is None:
                    from skelsplat_ros.detect import create_detector as factory
                detector = factory(self._detector_name, skeleton=self.skeleton,
                                   **self._detector_options)
                self._detectors[name] = detector
        return detector

    def solve(self, keypoints: Mapping[str, np.ndarray], stamp: Optional[float] = None
              ) -> Tuple[Optional[PoseEstimate], Tuple[str, ...]]:
        """Fuse one group into one person (an engine built without ``multi_person``).

        Args:
            keypoints: camera name -> (P, J, 3) raw pixels and confidence, for the views in
                the group (other cameras count as views without detections).
            stamp: the group's capture time in seconds, for the motion model (None: one
                frame period after the previous group).

        Returns:
            ``(estimate, cameras)``: the solver's estimate (None when fewer than two views see
            someone, or fewer than two cameras are calibrated) and the solver's cameras, in
            the order of the estimate's per-view arrays.

        Raises:
            SolverDiverged: the fit came out non-finite or absurd; the solver's temporal
                state was reset, so the next group starts afresh.
        """
        if self.multi_person:
            raise RuntimeError('this engine tracks several people: use track()')
        estimate, names = self._fit(keypoints, stamp)
        if estimate is None and self._reset_when_lost:
            self._reset_solver()
        self._check([] if estimate is None else [estimate])
        return estimate, names

    def track(self, keypoints: Mapping[str, np.ndarray], stamp: Optional[float] = None,
              doubtful: Optional[Mapping[str, np.ndarray]] = None
              ) -> Tuple[List[Tuple[int, PoseEstimate]], Tuple[str, ...]]:
        """Fuse one group into every tracked person (an engine built with ``multi_person``).

        Args:
            keypoints: camera name -> (P, J, 3) raw pixels and confidence, for the views in
                the group (other cameras count as views without detections).
            stamp: the group's capture time in seconds (see :meth:`solve`).
            doubtful: camera name -> (P,) bool, the detections its detector flags as
                possibly two people merged into one (they join nobody).

        Returns:
            ``(people, cameras)``: ``(track id, estimate)`` of each confirmed person fitted in
            this group, by increasing id (empty with fewer than two calibrated cameras), and
            the tracker's cameras, in the order of the estimates' per-view arrays.

        Raises:
            SolverDiverged: a fit came out non-finite or absurd; the tracker was reset (its
                people get new ids).
        """
        if not self.multi_person:
            raise RuntimeError('this engine fuses one person: use solve()')
        people, names = self._fit(keypoints, stamp, doubtful or {})
        people = people or []
        self._check([estimate for _, estimate in people])
        return people, names

    @property
    def notes(self):
        """What the multi-person tracker noticed in the last group, or None.

        A :class:`skelsplat_ros.tracking.FrameNotes`, per view in the order of the names
        :meth:`track` returned.
        """
        return getattr(self._solver, 'notes', None) if self.multi_person else None

    def _fit(self, keypoints, stamp, doubtful=None):
        """Run the solver (or tracker) on one group; (None, names) with < 2 cameras."""
        with self._lock:
            cameras = [(name, self._cameras[name]) for name in self.camera_names
                       if name in self._cameras]
            key = tuple((name, self._generations[name]) for name, _ in cameras)
            moved, self._moved = self._moved, False
        names = tuple(name for name, _ in cameras)
        if len(cameras) < 2:
            return None, names
        joints = self.skeleton.num_joints
        views = [np.asarray(keypoints.get(name, np.zeros((0, joints, 3))), dtype=float)
                 .reshape(-1, joints, 3) for name in names]
        flags = None if doubtful is None else [
            doubtful[name] if name in doubtful and len(doubtful[name]) == len(view) else None
            for name, view in zip(names, views)]
        try:
            return self._run(self._solver_for(key, cameras, moved), views, stamp, flags), names
        except Exception as error:  # noqa: B902 - CPU-only torch raises AssertionError for CUDA
            if self.device == 'cpu' or not _is_cuda_failure(error):
                raise
            self._notify(f'CUDA failed ({error.__class__.__name__}: {error}); '
                         'the solver falls back to the CPU')
            self.device = 'cpu'
            self._solver_key = None
            return self._run(self._solver_for(key, cameras, moved), views, stamp, flags), names

    def _run(self, solver, views, stamp, doubtful=None):
        try:
            if self.multi_person:
                return solver.update(views, stamp, doubtful=doubtful)
            return solver.solve(views, stamp)
        except SolverDiverged:  # the solver's own finding: count it and reset as _check does
            self.divergences += 1
            self._reset_solver()
            raise

    def _check(self, estimates):
        """Raise :class:`SolverDiverged` (after a reset) if any of ``estimates`` diverged."""
        for estimate in estimates:
            problem = _divergence(estimate, self._solver_config.workspace_radius_m)
            if problem:
                self.divergences += 1
                self._reset_solver()
                raise SolverDiverged(f'the fit diverged ({problem}); solver state reset')

    def reset(self):
        """Forget the solver's temporal state (e.g. after the clock jumped back).

        A multi-person tracker forgets its people: those seen afterwards get new ids, never
        one given before in this engine's life.  Groups held for smoothing are dropped: they
        belong to the timeline left behind.
        """
        self._reset_solver()
        self._smoother.clear()

    def _reset_solver(self):
        if self._solver is not None:
            self._solver.reset()

    def smooth(self, stamp_ns: Optional[int], estimate) -> List[Tuple[Optional[int], object]]:
        """Hand the newest group's estimate to the smoother; return ``[(stamp_ns, estimate)]``.

        The groups released: none while the first ``smoothing_lag`` groups are held, then one
        per group, each smoothed with the groups after it (``smoothing_lag`` 0: this one).
        A multi-person engine's estimates are ``{track_id: estimate}``.
        """
        return self._smoother.push(stamp_ns, estimate)

    def flush_smoothing(self) -> List[Tuple[Optional[int], Optional[PoseEstimate]]]:
        """Release every group held (the end of a recording), smoothed with those after it."""
        return self._smoother.flush()

    def close(self):
        """Release the detection threads and the detectors."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        for detector in self._detectors.values():
            close = getattr(detector, 'close', None)
            if close is not None:
                close()
        self._detectors.clear()

    def _solver_for(self, key, cameras, moved):
        if key == self._solver_key:
            if moved:
                self._solver.set_cameras([camera for _, camera in cameras])
            return self._solver
        config = dataclasses.replace(self._solver_config, device=self.device,
                                     objective=self.objective)
        cameras = [camera for _, camera in cameras]
        if self.multi_person:
            # A tracker over new cameras continues its predecessor's ids.
            first_id = 0 if self._solver is None else self._solver.next_id
            self._solver = MultiPersonTracker(cameras, config, self._tracker_config,
                                              first_id=first_id, skeleton=self.skeleton)
        else:
            self._solver = self._solver_factory(cameras, config)
        self._solver_key = key
        return self._solver


def _call(function, name, item):
    try:
        return function(name, item), None
    except Exception as error:  # noqa: B902 - converters and detectors may raise anything
        return None, error


def _divergence(estimate, workspace_radius_m):
    """Return why ``estimate`` is a diverged fit, or '' when it is sane.

    Sane: every joint the solver claims a view for is finite and within the solver's own
    ``workspace_radius_m`` of the origin.  Unsupported joints may be NaN (the solver's
    "unknown"); a non-finite covariance is replaced later (:func:`person_from_estimate`).
    """
    positions = np.asarray(estimate.positions, dtype=float)
    supported = np.asarray(estimate.num_views) > 0
    finite = np.isfinite(positions).all(axis=1)
    if (supported & ~finite).any():
        return f'{int((supported & ~finite).sum())} supported joints are not finite'
    far = np.linalg.norm(positions[supported & finite], axis=1).max(initial=0.0)
    if far > workspace_radius_m:
        return f'a joint lies {far:.3g} m from the origin (workspace: {workspace_radius_m:g} m)'
    return ''


def _is_cuda_failure(error):
    """Whether an error comes from CUDA: out of memory, no driver or device, launch failure.

    A torch built without CUDA raises ``AssertionError('Torch not compiled with CUDA
    enabled')``; the others are ``RuntimeError`` subclasses that name CUDA.
    """
    import torch
    if isinstance(error, getattr(torch.cuda, 'OutOfMemoryError', ())):
        return True
    return isinstance(error, (RuntimeError, AssertionError)) and 'cuda' in str(error).lower()


# A colour per person id (Okabe-Ito, told apart by colour-blind eyes): markers and pictures.
_ID_COLOURS = ((0.90, 0.62, 0.0), (0.34, 0.71, 0.91), (0.0, 0.62, 0.45), (0.94, 0.89, 0.26),
               (0.0, 0.45, 0.70), (0.84, 0.37, 0.0), (0.80, 0.47, 0.65))


def id_rgb(person_id: int) -> Tuple[float, float, float]:
    """Return the colour (r, g, b in [0, 1]) of person ``person_id``: seven, cycled by id."""
    return _ID_COLOURS[int(person_id) % len(_ID_COLOURS)]


@dataclasses.dataclass
class PersonPose:
    """One person ready to publish: every value finite (the no-NaN guarantee of the output).

    Attributes:
        person_id: tracking id (REP-155 ``body_<id>``).
        positions: (J, 3) metres; unknown joints hold the body centre.
        known: (J,) bool, which joints were located.
        confidence: (J,) in [0, 1], 0 where unknown.
        covariance: (J, 3, 3) m^2, symmetric.
        num_views: (J,) supporting views, 0 where unknown.
        mean_reprojection_error: pixels, 0 when nothing supports it.
        velocities: (J, 3) m/s from the motion filter, NaN for a joint no view supports this
            group (no claim); None without a motion filter (per-frame mode).
        velocity_covariance: (J, 3, 3) (m/s)^2, or None with ``velocities``.
        cameras: names of the cameras whose detection supported the person, in the order of
            the engine's cameras (one name: seen by that camera only); empty when unknown.
    """

    person_id: int
    positions: np.ndarray
    known: np.ndarray
    confidence: np.ndarray
    covariance: np.ndarray
    num_views: np.ndarray
    mean_reprojection_error: float
    velocities: Optional[np.ndarray] = None
    velocity_covariance: Optional[np.ndarray] = None
    cameras: Tuple[str, ...] = ()


def person_from_estimate(estimate: PoseEstimate, person_id: int,
                         unknown_variance: float = 1.0,
                         camera_names: Sequence[str] = ()) -> Optional[PersonPose]:
    """Turn a solver estimate into a :class:`PersonPose`, or None when no joint is located.

    A joint counts as located only when it is finite *and* at least one view supports it in
    this group: the solver's motion prediction for a joint nobody sees (or for a person who
    left) is not published as a pose.

    Args:
        estimate: the solver's output (positions NaN where unknown).
        person_id: the id to give the person.
        unknown_variance: variance in m^2 put on the diagonal of a joint's covariance when
            the solver's is not finite, or the joint is not located.
        camera_names: the solver's cameras, in the order of the estimate's per-view arrays;
            the supporting ones become :attr:`PersonPose.cameras`.
    """
    positions = np.asarray(estimate.positions, dtype=float)
    num_joints = positions.shape[0]
    covariance = np.asarray(estimate.covariance, dtype=float).reshape(num_joints, 3, 3)
    known = np.isfinite(positions).all(axis=1) & (np.asarray(estimate.num_views) > 0)
    if not known.any():
        return None
    centre = positions[known].mean(axis=0)
    positions = np.where(known[:, None], positions, centre)
    confidence = np.clip(np.nan_to_num(np.asarray(estimate.confidence, dtype=float)), 0.0, 1.0)
    confidence = np.where(known, confidence, 0.0)
    num_views = np.where(known, np.asarray(estimate.num_views), 0).astype(np.uint8)
    bad = ~np.isfinite(covariance).all(axis=(1, 2)) | ~known
    covariance = np.where(bad[:, None, None], np.eye(3) * unknown_variance, covariance)
    covariance = 0.5 * (covariance + covariance.transpose(0, 2, 1))
    error = float(estimate.mean_reprojection_error)
    velocities = velocity_covariance = None
    if estimate.velocities is not None:
        velocity_covariance = np.asarray(estimate.velocity_covariance, dtype=float)
        velocities = np.asarray(estimate.velocities, dtype=float).copy()
        claimed = known & np.isfinite(velocities).all(axis=1) & np.isfinite(
            velocity_covariance).all(axis=(1, 2))
        velocities[~claimed] = np.nan
        velocity_covariance = np.where(claimed[:, None, None], velocity_covariance,
                                       np.eye(3) * unknown_variance)
    support = np.asarray(estimate.inliers, dtype=bool).reshape(len(camera_names), -1) \
        if len(camera_names) else np.zeros((0, num_joints), dtype=bool)
    cameras = tuple(name for name, seen in zip(camera_names, support) if seen.any())
    return PersonPose(person_id=int(person_id), positions=positions, known=known,
                      confidence=confidence, covariance=covariance, num_views=num_views,
                      mean_reprojection_error=error if np.isfinite(error) else 0.0,
                      velocities=velocities, velocity_covariance=velocity_covariance,
                      cameras=cameras)


@dataclasses.dataclass
class GroupResult:
    """What fusing one frame group gave (see :func:`fuse_group`).

    Attributes:
        people: the people to publish, every value finite (empty: nobody located).
        estimate: the solver's estimate, or None (nobody seen by two views, fewer than two
            calibrated cameras, a diverged fit, or a multi-person engine).
        keypoints: camera name -> (P, J, 3) for the views that converted.
        faults: camera name -> why its frame was dropped (conversion or detector error).
        crowded: camera name -> number of people, for views with more than one person (only
            single-person engines fill it: for them several people in view is worth a note).
        diverged: why the fit was rejected, '' when it was not.
        outvoted: cameras whose detected person the other views contradict: with
            ``detector_num_poses: 1``, a camera that sees several people may have picked
            another person than the rest (single-person engines only).
        merged: camera name -> detections left out as lying over two tracked people
            (multi-person engines only; :class:`skelsplat_ros.tracking.FrameNotes`).
        lone: camera name -> detections that no other camera confirms and no tracked
            person explains (multi-person engines only).
        stamp_ns: the stamp ``people`` and ``estimate`` are of: the group's own, or with a
            smoothing lag the group's that lag behind; None while the first groups are held
            (nothing to publish yet).
    """

    people: List[PersonPose]
    estimate: Optional[PoseEstimate]
    keypoints: Dict[str, np.ndarray]
    faults: Dict[str, str]
    crowded: Dict[str, int]
    diverged: str = ''
    outvoted: Tuple[str, ...] = ()
    merged: Dict[str, int] = dataclasses.field(default_factory=dict)
    lone: Dict[str, int] = dataclasses.field(default_factory=dict)
    stamp_ns: Optional[int] = None


def nobody_message(result: GroupResult, multi_person: bool, birth_frames: int) -> str:
    """Say why a group that gave nobody to publish gave nobody (the log and /diagnostics).

    Fewer than two cameras seeing anyone is one cause; with two or more, the views did not
    agree on a person, or (several people) the people's tracks are not confirmed yet.
    """
    seeing = sum(1 for views in result.keypoints.values() if len(views))
    if seeing < 2:
        return (f'nobody located: {"no camera sees" if not seeing else "only one camera sees"} '
                'a person')
    if multi_person:
        return (f'nobody published yet: {seeing} cameras see people, whose tracks are not '
                'confirmed (a person whose association is ambiguous gets an id after '
                f'{birth_frames} consecutive fused groups) or whose views do not agree')
    return (f'nobody located: {seeing} cameras see a person, but their views do not agree on '
            'one (calibration, or different people?)')


def fuse_group(engine: FusionEngine, frames: Mapping[str, object],
               to_keypoints: Callable[[str, object], np.ndarray],
               person_id: int = PERSON_ID, stamp: Optional[float] = None,
               stamp_ns: Optional[int] = None) -> GroupResult:
    """Turn one group's frames into keypoints, fuse them, and make the output safe.

    The views are converted and detected concurrently (:meth:`FusionEngine.map_views`).  A
    frame whose conversion or detection raises costs only that view (it is reported in
    ``faults``); a diverged fit (:class:`SolverDiverged`) gives no people and resets the
    solver.  Other solver errors propagate: the caller resets and reports them.  A
    multi-person engine gives every tracked person under their track id.

    Args:
        engine: the fusion engine.
        frames: camera name -> the camera's item in the group (a message, an image...).
        to_keypoints: ``(name, item) -> (P, J, 3)`` keypoints of the engine's skeleton in raw
            pixels and confidence;
            typically conversion then ``engine.detect``.
        person_id: the id of the fused person (single-person engines).
        stamp: the group's capture time in seconds, for the motion model.
        stamp_ns: the group's stamp, returned in ``GroupResult.stamp_ns`` with the people
            it is of (with a smoothing lag, those of a group before).
    """
    def keypoints_of(name, item):
        return np.asarray(to_keypoints(name, item), dtype=float).reshape(
            -1, engine.skeleton.num_joints, 3)

    for name in frames:     # what a detector says of this group only
        engine.last_detections.pop(name, None)
    keypoints, faults = {}, {}
    for name, (value, error) in engine.map_views(keypoints_of, frames).items():
        if error is None:
            keypoints[name] = value
        else:
            faults[name] = str(error) if isinstance(error, ValueError) and str(error) \
                else f'{error.__class__.__name__}: {error}'
    crowded = {} if engine.multi_person else \
        {name: len(views) for name, views in keypoints.items() if len(views) > 1}
    try:
        if engine.multi_person:
            # What the detector said of this group's people (merged ones are doubtful).
            doubtful = {name: detections.doubtful for name, detections in
                        engine.last_detections.items() if name in keypoints}
            tracked, names = engine.track(keypoints, stamp, doubtful)
            estimate = None
        else:
            estimate, names = engine.solve(keypoints, stamp)
    except SolverDiverged as error:
        # A group held before it is still released; the diverged one has no pose.
        released = engine.smooth(stamp_ns, {} if engine.multi_person else None)
        stamp_ns, estimate = released[0] if released else (None, None)
        if engine.multi_person:
            return GroupResult(tracked_people(estimate or {}), None, keypoints, faults,
                               crowded, diverged=str(error), stamp_ns=stamp_ns)
        return GroupResult(people_of(estimate, person_id), estimate, keypoints, faults,
                           crowded, diverged=str(error), stamp_ns=stamp_ns)
    if engine.multi_person:
        released = engine.smooth(stamp_ns, dict(tracked))
        stamp_ns, tracked = released[0] if released else (None, {})
        people = tracked_people(tracked, names)
        notes = engine.notes
        merged = {name: n for name, n in zip(names, notes.merged) if n} if notes else {}
        lone = {name: n for name, n in zip(names, notes.lone) if n} if notes else {}
        return GroupResult(people, None, keypoints, faults, crowded, merged=merged, lone=lone,
                           stamp_ns=stamp_ns)
    outvoted = () if estimate is None or estimate.outvoted is None else \
        tuple(name for name, out in zip(names, estimate.outvoted) if out)
    released = engine.smooth(stamp_ns, estimate)
    stamp_ns, estimate = released[0] if released else (None, None)
    return GroupResult(people_of(estimate, person_id, names), estimate, keypoints, faults,
                       crowded, outvoted=outvoted, stamp_ns=stamp_ns)


def tracked_people(tracked: Mapping[int, PoseEstimate], camera_names: Sequence[str] = ()
                   ) -> List[PersonPose]:
    """Return the people of ``{track_id: estimate}`` located, ready to publish, by id."""
    people = [person_from_estimate(estimate, track_id, camera_names=camera_names)
              for track_id, estimate in sorted(tracked.items(), key=lambda item: item[0])]
    return [person for person in people if person is not None]


def people_of(estimate: Optional[PoseEstimate], person_id: int = PERSON_ID,
              camera_names: Sequence[str] = ()) -> List[PersonPose]:
    """Return the person of a single-person estimate, ready to publish (none: not located).

    ``camera_names`` are the solver's cameras (see :func:`person_from_estimate`).
    """
    person = None if estimate is None else person_from_estimate(estimate, person_id,
                                                                camera_names=camera_names)
    return [] if person is None else [person]


@dataclasses.dataclass
class CameraHealth:
    """One camera's state over a diagnostics window, for :func:`diagnose_camera`.

    Attributes:
        ready: whether the camera is calibrated and used by the solver.
        not_ready: why not, when not ready.
        seconds_since_frame: since its last frame arrived; None when none ever did.
        frames: frames received in the window.
        grouped: of those, frames that joined an emitted group.
        faults: faults counted in the window (bad frames, dropped stamps...).
        last_fault: the newest fault's message.
        stamp_offset_s: its newest stamp minus the median newest stamp of the other cameras,
            seconds; None when unknown.
    """

    ready: bool
    not_ready: str = ''
    seconds_since_frame: Optional[float] = None
    frames: int = 0
    grouped: int = 0
    faults: int = 0
    last_fault: str = ''
    stamp_offset_s: Optional[float] = None


def diagnose_camera(health: CameraHealth, input_timeout: float, slop: float,
                    others_grouped: bool) -> Tuple[str, str]:
    """Return ``(level, message)`` of one camera's diagnostics, level 'OK', 'WARN' or 'ERROR'.

    Args:
        health: the camera's state.
        input_timeout: seconds without frames after which a camera is stalled.
        slop: the synchroniser's stamp tolerance, seconds.
        others_grouped: whether other cameras' frames formed groups in the window (so that a
            camera whose frames never join one is out of step, not alone).
    """
    if not health.ready:
        return 'ERROR', f'not used: {health.not_ready}'
    if health.seconds_since_frame is None:
        return 'WARN', 'no frames received yet'
    if health.seconds_since_frame > input_timeout:
        return 'WARN', f'stalled: no frames for {health.seconds_since_frame:.1f} s'
    if health.faults:
        return 'WARN', f'{health.faults} faults: {health.last_fault}'
    if health.frames and not health.grouped and others_grouped:
        offset = health.stamp_offset_s
        if offset is not None and abs(offset) > slop:
            why = f'its stamps are {offset:+.3f} s off those of the other cameras (slop {slop} s)'
        else:
            why = 'its frames arrive too late or out of step (check its clock and max_wait)'
        return 'WARN', f'none of its {health.frames} frames joined a group: {why}'
    return 'OK', 'ok'


def stamp_offsets(newest_stamps_ns: Mapping[str, int]) -> Dict[str, float]:
    """Each camera's newest stamp minus the median of the others' newest stamps, seconds."""
    offsets = {}
    for name, stamp in newest_stamps_ns.items():
        others = [s for other, s in newest_stamps_ns.items() if other != name]
        if others:
            offsets[name] = (stamp - float(np.median(others))) * 1e-9
    return offsets
