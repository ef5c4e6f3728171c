# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The methods the accuracy benchmark compares, behind one call: frames in, (F, J, 3) out.

Ours run through :func:`skelsplat_ros.estimators.make_estimator`, frame by frame and causally;
``skelsplat_smooth`` is the same causal pass, then the fixed-interval smoother over the whole
sequence (``skelsplat solve --smooth``), and ``skelsplat_lag6`` the live node's fixed-lag
smoother, each frame smoothed with the 6 frames after it (:data:`SMOOTHING_LAG`).
aniposelib's run offline on the whole sequence at once, as anipose runs them: every view's most
confident person (as our baselines pick it), detections under ``min_confidence`` set to NaN,
raw (distorted) pixels, which aniposelib undistorts itself.

- ``anipose_triangulate``: ``CameraGroup.triangulate``, an unweighted DLT of the views that see
  the joint.
- ``anipose_ransac``: ``CameraGroup.triangulate_ransac``, the subset of views (at least two)
  with the lowest mean reprojection error.
- ``anipose_optim``: ``CameraGroup.optim_points`` started from ``triangulate``, anipose's
  offline least squares with its default weights (soft-L1 reprojection at 15 px weighted by the
  scores, first-derivative smoothness, limb-length constraints): arm and leg bones strong,
  torso and face bones weak.

Pose2Sim (``pose2sim==0.10.49``, its own code in its own venv, :func:`run_pose2sim`): the
bench writes a project folder per input (the calibration, OpenPose JSON of the 2D in one of
Pose2Sim's own skeleton models: the controlled protocols' COCO-17 as ``COCO_17``, the real
row's OpenPose output as the ``BODY_25B`` its files hold, as Pose2Sim's pipeline reads them;
given COCO-17, which has no neck, its person association tracks the nose instead of the neck
and drops about two of the four views per frame) and runs
``personAssociation``, ``triangulation`` and ``filtering`` with the package's default
configuration (bench/pose2sim_driver.py), giving three columns: ``pose2sim_per_frame`` (no
interpolation, rejected points missing), ``pose2sim_interpolated`` (its defaults: gaps under 20
frames interpolated linearly, longer ones filled with the last value) and
``pose2sim_filtered`` (then its default filtering: Hampel outlier rejection and a zero-phase
4th-order 6 Hz Butterworth).  Its defaults ``handle_LR_swap`` and ``undistort_points`` are both
false.  Its .trc is Y-up: trc (X, Y, Z) = world (Y, Z, X).  Its filtering drops the last frame
(0.10.49), and its triangulation trims frames outside its longest well-triangulated sections:
those frames are missing in its columns.  On the real row its filtered column matches the
demo's .trc (Pose2Sim 0.4's own output) to 0.5 mm median, 2.2 mm mean; the mean is 0.10.49's
default Hampel outlier rejection, which 0.4 did not have (0.47 mm mean without it, with 0.4's
cubic interpolation of gaps under 10 frames).

