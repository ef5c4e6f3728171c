# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What one frame's detections say about each person, before any fit: stateless rules.

In order (see :func:`skelsplat_ros.solver.core.solve_people`): the person chosen in
each view (:func:`select_person`), left/right swaps undone against the motion prediction
(:func:`unswap_by_prediction`, several people in one call), and the fits' start
(:func:`initial_positions`, several people in one call): RANSAC-DLT,
views outvoted whole, views that contradict the prediction (:func:`gate_by_prediction`) or,
without a prediction, 2-2 ties settled by the skeleton (:func:`break_ties_by_skeleton`), and
joints seen by one view back-projected.  Every function takes the rig, the arrays and the
parameters it needs, and keeps no state.
"""

from dataclasses import dataclass
import itertools
from typing import Optional

import numpy as np
from skelsplat_ros.solver.geometry import back_project, project, reprojection_residuals
from skelsplat_ros.triangulation import Consensus, ransac_consensus, triangulate_ransac
from skelsplat_ros.triangulation import project as project_all


@dataclass
class Prediction:
    """The motion model's expectation of this frame, made from the previous frame's state.

    Attributes:
        positions: (J, 3) predicted joints, NaN where unknown.
        covariance: (J, 3, 3) their covariance, m^2.
        weak: (J,) frames since two views or more saw each joint.

    """

    positions: np.ndarray
    covariance: np.ndarray
    weak: np.ndarray


def select_person(rig, candidates, reference, threshold_px):
    """Pick in each view the person consistent with the other views.

    Args:
        rig: the :class:`skelsplat_ros.cameras.CameraRig`.
        candidates: per view (points (P_v, J, 2), confidence (P_v, J)), as
            :meth:`skelsplat_ros.cameras.CameraRig.observe_people` gives.
        reference: (J, 3) joints to pick people by where a view is ambiguous (the motion
            state), or None to find them by triangulating every combination.
        threshold_px: the RANSAC inlier threshold, pixels.

    Returns:
        points (V, J, 2), weights (V, J) and the chosen index per view (V,), -1 for none.

    """
    num_joints = max((c[1].shape[1] for c in candidates if c[1].size), default=0)
    points = np.zeros((rig.num_views, num_joints, 2))
    weights = np.zeros((rig.num_views, num_joints))
    chosen = np.full(rig.num_views, -1)
    counts = [c[1].shape[0] for c in candidates]
    if max(counts, default=0) <= 1:
        reference = None
    elif reference is None:
        reference = _best_combination(rig, candidates, counts, threshold_px)
    for v, (pts, conf) in enumerate(candidates):
        if not counts[v]:
            continue
        if counts[v] == 1:
            best = 0
        elif reference is None:
            best = int(np.argmax(conf.sum(axis=1)))
        else:
            best = _closest_candidate(rig.projections[v], pts, conf, reference, threshold_px)
            if best < 0:
                continue
        chosen[v] = best
        points[v], weights[v] = pts[best], conf[best]
    return points, weights, chosen


def _best_combination(rig, candidates, counts, threshold_px):
    """(J, 3) triangulation of the combination of candidates the confident views agree with.

    Every combination (few views, few people; 256 at most) is tried.
    """
    options = [range(n) if n else [None] for n in counts]
    num_joints = max(c[1].shape[1] for c in candidates if c[1].size)
    best_score, best_positions = -1.0, None
    for combo in itertools.islice(itertools.product(*options), 256):
        pts = np.zeros((rig.num_views, num_joints, 2))
        conf = np.zeros((rig.num_views, num_joints))
        for v, i in enumerate(combo):
            if i is not None:
                pts[v], conf[v] = candidates[v][0][i], candidates[v][1][i]
        positions, inliers = triangulate_ransac(rig.projections, pts, conf,
                                                threshold_px=threshold_px)
        score = float((conf * inliers).sum())
        if score > best_score:
            best_score, best_positions = score, positions
    return best_positions


def _closest_candidate(P, pts, conf, reference, threshold_px):
    """Index of the candidate nearest the reference's projection by ``P``, or -1 if none is."""
    known = np.isfinite(reference).all(axis=1)
    if not known.any():
        return int(np.argmax(conf.sum(axis=1)))
    projected = project(P, reference[known])                                  # (Jk, 2)
    errors = np.linalg.norm(pts[:, known] - projected[None], axis=-1)         # (P, Jk)
    w = conf[:, known]
    score = (np.minimum(errors, 10 * threshold_px) * w).sum(axis=1)
    score = score / np.maximum(w.sum(axis=1), 1e-9)
    best = int(np.argmin(score))
    return best if score[best] < 5 * threshold_px else -1


