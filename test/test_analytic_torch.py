# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Each batched torch twin computes what its numpy reference computes, entry by entry.

Random but seeded geometry: a ring of V cameras around skeletons of J random joints, 3 px of
noise, confidently wrong detections, and views that miss joints (weight 0), for several
(B, V, J).  The twins run in float64; tolerances: 1e-9 m on positions, 1e-9 px on pixels,
exact equality on inlier sets and step counts.
"""

import numpy as np
import pytest
from skelsplat_ros import triangulation
from skelsplat_ros.cameras import CameraRig, make_camera
from skelsplat_ros.skeletons import COCO17
from skelsplat_ros.solver import geometry, observations
from skelsplat_ros.solver.objectives import analytic, analytic_torch
import torch

SHAPES = [(1, 2, 1), (5, 3, 4), (4, 4, COCO17.num_joints), (2, 6, COCO17.num_joints)]
ATOL_M, ATOL_PX = 1e-9, 1e-9


def _rig(num_views, radius=4.0):
    K = np.array([[1000.0, 0.0, 640.0], [0.0, 1000.0, 360.0], [0.0, 0.0, 1.0]])
    cameras = []
    for angle in np.linspace(0, 2 * np.pi, num_views, endpoint=False) + 0.3:
        centre = np.array([radius * np.cos(angle), radius * np.sin(angle), 1.5])
        forward = np.array([0.0, 0.0, 1.0]) - centre
        forward /= np.linalg.norm(forward)
        right = np.cross(forward, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        R = np.stack([right, np.cross(forward, right), forward])
        cameras.append(make_camera(f'c{angle:.2f}', K, [], 'none', 1280, 720, R=R,
                                   t=-R @ centre))
    return CameraRig(cameras)


def _scene(shape, seed):
    """Rig, true joints (B, J, 3), detections (B, V, J, 2) and weights (B, V, J)."""
    num_people, num_views, num_joints = shape
    rng = np.random.default_rng(seed)
    rig = _rig(num_views)
    truth = rng.uniform([-0.4, -0.4, 0.1], [0.4, 0.4, 1.8], (num_people, num_joints, 3))
    h = np.einsum('vab,pjb->pvja', rig.projections[:, :, :3], truth) \
        + rig.projections[None, :, None, :, 3]
    noise = rng.normal(0.0, 3.0, (num_people, num_views, num_joints, 2))
    points = h[..., :2] / h[..., 2:] + noise
    wrong = rng.random(points.shape[:3]) < 0.15
    points[wrong] += rng.uniform(60.0, 200.0, (wrong.sum(), 2)) * rng.choice([-1, 1], (
        wrong.sum(), 2))
    weights = rng.uniform(0.3, 1.0, points.shape[:3])
    weights[wrong] = 0.95
    weights[rng.random(weights.shape) < 0.2] = 0.0                 # missed detections
    return rig, truth, points, weights


def _tensor(array):
    return torch.as_tensor(np.asarray(array), dtype=torch.float64)


def _numpy(tensor):
    return tensor.detach().cpu().numpy()


@pytest.mark.parametrize('shape', SHAPES)
def test_dlt(shape):
    rig, _, points, weights = _scene(shape, 1)
    expected = triangulation.dlt(rig.projections, points, weights)
    got = analytic_torch.dlt(_tensor(rig.projections), _tensor(points), _tensor(weights))
    np.testing.assert_allclose(_numpy(got), expected, rtol=0, atol=ATOL_M, equal_nan=True)


@pytest.mark.parametrize('shape', SHAPES)
def test_project_and_truncated_cost(shape):
    rig, truth, points, _ = _scene(shape, 2)
    pixels, depth = triangulation.project(rig.projections, truth)
    got_pixels, got_depth = analytic_torch.project(_tensor(rig.projections), _tensor(truth))
    np.testing.assert_allclose(_numpy(got_pixels), pixels, rtol=0, atol=ATOL_PX)
    np.testing.assert_allclose(_numpy(got_depth), depth, rtol=0, atol=ATOL_M)
    behind = truth.copy()
    behind[:, ::2] = 2 * rig.centres[0] - behind[:, ::2]        # some joints behind camera 0
    cost = triangulation.truncated_cost(rig.projections, behind, points, 40.0)
    got = analytic_torch.truncated_cost(_tensor(rig.projections), _tensor(behind),
                                        _tensor(points), 40.0)
    assert (cost == 1.0).any() and (cost < 1.0).any()
    np.testing.assert_allclose(_numpy(got), cost, rtol=0, atol=1e-12)


@pytest.mark.parametrize('shape', SHAPES)
def test_reprojection_residuals(shape):
    rig, truth, points, _ = _scene(shape, 3)
    got_residual, got_jac = analytic_torch.reprojection_residuals(
        _tensor(rig.projections), _tensor(truth), _tensor(points))
    for b in range(shape[0]):
        residual, jac = geometry.reprojection_residuals(rig.projections, truth[b], points[b])
        np.testing.assert_allclose(_numpy(got_residual[b]), residual, rtol=0, atol=ATOL_PX)
        np.testing.assert_allclose(_numpy(got_jac[b]), jac, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize('shape', SHAPES)
def test_triangulate_ransac(shape):
    rig, _, points, weights = _scene(shape, 4)
    got, got_inliers = analytic_torch.triangulate_ransac(
        _tensor(rig.projections), _tensor(points), _tensor(weights), 40.0)
    for b in range(shape[0]):
        positions, inliers = triangulation.triangulate_ransac(rig.projections, points[b],
                                                              weights[b], threshold_px=40.0)
        np.testing.assert_allclose(_numpy(got[b]), positions, rtol=0, atol=ATOL_M,
                                   equal_nan=True)
        np.testing.assert_array_equal(_numpy(got_inliers[b]), inliers)


@pytest.mark.parametrize('shape,max_views', [((3, 12, COCO17.num_joints), 5),
                                             ((2, 16, COCO17.num_joints), 8)])
def test_triangulate_ransac_from_the_most_confident_views(shape, max_views):
    # More views than hypothesis views: each joint's pairs come from its own views.
    rig, _, points, weights = _scene(shape, 7)
    got, got_inliers = analytic_torch.triangulate_ransac(
        _tensor(rig.projections), _tensor(points), _tensor(weights), 40.0,
        max_views=max_views)
    for b in range(shape[0]):
        positions, inliers = triangulation.triangulate_ransac(
            rig.projections, points[b], weights[b], threshold_px=40.0, max_views=max_views)
        np.testing.assert_allclose(_numpy(got[b]), positions, rtol=0, atol=ATOL_M,
                                   equal_nan=True)
        np.testing.assert_array_equal(_numpy(got_inliers[b]), inliers)


@pytest.mark.parametrize('num_people', [1, 3])
def test_break_ties_by_skeleton(num_people):
    # Four views; on a few joints two views agree on a confidently wrong place (a 2-2 tie that
    # the wrong pair wins in RANSAC), which the skeleton settles.
    rig, truth, points, weights = _scene((num_people, 4, COCO17.num_joints), 5)
    points = points.copy()
    weights = np.where(weights > 0, 0.8, 0.0)
    weights[:, :, [7, 13]] = 0.8                                 # elbows and knees all seen
    for joint in (7, 13):
        wrong = truth[:, joint] + (0.25, 0.25, 0.25)
        for v in (1, 2):
            h = rig.projections[v, :, :3] @ wrong.T + rig.projections[v, :, 3:]
            points[:, v, joint] = (h[:2] / h[2:]).T
            weights[:, v, joint] = 0.95
    bones = COCO17.bones
    P = _tensor(rig.projections)
    start, start_inliers = analytic_torch.triangulate_ransac(P, _tensor(points),
                                                             _tensor(weights), 40.0)
    got = analytic_torch.break_ties_by_skeleton(P, start, start_inliers, _tensor(points),
                                                _tensor(weights), torch.tensor(bones), 40.0)
    switched = 0
    for b in range(num_people):
        positions, inliers, settled = observations.break_ties_by_skeleton(
            rig.projections, _numpy(start[b]), _numpy(start_inliers[b]), points[b],
            weights[b], bones, 40.0)
        switched += int((_numpy(start_inliers[b]) != inliers).any())
        np.testing.assert_allclose(_numpy(got[0][b]), positions, rtol=0, atol=ATOL_M,
                                   equal_nan=True)
        np.testing.assert_array_equal(_numpy(got[1][b]), inliers)
        np.testing.assert_array_equal(_numpy(got[2][b]), settled)
    assert switched                                             # the rule did fire


@pytest.mark.parametrize('shape', SHAPES)
def test_fit_analytic(shape):
    # From the RANSAC start and inliers, as the fit runs.
    rig, _, points, weights = _scene(shape, 6)
    start, inliers = zip(*(triangulation.triangulate_ransac(rig.projections, p, w)
                           for p, w in zip(points, weights)))
    start, inliers = np.stack(start), np.stack(inliers)
    sigma_px = np.random.default_rng(6).uniform(2.0, 6.0, shape[:2])
    got, got_steps = analytic_torch.fit_analytic(
        _tensor(rig.projections), _tensor(start), _tensor(points), _tensor(weights * inliers),
        _tensor(sigma_px), iterations=10)
    for b in range(shape[0]):
        # The batch stops when its last entry does: the reference takes as many steps.
        positions, steps = analytic.fit_analytic(rig.projections, start[b], points[b],
                                                 weights[b] * inliers[b], sigma_px[b],
                                                 iterations=got_steps, tolerance=0.0)
        assert steps == got_steps
        np.testing.assert_allclose(_numpy(got[b]), positions, rtol=0, atol=ATOL_M,
                                   equal_nan=True)
    if shape[0] == 1:
        _, steps = analytic.fit_analytic(rig.projections, start[0], points[0],
                                         weights[0] * inliers[0], sigma_px[0], 10)
        assert steps == got_steps
