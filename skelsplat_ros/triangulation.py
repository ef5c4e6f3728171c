# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Multi-view triangulation of joints: weighted DLT, RANSAC over views, reprojection errors.

All functions take projection matrices ``P`` (V, 3, 4) = ``K [R | t]`` (see
:class:`skelsplat_ros.cameras.CameraRig`) and keypoints in *undistorted* pixels, and work on all
J joints at once with batched linear algebra, since they run on every frame.  :func:`dlt`,
:func:`project`, :func:`truncated_cost` and :func:`triangulate_ransac` are the references of
their batched torch twins of the same names in
:mod:`skelsplat_ros.solver.objectives.analytic_torch`.
"""

from dataclasses import dataclass
import itertools
from typing import Optional

import numpy as np

# Views per joint whose pairs are triangulated as RANSAC hypotheses: its most confident ones.
# Every usable view still scores every hypothesis, so the cost grows linearly in the views
# past this count (all pairs of 16 views cost 4 times the scoring and 4.3 times the
# triangulations of 8 views' pairs), and the agreeing views a hypothesis needs are among the
# most confident wherever at most half of them are wrong.
HYPOTHESIS_VIEWS = 8
# RANSAC keeps a joint's DLT of all its views when each view is within this fraction of the
# threshold of it (see triangulate_ransac).
EARLY_STOP_FRACTION = 0.5


def _usable_weights(points, weights):
    """Return weights (..., V, J) that are 0 wherever a view cannot be used for a joint."""
    finite = np.isfinite(points).all(axis=-1)
    if weights is None:
        weights = np.ones(points.shape[:-1])
    weights = np.nan_to_num(np.asarray(weights, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)
    return np.where(finite & (weights > 0), weights, 0.0)


def dlt(P, points, weights):
    """Weighted homogeneous DLT (the least singular vector), batched over leading dims.

    ``P`` (..., V, 3, 4), ``points`` (..., V, J, 2), ``weights`` (..., V, J) already zero for
    unusable views.  Returns (..., J, 3), NaN where fewer than two views have weight.
    """
    points = np.where(weights[..., None] > 0, points, 0.0)
    # Each view gives two equations x * P[2] - P[0] and y * P[2] - P[1]: (..., V, J, 2, 4).
    rows = points[..., None] * P[..., None, None, 2, :] - P[..., None, 0:2, :]
    # Unit-norm rows make the views comparable whatever their scale; then the weight applies.
    with np.errstate(over='ignore', invalid='ignore'):
        norms = np.linalg.norm(rows, axis=-1, keepdims=True)
        rows = rows / np.where(norms > 0, norms, 1.0) * weights[..., None, None]
    # A view whose equations overflow (an absurd camera model) says nothing: mask it, since
    # one NaN row makes the whole system's SVD fail.
    finite = np.isfinite(rows).all(axis=(-2, -1))                       # (..., V, J)
    rows = np.where(finite[..., None, None], rows, 0.0)
    num_views = rows.shape[-4]
    system = np.moveaxis(rows, -4, -3).reshape(*rows.shape[:-4], rows.shape[-3], 2 * num_views, 4)
    # The SVD's least singular vector is the least eigenvector of system^T system (4 x 4),
    # which costs a third as much; the unit-norm rows keep it well conditioned (the ratio
    # of the third to the first singular value is over 0.5 on a ring of 16 cameras).
    gram = np.swapaxes(system, -1, -2) @ system
    homogeneous = np.linalg.eigh(gram)[1][..., :, 0]
    with np.errstate(divide='ignore', invalid='ignore'):
        positions = homogeneous[..., :3] / homogeneous[..., 3:]
    enough = ((weights > 0) & finite).sum(axis=-2) >= 2
    return np.where(enough[..., None] & np.isfinite(positions), positions, np.nan)


def triangulate_dlt(P, points, weights=None):
    """Triangulate J joints from V views by confidence-weighted DLT.

    ``P`` (V, 3, 4); ``points`` (V, J, 2) undistorted pixels, NaN where missing; ``weights``
    (V, J) confidences or None for equal weights.  Views with weight <= 0 (or NaN) or NaN points
    are skipped.  Returns (J, 3), NaN for joints seen in fewer than two views.
    """
    P = np.asarray(P, dtype=float)
    points = np.asarray(points, dtype=float)
    return dlt(P, points, _usable_weights(points, weights))


def project(P, positions):
    """Project positions (..., J, 3) by P (V, 3, 4) into pixels (..., V, J, 2) and depths."""
    homogeneous = np.concatenate([positions, np.ones(positions.shape[:-1] + (1,))], axis=-1)
    # One matrix product for every view (einsum's default loop is many times slower).
    image = (homogeneous @ P.reshape(-1, 4).T).reshape(positions.shape[:-1] + P.shape[:2])
    image = np.swapaxes(image, -3, -2)                                        # (..., V, J, 3)
    with np.errstate(divide='ignore', invalid='ignore'):
        return image[..., :2] / image[..., 2:], image[..., 2]


def reprojection_errors(P, X, points):
    """Pixel distance between the projections of ``X`` and the keypoints.

    ``P`` (V, 3, 4), ``X`` (J, 3), ``points`` (V, J, 2) undistorted pixels.  Returns (V, J),
    NaN where the joint or the keypoint is NaN.
    """
    pixels, _ = project(np.asarray(P, dtype=float), np.asarray(X, dtype=float))
    return np.linalg.norm(pixels - np.asarray(points, dtype=float), axis=-1)


def hypothesis_views(weights, max_views=HYPOTHESIS_VIEWS):
    """Per joint, the views whose pairs RANSAC triangulates: (..., K, J) indexes, K <= max_views.

    All views in order where ``weights`` (..., V, J) has at most ``max_views``; otherwise each
    joint's ``max_views`` most confident views (ties to the lower index), in increasing order,
    so that the pairs are those that all views would give among them.
    """
    num_views, num_joints = weights.shape[-2:]
    if num_views <= max_views:
        return np.broadcast_to(np.arange(num_views)[:, None],
                               weights.shape[:-2] + (num_views, num_joints))
    best = np.argsort(-weights, axis=-2, kind='stable')[..., :max_views, :]
    return np.sort(best, axis=-2)


def triangulate_ransac(P, points, weights=None, threshold_px=40.0, min_views=2,
                       refinements=2, max_views=HYPOTHESIS_VIEWS):
    """Triangulate J joints robustly to views that disagree (wrong person, swapped limbs).

    A joint whose usable views are all within half the threshold of their weighted DLT
    (:data:`EARLY_STOP_FRACTION`) keeps that DLT: adaptive RANSAC's stopping rule, once a
    hypothesis has every view as an inlier.  For each other joint, every pair of its
    ``max_views`` most confident usable views (all of them in a rig of that many cameras or
    fewer; :func:`hypothesis_views`) is triangulated, and each candidate is scored MSAC-style
    (Torr and Zisserman): every usable view costs its weight times
    ``min((error / threshold_px)^2, 1)``, and a view that sees the point behind it costs its
    full weight.  Unlike counting inliers, this prefers the candidate that the agreeing views
    fit best, so a confident outlier just inside the threshold cannot win by its confidence.
    The best candidate is then refined ``refinements`` times by the weighted DLT of its
    inliers, the views within the threshold of the current position.  (Down-weighting the
    inliers near the threshold by Tukey's biweight instead cost 5.5 mm on pose2sim's real 2D,
    where good views of a joint disagree by up to 25 px.)  A joint whose consensus has fewer
    than ``min_views`` views falls back to the weighted DLT of all its usable views and gets no
    inliers; a joint with fewer than two usable views is NaN.

    The default threshold suits 1080p-class images of a person 3 to 5 m away, where OpenPose
    views of the same joint disagree by 10 to 25 px; scale it with the image size.

    ``P`` (V, 3, 4) = ``K [R | t]`` (so that depth is the third homogeneous coordinate);
    ``points`` (..., V, J, 2) undistorted pixels; ``weights`` (..., V, J) or None.  Returns
    ``(positions (..., J, 3), inliers (..., V, J) bool)``; leading dims are independent
    problems (the people of a frame), solved together.
    """
    P = np.asarray(P, dtype=float)
    points = np.asarray(points, dtype=float)
    weights = _usable_weights(points, weights)
    points = np.broadcast_to(points, weights.shape + (2,))
    num_views, num_joints = weights.shape[-2:]
    if num_views < 2:
        return (np.full(weights.shape[:-2] + (num_joints, 3), np.nan),
                np.zeros(weights.shape, dtype=bool))

    fallback = dlt(P, points, weights)
    # Adaptive RANSAC stops once a hypothesis has every view as an inlier.  The DLT of all
    # views is that hypothesis for most joints of a clean frame, so only the joints whose views
    # disagree pay for the pairs.  Every view must be well inside the threshold, not just
    # inside: a view near it is one the pairs' refits may drop (on pose2sim's OpenPose demo,
    # stopping within the whole threshold cost 6 mm; within half of it, nothing).
    usable = weights > 0
    within = truncated_cost(P, fallback, points, threshold_px) < EARLY_STOP_FRACTION ** 2
    agree = (within | ~usable).all(axis=-2)
    agree &= usable.sum(axis=-2) >= max(min_views, 2)                        # (..., J)
    # An agreeing joint's refits would keep every view, and so its DLT: it is done.
    positions, inliers = fallback.copy(), usable & agree[..., None, :]
    count = int(np.prod(weights.shape[:-2], dtype=int))
    batch, joint = np.nonzero(~agree.reshape(count, num_joints))
    if len(batch):
        # Each disputed joint is a problem of its own, (N, V, 1, ...), for the batched pairs.
        one_points = points.reshape(count, num_views, num_joints, 2)[batch, :, joint][:, :, None]
        one_weights = weights.reshape(count, num_views, num_joints)[batch, :, joint][:, :, None]
        one_fallback = fallback.reshape(count, num_joints, 3)[batch, joint][:, None]
        disputed = _best_pair(P, one_points, one_weights, threshold_px, max_views)  # (N, 1, 3)
        for _ in range(refinements + 1):
            cost = truncated_cost(P, disputed, one_points, threshold_px)
            disputed_inliers = (cost < 1.0) & (one_weights > 0)
            agreed = disputed_inliers.sum(axis=-2) >= max(min_views, 2)
            disputed = np.where(agreed[..., None],
                                dlt(P, one_points, one_weights * disputed_inliers), one_fallback)
        positions.reshape(count, num_joints, 3)[batch, joint] = disputed[:, 0]
        inliers.reshape(count, num_views, num_joints)[batch, :, joint] = \
            (disputed_inliers & agreed[..., None, :])[:, :, 0]
    return positions, inliers


@dataclass(frozen=True)
class Consensus:
    """One :func:`triangulate_ransac` result with the input it was computed from.

    A later stage of the same frame that is about to triangulate the same person (the
    multi-person tracker locates each group, then the person's solver starts its fit from the
    same detections) takes it through :func:`ransac_consensus` instead of running RANSAC again.
    """

    points: np.ndarray       # (V, J, 2) undistorted pixels
    weights: np.ndarray      # (V, J)
    threshold_px: float
    positions: np.ndarray    # (J, 3)
    inliers: np.ndarray      # (V, J) bool

    def answers(self, points, weights, threshold_px) -> bool:
        """Whether this is the result for that input (an exact match, NaN equal to NaN)."""
        return (threshold_px == self.threshold_px
                and np.array_equal(points, self.points, equal_nan=True)
                and np.array_equal(weights, self.weights, equal_nan=True))


def ransac_consensus(P, points, weights, threshold_px,
                     earlier: Optional[Consensus] = None) -> Consensus:
    """:func:`triangulate_ransac` of ``points`` and ``weights``, or ``earlier`` if it answers it.

    The returned arrays are the caller's to keep: change copies of them.
    """
    if earlier is not None and earlier.answers(points, weights, threshold_px):
        return earlier
    positions, inliers = triangulate_ransac(P, points, weights, threshold_px=threshold_px)
    return Consensus(points, weights, threshold_px, positions, inliers)


def _best_pair(P, points, weights, threshold_px, max_views):
    """(..., J, 3) the pair candidate (:func:`_pair_candidates`) of least truncated cost."""
    candidates = _pair_candidates(P, points, weights, max_views)       # (..., S, J, 3)
    cost = truncated_cost(P, candidates, points[..., None, :, :, :], threshold_px)
    cost = np.where(weights[..., None, :, :] > 0, weights[..., None, :, :] * cost,
                    0.0).sum(axis=-2)                                        # (..., S, J)
    cost = np.where(np.isfinite(candidates).all(axis=-1), cost, np.inf)
    best = np.argmin(cost, axis=-2)[..., None, :, None]                     # (..., 1, J, 1)
    return np.take_along_axis(candidates, best, axis=-3)[..., 0, :, :]


def _pair_candidates(P, points, weights, max_views):
    """(..., S, J, 3) DLT of each joint's pairs of hypothesis views (:func:`hypothesis_views`)."""
    num_views, num_joints = weights.shape[-2:]
    if num_views <= max_views:
        pairs = np.array(list(itertools.combinations(range(num_views), 2)))     # (S, 2)
        return dlt(P[pairs], points[..., pairs, :, :], weights[..., pairs, :])
    batch = weights.shape[:-2]
    views = hypothesis_views(weights, max_views).reshape(-1, max_views, num_joints)
    ranks = np.array(list(itertools.combinations(range(max_views), 2)))         # (S, 2)
    pairs = np.moveaxis(views[:, ranks], -1, -2)                                # (B, S, J, 2)
    person = np.arange(len(views))[:, None, None, None]
    joint = np.arange(num_joints)[None, None, :, None]
    points = points.reshape(-1, num_views, num_joints, 2)[person, pairs, joint]
    weights = weights.reshape(-1, num_views, num_joints)[person, pairs, joint]
    # One two-view system per pair and joint: the joint is a leading dim of its own.
    candidates = dlt(P[pairs], points[..., None, :], weights[..., None])       # (B, S, J, 1, 3)
    return candidates[..., 0, :].reshape(batch + candidates.shape[1:3] + (3,))


def truncated_cost(P, positions, points, threshold_px):
    """min((reprojection error / threshold)^2, 1), and 1 behind the camera: (..., V, J)."""
    pixels, depth = project(P, positions)
    errors = np.linalg.norm(pixels - points, axis=-1)
    with np.errstate(invalid='ignore'):
        cost = np.minimum((errors / threshold_px) ** 2, 1.0)
        return np.where(depth > 0, np.nan_to_num(cost, nan=1.0), 1.0)
