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

A new group whose association is unambiguous (none of its detections could have joined
another group, and no other track is near it) gets an id at once, so a lone person is
published from the first frame.  Any other new group starts a tentative track, which gets an
id once it has been matched in ``birth_frames`` consecutive frames.

A confirmed person whom only one camera still sees (the others lost it) is reported from
that view alone: each seen joint where the camera's ray passes closest to the track's
prediction, with the low confidence and the large covariance along the ray of a single-view
joint.  The detection is taken only when it is unambiguous (no other track projects near it,
no other detection near the track), so it is never fused with someone else.  A detection
that no other view confirms and no track explains is counted (:attr:`FrameNotes.lone`).

A view whose one detection covers two tracked people (a detector that merged two overlapping
people) is doubtful: that detection joins nobody, and the other views decide.  It is found
geometrically (some of its joints on one track's projection and some on another's, or two
tracks' projections inside its box while it follows neither, and no other detection for one
of them), or flagged by the detector (``doubtful`` in :meth:`MultiPersonTracker.update`).

A track that is not matched is kept, unreported, for ``max_missed_frames`` frames: within
that time a person who comes back (a short occlusion, or leaving and re-entering the field of
view) near where the track was last seen, within a gate that grows with the time away, gets
the same id back.  Ids increase monotonically and are never
reused, not even after :meth:`MultiPersonTracker.reset`.
"""

import dataclasses
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np
from scipy.optimize import linear_sum_assignment
from skelsplat_ros import settings
from skelsplat_ros.association import associate_detections, split_people
from skelsplat_ros.cameras import CameraRig
from skelsplat_ros.settings import setting
from skelsplat_ros.skeletons import COCO17, Skeleton
from skelsplat_ros.solver import PoseEstimate, SkelSplatSolver, solve_people, SolverConfig
from skelsplat_ros.solver import uncertainty
from skelsplat_ros.triangulation import Consensus, project, triangulate_ransac


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
# A track's projected box this much inside a detection's box lies under that detection.
_COVERED_FRACTION = 0.6
# Tracks lost for longer are not looked for in one view (their prediction is too vague).
_RECENT_FRAMES = 2


@dataclass
class FrameNotes:
    """What the tracker noticed in the last frame, per view (for diagnostics and reports).

    Attributes:
        merged: per view, detections left out as doubtful: one detection over two tracked
            people, or flagged by the detector.
        lone: per view, detections that no other view confirms and no tracked person
            explains (a person seen by that camera only, not located in 3D).
        single_view: ids of the people reported from one view this frame.
    """

    merged: Tuple[int, ...] = ()
    lone: Tuple[int, ...] = ()
    single_view: Tuple[int, ...] = ()


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
        self.notes = FrameNotes()
        """What the last :meth:`update` noticed (:class:`FrameNotes`)."""

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

    def update(self, views, stamp: Optional[float] = None,
               doubtful: Optional[Sequence] = None) -> List[Tuple[int, PoseEstimate]]:
        """Fuse one frame group.

        Args:
            views: V arrays (P_v, J, 3) of raw pixels and confidence, P_v people in view v.
            stamp: capture time in seconds (see :meth:`SkelSplatSolver.solve`).
            doubtful: optional V boolean arrays (P_v,): detections the detector itself
                flags as doubtful (two people merged into one); they join nobody.

        Returns:
            (track_id, estimate) of each confirmed person fitted this frame, by increasing id.
            ``estimate.person_index`` (V,) indexes ``views``' detections.

        """
        views, originals = self._most_confident(views)
        # Each detection is undistorted once, here, for every stage of the frame.
        observed = self.rig.observe_people(views, self.solver_config.min_confidence,
                                           self.skeleton.num_joints)
        flagged = self._doubtful(observed, originals, doubtful)
        # A doubtful detection keeps its place (indexes) but no usable joint.
        screened = [(points, np.where(flag[:, None], 0.0, conf))
                    for flag, (points, conf) in zip(flagged, observed)]
        assignment, contested = associate_detections(
            self.rig, screened, self.config.association_px, self.config.min_views,
            contested=True)
        people = [[(points[i:i + 1], conf[i:i + 1]) if i >= 0 else (points[:0], conf[:0])
                   for i, (points, conf) in zip(row, screened)] for row in assignment]
        consensuses = self._triangulate(people)
        located = (np.stack([c.positions for c in consensuses]) if consensuses
                   else np.zeros((0, 0, 3)))
        keep = np.isfinite(located).all(axis=-1).any(axis=-1)
        assignment, contested, located = assignment[keep], contested[keep], located[keep]
        people = [p for p, k in zip(people, keep) if k]
        consensuses = [c for c, k in zip(consensuses, keep) if k]

        matches = self._match(located)
        # The matched people with their tracks' solvers, then each new person with a new one.
        fits = list(matches.items()) + [(person, None) for person in range(len(people))
                                        if person not in matches]
        solvers = [SkelSplatSolver(self.cameras, self.solver_config, self.skeleton)
                   if track_index is None
                   else self._tracks[track_index].solver for _, track_index in fits]
        # Each person's solver starts from the RANSAC run here when it sees the same input.
        # The solvers take the detections as observed here (the raw ones say the same).
        keypoints = split_people(views, assignment)
        estimates = solve_people(solvers, [keypoints[person] for person, _ in fits], stamp,
                                 [consensuses[person] for person, _ in fits],
                                 [people[person] for person, _ in fits])
        matched_tracks = set(matches.values())
        known_tracks = len(self._tracks)
        results = []
        for (person, track_index), solver, estimate in zip(fits, solvers, estimates):
            if estimate is not None:
                estimate.person_index = _original_index(assignment[person], originals)
            if track_index is None:
                if estimate is not None:
                    track = _Track(solver, located[person], np.zeros(3))
                    self._tracks.append(track)
                    matched_tracks.add(len(self._tracks) - 1)
                    if not contested[person] and not self._near_a_track(
                            located[person], known_tracks):
                        track.hits = self.config.birth_frames    # unambiguous: no delay
                    self._confirm(track)
                    if track.track_id >= 0:
                        results.append((track.track_id, estimate))
                continue
            track = self._tracks[track_index]
            if estimate is None:
                matched_tracks.discard(track_index)
                continue
            self._observe(track, located[person])
            if track.track_id >= 0:
                results.append((track.track_id, estimate))
        used = [set(assignment[:, v][assignment[:, v] >= 0].tolist())
                for v in range(len(views))]
        single, lone = self._single_view(observed, flagged, used, matched_tracks, originals)
        for track_index, estimate in single:
            track = self._tracks[track_index]
            track.solver.miss(stamp)   # no two-view fit this frame: the motion state ages
            self._observe(track, estimate.positions, hit=False)
            matched_tracks.add(track_index)
            results.append((track.track_id, estimate))
        self._age(matched_tracks, stamp)
        self.notes = FrameNotes(merged=tuple(int(f.sum()) for f in flagged), lone=lone,
                                single_view=tuple(sorted(self._tracks[t].track_id
                                                         for t, _ in single)))
        return sorted(results, key=lambda item: item[0])

    # ------------------------------------------------------------------------------------------
    def _most_confident(self, views):
        """At most ``max_people_per_view`` detections per view, and their indexes in ``views``.

        A view with more keeps the ones with the highest summed confidence, in their order.
        """
        kept, originals = [], []
        for people in views:
            people = np.asarray(people, dtype=float)
            if not people.size:  # [] or (0,): a view without detections, as (0, J, 3)
                people = people.reshape(0, self.skeleton.num_joints, 3)
            index = np.arange(len(people))
            if len(people) > self.config.max_people_per_view:
                score = np.nan_to_num(people[..., 2]).sum(axis=-1)
                index = np.sort(np.argsort(-score, kind='stable')
                                [:self.config.max_people_per_view])
            kept.append(people[index])
            originals.append(index)
        return kept, originals

    def _triangulate(self, people):
        """RANSAC triangulation of the associated people, all at once: a Consensus each.

        ``people``: per person, per view its observed detection (points (1, J, 2), confidence
        (1, J)) or none (0 rows).
        """
        if not people:
            return []
        shape = (len(people), self.rig.num_views, self.skeleton.num_joints)
        points, weights = np.zeros(shape + (2,)), np.zeros(shape)
        for n, person in enumerate(people):
            for v, (pts, conf) in enumerate(person):
                if len(conf):
                    points[n, v], weights[n, v] = pts[0], conf[0]
        threshold = self.solver_config.ransac_threshold_px
        positions, inliers = triangulate_ransac(self.rig.projections, points, weights,
                                                threshold_px=threshold)
        return [Consensus(points[n], weights[n], threshold, positions[n], inliers[n])
                for n in range(len(people))]

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

    def _observe(self, track, positions, hit=True):
        if hit:
            measured = _displacement(track.positions, positions) / (track.missed + 1)
            alpha = self.config.velocity_smoothing
            track.velocity = alpha * measured + (1.0 - alpha) * track.velocity
            track.positions = positions
            track.hits = track.hits + 1 if track.missed == 0 else 1
        else:
            # One view measures no depth: a velocity taken from it would feed on itself along
            # the rays.  The track slows down, and the joints it does not see stay put.
            track.velocity = 0.5 * track.velocity
            track.positions = np.where(np.isfinite(positions), positions, track.positions)
        track.missed = 0
        self._confirm(track)

    def _near_a_track(self, positions, count):
        """Whether a person (J, 3) lies within twice the gate of one of the first tracks."""
        if not count:
            return False
        predicted = np.stack([t.predicted() for t in self._tracks[:count]])
        gates = np.array([self.config.gate_m + self.config.max_speed * t.missed
                          for t in self._tracks[:count]])
        return bool((_distance(positions[None], predicted)[0] <= 2.0 * gates).any())

    def _projections(self):
        """Undistorted pixels (V, T, J, 2) of each track's prediction in each view, NaN unknown."""
        if not self._tracks:
            return np.zeros((self.rig.num_views, 0, self.skeleton.num_joints, 2))
        predicted = np.stack([t.predicted() for t in self._tracks])
        pixels, depths = project(self.rig.projections, predicted)              # (T, V, J, .)
        pixels = np.where((depths > 0)[..., None], pixels, np.nan)
        return np.swapaxes(pixels, 0, 1)

    def _candidates(self, matched):
        """Return the confirmed tracks seen lately and not matched this frame (for one view)."""
        return [t for t, track in enumerate(self._tracks)
                if track.track_id >= 0 and track.missed < _RECENT_FRAMES and t not in matched]

    def _doubtful(self, observed, originals, flags):
        """Per view, (P_v,) bool: detections that may be two people merged into one.

        A detection is doubtful when the detector flags it, or when it lies over two or more
        recently seen confirmed tracks (their projections mostly inside its box, or some of
        its joints on one's projection and some on another's) while the other detections of
        the view explain fewer than all but one of them.
        """
        recent = [t for t, track in enumerate(self._tracks)
                  if track.track_id >= 0 and track.missed < _RECENT_FRAMES]
        counts = [len(conf) for _, conf in observed]
        merged = np.zeros((len(observed), max(counts, default=0)), dtype=bool)
        if len(recent) >= 2 and merged.size:
            # Every view at once: the views' detections padded to one count with confidence 0.
            points = np.zeros(merged.shape + (self.skeleton.num_joints, 2))
            conf = np.zeros(merged.shape + (self.skeleton.num_joints,))
            for v, (pts, c) in enumerate(observed):
                points[v, :len(c)], conf[v, :len(c)] = pts, c
            merged = over_two_people(points, conf, self._projections()[:, recent],
                                     self.config.association_px)
        result = []
        for v, count in enumerate(counts):
            flag = merged[v, :count].copy()
            if flags is not None and flags[v] is not None and len(flags[v]):
                flag |= np.asarray(flags[v], dtype=bool)[originals[v]]
            result.append(flag)
        return result

    def _single_view(self, observed, flagged, used, matched, originals):
        """People seen by one camera only: unambiguous single-view fits of confirmed tracks.

        Returns ``([(track index, estimate)], lone detections per view)``.
        """
        candidates = self._candidates(matched)
        projections = None  # only for a view with a detection left over (most have none)
        found, taken, lone = [], set(), []
        for v, (points, conf) in enumerate(observed):
            free = [d for d in range(len(conf)) if d not in used[v] and not flagged[v][d]
                    and (conf[d] > 0).sum() >= _MIN_SHARED_JOINTS]
            count = 0
            if not free:
                lone.append(count)
                continue
            if projections is None:
                projections = self._projections()
            near = _pixel_distance(points, conf, projections[v]) < self.config.association_px
            for d in free:
                tracks = [t for t in candidates if near[d, t] and t not in taken]
                rivals = [e for e in range(len(conf)) if e != d and tracks
                          and near[e, tracks[0]]]
                if len(tracks) == 1 and not rivals:
                    estimate = self._from_one_view(v, d, points[d], conf[d], tracks[0],
                                                   originals[v])
                    if estimate is not None:
                        taken.add(tracks[0])
                        found.append((tracks[0], estimate))
                        continue
                # Not explained by a track: this camera alone sees someone.
                if not near[d].any():
                    count += 1
            lone.append(count)
        return found, tuple(lone)

    def _from_one_view(self, view, detection, points, conf, track_index, originals):
        """Estimate of a track from one view: each seen joint on its ray, nearest the prediction.

        None when none of the seen joints is predicted.
        """
        # The depth held is the last one, not extrapolated: one view cannot correct it.
        predicted = self._tracks[track_index].positions
        seen = (conf > 0) & np.isfinite(predicted).all(axis=1)
        if seen.sum() < _MIN_SHARED_JOINTS:
            return None
        cfg = self.solver_config
        centre = self.rig.centres[view]
        inverse = np.linalg.inv(self.rig.intrinsics[view] @ self.rig.viewmats[view][:3, :3])
        rays = np.concatenate([points, np.ones((len(points), 1))], axis=1) @ inverse.T
        rays /= np.linalg.norm(rays, axis=1, keepdims=True)
        depth = ((predicted - centre) * rays).sum(axis=1)
        positions = np.where((seen & (depth > 0))[:, None], centre + depth[:, None] * rays,
                             np.nan)
        num_views = self.rig.num_views
        all_points = np.zeros((num_views,) + points.shape)
        all_points[view] = points
        weights = np.zeros((num_views, len(conf)))
        weights[view] = np.where(np.isfinite(positions).all(axis=1), conf, 0.0)
        # The depth is the prediction's: as uncertain as the gate that matched it.
        config = dataclasses.replace(cfg, single_view_depth_sigma=max(
            cfg.single_view_depth_sigma, self.config.gate_m))
        information = uncertainty.information(self.rig, positions, all_points, weights,
                                              np.full(num_views, cfg.agreement_px), config)
        covariance = np.linalg.inv(information)
        known = np.isfinite(positions).all(axis=1)
        covariance[~known] = np.eye(3) * cfg.prior_sigma ** 2
        person_index = np.full(num_views, -1)
        person_index[view] = originals[detection]
        return uncertainty.describe(self.rig, positions, all_points, weights, weights > 0,
                                    person_index, covariance, cfg.agreement_px)

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