Several people (the multi-person benchmark): :class:`GreedyMultiPerson`, a plain per-frame
baseline of greedy epipolar matching to a reference view, weighted DLT, and nearest-centre
linking of ids from frame to frame.
"""

import json
import os
import pathlib
import shutil
import subprocess
import time
import warnings

import cv2
import numpy as np
from skelsplat_ros.association import epipolar_costs, fundamental_matrix
from skelsplat_ros.cameras import CameraRig
from skelsplat_ros.estimators import make_estimator
from skelsplat_ros.fileio.openpose import list_openpose_files, read_openpose_json
from skelsplat_ros.skeletons import COCO17_BONES, trc_correspondence
from skelsplat_ros.solver import SkelSplatSolver, SolverConfig
from skelsplat_ros.solver.smoothing import FixedLagSmoother, smooth_estimates
from skelsplat_ros.triangulation import triangulate_dlt

CAUSAL_METHODS = ('skelsplat_per_frame', 'dlt', 'weighted_dlt', 'ransac_dlt')
# Ours with its smoothers, from one causal pass (run_skelsplat_smoothing).
SKELSPLAT_METHODS = ('skelsplat', 'skelsplat_smooth', 'skelsplat_lag6')
SMOOTHING_LAG = 6
MIN_CONFIDENCE = 0.1

POSE2SIM_COCO17 = 'COCO_17'
POSE2SIM_METHODS = ('pose2sim_per_frame', 'pose2sim_interpolated', 'pose2sim_filtered')
METHODS = ('skelsplat', 'skelsplat_smooth', 'skelsplat_lag6', 'skelsplat_per_frame', 'dlt',
           'weighted_dlt', 'ransac_dlt', 'anipose_triangulate', 'anipose_ransac',
           'anipose_optim') + POSE2SIM_METHODS
POSE2SIM_VENV = pathlib.Path(os.environ.get('SKELSPLAT_POSE2SIM_VENV', pathlib.Path.home() /
                                            '.cache' / 'skelsplat_ros' / 'venv-pose2sim'))
_DRIVER = pathlib.Path(__file__).with_name('pose2sim_driver.py')

_LIMBS = ((5, 7), (7, 9), (6, 8), (8, 10), (11, 13), (13, 15), (12, 14), (14, 16))
_WEAK_BONES = tuple(bone for bone in COCO17_BONES if bone not in _LIMBS)


def make_causal(method, cameras, rate_hz):
    """Return a per-frame estimator ``frame -> (positions (J, 3), confidence (J,))`` of ours.

    ``rate_hz`` is the frames' rate, the motion model's time step.
    """
    if method == 'skelsplat':
        return make_estimator('skelsplat', cameras,
                              SolverConfig(objective='rendered', frame_rate=rate_hz))
    if method == 'skelsplat_per_frame':
        return make_estimator('skelsplat', cameras,
                              SolverConfig(objective='rendered', temporal=False))
    if method == 'ransac_dlt':
        return make_estimator('ransac', cameras)
    return make_estimator(method, cameras)


def run_skelsplat_smoothing(cameras, frames, rate_hz):
    """``skelsplat``, and a causal pass for smoothing then its two smoothers; output and cost.

    The smoothers' pass is the causal solver with ``smoothing_accel_sigma`` (what
    ``skelsplat solve --smooth`` and the node with a ``smoothing_lag`` run).  Returns
    ``{method: (positions (F, J, 3), ms per frame, smoothing ms per frame)}`` for
    ``skelsplat``, ``skelsplat_smooth`` and ``skelsplat_lag6``: that pass's estimates are
    smoothed over the whole sequence, and pushed group by group through the live engine's
    fixed-lag smoother.
    A smoothed method's time is the causal pass's plus its own smoothing; the smoothing
    alone is ``smoothing_ms_per_frame`` (the fixed-lag one: per group pushed).
    """
    config = SolverConfig(objective='rendered', frame_rate=rate_hz)
    causal, solver = make_causal('skelsplat', cameras, rate_hz), SkelSplatSolver(
        cameras, config.for_smoothing())
    start = time.perf_counter()
    causal = [causal(frame)[0] for frame in frames]
    causal_ms = 1000.0 * (time.perf_counter() - start) / len(frames)
    # The smoothers' own causal pass, with the filter's smoothing_accel_sigma.
    start = time.perf_counter()
    estimates = [solver.solve(frame) for frame in frames]
    pass_ms = 1000.0 * (time.perf_counter() - start) / len(frames)
    start = time.perf_counter()
    smoothed = smooth_estimates(estimates)
    smooth_ms = 1000.0 * (time.perf_counter() - start) / len(frames)
    start = time.perf_counter()
    smoother, lagged = FixedLagSmoother(SMOOTHING_LAG), []
    for index, estimate in enumerate(estimates):
        lagged += smoother.push(index, estimate)
    lag_ms = 1000.0 * (time.perf_counter() - start) / len(frames)
    lagged += smoother.flush()
    num_joints = solver.skeleton.num_joints

    def positions(sequence):
        out = np.full((len(frames), num_joints, 3), np.nan)
        for index, estimate in enumerate(sequence):
            if estimate is not None:
                out[index] = estimate.positions
        return out

    return {'skelsplat': (np.stack(causal), causal_ms, 0.0),
            'skelsplat_smooth': (positions(smoothed), pass_ms + smooth_ms, smooth_ms),
            'skelsplat_lag6': (positions([e for _, e in lagged]), pass_ms + lag_ms, lag_ms)}


def pose2sim_available():
    """Whether the Pose2Sim venv is there (scripts/setup_pose2sim.sh creates it)."""
    return (POSE2SIM_VENV / 'bin' / 'python').is_file()


def read_openpose_frames(directories, num_frames=None):
    """Read OpenPose JSON directories (one per view) as their files hold them, for Pose2Sim.

    Returns F frames (the first ``num_frames``; None: all) of V arrays (P_v, K, 3) in the
    files' own keypoint layout.
    """
    per_view = [list_openpose_files(directory)[:num_frames] for directory in directories]
    return [[read_openpose_json(path) for path in paths] for paths in zip(*per_view)]


def write_pose2sim_project(project, calibration, frames, mode, pose_model=POSE2SIM_COCO17):
    """Write a Pose2Sim project folder: its calibration, OpenPose JSON per view and frame.

    ``frames`` are F frames of V arrays (P_v, K, 3) of raw pixels and confidence in the
    keypoint order of Pose2Sim's skeleton model ``pose_model`` (``COCO_17``: our COCO-17;
    ``BODY_25B``: OpenPose's; a missing joint is (0, 0, 0)); ``mode`` is ``per_frame`` or
    ``default`` (the driver's).
    """
    shutil.rmtree(project, ignore_errors=True)
    (project / 'calibration').mkdir(parents=True)
    shutil.copy(calibration, project / 'calibration' / 'Calib.toml')
    (project / 'mode').write_text(mode + '\n')
    (project / 'pose_model').write_text(pose_model + '\n')
    for v in range(len(frames[0])):
        folder = project / 'pose' / f'cam{v + 1}_json'
        folder.mkdir(parents=True)
        for f, views in enumerate(frames):
            people = [{'person_id': [-1],
                       'pose_keypoints_2d': np.nan_to_num(person).ravel().round(3).tolist()}
                      for person in np.asarray(views[v], dtype=float)]
            (folder / f'cam{v + 1}_{f:012d}_keypoints.json').write_text(
                json.dumps({'version': 1.3, 'people': people}))


def read_pose2sim_trc(path, num_frames, num_joints):
    """Positions (F, J, 3) in our Z-up world of a Pose2Sim .trc; NaN where it has nothing.

    Its rows are numbered by frame (it trims frames it could not triangulate); trc (X, Y, Z)
    is world (Y, Z, X).
    """
    lines = pathlib.Path(path).read_text().splitlines()
    names = [name for name in lines[3].split('\t')[2:] if name]
    table = np.genfromtxt(lines[5:], delimiter='\t', dtype=float)
    table = table.reshape(-1, table.shape[-1])
    marker_index, joint_index = trc_correspondence(names)
    markers = table[:, 2:2 + 3 * len(names)].reshape(len(table), len(names), 3)
    positions = np.full((num_frames, num_joints, 3), np.nan)
    rows = table[:, 0].astype(int)
    keep = (rows >= 0) & (rows < num_frames)
    world = markers[keep][:, marker_index][..., [2, 0, 1]]
    positions[rows[keep][:, None], joint_index[None]] = world
    return positions


def run_pose2sim(inputs, calibration, rate_hz, workdir, pose_model=POSE2SIM_COCO17):
    """Pose2Sim's three columns for each input, in one run of its venv's Python.

    Args:
        inputs: ``{key: frames}``, frames as :func:`write_pose2sim_project` takes them.
        calibration: the Pose2Sim calibration .toml of the frames' cameras.
        rate_hz: the frames' rate.
        workdir: a directory for the project folders (replaced).
        pose_model: Pose2Sim's skeleton model of the frames' keypoints.

    Returns:
        ``{key: {method: positions (F, 17, 3)}}`` for :data:`POSE2SIM_METHODS`.
    """
    workdir = pathlib.Path(workdir)
    projects = []
    for n, frames in enumerate(inputs.values()):
        for mode in ('per_frame', 'default'):
            projects.append(workdir / f'{n:03d}_{mode}')
            write_pose2sim_project(projects[-1], calibration, frames, mode, pose_model)
    subprocess.run([str(POSE2SIM_VENV / 'bin' / 'python'), str(_DRIVER), repr(float(rate_hz))]
                   + [str(p) for p in projects], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)
    results = {}
    for n, (key, frames) in enumerate(inputs.items()):
        num_frames = len(frames)

        def read(mode, filtered):
            files = [p for p in (workdir / f'{n:03d}_{mode}' / 'pose-3d').glob('*.trc')
                     if ('_filt_' in p.name) == filtered]
            if len(files) != 1:
                return np.full((num_frames, 17, 3), np.nan)
            return read_pose2sim_trc(files[0], num_frames, 17)

        results[key] = {'pose2sim_per_frame': read('per_frame', False),
                        'pose2sim_interpolated': read('default', False),
                        'pose2sim_filtered': read('default', True)}
    return results


def most_confident_people(frames, num_joints, min_confidence=MIN_CONFIDENCE):
    """Raw pixels (V, F, J, 2), NaN where unusable, and scores (V, F, J), 0 there.

    ``frames`` is a list of F frames of V arrays (P_v, J, 3); each view's person with the
    largest confidence sum is kept.
    """
    num_views = len(frames[0])
    points = np.full((num_views, len(frames), num_joints, 2), np.nan)
    scores = np.zeros((num_views, len(frames), num_joints))
    for f, views in enumerate(frames):
        for v, people in enumerate(views):
            people = np.asarray(people, dtype=float).reshape(-1, num_joints, 3)
            if not len(people):
                continue
            best = people[np.argmax(np.nan_to_num(people[..., 2]).sum(axis=1))]
            usable = np.isfinite(best).all(axis=1) & (best[:, 2] >= min_confidence)
            points[v, f, usable] = best[usable, :2]
            scores[v, f, usable] = best[usable, 2]
    return points, scores


def anipose_camera_group(cameras):
    """Build an ``aniposelib.cameras.CameraGroup`` from our plumb_bob or pinhole cameras."""
    from aniposelib.cameras import Camera, CameraGroup

    group = []
    for cam in cameras:
        if cam.distortion_model not in ('plumb_bob', 'rational_polynomial', 'none'):
            raise ValueError(f'{cam.name}: aniposelib has no {cam.distortion_model} model')
        rvec, _ = cv2.Rodrigues(np.asarray(cam.R, dtype=float))
        dist = np.asarray(cam.dist, dtype=float) if len(cam.dist) else np.zeros(5)
        group.append(Camera(matrix=np.asarray(cam.K, dtype=float), dist=dist,
                            rvec=rvec.ravel(), tvec=np.asarray(cam.t, dtype=float),
                            size=(cam.width, cam.height), name=cam.name))
    return CameraGroup(group)


def _fill_unseen_joints(p3ds):
    """Give joints never triangulated (all NaN over F) the body centre, so anipose can start."""
    filled = p3ds.copy()
    centre = np.nanmean(p3ds.reshape(-1, 3), axis=0)
    unseen = ~np.isfinite(p3ds).all(axis=2).any(axis=0)
    filled[:, unseen] = centre
    return filled


def run_anipose(method, group, frames, num_joints):
    """Positions (F, J, 3) of aniposelib method ``method`` over the whole sequence."""
    with warnings.catch_warnings():
        # numba's notes that aniposelib's cost function falls back to object mode.
        warnings.simplefilter('ignore')
        return _run_anipose(method, group, frames, num_joints)


def _run_anipose(method, group, frames, num_joints):
    points, scores = most_confident_people(frames, num_joints)
    num_views, num_frames = points.shape[:2]
    flat = points.reshape(num_views, -1, 2)
    if method == 'anipose_ransac':
        # aniposelib fails on a point that no view sees and "triangulates" one seen once;
        # like its triangulate, give those NaN.
        seen = np.isfinite(flat).all(axis=2).sum(axis=0) >= 2
        positions = np.full((flat.shape[1], 3), np.nan)
        if seen.any():
            positions[seen] = group.triangulate_ransac(flat[:, seen], min_cams=2)[0]
        return positions.reshape(num_frames, num_joints, 3)
    p3ds = group.triangulate(flat).reshape(num_frames, num_joints, 3)
    if method == 'anipose_triangulate':
        return p3ds
    if method == 'anipose_optim':
        if not np.isfinite(p3ds).any():
            return p3ds
        return group.optim_points(points, _fill_unseen_joints(p3ds), constraints=_LIMBS,
                                  constraints_weak=_WEAK_BONES, scores=scores)
    raise ValueError(f'unknown aniposelib method {method!r}')


class GreedyMultiPerson:
    """Several people per frame by greedy matching and DLT, ids by nearest-centre linking.

    Each frame: the view with the most people is the reference; every other view's people are
    matched to the reference people greedily, smallest mean symmetric epipolar distance first
    (over the joints confident in both, :func:`skelsplat_ros.association.epipolar_costs`), up
    to ``association_px``.  Each reference person matched in at least one other view is
    triangulated by a confidence-weighted DLT.  A person takes the id of the nearest body
    centre of the previous frame within ``gate_m`` (greedily, nearest pair first), else a new
    id.  No memory beyond one frame, no temporal filtering.
    """

    def __init__(self, cameras, association_px=40.0, gate_m=0.5,
                 min_confidence=MIN_CONFIDENCE):
        self.rig = CameraRig(cameras)
        self.association_px = association_px
        self.gate_m = gate_m
        self.min_confidence = min_confidence
        P = self.rig.projections
        self._F = {(a, b): fundamental_matrix(P[a], P[b])
                   for a in range(len(P)) for b in range(len(P)) if a != b}
        self._previous = []                   # (track id, centre (3,)) of the last frame
        self._next_id = 0

    def update(self, views):
        """Fuse one frame group: V arrays (P_v, J, 3); returns [(id, positions (J, 3))]."""
        detections = self.rig.observe_people(views, self.min_confidence)
        counts = [len(conf) for _, conf in detections]
        reference = int(np.argmax(counts))
        if not counts[reference]:
            self._previous = []
            return []
        points_ref, conf_ref = detections[reference]
        num_joints = conf_ref.shape[1]
        points = np.zeros((counts[reference], len(views), num_joints, 2))
        weights = np.zeros((counts[reference], len(views), num_joints))
        points[:, reference], weights[:, reference] = points_ref, conf_ref
        for v, (pts, conf) in enumerate(detections):
            if v == reference or not len(conf):
                continue
            cost = epipolar_costs(self._F[(reference, v)], points_ref, conf_ref, pts, conf)
            for r, c in _greedy_pairs(cost, self.association_px):
                points[r, v], weights[r, v] = pts[c], conf[c]
        people = [triangulate_dlt(self.rig.projections, points[r], weights[r])
                  for r in range(counts[reference]) if (weights[r].sum(axis=1) > 0).sum() >= 2]
        people = [p for p in people if np.isfinite(p).all(axis=1).any()]
        return self._link(people)

    def _link(self, people):
        centres = np.array([np.nanmean(p, axis=0) for p in people]).reshape(-1, 3)
        previous = np.array([c for _, c in self._previous]).reshape(-1, 3)
        distance = np.linalg.norm(centres[:, None] - previous[None], axis=-1)
        ids = [-1] * len(people)
        for r, c in _greedy_pairs(distance, self.gate_m):
            ids[r] = self._previous[c][0]
        for n in range(len(people)):
            if ids[n] < 0:
                ids[n], self._next_id = self._next_id, self._next_id + 1
        self._previous = list(zip(ids, centres))
        return sorted(zip(ids, people), key=lambda item: item[0])


def _greedy_pairs(cost, gate):
    """(row, column) pairs of ``cost`` taken smallest first, each row and column once."""
    pairs, rows, cols = [], set(), set()
    order = np.argsort(cost, axis=None)
    for r, c in zip(*np.unravel_index(order, cost.shape)):
        if not cost[r, c] < gate:
            break
        if r not in rows and c not in cols:
            pairs.append((int(r), int(c)))
            rows.add(r)
            cols.add(c)
    return pairs
