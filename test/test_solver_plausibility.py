# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Issue #20, class 4: a consistent fit of a person no camera could have seen is not a person.

A view supports a joint only when the joint lies in front of it, projects into its image and
lies within the workspace (``SolverConfig.workspace_radius_m``).  Known geometry: one camera
with chosen points, then the pose2sim rig with its motion-capture skeleton moved 300 m away,
where its exact projections still agree with one another.
"""

import copy

import numpy as np
import pytest
from skelsplat_ros.cameras import CameraRig, make_camera
from skelsplat_ros.live import fuse_group, FusionEngine
from skelsplat_ros.solver import SkelSplatSolver, solve_people, SolverConfig
from skelsplat_ros.solver.geometry import IMAGE_MARGIN, plausible_views
from solver_helpers import demo_rig, observe


@pytest.fixture(scope='module')
def rig(data_root):
    cameras, truth, coco_index = demo_rig(data_root)
    return cameras, truth[0], coco_index


def test_plausible_views_on_known_geometry():
    """One camera at the origin looking along +z, 640 x 480 px, f = 500 px."""
    camera = make_camera('c', [500, 0, 320, 0, 500, 240, 0, 0, 1], [], 'none', 640, 480)
    margin = IMAGE_MARGIN * 640
    points = np.array([
        [0.0, 0.0, 3.0],                       # centre of the image: supported
        [0.0, 0.0, -3.0],                      # behind: projects to the centre all the same
        [(320 + margin / 2) / 500 * 3.0, 0.0, 3.0],   # just right of the image, within margin
        [(320 + 2 * margin) / 500 * 3.0, 0.0, 3.0],   # well right of the image
        [0.0, 0.0, 30.0],                      # in view, beyond the workspace
        [np.nan, 0.0, 3.0],
    ])
    support = plausible_views(CameraRig([camera]), points, workspace_radius_m=20.0)
    np.testing.assert_array_equal(support[0], [True, False, True, False, False, False])
    assert plausible_views(CameraRig([camera]), points, 100.0)[0, 4]


def test_a_consistent_person_300_m_away_is_not_located(rig):
    cameras, truth, joints = rig
    far = truth + np.array([300.0, 0.0, 0.0])
    views = observe(cameras, far)
    for objective in ('analytic', 'rendered'):
        estimate = SkelSplatSolver(cameras, SolverConfig(objective=objective)).solve(views)
        assert estimate is None or (estimate.num_views == 0).all(), objective
        # Even with the workspace bound lifted, no view that could not see a joint supports it:
        # the person is behind cam_01 and cam_02 and outside the others' images.
        wide = SolverConfig(objective=objective, workspace_radius_m=1e4)
        estimate = SkelSplatSolver(cameras, wide).solve(views)
        if estimate is not None:
            located = estimate.num_views > 0
            possible = plausible_views(CameraRig(cameras), estimate.positions, 1e4)
            assert not (estimate.inliers & ~possible).any()
            assert not (located & ~(possible & estimate.inliers).any(axis=0)).any()


def test_support_behind_a_camera_is_dropped_and_the_rest_is_kept(rig):
    """A joint fitted where one camera cannot see it keeps the views that can."""
    cameras, truth, joints = rig
    views = observe(cameras, truth)
    plausible = plausible_views(CameraRig(cameras), truth, 20.0)
    assert plausible[:, joints].all()   # the real person: every camera sees every joint
    # cam_01 now also looks the other way: the same rig, but a 180-degree turn about its y axis
    # puts the person behind it; its detections are those of the mirrored person.
    turned = cameras[0]
    flip = np.diag([-1.0, 1.0, -1.0])
    behind = make_camera('cam_01', turned.K, turned.dist, turned.distortion_model,
                         turned.width, turned.height, flip @ turned.R, flip @ turned.t)
    rig = [behind] + list(cameras[1:])
    views[0] = observe(rig, truth)[0]
    for objective in ('analytic', 'rendered'):
        estimate = SkelSplatSolver(rig, SolverConfig(objective=objective)).solve(views)
        assert not estimate.inliers[0].any(), objective
        assert (estimate.num_views[joints] == 3).all(), objective
        error = np.linalg.norm(estimate.positions[joints] - truth[joints], axis=1)
        assert error.max() < 0.005, objective


def test_people_fitted_together_are_each_checked_against_the_cameras(rig):
    """solve_people checks everyone's fit in one projection per camera: each gets its own."""
    cameras, truth, joints = rig
    turned = cameras[0]
    flip = np.diag([-1.0, 1.0, -1.0])
    behind = make_camera('cam_01', turned.K, turned.dist, turned.distortion_model,
                         turned.width, turned.height, flip @ turned.R, flip @ turned.t)
    rig = [behind] + list(cameras[1:])
    near = observe(cameras, truth)
    near[0] = observe(rig, truth)[0]            # cam_01 cannot see this person: behind it
    far = observe(rig, truth + np.array([300.0, 0.0, 0.0]))   # no camera can, for every joint
    wide = SolverConfig(objective='analytic', workspace_radius_m=1e4)
    alone = [SkelSplatSolver(rig, wide).solve(views) for views in (near, far, near, near)]
    # The last solver has cameras of its own (equal, not the same): it is checked on its own.
    solvers = [SkelSplatSolver(rig, wide) for _ in range(3)] + [
        SkelSplatSolver(copy.deepcopy(rig), wide)]
    together = solve_people(solvers, [near, far, near, near])
    for estimate, expected in zip(together, alone):
        assert (estimate is None) == (expected is None)
        if expected is not None:
            np.testing.assert_array_equal(estimate.inliers, expected.inliers)
            np.testing.assert_allclose(estimate.positions, expected.positions, atol=1e-9)
    assert not together[0].inliers[0].any() and together[0].inliers[1:, joints].all()
    assert together[1] is None or not together[1].inliers.any()


def test_the_engine_publishes_nobody_300_m_away(rig):
    cameras, truth, _ = rig
    names = [camera.name for camera in cameras]
    engine = FusionEngine(names, detector=None, device='cpu', notify=lambda line: None,
                          cuda_available=False)
    for camera in cameras:
        engine.set_camera(camera.name, camera)
    far = dict(zip(names, observe(cameras, truth + np.array([300.0, 0.0, 0.0]))[:, None]))
    near = dict(zip(names, observe(cameras, truth)[:, None]))
    for views, people in ((far, 0), (near, 1), (far, 0)):
        result = fuse_group(engine, views, lambda name, item: item)
        assert len(result.people) == people and not result.diverged
