# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The SkelSplat solver on known geometry: the pose2sim motion seen through its real cameras."""

import dataclasses

import numpy as np
import pytest
from skelsplat_ros.cameras import CameraRig
from skelsplat_ros.skeletons import COCO17, HALPE26
from skelsplat_ros.solver import SkelSplatSolver, solve_people, SolverConfig
from skelsplat_ros.solver.geometry import crops
from skelsplat_ros.solver.objectives import analytic
from skelsplat_ros.triangulation import project, triangulate_ransac
from solver_helpers import demo_rig, observe

LEFT_WRIST, RIGHT_WRIST, LEFT_HIP, LEFT_KNEE = 9, 10, 11, 13
LEFT_SHOULDER, RIGHT_SHOULDER = 5, 6
HEAD, NECK = HALPE26.joint_names.index('head'), HALPE26.joint_names.index('neck')
J = COCO17.num_joints
# The paper's method, which SolverConfig()'s 'auto' objective runs on a GPU only.
RENDERED = SolverConfig(objective='rendered')


@pytest.fixture(scope='module')
def rig(data_root):
    return demo_rig(data_root)


def _errors_mm(estimate, truth, joints):
    return 1000 * np.linalg.norm(estimate.positions[joints] - truth[joints], axis=1)


def test_exact_detections_give_the_exact_skeleton(rig):
    cameras, truth, joints = rig
    solver = SkelSplatSolver(cameras, RENDERED)
    for frame in range(5):
        estimate = solver.solve(observe(cameras, truth[frame]))
        assert _errors_mm(estimate, truth[frame], joints).max() < 1.0
    assert (estimate.num_views[joints] == 4).all()
    assert estimate.mean_reprojection_error < 0.5
    assert (estimate.confidence[joints] > 0.8).all()
    # The four face joints the .trc lacks were never seen: unknown, not invented.
    unseen = np.setdiff1d(np.arange(J), joints)
    assert np.isnan(estimate.positions[unseen]).all() and (estimate.confidence[unseen] == 0).all()


def test_a_confident_misdetection_does_not_drag_the_joint(rig):
    cameras, truth, joints = rig
    views = observe(cameras, truth[0])
    views[1, LEFT_WRIST, :2] += (180.0, -120.0)                 # confident and wrong
    estimate = SkelSplatSolver(cameras, RENDERED).solve(views)
    assert _errors_mm(estimate, truth[0], joints).max() < 1.0
    assert not estimate.inliers[1, LEFT_WRIST] and estimate.num_views[LEFT_WRIST] == 3


@pytest.mark.parametrize('objective', ['rendered', 'analytic'])
def test_two_agreeing_outliers_lose_a_tie_to_the_skeleton_without_motion(rig, objective):
    cameras, truth, joints = rig
    views = observe(cameras, truth[0], confidence=0.8)
    # Views 1 and 2 both see the left knee 43 cm off, consistently and more confidently
    # than the two good views: per joint, the 2-2 split cannot be told apart.
    wrong = truth[0, LEFT_KNEE] + (0.25, 0.25, 0.25)
    for v in (1, 2):
        views[v, LEFT_KNEE] = (*cameras[v].project(wrong[None])[0], 0.95)
    points = np.stack([cam.undistort_points(view[:, :2]) for cam, view in zip(cameras, views)])
    projections = CameraRig(cameras).projections
    ransac, _ = triangulate_ransac(projections, points, views[..., 2])
    assert np.linalg.norm(ransac[LEFT_KNEE] - wrong) < 1e-3
    # The first frame and per-frame mode have no motion to tell; the skeleton does.
    config = SolverConfig(objective=objective)
    for solver in (SkelSplatSolver(cameras, config),
                   SkelSplatSolver(cameras, dataclasses.replace(config, temporal=False))):
        estimate = solver.solve(views)
        assert _errors_mm(estimate, truth[0], joints).max() < 1.0
        assert estimate.inliers[:, LEFT_KNEE].tolist() == [True, False, False, True]


