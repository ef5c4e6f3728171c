# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The constant-velocity Kalman filter of skelsplat_ros.motion, on known trajectories."""

import numpy as np
import pytest
from skelsplat_ros import motion

RATE_HZ = 60.0
DT = 1.0 / RATE_HZ


def _run(measurements, sigma_m, accel_sigma=20.0):
    """Filter (F, J, 3) measurements of isotropic std sigma_m metres; returns (F, J, 3)."""
    information = np.tile(np.eye(3) / sigma_m ** 2, (measurements.shape[1], 1, 1))
    state, out = motion.JointFilter.empty(measurements.shape[1]), []
    for frame in measurements:
        state = motion.update(motion.predict(state, DT, accel_sigma), frame, information)
        out.append(state.positions)
    return np.stack(out)


def _circle(num_frames, radius=0.3, speed=1.0):
    """Return (F, 1, 3) positions circling at ``speed`` m/s (acceleration speed^2 / radius)."""
    angle = speed / radius * DT * np.arange(num_frames)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle),
                     np.full(num_frames, 1.0)], axis=1)[:, None, :]


def test_exact_measurements_are_followed_exactly():
    truth = _circle(120, speed=2.0)         # 13 m/s^2, well within accel_sigma's tails
    filtered = _run(truth, sigma_m=1e-6)
    assert np.abs(filtered - truth).max() < 1e-6


def test_noise_is_averaged_over_frames():
    truth = _circle(300)
    rng = np.random.default_rng(0)
    measured = truth + rng.normal(0.0, 0.005, truth.shape)
    raw = np.linalg.norm(measured - truth, axis=-1)[30:].mean()

    def error(accel_sigma):
        filtered = _run(measured, sigma_m=0.005, accel_sigma=accel_sigma)
        return np.linalg.norm(filtered - truth, axis=-1)[30:].mean()

    # A lower acceleration std trusts the motion more, and this motion is smooth.
    assert error(20.0) < 0.9 * raw
    assert error(5.0) < 0.8 * raw


def test_a_sudden_move_is_followed_at_once():
    # Standing still, then 20 cm to the side in one frame: the innovation test inflates the
    # prediction's covariance, so the filter does not trail behind over many frames.
    truth = np.zeros((40, 1, 3))
    truth[20:, 0, 0] = 0.2
    filtered = _run(truth, sigma_m=0.002)
    assert abs(filtered[20, 0, 0] - 0.2) < 0.01
    assert np.abs(filtered[21:, 0, 0] - 0.2).max() < 0.01


def test_unmeasured_joints_keep_their_prediction_and_new_ones_start_at_rest():
    state = motion.JointFilter.empty(2)
    information = np.tile(np.eye(3) * 1e8, (2, 1, 1))
    state = motion.update(state, np.array([[0.0, 0.0, 1.0], [np.nan] * 3]), information)
    assert state.known.tolist() == [True, False]
    np.testing.assert_allclose(state.mean[0, 3:], 0.0)
    moved = motion.update(motion.predict(state, DT, 20.0),
                          np.array([[0.01, 0.0, 1.0], [0.5, 0.5, 0.5]]), information)
    assert moved.mean[0, 3] == pytest.approx(0.01 / DT, rel=0.05)   # velocity picked up
    np.testing.assert_allclose(moved.mean[1], [0.5, 0.5, 0.5, 0, 0, 0])
    coasting = motion.update(motion.predict(moved, DT, 20.0),
                             np.array([[np.nan] * 3, [0.5, 0.5, 0.5]]), information)
    np.testing.assert_allclose(coasting.positions[0], moved.mean[0, :3] + DT * moved.mean[0, 3:])


def test_a_restarted_joint_takes_its_measurement_and_keeps_its_velocity():
    state = motion.JointFilter.empty(1)
    information = np.eye(3)[None] * 1e4
    for x in (0.0, 0.01, 0.02):
        state = motion.update(motion.predict(state, DT, 20.0), np.array([[x, 0.0, 0.0]]),
                              information)
    velocity = state.mean[0, 3]
    restarted = motion.update(motion.predict(state, DT, 20.0), np.array([[0.5, 0.0, 0.0]]),
                              information, restart=np.array([True]))
    assert restarted.mean[0, 0] == 0.5 and restarted.mean[0, 3] == velocity


