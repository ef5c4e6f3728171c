# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Several people at once: association, one causal solver per person, and stable ids.

Each frame the views' detections are grouped into people (:mod:`skelsplat_ros.association`),
each group is triangulated, and the groups are assigned to the tracks by their 3D distance to
each track's constant-velocity prediction (Hungarian, with a gate).  The distance is the mean
over the joints that both the group and the track located, not between body centres: a
partly seen person (legs only, say) has its centre far from the whole body's.  A matched
track's own :class:`SkelSplatSolver` then fits the group's whole detections, so a person's
fit never sees another person's joints; the people of a frame are fitted together
(:func:`skelsplat_ros.solver.solve_people`: with the rendered objective, one batched render
per Adam step for everyone).

A new group starts a tentative track, which gets an id once it has been matched in
``birth_frames`` consecutive frames.  A track that is not matched is kept, unreported, for
``max_missed_frames`` frames: within that time a person who comes back (a short occlusion, or
leaving and re-entering the field of view) near where the track was last seen, within a gate
that grows with the time away, gets the same id back.  Ids increase monotonically and are never
reused, not even after :meth:`MultiPersonTracker.reset`.
"""

from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np
from scipy.optimize import linear_sum_assignment
from skelsplat_ros import settings
from skelsplat_ros.association import associate, split_people
from skelsplat_ros.cameras import CameraRig
from skelsplat_ros.settings import setting
from skelsplat_ros.skeletons import COCO17, Skeleton
from skelsplat_ros.solver import PoseEstimate, SkelSplatSolver, solve_people, SolverConfig
from skelsplat_ros.triangulation import ransac_consensus


@dataclass
class TrackerConfig:
    """Parameters of :class:`MultiPersonTracker`; each field carries its description and bounds.

    The ROS node offers them as ``tracker_<field>`` parameters (:mod:`skelsplat_ros.settings`).
    """

    association_px: float = setting(40.0, 'largest mean epipolar distance within one person, '
                                    'pixels', low=0.0, high=1e5, low_open=True)
    min_views: int = setting(2, 'views a person needs to be fitted', low=2, high=1000)
    gate_m: float = setting(0.5, 'largest distance for a match to a track, metres', low=0.0,
                            high=100.0, low_open=True)
    max_speed: float = setting(0.05, 'the gate grows by this per frame a track is lost, metres '
                               'per frame', low=0.0, high=100.0)
    velocity_smoothing: float = setting(0.5, 'weight of the newest velocity measurement',
                                        low=0.0, high=1.0)
    birth_frames: int = setting(3, 'consecutive matched frames before a track gets an id',
                                low=1, high=1000)
    max_missed_frames: int = setting(60, 'frames a lost track is kept for re-identification',
                                     low=0, high=100000)
    # Association compares every detection with every other: one crowded (or hostile) view
    # must not stall the frame.
    max_people_per_view: int = setting(20, 'detections of a view the tracker considers at most, '
                                       'the most confident', low=1, high=1000)

    def __post_init__(self):
        """Refuse values out of each field's bounds (ValueError naming the field)."""
        settings.check(self)


# A group and a track that share fewer located joints are compared by their body centres.
_MIN_SHARED_JOINTS = 3


@dataclass
class _Track:
    solver: SkelSplatSolver
    positions: np.ndarray              # (J, 3) metres at the last match, NaN where not located
    velocity: np.ndarray               # (3,) metres per frame
    track_id: int = -1                 # -1 while tentative
    hits: int = 1
    missed: int = 0

    def predicted(self):
        """Joints (J, 3) expected this frame (the velocity is not extrapolated past 5 frames)."""
        return self.positions + self.velocity * min(self.missed + 1, 5)