def test_a_left_right_swap_in_one_view_is_rejected(rig):
    cameras, truth, joints = rig
    views = observe(cameras, truth[0])
    views[2] = views[2][COCO17.flip]
    estimate = SkelSplatSolver(cameras, RENDERED).solve(views)
    errors = _errors_mm(estimate, truth[0], joints)
    # In that view the right hip lands within the RANSAC threshold of the left hip, so it stays
    # an inlier there and DLT is dragged; the heatmap fit, which barely feels a view that far
    # off, halves the pull.  Every other joint rejects the swapped view outright.
    left_hip = list(joints).index(LEFT_HIP)
    points = np.stack([cam.undistort_points(view[:, :2]) for cam, view in zip(cameras, views)])
    projections = CameraRig(cameras).projections
    ransac, _ = triangulate_ransac(projections, points, views[..., 2])
    ransac_error = 1000 * np.linalg.norm(ransac[LEFT_HIP] - truth[0, LEFT_HIP])
    assert errors[left_hip] < 0.6 * ransac_error
    assert np.delete(errors, left_hip).max() < 3.0


def test_the_consistent_person_is_picked_in_a_view_with_a_bystander(rig):
    cameras, truth, joints = rig
    solver = SkelSplatSolver(cameras, SolverConfig(objective='rendered', temporal=False))
    views = [person[None] for person in observe(cameras, truth[0])]
    bystander = observe(cameras, truth[0] + np.array([0.9, -0.6, 0.0]), confidence=0.99)
    views[0] = np.stack([bystander[0], views[0][0]])              # more confident, and wrong
    estimate = solver.solve(views)
    assert estimate.person_index[0] == 1
    assert _errors_mm(estimate, truth[0], joints).max() < 1.0


def test_a_joint_seen_in_one_view_has_low_confidence_and_a_long_covariance(rig):
    cameras, truth, joints = rig
    views = observe(cameras, truth[0])
    views[1:, LEFT_KNEE, 2] = 0.0
    per_frame = SolverConfig(objective='rendered', temporal=False)
    estimate = SkelSplatSolver(cameras, per_frame).solve(views)
    assert estimate.num_views[LEFT_KNEE] == 1
    assert estimate.confidence[LEFT_KNEE] < 0.3
    # Not garbage: on the view's ray, near the body.
    ray_error = np.linalg.norm(
        cameras[0].project(estimate.positions[LEFT_KNEE][None])[0] - views[0, LEFT_KNEE, :2])
    assert ray_error < 3.0
    assert np.linalg.norm(estimate.positions[LEFT_KNEE] - truth[0, LEFT_KNEE]) < 0.5
    # The uncertainty is along that camera's viewing ray, as large as a depth borrowed from
    # the neighbours, and sub-millimetre across it (exact detections).
    eigenvalues, eigenvectors = np.linalg.eigh(estimate.covariance[LEFT_KNEE])
    ray = estimate.positions[LEFT_KNEE] - cameras[0].center
    alignment = abs(eigenvectors[:, -1] @ ray) / np.linalg.norm(ray)
    depth_sigma = RENDERED.single_view_depth_sigma
    assert alignment > 0.99
    assert np.sqrt(eigenvalues[-1]) == pytest.approx(depth_sigma, rel=0.02)
    assert np.sqrt(eigenvalues[0]) < 1e-3
    well_seen = np.linalg.eigvalsh(estimate.covariance[LEFT_WRIST]).max()
    assert np.sqrt(well_seen) < 1e-3


@pytest.mark.parametrize('objective', ['rendered', 'analytic'])
def test_a_joint_seen_in_one_view_follows_the_body_in_depth(rig, objective):
    # The person walks 2 cm a frame along camera 0's optical axis while, after 3 frames, only
    # camera 0 sees the left knee: one view cannot tell the knee's depth, so it must come
    # from the hip and ankle, which all four views still see.
    cameras, truth, joints = rig
    axis = np.asarray(cameras[0].R)[2]
    solver = SkelSplatSolver(cameras, SolverConfig(objective=objective))
    for frame in range(15):
        positions = truth[0] + 0.02 * frame * axis
        views = observe(cameras, positions)
        if frame >= 3:
            views[1:, LEFT_KNEE, 2] = 0.0
        estimate = solver.solve(views)
    assert estimate.num_views[LEFT_KNEE] == 1
    # Held at its last two-view depth it would be 24 cm behind.
    assert np.linalg.norm(estimate.positions[LEFT_KNEE] - positions[LEFT_KNEE]) < 0.01