def unswap_by_prediction(rig, points, weights, predicted, skeleton, threshold_px):
    """Undo left/right swaps of joint pairs in a view, judged by the motion prediction.

    Detectors swap limbs; two views swapping the same limb tie 2-2 in RANSAC.  Where a view's
    left and right joints each lie closer to the other side's predicted projection (J, 3), by
    a clear margin, the pair is swapped back before anything else sees it.  Leading dims
    ``...`` (none, or people) of ``points`` (..., V, J, 2), ``weights`` (..., V, J) and
    ``predicted`` (..., J, 3) are independent people.  Returns the ``(points, weights)`` with
    the swaps undone (copies).
    """
    points, weights = points.copy(), weights.copy()
    pairs = np.array([(j, int(m)) for j, m in enumerate(skeleton.flip) if j < m],
                     dtype=np.int64).reshape(-1, 2)
    left, right = pairs.T
    known = (np.isfinite(predicted[..., left, :]).all(axis=-1)
             & np.isfinite(predicted[..., right, :]).all(axis=-1))             # (..., pairs)
    if not known.any():
        return points, weights
    projected, _ = project_all(rig.projections, predicted)                     # (..., V, J, 2)
    expect_left, expect_right = projected[..., left, :], projected[..., right, :]
    seen = (weights[..., left] > 0) & (weights[..., right] > 0)               # (..., V, pairs)
    kept = (np.linalg.norm(points[..., left, :] - expect_left, axis=-1)
            + np.linalg.norm(points[..., right, :] - expect_right, axis=-1))
    crossed = (np.linalg.norm(points[..., left, :] - expect_right, axis=-1)
               + np.linalg.norm(points[..., right, :] - expect_left, axis=-1))
    # An unknown prediction projects to NaN, which compares false: such a pair stays.
    swap = known[..., None, :] & seen & (crossed < 0.5 * kept) & (kept > threshold_px)
    *views, pair = np.nonzero(swap)
    a, b = (*views, left[pair]), (*views, right[pair])
    # The pairs are disjoint, so every swap of a view can be done at once.
    points[a], points[b] = points[b], points[a]
    weights[a], weights[b] = weights[b], weights[a]
    return points, weights


def outvoted_views(inliers, seen, min_joints=6, min_support=0.25, consensus=0.5):
    """Return the (V,) views that the other views contradict almost everywhere.

    Those are the views that detected ``min_joints`` or more joints and had under
    ``min_support`` of them kept, while at least two other views had ``consensus`` or more of
    theirs kept.
    """
    detected = seen.sum(axis=1)
    support = inliers.sum(axis=1) / np.maximum(detected, 1)
    enough = detected >= min_joints
    if (enough & (support >= consensus)).sum() < 2:
        return np.zeros(len(seen), dtype=bool)
    return enough & (support < min_support)


def robust_start(rig, points, weights, threshold_px, earlier: Optional[Consensus] = None):
    """RANSAC-DLT of every joint, without the views that the others outvote whole.

    A view whose skeleton the others contradict almost everywhere shows someone else (a
    one-person detector locked onto a bystander): the few joints where it happens to agree
    would otherwise pull, so the whole view goes (see :func:`outvoted_views`).  ``earlier`` is
    a RANSAC of this frame already run (by the tracker), used if it had the same input.

    Returns positions (J, 3), NaN where fewer than two views agree, inliers (V, J), the
    weights (V, J) without the outvoted views, and those views (V,).
    """
    consensus = ransac_consensus(rig.projections, points, weights, threshold_px, earlier)
    positions, inliers = consensus.positions.copy(), consensus.inliers & (weights > 0)
    outvoted = outvoted_views(inliers, weights > 0)
    if outvoted.any():
        weights = np.where(outvoted[:, None], 0.0, weights)
        positions, inliers = triangulate_ransac(rig.projections, points, weights,
                                                threshold_px=threshold_px)
        inliers = inliers & (weights > 0)
    return positions, inliers, weights, outvoted