class MultiPersonTracker:
    """Fuses every person of a frame group, causally, under ids that survive frames."""

    def __init__(self, cameras, solver_config: Optional[SolverConfig] = None,
                 config: Optional[TrackerConfig] = None, first_id: int = 0,
                 skeleton: Skeleton = COCO17):
        """Prepare the tracker for a fixed camera set.

        Args:
            cameras: sequence of :class:`skelsplat_ros.cameras.Camera` (V).
            solver_config: parameters of each person's solver.
            config: tracking parameters.
            first_id: id of the first confirmed person.  A tracker that takes over from
                another (new cameras) starts at the other's :attr:`next_id`, so that no id
                ever names two people.
            skeleton: the joint set of the keypoints.

        """
        self.rig = CameraRig(cameras)
        self.cameras = self.rig.cameras
        self.solver_config = solver_config or SolverConfig()
        self.config = config or TrackerConfig()
        self.skeleton = skeleton
        self._tracks: List[_Track] = []
        self._next_id = int(first_id)

    @property
    def active_ids(self):
        """Ids of the confirmed tracks, lost ones included, in increasing order."""
        return sorted(t.track_id for t in self._tracks if t.track_id >= 0)

    @property
    def next_id(self):
        """Id the next confirmed person gets; every id below it has been given."""
        return self._next_id

    def set_cameras(self, cameras):
        """Move the V cameras (new poses, same views); people and ids are kept."""
        self.rig = CameraRig(cameras)
        self.cameras = self.rig.cameras
        for track in self._tracks:
            track.solver.set_cameras(self.cameras)

    def reset(self):
        """Forget every person (e.g. after the clock jumped back or a fit diverged).

        The id counter is kept: the people seen afterwards get ids never given before, so a
        consumer (a robot's planner) cannot mistake a new person for an old one.
        """
        self._tracks = []

    def update(self, views, stamp: Optional[float] = None) -> List[Tuple[int, PoseEstimate]]:
        """Fuse one frame group.

        Args:
            views: V arrays (P_v, J, 3) of raw pixels and confidence, P_v people in view v.
            stamp: capture time in seconds (see :meth:`SkelSplatSolver.solve`).

        Returns:
            (track_id, estimate) of each confirmed person fitted this frame, by increasing id.
            ``estimate.person_index`` (V,) indexes ``views``' detections.

        """
        views, originals = self._most_confident(views)
        assignment = associate(self.cameras, views, self.config.association_px,
                               self.config.min_views, self.solver_config.min_confidence)
        people = split_people(views, assignment)
        # Back to the indexes of the detections as given.
        assignment = np.array([[originals[v][i] if i >= 0 else -1 for v, i in enumerate(row)]
                               for row in assignment], dtype=assignment.dtype
                              ).reshape(assignment.shape)
        consensuses = self._triangulate(people)
        located = (np.stack([c.positions for c in consensuses]) if consensuses
                   else np.zeros((0, 0, 3)))
        keep = np.isfinite(located).all(axis=-1).any(axis=-1)
        assignment, people, located = assignment[keep], [p for p, k in zip(people, keep) if k], \
            located[keep]
        consensuses = [c for c, k in zip(consensuses, keep) if k]

        matches = self._match(located)
        # The matched people with their tracks' solvers, then each new person with a new one.
        fits = list(matches.items()) + [(person, None) for person in range(len(people))
                                        if person not in matches]
        solvers = [SkelSplatSolver(self.cameras, self.solver_config, self.skeleton)
                   if track_index is None
                   else self._tracks[track_index].solver for _, track_index in fits]
        # Each person's solver starts from the RANSAC run here when it sees the same input.
        estimates = solve_people(solvers, [people[person] for person, _ in fits], stamp,
                                 [consensuses[person] for person, _ in fits])
        matched_tracks = set(matches.values())
        results = []
        for (person, track_index), solver, estimate in zip(fits, solvers, estimates):
            if track_index is None:
                if estimate is not None:
                    track = _Track(solver, located[person], np.zeros(3))
                    self._tracks.append(track)
                    matched_tracks.add(len(self._tracks) - 1)
                    self._confirm(track)
                continue
            track = self._tracks[track_index]
            if estimate is None:
                matched_tracks.discard(track_index)
                continue
            self._observe(track, located[person])
            estimate.person_index = assignment[person].copy()
            if track.track_id >= 0:
                results.append((track.track_id, estimate))
        self._age(matched_tracks, stamp)
        return sorted(results, key=lambda item: item[0])

    # ------------------------------------------------------------------------------------------
    def _most_confident(self, views):
        """At most ``max_people_per_view`` detections per view, and their indexes in ``views``.

        A view with more keeps the ones with the highest summed confidence, in their order.
        """
        kept, originals = [], []
        for people in views:
            people = np.asarray(people, dtype=float)
            index = np.arange(len(people))
            if len(people) > self.config.max_people_per_view:
                score = np.nan_to_num(people[..., 2]).sum(axis=-1)
                index = np.sort(np.argsort(-score, kind='stable')
                                [:self.config.max_people_per_view])
            kept.append(people[index])
            originals.append(index)
        return kept, originals

    def _triangulate(self, people):
        """RANSAC triangulation of each associated person (positions NaN where unknown)."""
        located = []
        for person in people:
            detections = self.rig.observe_people(person, self.solver_config.min_confidence,
                                                 self.skeleton.num_joints)
            points = np.zeros((self.rig.num_views, self.skeleton.num_joints, 2))
            weights = np.zeros((self.rig.num_views, self.skeleton.num_joints))
            for v, (pts, conf) in enumerate(detections):
                if len(conf):
                    points[v], weights[v] = pts[0], conf[0]
            located.append(ransac_consensus(self.rig.projections, points, weights,
                                            self.solver_config.ransac_threshold_px))
        return located

    def _match(self, located):
        """Assign people (N, J, 3) to tracks: {person index: track index}."""
        if not len(located) or not self._tracks:
            return {}
        predicted = np.stack([t.predicted() for t in self._tracks])
        gates = np.array([self.config.gate_m + self.config.max_speed * t.missed
                          for t in self._tracks])
        distance = _distance(located, predicted)                                  # (N, T)
        # Confirmed tracks first: a tentative duplicate must not take a known person.
        tentative = np.array([t.track_id < 0 for t in self._tracks])
        cost = np.where(distance <= gates[None], distance + 10.0 * tentative[None], 1e6)
        rows, cols = linear_sum_assignment(cost)
        return {int(r): int(c) for r, c in zip(rows, cols) if cost[r, c] < 1e6}

    def _observe(self, track, positions):
        measured = _displacement(track.positions, positions) / (track.missed + 1)
        alpha = self.config.velocity_smoothing
        track.velocity = alpha * measured + (1.0 - alpha) * track.velocity
        track.positions = positions
        track.hits = track.hits + 1 if track.missed == 0 else 1
        track.missed = 0
        self._confirm(track)

    def _confirm(self, track):
        if track.track_id < 0 and track.hits >= self.config.birth_frames:
            track.track_id = self._next_id
            self._next_id += 1

    def _age(self, matched, stamp):
        """Age the unmatched tracks; drop lost tentative ones and those lost too long."""
        kept = []
        for index, track in enumerate(self._tracks):
            if index not in matched:
                track.missed += 1
                track.solver.miss(stamp)
                if track.track_id < 0 or track.missed > self.config.max_missed_frames:
                    continue
            kept.append(track)
        self._tracks = kept