def test_causal_mode_rejects_a_view_that_contradicts_the_motion(rig):
    cameras, truth, joints = rig
    causal = SkelSplatSolver(cameras, RENDERED)
    per_frame = SkelSplatSolver(cameras, SolverConfig(objective='rendered', temporal=False))
    causal_errors, per_frame_errors = [], []
    for frame in range(18):
        views = observe(cameras, truth[frame])
        if frame >= 10:
            # Two views keep seeing the wrist, one of them confidently wrong: with two views
            # there is no majority, only the motion can tell which one to believe.
            views[2:, RIGHT_WRIST, 2] = 0.0
            views[1, RIGHT_WRIST, :2] += (150.0, 90.0)
        causal_estimate, per_frame_estimate = causal.solve(views), per_frame.solve(views)
        if frame >= 10:
            assert causal_estimate.num_views[RIGHT_WRIST] == 1
            assert causal_estimate.inliers[0, RIGHT_WRIST]
            on_ray = cameras[0].project(causal_estimate.positions[RIGHT_WRIST][None])[0]
            assert np.linalg.norm(on_ray - views[0, RIGHT_WRIST, :2]) < 3.0
            causal_errors.append(_errors_mm(causal_estimate, truth[frame], [RIGHT_WRIST])[0])
            per_frame_errors.append(
                _errors_mm(per_frame_estimate, truth[frame], [RIGHT_WRIST])[0])
    # The wrist moves 3-4 cm a frame here and one view cannot see depth: the causal estimate
    # drifts along that view's ray, but stays far closer than trusting the wrong view.
    assert np.median(causal_errors) < 0.5 * np.median(per_frame_errors)
    assert np.median(per_frame_errors) > 100.0


def test_bad_values_are_ignored_not_propagated(rig):
    cameras, truth, joints = rig
    views = observe(cameras, truth[0])
    views[0, LEFT_WRIST, :2] = np.nan
    views[3, RIGHT_WRIST, 2] = np.inf
    estimate = SkelSplatSolver(cameras, RENDERED).solve(views)
    assert np.isfinite(estimate.positions[joints]).all()
    assert _errors_mm(estimate, truth[0], joints).max() < 1.0


def test_too_few_views_gives_no_pose(rig):
    cameras, truth, _ = rig
    views = observe(cameras, truth[0])
    views[1:, :, 2] = 0.0
    assert SkelSplatSolver(cameras, RENDERED).solve(views) is None
    with pytest.raises(ValueError, match='3 views'):
        SkelSplatSolver(cameras, RENDERED).solve(views[:3])


def test_the_analytic_objective_agrees_with_the_rendered_reference(rig, data_root):
    from skelsplat_ros.cli import load_keypoint_frames
    cameras, truth, joints = rig
    for frame in range(3):
        exact = observe(cameras, truth[frame])
        fast = SkelSplatSolver(cameras, SolverConfig(objective='analytic')).solve(exact)
        assert _errors_mm(fast, truth[frame], joints).max() < 0.1
    # On real OpenPose detections, whose views disagree by 10-25 px, the two objectives weigh
    # the views a little differently (the rendered one fits the Gaussians' widths and lets
    # them occlude each other), but land close together and equally close to the reference.
    pose = data_root / 'pose2sim-0.4.15' / 'Pose2Sim' / 'Demo' / 'pose'
    frames = load_keypoint_frames([pose / f'cam{i}_json' for i in range(1, 5)], 'body25b')[:25]
    reference = SkelSplatSolver(cameras, RENDERED)
    analytic = SkelSplatSolver(cameras, SolverConfig(objective='analytic'))
    differences, reference_errors, analytic_errors = [], [], []
    for frame, views in enumerate(frames):
        slow, fast = reference.solve(views), analytic.solve(views)
        differences.append(1000 * np.linalg.norm(slow.positions - fast.positions, axis=1))
        reference_errors.append(_errors_mm(slow, truth[frame], joints))
        analytic_errors.append(_errors_mm(fast, truth[frame], joints))
    assert np.nanmedian(differences) < 15.0
    assert abs(np.nanmean(reference_errors) - np.nanmean(analytic_errors)) < 5.0