def gate_by_prediction(rig, positions, inliers, points, weights, prediction: Prediction, config):
    """Drop views that contradict the motion prediction.

    With two views a confident outlier cannot be outvoted, and two outliers can outvote or
    join two good views, but an outlier lands far from where the joint was a frame ago.  Views
    are dropped, and the joint re-triangulated from the rest:

    - where two views or more lie within ``ransac_threshold_px`` of the predicted projection,
      the views beyond it, unless the prediction is uncertain there (its projected std over a
      quarter of that distance);
    - where no two views agree, or just two do while the joint was well seen a frame ago, the
      views more than ``gate_px`` from the predicted projection.

    Otherwise a consensus of views wins over the prediction.

    Returns the gated ``(positions, inliers, weights)``: copies where a view was dropped, the
    arrays given otherwise.
    """
    threshold = config.ransac_threshold_px
    predicted = prediction.positions
    known = np.isfinite(predicted).all(axis=1)
    projected, jac = reprojection_residuals(
        rig.projections, np.where(known[:, None], predicted, 0.0), np.zeros_like(points))
    with np.errstate(over='ignore', invalid='ignore'):  # an absurd camera model: inf spread
        spread = ((jac @ prediction.covariance) * jac).sum(axis=(-2, -1))    # (V, J)
    distance = np.linalg.norm(points - projected, axis=-1)
    detected = weights > 0
    outvoted = detected & (distance > threshold) & (spread < (threshold / 4) ** 2)
    outvoted &= ((detected & ~outvoted).sum(axis=0) >= 2)[None]
    agreeing = inliers.sum(axis=0)
    # Two agreeing views are trusted over a prediction that itself went without two views (it
    # has drifted along a ray); otherwise the prediction arbitrates.
    weak_consensus = (agreeing < 2) | ((agreeing == 2) & (prediction.weak == 0))
    drop = known[None] & (outvoted | (detected & (distance > config.gate_px)
                                      & weak_consensus[None]))
    suspect = drop.any(axis=0)
    if not suspect.any():
        return positions, inliers, weights
    positions, inliers = positions.copy(), inliers.copy()
    weights = np.where(drop, 0.0, weights)
    regated, regated_inliers = triangulate_ransac(
        rig.projections, points[:, suspect], weights[:, suspect], threshold_px=threshold)
    positions[suspect] = regated
    inliers[:, suspect] = regated_inliers & (weights[:, suspect] > 0)
    return positions, inliers, weights


def break_ties_by_skeleton(P, positions, inliers, points, weights, bones, threshold_px):
    """Settle 2-2 splits of a joint's views by the skeleton, without a motion prediction.

    Two confident outliers in four views can agree with each other as well as the two good
    views do (a 2-2 tie; on the first frame, or in per-frame mode, no prediction can tell).
    The two consensuses place the joint far apart, and only one of them next to its skeleton
    neighbours.  For a joint whose RANSAC consensus is two views while two others saw it, the
    other views are triangulated too, and the consensus nearer (mean distance) to the
    neighbours (``bones`` (B, 2) joint pairs) that three views or more agree on is kept; the
    views of the other are dropped.

    Returns the settled ``(positions, inliers, weights)`` (copies).
    """
    positions, inliers, weights = positions.copy(), inliers.copy(), weights.copy()
    detected = weights > 0
    agreeing = inliers.sum(axis=0)
    anchored = agreeing >= 3
    tied = (agreeing == 2) & ((detected & ~inliers).sum(axis=0) >= 2)
    for j in np.flatnonzero(tied):
        neighbours = np.concatenate([bones[bones[:, 0] == j, 1], bones[bones[:, 1] == j, 0]])
        neighbours = neighbours[anchored[neighbours]]
        if not neighbours.size:
            continue
        others = np.where(inliers[:, j], 0.0, weights[:, j])
        other, other_inliers = triangulate_ransac(P, points[:, j:j + 1], others[:, None],
                                                  threshold_px=threshold_px)
        if other_inliers.sum() < 2:
            continue

        def distance(position):
            return np.linalg.norm(positions[neighbours] - position, axis=1).mean()

        if distance(other[0]) < distance(positions[j]):
            weights[:, j] = others
            positions[j] = other[0]
            inliers[:, j] = other_inliers[:, 0]
    return positions, inliers, weights