def over_two_people(points, conf, projected, threshold_px):
    """Which detections of one view lie over two people or more (a detector merged them).

    A detection lies over people when several of its joints are nearest one person's projected
    joints and several others another's (within ``threshold_px``), or when two people's
    projections lie mostly inside its box while it follows neither (a detection that follows
    one person and covers another's box is that person's, the other hidden behind).  It is
    doubtful when it lies over two people or more and the other detections of the view explain
    (mean distance under ``threshold_px``) fewer than all but one of them: then it stands for
    more than one person.

    Args:
        points: (..., P, J, 2) undistorted pixels of the view's detections; leading dims are
            views, judged each on its own.
        conf: (..., P, J) their confidence, 0 where unusable.
        projected: (..., T, J, 2) the people's joints projected into the view (undistorted
            pixels), NaN where unknown.
        threshold_px: pixel distance within which a joint or a detection explains a person.

    Returns:
        (..., P) bool.
    """
    flag = np.zeros(conf.shape[:-1], dtype=bool)
    if projected.shape[-3] < 2 or not conf.shape[-2]:
        return flag
    boxed = _covered(points, conf, projected)                              # (..., P, T)
    gaps = _gaps(points, projected)
    mixed = _mixed(gaps, conf, threshold_px)
    explains = _mean_gaps(gaps, conf) < threshold_px
    # A detection that follows one person's projection and merely covers another's box is
    # that person's, with the other hidden behind: only mixed joints, or a box over people
    # it follows none of, make it doubtful.
    covered = np.where((mixed.sum(axis=-1) >= 2)[..., None], mixed | boxed,
                       np.where(explains.any(axis=-1)[..., None], False, boxed))
    for index in np.argwhere(covered.sum(axis=-1) >= 2):
        view, d = tuple(index[:-1]), index[-1]
        under = covered[view][d]
        helpers = np.delete(explains[view], d, axis=0)[:, under].any(axis=1).sum()
        flag[view][d] = under.sum() > 1 + helpers
    return flag