def test_an_empty_frame_after_a_tracked_one_gives_no_pose(rig):
    cameras, truth, _ = rig
    solver = SkelSplatSolver(cameras, RENDERED)
    assert solver.solve(observe(cameras, truth[0])) is not None
    assert solver.solve([np.zeros((0, J, 3))] * len(cameras)) is None
    assert solver.solve(observe(cameras, truth[1])) is not None


def test_analytic_fits_of_several_people_each_stop_as_they_would_alone(rig):
    # Three starts at different distances from the truth, one with a motion prior and one
    # with one more unknown joint: fitted as one batch, each takes its own steps to the place
    # it reaches alone.
    cameras, truth, _ = rig
    P = CameraRig(cameras).projections
    rng = np.random.default_rng(4)
    pixels, _ = project(P, truth[:3])                                     # (3, V, J, 2)
    points = pixels + rng.normal(0.0, 1.5, pixels.shape)
    weights = np.where(np.isfinite(pixels).all(axis=-1), 0.9, 0.0)
    init = truth[:3] + rng.normal(0.0, 1.0, truth[:3].shape) * np.array(
        [0.001, 0.02, 0.1])[:, None, None]
    init[2, 0] = np.nan
    points[2, 2, 5] = np.nan        # a NaN keypoint with weight: its joint's steps are NaN
    sigma = rng.uniform(2.0, 4.0, (3, len(cameras)))
    prior = np.where(np.arange(3)[:, None, None] == 1, np.nan_to_num(truth[:3]), 0.0)
    prior_weight = np.where(np.arange(3)[:, None] == 1, 0.4, 0.0) * np.ones((3, J))
    together, steps = analytic.fit_analytic(P, init, points, weights, sigma, prior=prior,
                                            prior_weight=prior_weight)
    alone = [analytic.fit_analytic(P, init[b], points[b], weights[b], sigma[b],
                                   prior=prior[b], prior_weight=prior_weight[b])
             for b in range(3)]
    assert steps.tolist() == [steps_alone for _, steps_alone in alone]
    assert len(set(steps.tolist())) > 1
    assert steps[2] == 10                  # a NaN step is never taken for convergence
    for b in range(3):
        np.testing.assert_allclose(together[b], alone[b][0], rtol=0, atol=1e-12,
                                   equal_nan=True)
    assert np.isnan(together[2, 0]).all() and np.isfinite(together[1, 0]).all()
    none, no_steps = analytic.fit_analytic(P, init[:0], points[:0], weights[:0], sigma[:0])
    assert none.shape == (0, J, 3) and no_steps.shape == (0,)


@pytest.mark.parametrize('temporal', [True, False], ids=['causal', 'per_frame'])
def test_people_of_different_skeletons_are_fitted_together_as_alone(rig, temporal):
    # A COCO17 person and a HALPE26 one over three frames: each kind of skeleton is prepared
    # with its own mirror and bones.  On the first frame each has a 2-2 tie (two views agree
    # on a point 43 cm off): the COCO17 person's left knee, and the HALPE26 person's neck, a
    # joint only HALPE26 has, which only its own bones (to the shoulders) can settle.
    cameras, truth, _ = rig
    config = SolverConfig(objective='analytic', temporal=temporal)
    skeletons = (COCO17, HALPE26)
    alone = [SkelSplatSolver(cameras, config, skeleton) for skeleton in skeletons]
    together = [SkelSplatSolver(cameras, config, skeleton) for skeleton in skeletons]
    for frame in range(3):
        coco_views = observe(cameras, truth[frame], confidence=0.8)
        halpe = np.full((HALPE26.num_joints, 3), np.nan)
        halpe[:J] = truth[frame] + [0.5, 0.0, 0.0]      # HALPE26 starts with the COCO17 joints
        halpe[NECK] = halpe[[LEFT_SHOULDER, RIGHT_SHOULDER]].mean(axis=0) + [0.0, 0.0, 0.05]
        halpe_views = np.zeros((len(cameras), HALPE26.num_joints, 3))
        for v, camera in enumerate(cameras):
            halpe_views[v, :NECK + 1, :2] = camera.project(halpe[:NECK + 1])
            halpe_views[v, :NECK + 1, 2] = 0.8
        halpe_views[:, HEAD, 2] = 0.0                   # not located: only the neck is new
        if frame == 0:
            for views, joint, centre in ((coco_views, LEFT_KNEE, truth[0, LEFT_KNEE]),
                                         (halpe_views, NECK, halpe[NECK])):
                wrong = centre + (0.25, 0.25, 0.25)
                for v in (1, 2):
                    views[v, joint] = (*cameras[v].project(wrong[None])[0], 0.95)
        views = (coco_views, halpe_views)
        expected = [solver.solve(person) for solver, person in zip(alone, views)]
        estimates = solve_people(together, list(views))
        for estimate, reference in zip(estimates, expected):
            np.testing.assert_allclose(estimate.positions, reference.positions, atol=1e-9,
                                       equal_nan=True)
            np.testing.assert_array_equal(estimate.inliers, reference.inliers)
        assert estimates[1].positions.shape == (HALPE26.num_joints, 3)
        if frame == 0:
            assert estimates[0].inliers[:, LEFT_KNEE].tolist() == [True, False, False, True]
            assert estimates[1].inliers[:, NECK].tolist() == [True, False, False, True]