def _centre(positions):
    """Mean (..., 3) of the known joints of positions (..., J, 3); NaN if none is known."""
    known = np.isfinite(positions).all(axis=-1)
    with np.errstate(invalid='ignore'):
        return np.where(known[..., None], positions, 0.0).sum(axis=-2) \
            / known.sum(axis=-1)[..., None]


def _distance(located, predicted):
    """(N, T) distance between people (N, J, 3) and tracks (T, J, 3), metres.

    The mean distance over the joints known in both; the distance between the body centres
    where they share fewer than :data:`_MIN_SHARED_JOINTS`; inf where either knows none.
    """
    gaps = np.linalg.norm(located[:, None] - predicted[None], axis=-1)      # (N, T, J)
    shared = np.isfinite(gaps)
    with np.errstate(invalid='ignore'):
        joints = np.where(shared, gaps, 0.0).sum(axis=-1) / shared.sum(axis=-1)
    centres = np.linalg.norm(_centre(located)[:, None] - _centre(predicted)[None], axis=-1)
    distance = np.where(shared.sum(axis=-1) >= _MIN_SHARED_JOINTS, joints, centres)
    return np.nan_to_num(distance, nan=np.inf)


def _displacement(before, after):
    """(3,) mean motion from joints (J, 3) to joints (J, 3), over those known in both.

    The motion of the body centres where they share fewer than :data:`_MIN_SHARED_JOINTS`
    joints; zero where either knows none.
    """
    shared = np.isfinite(before).all(axis=1) & np.isfinite(after).all(axis=1)
    if shared.sum() >= _MIN_SHARED_JOINTS:
        return (after[shared] - before[shared]).mean(axis=0)
    motion = _centre(after) - _centre(before)
    return motion if np.isfinite(motion).all() else np.zeros(3)