def _original_index(row, originals):
    """Return a person's detection per view (V,) in the indexes of the views as given."""
    return np.array([originals[v][i] if i >= 0 else -1 for v, i in enumerate(row)], dtype=int)


def _boxes(points, known):
    """(..., N, 4) x0, y0, x1, y1 of points (..., N, J, 2) where known (..., N, J), else NaN."""
    known = known[..., None]
    boxes = np.concatenate([np.where(known, points, np.inf).min(axis=-2),
                            np.where(known, points, -np.inf).max(axis=-2)], axis=-1)
    return np.where(known.any(axis=-2), boxes, np.nan)


def _covered(points, conf, projected):
    """(..., P, T): which tracks' projections (..., T, J, 2) lie mostly inside each box."""
    detections = _boxes(points, conf > 0)[..., :, None, :]
    tracks = _boxes(projected, np.isfinite(projected).all(axis=-1))[..., None, :, :]
    low = np.maximum(detections[..., :2], tracks[..., :2])
    high = np.minimum(detections[..., 2:], tracks[..., 2:])
    overlap = np.clip(high - low, 0.0, None).prod(axis=-1)
    area = np.clip(tracks[..., 2:] - tracks[..., :2], 1.0, None).prod(axis=-1)
    return np.nan_to_num(overlap / area) >= _COVERED_FRACTION