def _filter_steps(measurements, information, accel_sigma, dt=DT):
    """Return the filter's steps over (F, J, 3) measurements with (J, 3, 3) information.

    ``accel_sigma``: one std, or one per frame (the first unused: nothing is predicted).
    """
    state, steps = motion.JointFilter.empty(measurements.shape[1]), []
    sigmas = np.broadcast_to(accel_sigma, len(measurements))
    for frame, sigma in zip(measurements, sigmas):
        step = motion.update_step(motion.predict(state, dt, sigma), frame, information,
                                  dt=dt)
        steps.append(step)
        state = step.filtered
    return steps


def test_the_smoother_recovers_a_known_trajectory_better_than_the_filter():
    truth = _circle(300)
    rng = np.random.default_rng(1)
    measured = truth + rng.normal(0.0, 0.005, truth.shape)
    steps = _filter_steps(measured, np.eye(3)[None] / 0.005 ** 2, accel_sigma=20.0)
    filtered = np.stack([step.filtered.positions for step in steps])
    smoothed = np.stack([state.positions for state in motion.rts_smooth(steps)])

    def error(estimate):
        return np.linalg.norm(estimate - truth, axis=-1)[30:].mean()

    assert error(smoothed) < 0.75 * error(filtered)
    # The last frame has no future: the smoother leaves it as the filter had it.
    np.testing.assert_array_equal(smoothed[-1], filtered[-1])


def _batch_least_squares(measurements, information, accel_sigma, dt):
    """Return the smoother's answer from scratch, the MAP trajectory of the linear-Gaussian model.

    The discrete white-noise-acceleration model moves each state by a constant acceleration
    per step, ``x' = F x + G a`` with ``a`` of std ``accel_sigma`` (its process covariance is
    singular, so the unknowns are the first state and the accelerations).  One stacked
    weighted least-squares problem: the filter's start prior (at rest with std
    INITIAL_SPEED_SIGMA, position free), the accelerations' prior, every measurement.
    ``accel_sigma``: one std, or one per frame (the acceleration into that frame; the first
    unused).  Returns (F, 6) states.
    """
    sigmas = np.broadcast_to(accel_sigma, len(measurements))[1:]
    num_frames = len(measurements)
    num_unknowns = 6 + 3 * (num_frames - 1)
    transition = motion.transition_matrix(dt)
    kick = np.vstack([dt ** 2 / 2 * np.eye(3), dt * np.eye(3)])
    maps = [np.hstack([np.eye(6), np.zeros((6, num_unknowns - 6))])]
    for k in range(num_frames - 1):
        following = transition @ maps[-1]
        following[:, 6 + 3 * k:9 + 3 * k] += kick
        maps.append(following)
    hessian = np.zeros((num_unknowns, num_unknowns))
    gradient = np.zeros(num_unknowns)
    hessian[3:6, 3:6] += np.eye(3) / motion.INITIAL_SPEED_SIGMA ** 2
    hessian[6:, 6:] += np.diag(np.repeat(1.0 / sigmas ** 2, 3))
    for state_map, z in zip(maps, measurements):
        position = state_map[:3]
        hessian += position.T @ information @ position
        gradient += position.T @ information @ z
    unknowns = np.linalg.solve(hessian, gradient)
    return np.stack([state_map @ unknowns for state_map in maps])


def test_the_smoother_is_the_batch_least_squares_solution_of_a_linear_gaussian_model():
    # Draws from the model with half its noise, so that no innovation reaches the fading
    # memory's gate and the filter is a plain Kalman filter.
    rng = np.random.default_rng(2)
    num_frames, accel_sigma, sigma_m, dt = 80, 20.0, 0.004, 1.0 / 30.0
    information = np.diag([1.0, 2.0, 0.5]) / sigma_m ** 2
    velocity, position, truth = np.array([0.5, -0.2, 0.1]), np.array([0.1, 0.2, 1.0]), []
    for _ in range(num_frames):
        truth.append(position)
        velocity = velocity + rng.normal(0.0, 0.5 * accel_sigma * dt, 3)
        position = position + velocity * dt
    noise = rng.multivariate_normal(np.zeros(3), 0.25 * np.linalg.inv(information), num_frames)
    measured = (np.array(truth) + noise)[:, None, :]
    steps = _filter_steps(measured, information[None], accel_sigma, dt)
    for before, step in zip(steps, steps[1:]):
        np.testing.assert_array_equal(step.predicted.cov,
                                      motion.predict(before.filtered, dt, accel_sigma).cov)
    smoothed = np.stack([state.mean[0] for state in motion.rts_smooth(steps)])
    expected = _batch_least_squares(measured[:, 0], information, accel_sigma, dt)
    np.testing.assert_allclose(smoothed, expected, atol=1e-7, rtol=0)
    # And the filter alone is not that solution (the check has something to find).
    filtered = np.stack([step.filtered.mean[0] for step in steps])
    assert np.abs(filtered - expected)[:-1].max() > 1e-4