def initial_positions(rig, points, weights, predictions, config, skeleton, earlier=None):
    """Start people's fits: robust triangulation, checked by the prediction or the skeleton.

    Joints that no two views agree on take the motion prediction where there is one, and a
    joint seen in one view only lies on its ray at the depth of the rest of the body.  The
    people with a prediction are gated in one call on all their joints together
    (:func:`gate_by_prediction` treats each joint on its own): for a few people, its cost is
    its per-call overhead.

    Args:
        rig: the :class:`skelsplat_ros.cameras.CameraRig`.
        points: per person (V, J, 2) undistorted pixels.
        weights: per person (V, J) confidences, 0 where unused.
        predictions: per person its :class:`Prediction`, or None.
        config: the solver's configuration.
        skeleton: the people's :class:`skelsplat_ros.skeletons.Skeleton`.
        earlier: per person, see :func:`robust_start` (None: none for anyone).

    Returns:
        Per person: positions (J, 3) with NaN where nothing is known, inliers (V, J), and the
        views left out whole (V,).
    """
    threshold = config.ransac_threshold_px
    earlier = [None] * len(points) if earlier is None else earlier
    starts = [robust_start(rig, person_points, person_weights, threshold, consensus)
              for person_points, person_weights, consensus in zip(points, weights, earlier)]
    started = [start[:3] for start in starts]   # (positions, inliers, weights) per person
    gated = [n for n, prediction in enumerate(predictions) if prediction is not None]
    if gated:
        sizes = [len(started[n][0]) for n in gated]
        ends = np.cumsum(sizes)
        together = Prediction(*(np.concatenate([getattr(predictions[n], field) for n in gated])
                                for field in ('positions', 'covariance', 'weak')))
        positions, inliers, gated_weights = gate_by_prediction(
            rig, np.concatenate([started[n][0] for n in gated]),
            np.concatenate([started[n][1] for n in gated], axis=1),
            np.concatenate([points[n] for n in gated], axis=1),
            np.concatenate([started[n][2] for n in gated], axis=1), together, config)
        for n, size, end in zip(gated, sizes, ends):
            part = slice(end - size, end)
            started[n] = (positions[part], inliers[:, part], gated_weights[:, part])
    bones = np.asarray(skeleton.bones, dtype=np.int64).reshape(-1, 2)
    results = []
    for person_points, (positions, inliers, person_weights), prediction, start in zip(
            points, started, predictions, starts):
        if prediction is None:
            positions, inliers, person_weights = break_ties_by_skeleton(
                rig.projections, positions, inliers, person_points, person_weights, bones,
                threshold)
        results.append((*_fill_unknown(rig, positions, inliers, person_points, person_weights,
                                       prediction), start[3]))
    return results


def _fill_unknown(rig, positions, inliers, points, weights, prediction):
    """Give the joints no two views agree on the prediction, or a depth on their one view's ray.

    Returns positions (J, 3), changed in place, and inliers (V, J).
    """
    missing = ~np.isfinite(positions).all(axis=1)
    if prediction is not None:
        use = missing & np.isfinite(prediction.positions).all(axis=1)
        positions[use] = prediction.positions[use]
        missing &= ~use
    seen = weights > 0
    for j in np.flatnonzero(missing):
        views = np.flatnonzero(seen[:, j])
        if views.size:
            v = views[np.argmax(weights[views, j])]
            positions[j] = back_project(rig, v, points[v, j], positions)
    single = (seen.sum(axis=0) == 1) & np.isfinite(positions).all(axis=1)
    inliers[:, single] = seen[:, single]
    return positions, inliers & (weights > 0)