def _gaps(points, projected):
    """(..., P, T, J) pixel distance of each detection's joints to each track's."""
    return np.linalg.norm(points[..., :, None, :, :] - projected[..., None, :, :, :], axis=-1)


def _mixed(gaps, conf, threshold_px):
    """(..., P, T): tracks that each own several joints of a detection (nearest, in reach).

    ``gaps``: :func:`_gaps` of the detections and tracks.
    """
    num_tracks = gaps.shape[-2]
    if not gaps.shape[-3] or not num_tracks:
        return np.zeros(gaps.shape[:-1], dtype=bool)
    gaps = np.nan_to_num(gaps, nan=np.inf)                                    # (..., P, T, J)
    nearest = np.argmin(gaps, axis=-2)                                        # (..., P, J)
    close = (np.min(gaps, axis=-2) < threshold_px) & (conf > 0)
    owned = ((nearest[..., None, :] == np.arange(num_tracks)[:, None])
             & close[..., None, :])
    return owned.sum(axis=-1) >= _MIN_SHARED_JOINTS


def _pixel_distance(points, conf, projected):
    """(..., P, T) mean pixel distance of detections to projected tracks over their joints.

    inf where they share fewer than :data:`_MIN_SHARED_JOINTS`.
    """
    return _mean_gaps(_gaps(points, projected), conf)


def _mean_gaps(gaps, conf):
    """:func:`_pixel_distance` from the :func:`_gaps` (..., P, T, J) of the detections."""
    if not gaps.shape[-3] or not gaps.shape[-2]:
        return np.full(gaps.shape[:-1], np.inf)
    shared = (conf[..., None, :] > 0) & np.isfinite(gaps)
    with np.errstate(invalid='ignore'):
        mean = np.where(shared, gaps, 0.0).sum(axis=-1) / shared.sum(axis=-1)
    return np.where(shared.sum(axis=-1) >= _MIN_SHARED_JOINTS, mean, np.inf)


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