def test_the_smoother_uses_each_steps_own_process_noise():
    # The fitted acceleration std changes from frame to frame: each step's prediction carries
    # its own process noise, and the smoother is still the batch solution of the model with
    # those per-frame stds.
    rng = np.random.default_rng(8)
    num_frames, sigma_m, dt = 60, 0.004, 1.0 / 60.0
    sigmas = np.where(np.arange(num_frames) % 20 < 10, 10.0, 80.0)
    information = np.eye(3) / sigma_m ** 2
    velocity, position, truth = np.array([0.5, -0.2, 0.1]), np.array([0.1, 0.2, 1.0]), []
    for sigma in sigmas:
        velocity = velocity + rng.normal(0.0, 0.5 * sigma * dt, 3)
        position = position + velocity * dt
        truth.append(position)
    noise = rng.normal(0.0, 0.5 * sigma_m, (num_frames, 3))
    measured = (np.array(truth) + noise)[:, None, :]
    steps = _filter_steps(measured, information[None], sigmas, dt)
    smoothed = np.stack([state.mean[0] for state in motion.rts_smooth(steps)])
    expected = _batch_least_squares(measured[:, 0], information, sigmas, dt)
    np.testing.assert_allclose(smoothed, expected, atol=1e-7, rtol=0)
    # One std for all frames is another model, with another answer.
    assert np.abs(_batch_least_squares(measured[:, 0], information, 10.0, dt)
                  - expected).max() > 1e-4


def test_smoothing_stops_at_a_restart():
    # A joint restarted at frame 10 (taken as measured, not fused): nothing after it may pull
    # the frames before it.
    truth = np.zeros((20, 1, 3))
    truth[10:, 0, 0] = 1.0
    information = np.eye(3)[None] / 0.01 ** 2
    state, steps = motion.JointFilter.empty(1), []
    for k, frame in enumerate(truth):
        restart = np.array([k == 10])
        step = motion.update_step(motion.predict(state, DT, 20.0), frame, information,
                                  restart=restart, dt=DT)
        steps.append(step)
        state = step.filtered
    smoothed = motion.rts_smooth(steps)
    assert not steps[10].linked[0] and steps[11].linked[0]
    np.testing.assert_array_equal(smoothed[9].mean, steps[9].filtered.mean)
    assert abs(smoothed[9].mean[0, 0]) < 1e-9


def test_fixed_lag_is_the_fixed_interval_smoother_at_the_lagged_frame():
    truth = _circle(60)
    rng = np.random.default_rng(3)
    measured = truth + rng.normal(0.0, 0.005, truth.shape)
    steps = _filter_steps(measured, np.eye(3)[None] / 0.005 ** 2, accel_sigma=20.0)
    lag = 6
    for now in (lag, 30, 59):
        interval = motion.rts_smooth(steps[:now + 1])[now - lag]
        window = motion.rts_smooth(steps[now - lag:now + 1])[0]
        np.testing.assert_allclose(window.mean, interval.mean, atol=1e-12)
        np.testing.assert_allclose(window.cov, interval.cov, atol=1e-15)


def _white_acceleration_motion(rng, num_frames, num_joints, accel_sigma, dt=DT):
    """Return (F, J, 3) positions of the filter's own model: white acceleration of that std."""
    velocity = rng.normal(0.0, 1.0, (num_joints, 3))
    position = rng.normal(0.0, 0.3, (num_joints, 3))
    truth = []
    for _ in range(num_frames):
        truth.append(position)
        acceleration = rng.normal(0.0, accel_sigma, (num_joints, 3))
        position = position + velocity * dt + acceleration * dt ** 2 / 2
        velocity = velocity + acceleration * dt
    return np.stack(truth)


def _adaptive_run(measurements, sigma_m, floor=10.0, dt=DT):
    """Filter with the fitted acceleration std; returns (positions (F, J, 3), stds (F,), steps)."""
    information = np.tile(np.eye(3) / sigma_m ** 2, (measurements.shape[1], 1, 1))
    state = motion.JointFilter.empty(measurements.shape[1])
    accel = motion.AccelEstimate.starting_at(floor)
    positions, sigmas, steps = [], [], []
    for frame in measurements:
        used = accel.sigma
        step = motion.update_step(motion.predict(state, dt, used), frame, information, dt=dt)
        accel = accel.observe(step, used)
        state = step.filtered
        positions.append(state.positions)
        sigmas.append(accel.sigma)
        steps.append(step)
    return np.stack(positions), np.array(sigmas), steps