@pytest.mark.parametrize('config', [
    SolverConfig(objective='rendered', min_iterations=10),  # no early stopping: ten steps
    RENDERED,
    SolverConfig(objective='analytic'),
], ids=['rendered_all_steps', 'rendered_early_stopping', 'analytic'])
def test_people_fitted_together_get_their_own_fits(rig, config):
    # Three people with their own noise, crops and missing views, and one seen by one view
    # only: fitted together, each gets what a fit of its own gives.  Their noise differs (each
    # person's is measured on its own, and so are their covariances), and person 0 misses a
    # frame (its motion step then spans two frames, and on the next frame it has no
    # prediction while the people after it have).
    cameras, truth, joints = rig
    offsets = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.8, -0.7, 0.0], [0.5, 0.5, 0.0]])
    noise_px = (4.0, 2.0, 1.0, 2.0)
    rng = np.random.default_rng(7)
    alone = [SkelSplatSolver(cameras, config) for _ in offsets]
    together = [SkelSplatSolver(cameras, config) for _ in offsets]
    steps = set()
    for frame in range(4):
        views = [observe(cameras, truth[frame] + offset) for offset in offsets]
        for person, sigma in zip(views, noise_px):
            person[..., :2] += rng.normal(0.0, sigma, person[..., :2].shape)
        views[1][0, :, 2] = 0.0                       # person 1 unseen by view 0
        views[0][3, LEFT_WRIST, 2] = 0.0
        if frame == 1:
            views[0][..., 2] = 0.0                    # person 0 missed
        views[3][1:, :, 2] = 0.0                      # person 3 seen by view 0 only
        if frame == 3:
            # Undone and gated by the predictions, which are fitted together too: persons 1
            # and 2 have their wrists swapped in two views (which RANSAC alone would keep or
            # tie); person 1's knee is seen by views 1 and 2 only, view 2's 150 px off (a 1-1
            # tie the prediction settles).
            for person, swapped in ((1, [1, 2]), (2, [0, 1])):
                views[person][swapped, LEFT_WRIST], views[person][swapped, RIGHT_WRIST] = (
                    views[person][swapped, RIGHT_WRIST], views[person][swapped, LEFT_WRIST])
            views[1][3, LEFT_KNEE, 2] = 0.0
            views[1][2, LEFT_KNEE, 0] += 150.0
        expected = [solver.solve(person) for solver, person in zip(alone, views)]
        estimates = solve_people(together, views)
        assert expected[3] is None and estimates[3] is None
        assert (expected[0] is None) == (estimates[0] is None) == (frame == 1)
        for estimate, reference in zip(estimates[:3], expected[:3]):
            if reference is None:
                continue
            np.testing.assert_allclose(estimate.positions, reference.positions, rtol=0,
                                       atol=1e-6)
            np.testing.assert_allclose(estimate.covariance, reference.covariance, rtol=1e-6)
            np.testing.assert_allclose(estimate.velocities, reference.velocities, rtol=0,
                                       atol=1e-6)
            assert estimate.motion.step.dt == reference.motion.step.dt
            assert estimate.iterations == reference.iterations
            assert estimate.loss == pytest.approx(reference.loss, rel=1e-6, nan_ok=True)
            np.testing.assert_array_equal(estimate.inliers, reference.inliers)
            steps.add(estimate.iterations)
        if frame == 2:
            assert estimates[0].motion.step.dt == pytest.approx(2 * estimates[2].motion.step.dt)
        if frame == 3:
            for person, swapped in ((1, [1, 2]), (2, [0, 1])):
                assert estimates[person].inliers[swapped][:, [LEFT_WRIST, RIGHT_WRIST]].all()
            assert estimates[1].inliers[:, LEFT_KNEE].tolist() == [False, True, False, False]
        assert not np.allclose(estimates[1].covariance, estimates[2].covariance, rtol=0.5)
    if config.min_iterations == 10:
        assert steps == {10}
    elif config == RENDERED:
        assert len(steps) > 1                    # people left the batch at different steps
    if config.objective == 'rendered':           # one batched render needs one window size
        with pytest.raises(ValueError, match='built alike'):
            other = SkelSplatSolver(cameras, dataclasses.replace(config, window=7))
            solve_people([together[0], other], views[:2])
    with pytest.raises(ValueError, match='given twice'):  # one motion state per person
        solve_people([together[1], together[1]], views[1:3])


