# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Named 3D pose estimators behind one signature, for the CLI, the node and the benchmarks.

An estimator is built for a camera set and then called once per frame group, in order:
``estimate(keypoints) -> (positions (J, 3), confidence (J,))`` where ``keypoints`` is, per
view, an array (P_v, J, 3) of raw pixels and confidence.  Positions are NaN where unknown.
The baselines take the most confident person of each view.
"""

import numpy as np

from skelsplat_ros.solver import SkelSplatSolver, SolverConfig
from skelsplat_ros.triangulation import triangulate_dlt, triangulate_ransac


class _Triangulator:
    """Per-frame DLT baselines: plain, confidence-weighted, or RANSAC over views."""

    def __init__(self, cameras, mode, threshold_px=20.0, min_confidence=0.1):
        self.cameras = list(cameras)
        self.mode = mode
        self.threshold_px = threshold_px
        self.min_confidence = min_confidence
        self._P = np.stack([cam.projection_matrix for cam in self.cameras])

    def __call__(self, keypoints):
        points, weights = _most_confident_people(self.cameras, keypoints, self.min_confidence)
        if self.mode == 'dlt':
            positions = triangulate_dlt(self._P, points, (weights > 0).astype(float))
        elif self.mode == 'weighted_dlt':
            positions = triangulate_dlt(self._P, points, weights)
        else:
            positions, _ = triangulate_ransac(self._P, points, weights, self.threshold_px)
        seen = (weights > 0).sum(axis=0)
        confidence = np.where(np.isfinite(positions).all(axis=1) & (seen >= 2),
                              weights.sum(axis=0) / np.maximum(seen, 1), 0.0)
        return positions, confidence


class _SkelSplat:
    def __init__(self, cameras, config):
        self.solver = SkelSplatSolver(cameras, config)

    def __call__(self, keypoints):
        estimate = self.solver.solve(keypoints)
        if estimate is None:
            num_joints = max(np.asarray(k).shape[-2] for k in keypoints if np.asarray(k).size)
            return np.full((num_joints, 3), np.nan), np.zeros(num_joints)
        return estimate.positions, estimate.confidence


def _most_confident_people(cameras, keypoints, min_confidence):
    """Undistorted points (V, J, 2) and weights (V, J) of each view's most confident person."""
    num_joints = max(np.asarray(k).shape[-2] for k in keypoints if np.asarray(k).size)
    points = np.zeros((len(cameras), num_joints, 2))
    weights = np.zeros((len(cameras), num_joints))
    for v, (cam, people) in enumerate(zip(cameras, keypoints)):
        people = np.asarray(people, dtype=float).reshape(-1, num_joints, 3)
        if not len(people):
            continue
        best = people[np.argmax(np.nan_to_num(people[..., 2]).sum(axis=1))]
        ok = np.isfinite(best).all(axis=1) & (best[:, 2] >= min_confidence)
        points[v] = cam.undistort_points(np.where(ok[:, None], best[:, :2], 0.0))
        weights[v] = np.where(ok, best[:, 2], 0.0)
    return points, weights


METHODS = ('skelsplat', 'dlt', 'weighted_dlt', 'ransac')


def make_estimator(method, cameras, config=None):
    """Build the estimator ``method`` (one of :data:`METHODS`) for ``cameras``."""
    if method == 'skelsplat':
        return _SkelSplat(cameras, config or SolverConfig())
    if method in ('dlt', 'weighted_dlt', 'ransac'):
        threshold = (config or SolverConfig()).ransac_threshold_px
        return _Triangulator(cameras, method, threshold_px=threshold)
    raise ValueError(f'unknown method {method!r}; choose one of {", ".join(METHODS)}')