@pytest.mark.parametrize('accel_sigma', [40.0, 150.0])
def test_the_acceleration_std_is_fitted_near_the_true_one(accel_sigma):
    rng = np.random.default_rng(4)
    truth = _white_acceleration_motion(rng, 90, 17, accel_sigma)
    measured = truth + rng.normal(0.0, 0.004, truth.shape)
    _, sigmas, _ = _adaptive_run(measured, sigma_m=0.004)
    # Within a few frames, and then within the grid's step of the truth most of the time.
    assert sigmas[5] > 2 * 10.0
    settled = sigmas[20:]
    assert 0.7 * accel_sigma < np.median(settled) < 1.4 * accel_sigma
    assert np.all((settled > 0.5 * accel_sigma) & (settled < 2.0 * accel_sigma))


def test_slow_motion_keeps_the_floor():
    # A person's 17 joints circling at 1 m/s (2.5 to 5 m/s^2), 5 mm of noise: nothing asks for
    # more than the floor, not even the start, where the velocity is not known yet.
    truth = np.concatenate([_circle(300, radius=0.2 + 0.05 * j) for j in range(17)], axis=1)
    rng = np.random.default_rng(5)
    measured = truth + rng.normal(0.0, 0.005, truth.shape)
    _, sigmas, _ = _adaptive_run(measured, sigma_m=0.005)
    assert np.all(sigmas == 10.0)


def test_one_gross_error_leaves_the_acceleration_std_alone():
    # 17 joints at rest; one of them measured 30 cm off in one frame (a wrong detection that
    # got through): the estimate stays at the floor, where an unbounded likelihood would jump.
    rng = np.random.default_rng(6)
    truth = np.tile(rng.normal(0.0, 0.3, (1, 17, 3)), (40, 1, 1))
    measured = truth + rng.normal(0.0, 0.004, truth.shape)
    measured[20, 3] += [0.3, 0.0, 0.0]
    _, sigmas, _ = _adaptive_run(measured, sigma_m=0.004)
    assert np.all(sigmas == 10.0)


def test_the_fitted_std_follows_fast_motion_that_the_floor_lags():
    # 4 m/s on a 15 cm circle (107 m/s^2, a fast hand), 4 mm of noise: the floor's
    # prediction trails the motion by several noise stds; the fitted std follows it.
    truth = _circle(120, radius=0.15, speed=4.0)
    rng = np.random.default_rng(7)
    measured = truth + rng.normal(0.0, 0.004, truth.shape)
    raw = np.linalg.norm(measured - truth, axis=-1)[20:].mean()
    adaptive, sigmas, _ = _adaptive_run(measured, sigma_m=0.004)
    floor = _run(measured, sigma_m=0.004, accel_sigma=10.0)

    def error(estimate):
        return np.linalg.norm(estimate - truth, axis=-1)[20:].mean()

    assert np.median(sigmas[20:]) > 50.0
    assert error(adaptive) < raw < error(floor)


def test_accelerations_observed_together_are_each_persons_own():
    # Three people with their own motion, time step and acceleration std used, and one with
    # no fused joint this frame: scored in one pass, each gets what observing alone gives.
    rng = np.random.default_rng(9)
    estimates, steps, used = [], [], []
    for person, (accel_sigma, dt) in enumerate(((40.0, DT), (150.0, 2 * DT), (10.0, DT))):
        truth = _white_acceleration_motion(rng, 12, 5 + person, accel_sigma, dt)
        measured = truth + rng.normal(0.0, 0.004, truth.shape)
        if person == 2:
            measured[-1] = np.nan
        _, _, run = _adaptive_run(measured, sigma_m=0.004, dt=dt)
        estimate = motion.AccelEstimate.starting_at(10.0)
        for step in run[:-1]:
            estimate = estimate.observe(step, estimate.sigma)
        estimates.append(estimate)
        steps.append(run[-1])
        used.append(estimate.sigma)
    together = motion.observe_together(estimates, steps, used)
    for estimate, step, sigma, got in zip(estimates, steps, used, together):
        np.testing.assert_array_equal(got.evidence, estimate.observe(step, sigma).evidence)
    assert together[2] is estimates[2]                        # nothing fused: unchanged
    assert not np.allclose(together[0].evidence, together[1].evidence)