@pytest.mark.parametrize('objective', ['rendered', 'analytic'])
def test_causal_mode_averages_detection_noise(rig, objective):
    # 3 px of noise on every detection, the real motion at its 60 Hz: the motion model
    # averages the noise over frames that one frame's views cannot average.
    cameras, truth, joints = rig
    rng = np.random.default_rng(3)
    config = SolverConfig(objective=objective, frame_rate=60.0)
    causal = SkelSplatSolver(cameras, config)
    per_frame = SkelSplatSolver(cameras, dataclasses.replace(config, temporal=False))
    causal_errors, per_frame_errors = [], []
    for frame in range(60):
        views = observe(cameras, truth[frame])
        views[..., :2] += rng.normal(0.0, 3.0, views[..., :2].shape)
        causal_estimate, per_frame_estimate = causal.solve(views), per_frame.solve(views)
        if frame >= 10:
            causal_errors.append(_errors_mm(causal_estimate, truth[frame], joints).mean())
            per_frame_errors.append(_errors_mm(per_frame_estimate, truth[frame], joints).mean())
    assert np.mean(causal_errors) < 0.9 * np.mean(per_frame_errors)


def test_causal_mode_follows_motion_played_three_times_faster(rig):
    # Every third frame of the real motion at 60 Hz (joints at about 60 m/s^2, the bench's
    # 'fast' protocol): the motion filter fits a larger acceleration std than its floor and
    # still averages noise, where a filter fixed at the floor lags behind the per-frame fit.
    cameras, truth, joints = rig
    rng = np.random.default_rng(3)
    config = SolverConfig(objective='analytic', frame_rate=60.0)
    causal = SkelSplatSolver(cameras, config)
    per_frame = SkelSplatSolver(cameras, dataclasses.replace(config, temporal=False))
    causal_errors, per_frame_errors, fitted = [], [], []
    for frame, positions in enumerate(truth[::3]):
        views = observe(cameras, positions)
        views[..., :2] += rng.normal(0.0, 3.0, views[..., :2].shape)
        causal_estimate, per_frame_estimate = causal.solve(views), per_frame.solve(views)
        if frame >= 5:
            causal_errors.append(_errors_mm(causal_estimate, positions, joints).mean())
            per_frame_errors.append(_errors_mm(per_frame_estimate, positions, joints).mean())
            fitted.append(causal.motion_accel_sigma)
    assert np.median(fitted) > 2 * config.accel_sigma
    assert np.mean(causal_errors) < np.mean(per_frame_errors)


def test_stamps_set_the_motion_models_time_step(rig):
    # The same frames solved at 60 Hz by stamps and by frame_rate give the same skeletons.
    cameras, truth, joints = rig
    by_rate = SkelSplatSolver(cameras, SolverConfig(objective='analytic', frame_rate=60.0))
    by_stamp = SkelSplatSolver(cameras, SolverConfig(objective='analytic', frame_rate=5.0))
    rng = np.random.default_rng(4)
    for frame in range(20):
        views = observe(cameras, truth[frame])
        views[..., :2] += rng.normal(0.0, 3.0, views[..., :2].shape)
        expected = by_rate.solve(views)
        got = by_stamp.solve(views, stamp=100.0 + frame / 60.0)
        np.testing.assert_allclose(got.positions, expected.positions, atol=1e-9)


