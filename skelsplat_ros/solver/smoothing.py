# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Smoothed estimates: the causal solver's output revised with the frames that came after.

The causal pass runs as always (the same gating, swaps, bystanders and motion filter); each
estimate carries its filter step (:class:`.config.MotionRecord`).  The Rauch-Tung-Striebel
smoother (:func:`skelsplat_ros.motion.rts_smooth`) then runs backwards over those steps:
:func:`smooth_estimates` over a whole recording (fixed interval), :class:`FixedLagSmoother`
over a window of the last ``lag`` frame groups, releasing each group ``lag`` groups late
(fixed lag, for the live node).  A smoothed estimate keeps which joints were located and by
which views; its positions, covariance, velocities and confidence are the smoothed ones (the
confidence from the smoothed positions' reprojection errors, as the solver computes it).
"""

from collections import deque
import dataclasses
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
from skelsplat_ros import motion
from skelsplat_ros.solver import uncertainty
from skelsplat_ros.solver.config import PoseEstimate

__all__ = ['FixedLagPeopleSmoother', 'FixedLagSmoother', 'smooth_estimates']


def smooth_estimates(estimates: Sequence[Optional[PoseEstimate]]
                     ) -> List[Optional[PoseEstimate]]:
    """Fixed-interval smoothing of one solver's estimates, in frame order.

    None (a frame without the person) and estimates without a motion record (per-frame mode)
    come back as they are.
    """
    chain = [n for n, estimate in enumerate(estimates)
             if estimate is not None and estimate.motion is not None]
    result = list(estimates)
    states = motion.rts_smooth([estimates[n].motion.step for n in chain])
    for n, state in zip(chain, states):
        result[n] = _revised(estimates[n], state)
    return result


class FixedLagSmoother:
    """Releases each frame group ``lag`` groups late, smoothed with the groups after it.

    :meth:`push` takes every group in order (its estimate None when nobody was fitted) with
    an opaque ``item`` (a stamp, the group's context) and returns the groups now ``lag``
    behind; the estimate of a group is then what :func:`smooth_estimates` over every group
    up to the newest gives it.  ``lag`` 0 passes every group through at once; None holds
    every group until :meth:`flush` (fixed-interval smoothing).
    """

    def __init__(self, lag: Optional[int]):
        """Hold up to ``lag`` groups (>= 0; None: all)."""
        if lag is not None and lag < 0:
            raise ValueError(f'lag must be >= 0, got {lag}')
        self.lag = lag
        self._window = deque()

    def __len__(self):
        """Return the number of groups held back."""
        return len(self._window)

    def push(self, item: Any, estimate: Optional[PoseEstimate]
             ) -> List[Tuple[Any, Optional[PoseEstimate]]]:
        """Add the newest group; return ``[(item, estimate)]`` of the group released, if any."""
        self._window.append((item, estimate))
        if self.lag is None or len(self._window) <= self.lag:
            return []
        return [self._release()]

    def flush(self) -> List[Tuple[Any, Optional[PoseEstimate]]]:
        """Release every group held, each smoothed with those after it."""
        items = [item for item, _ in self._window]
        estimates = [estimate for _, estimate in self._window]
        self._window.clear()
        return list(zip(items, smooth_estimates(estimates) if self.lag != 0 else estimates))

    def clear(self):
        """Drop the groups held (after a reset, or a jump of the clock)."""
        self._window.clear()

    def _release(self):
        item, estimate = self._window[0]
        if self.lag != 0:
            estimate = _revised_by(estimate, [e for _, e in self._window])
        self._window.popleft()
        return item, estimate


class FixedLagPeopleSmoother(FixedLagSmoother):
    """:class:`FixedLagSmoother` of several people per group, each along its own track.

    :meth:`push` takes ``{track_id: estimate}`` per group (one solver per track, as
    :class:`skelsplat_ros.tracking.MultiPersonTracker` keeps them) and releases
    ``(item, {track_id: estimate})``, each estimate smoothed with the same track's later ones.
    """

    def flush(self):
        """Release every group held, each person smoothed with its later estimates."""
        items = [item for item, _ in self._window]
        groups = [dict(people) for _, people in self._window]
        self._window.clear()
        if self.lag != 0:
            for key in {key for people in groups for key in people}:
                indexes = [n for n, people in enumerate(groups) if key in people]
                revised = smooth_estimates([groups[n][key] for n in indexes])
                for n, estimate in zip(indexes, revised):
                    groups[n][key] = estimate
        return list(zip(items, groups))

    def _release(self):
        item, people = self._window[0]
        if self.lag != 0:
            people = {key: _revised_by(estimate, [later.get(key) for _, later in self._window])
                      for key, estimate in people.items()}
        self._window.popleft()
        return item, people


def _revised_by(estimate, estimates):
    """``estimate`` (the first of ``estimates``, one solver's) smoothed with the others."""
    if estimate is None or estimate.motion is None:
        return estimate
    steps = [e.motion.step for e in estimates if e is not None and e.motion is not None]
    return _revised(estimate, motion.rts_smooth(steps)[0])


def _revised(estimate: PoseEstimate, state: motion.JointFilter) -> PoseEstimate:
    """``estimate`` with the smoothed positions and covariance of ``state``, confidence anew."""
    record = estimate.motion
    located = np.isfinite(estimate.positions).all(axis=1) & state.known
    positions = np.where(located[:, None], state.mean[:, :3], estimate.positions)
    covariance = estimate.covariance.copy()
    covariance[located] = state.cov[located, :3, :3]
    described = uncertainty.describe(record.rig, positions, record.points, record.weights,
                                     estimate.inliers, estimate.person_index, covariance,
                                     record.agreement_px)
    confidence = np.where(np.isfinite(estimate.positions).all(axis=1),
                          described.confidence, estimate.confidence)
    motion_fields = {}
    if estimate.velocities is not None:
        motion_fields['velocities'] = np.where(located[:, None], state.mean[:, 3:],
                                               estimate.velocities)
    if estimate.velocity_covariance is not None:
        motion_fields['velocity_covariance'] = np.where(
            located[:, None, None], state.cov[:, 3:, 3:], estimate.velocity_covariance)
    return dataclasses.replace(estimate, positions=positions, covariance=covariance,
                               confidence=confidence,
                               reprojection_error=described.reprojection_error,
                               **motion_fields)
