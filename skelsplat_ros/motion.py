# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Causal constant-velocity Kalman filter of 3D joints.

Each joint's state is its position (metres) and velocity (metres per second).  Between frames
it moves at constant velocity, disturbed by white acceleration of std ``accel_sigma`` (m/s^2,
the discrete white-noise-acceleration model).  Each frame, the fitted joint positions are the
measurement, given as an information matrix (inverse covariance) per joint, so that a joint
seen by one view can be constrained across its ray and hardly along it.

A measurement that contradicts the prediction (normalised innovation squared above the 99 %
point of chi-square with 3 degrees of freedom) first inflates the predicted covariance by the
ratio: a sudden move is followed at once rather than with the filter's lag (fading memory).

The filter is the solver's motion prior: it averages noise over a few frames where the
measurements are noisy and follows them exactly where they are exact.  It never looks at a
later frame.
"""

from dataclasses import dataclass

import numpy as np

# 99 % point of chi-square with 3 degrees of freedom.
NIS_GATE = 11.345
# Velocity std of a joint seen for the first time, m/s.
INITIAL_SPEED_SIGMA = 1.0
# Largest sensible white acceleration std, m/s^2.  A punch peaks near 100; beyond about 1,000
# the prediction is noise: the velocity becomes a per-frame difference that gates would trust.
MAX_ACCEL_SIGMA = 1000.0


@dataclass
class JointFilter:
    """The filtered state of J joints.

    Attributes:
        mean: (J, 6) position (m) and velocity (m/s), world frame.
        cov: (J, 6, 6) their covariance.
        known: (J,) bool, the joints with a state.

    """

    mean: np.ndarray
    cov: np.ndarray
    known: np.ndarray

    @classmethod
    def empty(cls, num_joints):
        """Return a filter that knows no joint yet."""
        return cls(mean=np.zeros((num_joints, 6)), cov=np.tile(np.eye(6), (num_joints, 1, 1)),
                   known=np.zeros(num_joints, dtype=bool))

    @property
    def positions(self):
        """(J, 3) positions, NaN where unknown."""
        return np.where(self.known[:, None], self.mean[:, :3], np.nan)

    @property
    def position_covariance(self):
        """(J, 3, 3) position covariance."""
        return self.cov[:, :3, :3]


def predict(state: JointFilter, dt: float, accel_sigma: float) -> JointFilter:
    """Move every joint ``dt`` seconds ahead at constant velocity."""
    transition = np.eye(6)
    transition[:3, 3:] = dt * np.eye(3)
    eye = np.eye(3)
    noise = accel_sigma ** 2 * np.block([[dt ** 4 / 4 * eye, dt ** 3 / 2 * eye],
                                         [dt ** 3 / 2 * eye, dt ** 2 * eye]])
    return JointFilter(mean=state.mean @ transition.T,
                       cov=transition @ state.cov @ transition.T + noise,
                       known=state.known.copy())


def update(prior: JointFilter, positions, information, restart=None) -> JointFilter:
    """Fuse measured positions into the predicted state.

    Args:
        prior: the prediction for this frame.
        positions: (J, 3) measured positions, NaN where nothing was measured.
        information: (J, 3, 3) inverse covariance of the measurements, m^-2 (full rank).
        restart: (J,) bool, joints whose position is taken as measured, not fused.

    Returns:
        The filtered state.  A joint measured for the first time starts at its measurement,
        at rest; a restarted joint there too, keeping its velocity; a joint not measured
        keeps its prediction.

    """
    mean, cov, known = prior.mean.copy(), prior.cov.copy(), prior.known.copy()
    measured = np.isfinite(positions).all(axis=1)
    fresh = measured & (~known if restart is None else ~known | restart)
    if fresh.any():
        mean[fresh & ~known, 3:] = 0.0
        mean[fresh, :3] = positions[fresh]
        cov[fresh] = 0.0
        cov[fresh, :3, :3] = np.linalg.inv(information[fresh])
        cov[fresh, 3:, 3:] = np.eye(3) * INITIAL_SPEED_SIGMA ** 2
        known |= fresh
    fused = measured & ~fresh
    if fused.any():
        mean[fused], cov[fused] = _fuse(prior.mean[fused], prior.cov[fused],
                                        positions[fused], information[fused])
    return JointFilter(mean=mean, cov=cov, known=known)


def _fuse(mean, cov, measured, information):
    """Information-form update of (N, 6) states with (N, 3) measurements of the position."""
    innovation = measured - mean[:, :3]
    spread = cov[:, :3, :3] + np.linalg.inv(information)
    nis = np.einsum('ni,ni->n', innovation, np.linalg.solve(spread, innovation[..., None])[..., 0])
    cov = cov * np.maximum(nis / NIS_GATE, 1.0)[:, None, None]
    prior_information = np.linalg.inv(cov)
    posterior_information = prior_information.copy()
    posterior_information[:, :3, :3] += information
    posterior = np.linalg.inv(posterior_information)
    information_vector = np.einsum('nij,nj->ni', prior_information, mean)
    information_vector[:, :3] += np.einsum('nij,nj->ni', information, measured)
    posterior = 0.5 * (posterior + posterior.transpose(0, 2, 1))
    return np.einsum('nij,nj->ni', posterior, information_vector), posterior