@pytest.mark.parametrize('field, value', [('accel_sigma', 0.0), ('accel_sigma', 1e6),
                                          ('frame_rate', 0.0)])
def test_a_meaningless_motion_model_is_refused(field, value):
    with pytest.raises(ValueError, match=field):
        SolverConfig(**{field: value})


def test_keypoints_of_another_joint_set_are_refused(rig):
    cameras, truth, _ = rig
    views = observe(cameras, truth[0])
    with pytest.raises(ValueError, match=f'{J}, 3'):
        SkelSplatSolver(cameras, RENDERED).solve(views[:, :-1])
    with pytest.raises(ValueError, match=f'{HALPE26.num_joints}, 3'):
        SkelSplatSolver(cameras, RENDERED, skeleton=HALPE26).solve(views)


def test_a_larger_skeleton_fits_the_joints_it_shares_alike(rig):
    # The COCO-17 detections in the HALPE-26 layout (its 9 other joints undetected): the
    # joints both skeletons have come out as the COCO-17 solver gives them, the others unknown.
    cameras, truth, joints = rig
    config = SolverConfig(objective='analytic')
    coco, halpe = SkelSplatSolver(cameras, config), SkelSplatSolver(cameras, config, HALPE26)
    shared = COCO17.index_in(HALPE26.joint_names)
    extra = np.setdiff1d(np.arange(HALPE26.num_joints), shared)
    for frame in range(5):
        views = observe(cameras, truth[frame])
        expected = coco.solve(views)
        estimate = halpe.solve(HALPE26.from_keypoints(views, COCO17.joint_names))
        np.testing.assert_allclose(estimate.positions[shared], expected.positions, atol=1e-9)
        assert np.isnan(estimate.positions[extra]).all()
        assert (estimate.confidence[extra] == 0).all()


@pytest.mark.parametrize('objective', ['rendered', 'analytic'])
def test_a_missed_frame_ages_the_motion_state_as_an_empty_frame_does(rig, objective):
    cameras, truth, _ = rig
    config = SolverConfig(objective=objective, max_gap_frames=2)
    missing, empty = SkelSplatSolver(cameras, config), SkelSplatSolver(cameras, config)
    nobody = [np.zeros((0, J, 3))] * len(cameras)
    for frame in range(8):
        views = observe(cameras, truth[frame])
        views[..., :2] += np.random.default_rng(frame).normal(0.0, 2.0, views[..., :2].shape)
        if frame in (2, 4, 5, 6):            # one frame away, then three (the state resets)
            missing.miss(stamp=frame / 60.0)
            assert empty.solve(nobody, stamp=frame / 60.0) is None
            continue
        np.testing.assert_array_equal(missing.solve(views, frame / 60.0).positions,
                                      empty.solve(views, frame / 60.0).positions)


def test_crops_of_several_people_at_once_are_each_persons_own(rig):
    # The analytic fit crops everyone in one call: each person's crop must be the one it gets
    # alone, whatever the others' unknown joints and unused views.
    cameras, truth, _ = rig
    solver_rig = CameraRig(cameras)
    init = np.stack([truth[0], truth[0] + (0.6, -0.4, 0.0), truth[0] - (0.5, 0.5, 0.0)])
    init[1, :5] = np.nan                                   # a person whose face is unknown
    points = np.stack([observe(cameras, person)[..., :2] for person in np.nan_to_num(init)])
    weights = np.full(points.shape[:-1], 0.9)
    weights[2, 1] = 0.0                                    # view 1 does not support person 2
    weights[2, 1, :3] = 0.9
    alone = [crops(solver_rig, p, w, x, 256, 0.1) for p, w, x in zip(points, weights, init)]
    together = crops(solver_rig, points, weights, init, 256, 0.1)
    for n, one in enumerate(alone):
        for got, expected in zip(together, one):
            np.testing.assert_array_equal(got[n], expected)
    assert not np.allclose(together[1][0], together[1][1])   # the people's crops differ
