# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Named 3D pose estimators behind one signature, for the CLI, the node and the benchmarks.

An estimator is built for a camera set and then called once per frame group, in order:
``estimate(keypoints) -> (positions (J, 3), confidence (J,))`` where ``keypoints`` is, per
view, an array (P_v, J, 3) of raw pixels and confidence.  Positions are NaN where unknown.
The baselines take the most confident person of each view.
"""

import numpy as np
from skelsplat_ros.cameras import CameraRig
from skelsplat_ros.skeletons import COCO17
from skelsplat_ros.solver import SkelSplatSolver, SolverConfig
from skelsplat_ros.solver.smoothing import smooth_estimates
from skelsplat_ros.triangulation import triangulate_dlt, triangulate_ransac


class _Triangulator:
    """Per-frame DLT baselines: plain, confidence-weighted, or RANSAC over views."""

    def __init__(self, cameras, mode, skeleton, threshold_px=20.0, min_confidence=0.1):
        self.rig = CameraRig(cameras)
        self.mode = mode
        self.skeleton = skeleton
        self.threshold_px = threshold_px
        self.min_confidence = min_confidence

    def __call__(self, keypoints):
        points, weights = _most_confident_people(self.rig, keypoints, self.skeleton.num_joints,
                                                 self.min_confidence)
        P = self.rig.projections
        if self.mode == 'dlt':
            positions = triangulate_dlt(P, points, (weights > 0).astype(float))
        elif self.mode == 'weighted_dlt':
            positions = triangulate_dlt(P, points, weights)
        else:
            positions, _ = triangulate_ransac(P, points, weights, self.threshold_px)
        seen = (weights > 0).sum(axis=0)
        confidence = np.where(np.isfinite(positions).all(axis=1) & (seen >= 2),
                              weights.sum(axis=0) / np.maximum(seen, 1), 0.0)
        return positions, confidence


class _SkelSplat:
    def __init__(self, cameras, config, skeleton, smooth=False):
        self.solver = SkelSplatSolver(cameras, config, skeleton)
        # Every frame's estimate, for smoothing at the end (None: not kept).
        self.estimates = [] if smooth else None

    def __call__(self, keypoints):
        estimate = self.solver.solve(keypoints)
        if self.estimates is not None:
            self.estimates.append(estimate)
        return self._arrays(estimate)

    def _arrays(self, estimate):
        if estimate is None:
            num_joints = self.solver.skeleton.num_joints
            return np.full((num_joints, 3), np.nan), np.zeros(num_joints)
        return estimate.positions, estimate.confidence

    def smoothed(self):
        """Positions (F, J, 3) and confidence (F, J) of the frames so far, smoothed.

        The fixed-interval smoother over every frame (:func:`smooth_estimates`); the causal
        outputs the calls returned are revised with the frames that came after them.
        """
        arrays = [self._arrays(e) for e in smooth_estimates(self.estimates)]
        num_joints = self.solver.skeleton.num_joints
        if not arrays:
            return np.zeros((0, num_joints, 3)), np.zeros((0, num_joints))
        return (np.stack([positions for positions, _ in arrays]),
                np.stack([confidence for _, confidence in arrays]))


def _most_confident_people(rig, keypoints, num_joints, min_confidence):
    """Undistorted points (V, J, 2) and weights (V, J) of each view's most confident person.

    The person is chosen by its raw confidences, then gated (:meth:`CameraRig.observe`).
    """
    points = np.zeros((rig.num_views, num_joints, 2))
    weights = np.zeros((rig.num_views, num_joints))
    for v, people in enumerate(keypoints):
        people = np.asarray(people, dtype=float).reshape(-1, num_joints, 3)
        if not len(people):
            continue
        best = people[np.argmax(np.nan_to_num(people[..., 2]).sum(axis=1))]
        points[v], weights[v] = rig.observe(v, best, min_confidence)
    return points, weights


METHODS = ('skelsplat', 'dlt', 'weighted_dlt', 'ransac')


def make_estimator(method, cameras, config=None, skeleton=COCO17, smooth=False):
    """Build the estimator ``method`` (one of :data:`METHODS`) for ``cameras``.

    ``config`` is a :class:`SolverConfig` (the baselines take its RANSAC threshold) and
    ``skeleton`` the joint set of the keypoints.  With ``smooth`` (skelsplat in temporal
    mode only) the estimator keeps its estimates, and its ``smoothed()`` gives them revised
    by the fixed-interval smoother once every frame went through (its motion filter then
    runs with ``smoothing_accel_sigma``).
    """
    if smooth and (method != 'skelsplat' or not (config or SolverConfig()).temporal):
        raise ValueError('smoothing needs the skelsplat method with its motion filter '
                         '(not per-frame)')
    if method == 'skelsplat':
        config = config or SolverConfig()
        return _SkelSplat(cameras, config.for_smoothing() if smooth else config, skeleton,
                          smooth=smooth)
    if method in ('dlt', 'weighted_dlt', 'ransac'):
        threshold = (config or SolverConfig()).ransac_threshold_px
        return _Triangulator(cameras, method, skeleton, threshold_px=threshold)
    raise ValueError(f'unknown method {method!r}; choose one of {", ".join(METHODS)}')
