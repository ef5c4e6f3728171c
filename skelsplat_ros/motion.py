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

The acceleration std is fitted to the data, not guessed (:class:`AccelEstimate`): per person,
the innovations of the recent frames are scored under each of a grid of candidate stds (from
the configured floor up to :data:`MAX_ACCEL_SIGMA`) and the next prediction takes the most
likely one.  Slow motion keeps the floor, which averages noise the most; fast motion raises it
within a few frames, so the prediction follows instead of lagging.

The filter is the solver's motion prior: it averages noise over a few frames where the
measurements are noisy and follows them exactly where they are exact.  It never looks at a
later frame.

:func:`rts_smooth` is its offline counterpart: a Rauch-Tung-Striebel smoother that runs
backwards over the filter's :class:`Step` records and gives each frame the estimate of every
measurement, earlier and later.  Over the last L + 1 steps it is the fixed-lag smoother: the
estimate of the frame L steps back given everything up to now, exactly what the fixed-interval
smoother over the frames so far gives there.
"""

from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np

# 99 % point of chi-square with 3 degrees of freedom.
NIS_GATE = 11.345
# Velocity std of a joint seen for the first time, m/s.
INITIAL_SPEED_SIGMA = 1.0
# Largest sensible white acceleration std, m/s^2.  A punch peaks near 100; beyond about 1,000
# the prediction is noise: the velocity becomes a per-frame difference that gates would trust.
MAX_ACCEL_SIGMA = 1000.0
# Ratio between neighbouring candidates of AccelEstimate: the grid's resolution hardly matters
# (1.2 against 1.5 moved the 'fast' protocol by under 0.01 mm, replaying recorded fits).
SIGMA_STEP = 1.2
# Each frame, the evidence of the frames before counts this much: about the last 10 frames
# (0.8 to 0.95 gave the same errors within 0.02 mm on every protocol, replaying recorded fits;
# shorter follows a change of pace sooner, longer is steadier).
EVIDENCE_MEMORY = 0.9
# Log density (m^-3) of an innovation that is a gross error rather than motion (1 % of them,
# spread over a cubic metre): one wrong joint must not convince the estimate that the person
# moves at 1,000 m/s^2.
GROSS_ERROR_LOG_DENSITY = float(np.log(0.01))


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

    @classmethod
    def concatenate(cls, filters: Sequence['JointFilter']) -> 'JointFilter':
        """Return one filter of the joints of ``filters`` (several people's), in order."""
        return cls(mean=np.concatenate([f.mean for f in filters]),
                   cov=np.concatenate([f.cov for f in filters]),
                   known=np.concatenate([f.known for f in filters]))

    def part(self, joints: slice) -> 'JointFilter':
        """Return the state of ``joints`` (views of this state's arrays)."""
        return JointFilter(mean=self.mean[joints], cov=self.cov[joints], known=self.known[joints])

    @property
    def positions(self):
        """(J, 3) positions, NaN where unknown."""
        return np.where(self.known[:, None], self.mean[:, :3], np.nan)

    @property
    def position_covariance(self):
        """(J, 3, 3) position covariance."""
        return self.cov[:, :3, :3]


@dataclass
class Step:
    """One frame of the causal filter, what the smoother needs of it.

    Attributes:
        dt: seconds from the previous step's frame to this one.
        predicted: the prediction this frame fused, its covariance as fused (after the fading
            memory's inflation).
        filtered: the filter's state after this frame.
        linked: (J,) bool, the joints whose filtered state is an update of ``predicted``; the
            others started afresh (first seen, or restarted): no information flows back
            through them.
        innovation: (J, 3) measured minus predicted position, metres, NaN for the joints not
            fused (not measured, or started afresh).
        innovation_cov: (J, 3, 3) its covariance as predicted (before the fading memory's
            inflation): the predicted position covariance plus the measurement's.

    """

    dt: float
    predicted: JointFilter
    filtered: JointFilter
    linked: np.ndarray
    innovation: np.ndarray
    innovation_cov: np.ndarray
    # The smoother's gains from the previous step to this one (rts_smooth fills it).
    smoother_gain: Optional[np.ndarray] = None

    def part(self, joints: slice, dt: float) -> 'Step':
        """Return the step of ``joints`` alone (views), ``dt`` seconds after the one before.

        Joints are updated independently of each other, so one :func:`update_step` of several
        people's joints gives each person the step of its own.
        """
        return Step(dt=dt, predicted=self.predicted.part(joints),
                    filtered=self.filtered.part(joints), linked=self.linked[joints],
                    innovation=self.innovation[joints],
                    innovation_cov=self.innovation_cov[joints])


def transition_matrix(dt: float) -> np.ndarray:
    """(6, 6) constant-velocity transition of position and velocity over ``dt`` seconds."""
    transition = np.eye(6)
    transition[:3, 3:] = dt * np.eye(3)
    return transition


def predict(state: JointFilter, dt: float, accel_sigma: float) -> JointFilter:
    """Move every joint ``dt`` seconds ahead at constant velocity.

    ``accel_sigma``: the white acceleration std, m/s^2 (for instance
    :attr:`AccelEstimate.sigma`).
    """
    transition = transition_matrix(dt)
    eye = np.eye(3)
    noise = accel_sigma ** 2 * np.block([[dt ** 4 / 4 * eye, dt ** 3 / 2 * eye],
                                         [dt ** 3 / 2 * eye, dt ** 2 * eye]])
    return JointFilter(mean=state.mean @ transition.T,
                       cov=transition @ state.cov @ transition.T + noise,
                       known=state.known.copy())


def update(prior: JointFilter, positions, information, restart=None) -> JointFilter:
    """Fuse measured positions into the predicted state (see :func:`update_step`)."""
    return update_step(prior, positions, information, restart).filtered


def update_step(prior: JointFilter, positions, information, restart=None,
                dt: float = 0.0) -> Step:
    """Fuse measured positions into the predicted state; return the whole :class:`Step`.

    Args:
        prior: the prediction for this frame.
        positions: (J, 3) measured positions, NaN where nothing was measured.
        information: (J, 3, 3) inverse covariance of the measurements, m^-2 (full rank).
        restart: (J,) bool, joints whose position is taken as measured, not fused.
        dt: seconds since the previous step (recorded for the smoother).

    Returns:
        The step, its ``filtered`` state the update.  A joint measured for the first time
        starts at its measurement, at rest; a restarted joint there too, keeping its
        velocity; a joint not measured keeps its prediction.

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
    prior_cov = prior.cov.copy()
    innovation = np.full((len(mean), 3), np.nan)
    spread = np.full((len(mean), 3, 3), np.nan)
    if fused.any():
        innovation[fused] = positions[fused] - prior.mean[fused, :3]
        spread[fused] = prior.cov[fused, :3, :3] + np.linalg.inv(information[fused])
        mean[fused], cov[fused], prior_cov[fused] = _fuse(
            prior.mean[fused], prior.cov[fused], positions[fused], information[fused],
            innovation[fused], spread[fused])
    return Step(dt=dt, predicted=JointFilter(mean=prior.mean, cov=prior_cov, known=prior.known),
                filtered=JointFilter(mean=mean, cov=cov, known=known),
                linked=prior.known & ~fresh, innovation=innovation, innovation_cov=spread)


def _fuse(mean, cov, measured, information, innovation, spread):
    """Information-form update of (N, 6) states with (N, 3) measurements of the position.

    ``innovation`` and ``spread`` are the measurements' offsets from the prediction and their
    covariance.  Returns the posterior mean and covariance, and the prior covariance as fused.
    """
    nis = np.einsum('ni,ni->n', innovation, np.linalg.solve(spread, innovation[..., None])[..., 0])
    cov = cov * np.maximum(nis / NIS_GATE, 1.0)[:, None, None]
    prior_information = np.linalg.inv(cov)
    posterior_information = prior_information.copy()
    posterior_information[:, :3, :3] += information
    posterior = np.linalg.inv(posterior_information)
    information_vector = np.einsum('nij,nj->ni', prior_information, mean)
    information_vector[:, :3] += np.einsum('nij,nj->ni', information, measured)
    posterior = 0.5 * (posterior + posterior.transpose(0, 2, 1))
    return np.einsum('nij,nj->ni', posterior, information_vector), posterior, cov


@dataclass
class AccelEstimate:
    """One person's white acceleration std, fitted online to the filter's innovations.

    Each candidate std ``q`` predicts each fused joint's innovation ``v`` as Gaussian with
    covariance ``S + (q^2 - q_used^2) dt^4 / 4 I``, ``S`` the innovation covariance that the
    prediction with ``q_used`` gave (the position block of the discrete white-noise
    acceleration model is ``q^2 dt^4 / 4``).  Its log-likelihood, robust to gross errors
    (:data:`GROSS_ERROR_LOG_DENSITY`), is summed over the joints and added to the evidence of
    the earlier frames, which fades by :data:`EVIDENCE_MEMORY` per frame: the estimate is the
    maximum-likelihood std over about the last 10 frames.  It is causal (each frame's
    innovation was predicted before that frame was seen), pooled over the joints (one estimate
    per person: one per joint, from a joint's few recent frames, came out noisier and 0.02 to
    0.05 mm worse on the 'fast' and 'noise' protocols), and never below the floor.

    Attributes:
        candidates: (G,) the stds considered, m/s^2, from the floor up to
            :data:`MAX_ACCEL_SIGMA` by factors of :data:`SIGMA_STEP`.
        evidence: (G,) log-likelihood of the recent innovations under each, up to a constant.

    """

    candidates: np.ndarray
    evidence: np.ndarray

    @classmethod
    def starting_at(cls, floor: float) -> 'AccelEstimate':
        """Return an estimate without evidence yet: it says ``floor`` (m/s^2)."""
        count = int(np.floor(np.log(MAX_ACCEL_SIGMA / floor) / np.log(SIGMA_STEP) + 1e-9)) + 1
        return cls(candidates=floor * SIGMA_STEP ** np.arange(max(count, 1)),
                   evidence=np.zeros(max(count, 1)))

    @property
    def sigma(self) -> float:
        """The most likely acceleration std, m/s^2 (the floor until evidence says more)."""
        return float(self.candidates[int(np.argmax(self.evidence))])

    def observe(self, step: Step, accel_sigma: float) -> 'AccelEstimate':
        """Return the estimate with the innovations of ``step``, predicted with ``accel_sigma``."""
        return observe_together([self], [step], [accel_sigma])[0]


def observe_together(estimates: Sequence[AccelEstimate], steps: Sequence[Step],
                     accel_sigmas: Sequence[float]) -> List[AccelEstimate]:
    """:meth:`AccelEstimate.observe` of several people: their joints scored in one pass.

    The estimates share their candidates (one configuration's floor); each person's evidence
    is summed over its own joints only.
    """
    candidates = estimates[0].candidates
    if any(not np.array_equal(e.candidates, candidates) for e in estimates[1:]):
        return [observe_together([e], [s], [q])[0]
                for e, s, q in zip(estimates, steps, accel_sigmas)]
    fused = [np.isfinite(step.innovation).all(axis=1) for step in steps]
    counts = np.array([f.sum() for f in fused])
    if not counts.any():
        return list(estimates)
    innovation = np.concatenate([step.innovation[f] for step, f in zip(steps, fused)])
    spread = np.concatenate([step.innovation_cov[f] for step, f in zip(steps, fused)])
    # S = U diag(l) U', so S + c I has eigenvalues l + c in the same axes: one eigh per
    # joint scores every candidate.
    eigenvalues, axes = np.linalg.eigh(spread)
    along = np.einsum('nij,ni->nj', axes, innovation) ** 2                      # (N, 3)
    extra = np.repeat([(candidates ** 2 - q ** 2) * step.dt ** 4 / 4
                       for step, q in zip(steps, accel_sigmas)], counts, axis=0)  # (N, G)
    variances = np.maximum(eigenvalues[:, None, :] + extra[:, :, None], 1e-300)
    log_likelihood = -0.5 * (np.log(2.0 * np.pi * variances)
                             + along[:, None, :] / variances).sum(axis=2)        # (N, G)
    robust = np.logaddexp(log_likelihood, GROSS_ERROR_LOG_DENSITY)
    updated = []
    for estimate, end, count in zip(estimates, np.cumsum(counts), counts):
        if not count:
            updated.append(estimate)
            continue
        evidence = EVIDENCE_MEMORY * estimate.evidence + robust[end - count:end].sum(axis=0)
        updated.append(AccelEstimate(candidates=candidates, evidence=evidence - evidence.max()))
    return updated


def _smoother_gain(step: Step, after: Step) -> np.ndarray:
    """(J, 6, 6) gains ``P F' Pp^-1`` from ``step`` to ``after``, 0 for joints not linked.

    They depend on the two steps only, so they are kept on ``after`` once computed: a
    fixed-lag smoother revisits each pair of steps ``lag`` times.
    """
    if after.smoother_gain is None:
        # C' = Pp^-1 F P, Pp symmetric.
        gain = np.linalg.solve(after.predicted.cov,
                               transition_matrix(after.dt) @ step.filtered.cov)
        linked = after.linked & step.filtered.known
        after.smoother_gain = np.where(linked[:, None, None], gain.transpose(0, 2, 1), 0.0)
    return after.smoother_gain


def rts_smooth(steps: Sequence[Step]) -> List[JointFilter]:
    """Rauch-Tung-Striebel smoothing of consecutive filter steps, backwards from the last.

    Each step's state is corrected by the gain ``C = P F' Pp^-1`` times how far the next
    step's smoothed state lies from what this step predicted for it:
    ``x_s = x_f + C (x_s' - x_p')`` and ``P_s = P_f + C (P_s' - P_p') C'``.  A joint is
    smoothed only across the steps it is linked by (not restarted, known on both sides); the
    last step's state is already the smoothed one.

    Args:
        steps: the filter's steps in time order, each predicted from the one before it (a
            step with nothing linked starts a new chain).

    Returns:
        One smoothed :class:`JointFilter` per step.
    """
    if not steps:
        return []
    last = steps[-1].filtered
    smoothed = [JointFilter(mean=last.mean.copy(), cov=last.cov.copy(), known=last.known.copy())]
    for step, after in zip(reversed(steps[:-1]), reversed(steps[1:])):
        state, later = step.filtered, smoothed[-1]
        gain = _smoother_gain(step, after)
        mean = state.mean + np.einsum('nij,nj->ni', gain, later.mean - after.predicted.mean)
        cov = state.cov + gain @ (later.cov - after.predicted.cov) @ gain.transpose(0, 2, 1)
        smoothed.append(JointFilter(mean=mean, cov=0.5 * (cov + cov.transpose(0, 2, 1)),
                                    known=state.known.copy()))
    return smoothed[::-1]
