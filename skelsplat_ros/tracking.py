# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Several people at once: association, one causal solver per person, and stable ids.

Each frame the views' detections are grouped into people (:mod:`skelsplat_ros.association`),
each group is triangulated to a body centre, and the groups are assigned to the tracks by the
3D distance between their centres and each track's constant-velocity prediction (Hungarian,
with a gate).  A matched track's own :class:`SkelSplatSolver` then fits the group's whole
detections, so a person's fit never sees another person's joints.

A new group starts a tentative track, which gets an id once it has been matched in
``birth_frames`` consecutive frames.  A track that is not matched is kept, unreported, for
``max_missed_frames`` frames: within that time a person who comes back (a short occlusion, or
leaving and re-entering the field of view) near where the track was last seen, within a gate
that grows with the time away, gets the same id back.  Ids increase monotonically and are never
reused.
"""

from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np
from scipy.optimize import linear_sum_assignment
from skelsplat_ros.association import associate, split_people, undistorted_detections
from skelsplat_ros.solver import PoseEstimate, SkelSplatSolver, SolverConfig
from skelsplat_ros.triangulation import triangulate_ransac


@dataclass
class TrackerConfig:
    """Parameters of :class:`MultiPersonTracker`."""

    association_px: float = 40.0   # largest mean epipolar distance within one person, pixels
    min_views: int = 2             # views a person needs to be fitted
    gate_m: float = 0.5            # largest centre distance for a match, metres
    max_speed: float = 0.05        # the gate grows by this per frame a track is lost, m/frame
    velocity_smoothing: float = 0.5  # weight of the newest velocity measurement
    birth_frames: int = 3          # consecutive matched frames before a track gets an id
    max_missed_frames: int = 60    # frames a lost track is kept for re-identification


@dataclass
class _Track:
    solver: SkelSplatSolver
    centre: np.ndarray                 # (3,) metres
    velocity: np.ndarray               # (3,) metres per frame
    track_id: int = -1                 # -1 while tentative
    hits: int = 1
    missed: int = 0

    def predicted(self):
        """Centre expected this frame (the velocity is not extrapolated past 5 frames)."""
        return self.centre + self.velocity * min(self.missed + 1, 5)


class MultiPersonTracker:
    """Fuses every person of a frame group, causally, under ids that survive frames."""

    def __init__(self, cameras, solver_config: Optional[SolverConfig] = None,
                 config: Optional[TrackerConfig] = None):
        """Prepare the tracker for a fixed camera set.

        Args:
            cameras: sequence of :class:`skelsplat_ros.cameras.Camera` (V).
            solver_config: parameters of each person's solver.
            config: tracking parameters.

        """
        self.cameras = list(cameras)
        self.solver_config = solver_config or SolverConfig()
        self.config = config or TrackerConfig()
        self._P = np.stack([cam.projection_matrix for cam in self.cameras])
        self._tracks: List[_Track] = []
        self._next_id = 0

    @property
    def active_ids(self):
        """Ids of the confirmed tracks, lost ones included, in increasing order."""
        return sorted(t.track_id for t in self._tracks if t.track_id >= 0)

    def update(self, views) -> List[Tuple[int, PoseEstimate]]:
        """Fuse one frame group.

        Args:
            views: V arrays (P_v, J, 3) of raw pixels and confidence, P_v people in view v.

        Returns:
            (track_id, estimate) of each confirmed person fitted this frame, by increasing id.
            ``estimate.person_index`` (V,) indexes ``views``' detections.

        """
        assignment = associate(self.cameras, views, self.config.association_px,
                               self.config.min_views, self.solver_config.min_confidence)
        people = split_people(views, assignment)
        centres = self._centres(people)
        keep = np.isfinite(centres).all(axis=1)
        assignment, people, centres = assignment[keep], [p for p, k in zip(people, keep) if k], \
            centres[keep]

        matches = self._match(centres)
        matched_tracks = set(matches.values())
        results = []
        for person, track_index in matches.items():
            track = self._tracks[track_index]
            estimate = track.solver.solve(people[person])
            if estimate is None:
                matched_tracks.discard(track_index)
                continue
            self._observe(track, _body_centre(estimate.positions, centres[person]))
            estimate.person_index = assignment[person].copy()
            if track.track_id >= 0:
                results.append((track.track_id, estimate))
        for person in range(len(people)):
            if person in matches:
                continue
            solver = SkelSplatSolver(self.cameras, self.solver_config)
            estimate = solver.solve(people[person])
            if estimate is None:
                continue
            track = _Track(solver, _body_centre(estimate.positions, centres[person]),
                           np.zeros(3))
            self._tracks.append(track)
            matched_tracks.add(len(self._tracks) - 1)
            self._confirm(track)
        self._age(matched_tracks)
        return sorted(results, key=lambda item: item[0])

    # ------------------------------------------------------------------------------------------
    def _centres(self, people):
        """(N, 3) triangulated body centre of each associated person, NaN if none."""
        centres = np.full((len(people), 3), np.nan)
        for n, person in enumerate(people):
            detections = undistorted_detections(self.cameras, person,
                                                self.solver_config.min_confidence)
            num_joints = max(conf.shape[-1] for _, conf in detections if conf.size)
            points = np.zeros((len(self.cameras), num_joints, 2))
            weights = np.zeros((len(self.cameras), num_joints))
            for v, (pts, conf) in enumerate(detections):
                if len(conf):
                    points[v], weights[v] = pts[0], conf[0]
            positions, _ = triangulate_ransac(self._P, points, weights,
                                              self.solver_config.ransac_threshold_px)
            centres[n] = _body_centre(positions, np.full(3, np.nan))
        return centres

    def _match(self, centres):
        """Assign people to tracks: {person index: track index}."""
        if not len(centres) or not self._tracks:
            return {}
        predicted = np.stack([t.predicted() for t in self._tracks])
        gates = np.array([self.config.gate_m + self.config.max_speed * t.missed
                          for t in self._tracks])
        distance = np.linalg.norm(centres[:, None] - predicted[None], axis=-1)   # (N, T)
        # Confirmed tracks first: a tentative duplicate must not take a known person.
        tentative = np.array([t.track_id < 0 for t in self._tracks])
        cost = np.where(distance <= gates[None], distance + 10.0 * tentative[None], 1e6)
        rows, cols = linear_sum_assignment(cost)
        return {int(r): int(c) for r, c in zip(rows, cols) if cost[r, c] < 1e6}

    def _observe(self, track, centre):
        measured = (centre - track.centre) / (track.missed + 1)
        alpha = self.config.velocity_smoothing
        track.velocity = alpha * measured + (1.0 - alpha) * track.velocity
        track.centre = centre
        track.hits = track.hits + 1 if track.missed == 0 else 1
        track.missed = 0
        self._confirm(track)

    def _confirm(self, track):
        if track.track_id < 0 and track.hits >= self.config.birth_frames:
            track.track_id = self._next_id
            self._next_id += 1

    def _age(self, matched):
        """Age the unmatched tracks; drop lost tentative ones and those lost too long."""
        empty = [np.zeros((0, 17, 3)) for _ in self.cameras]
        kept = []
        for index, track in enumerate(self._tracks):
            if index not in matched:
                track.missed += 1
                track.solver.solve(empty)                  # ages the solver's motion state
                if track.track_id < 0 or track.missed > self.config.max_missed_frames:
                    continue
            kept.append(track)
        self._tracks = kept


def _body_centre(positions, fallback):
    """Mean (3,) of the known joints of positions (J, 3), or ``fallback`` if none is known."""
    known = np.isfinite(positions).all(axis=1)
    return positions[known].mean(axis=0) if known.any() else fallback
