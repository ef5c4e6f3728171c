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
