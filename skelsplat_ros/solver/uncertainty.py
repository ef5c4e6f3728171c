# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""How well a fit is known: single-view depth, the information matrix, the reported estimate."""

import numpy as np
from skelsplat_ros.solver.config import PoseEstimate
from skelsplat_ros.solver.geometry import normal_equations, on_ray, reprojection_residuals
from skelsplat_ros.triangulation import reprojection_errors


def hold_single_view_depth(rig, bones, positions, init, points, weights, remembered, previous):
    """Put joints seen by one view on its ray at a depth with some ground.

    One view fixes two of a joint's three coordinates; the heatmap loss is flat along the ray,
    and Adam, which normalises each coordinate's step, would wander along it from frame to
    frame.  The depth comes from the joint's skeleton neighbours that two views see
    (:func:`depth_by_neighbours`), so that the joint follows the body in depth; without such
    a neighbour, from the start ``init`` (the motion prediction) where ``remembered``.  A joint
    with neither has no depth worth reporting: it becomes unknown rather than a guess a metre
    off along the ray.

    Args:
        rig: the cameras.
        bones: (B, 2) joint index pairs of the skeleton.
        positions: (J, 3) fitted joints, NaN where unknown.
        init: (J, 3) the fit's start.
        points: (V, J, 2) undistorted detections.
        weights: (V, J) weights of the supporting views, else 0.
        remembered: (J,) bool, the joints that two views saw recently (the motion state's
            depth holds for them).
        previous: (J, 3) the motion state's joints (NaN where unknown), or None without a
            state.

    Returns:
        The positions (a copy) with the single-view joints placed.

    """
    positions = positions.copy()
    seen = (weights > 0).sum(axis=0)
    for j in np.flatnonzero((seen == 1) & np.isfinite(positions).all(axis=1)):
        v = int(np.argmax(weights[:, j]))
        depth = depth_by_neighbours(rig, bones, v, j, positions, seen >= 2,
                                    previous if remembered[j] else None)
        if depth is None and remembered[j]:
            depth = rig.cameras[v].world_to_camera(init[j][None])[0, 2]
        positions[j] = np.nan if depth is None else on_ray(rig, v, points[v, j], depth)
    return positions


def depth_by_neighbours(rig, bones, v, j, positions, well_seen, previous):
    """View v's depth of joint j from its well-seen neighbours' depths, or None.

    The joint keeps its depth offset from each neighbour in ``previous`` (J, 3), the joints as
    of when two views last saw it (None: no such memory); a joint without such a depth gets
    its neighbours' depth, which puts it at the shortest bone its view allows.
    """
    depth = rig.cameras[v].world_to_camera
    depths = []
    for a, b in bones:
        other = b if a == j else a if b == j else -1
        if other < 0 or not well_seen[other]:
            continue
        offset = 0.0
        if previous is not None and np.isfinite(previous[[j, other]]).all():
            then = depth(previous[[j, other]])[:, 2]
            offset = then[0] - then[1]
        depths.append(depth(positions[other][None])[0, 2] + offset)
    return float(np.mean(depths)) if depths else None


def information(rig, positions, points, weights, sigma_px, config, sizes=None):
    """Return the inverse covariances (J, 3, 3), m^-2, of the fitted positions.

    The Gauss-Newton information of the confidence-weighted reprojection objective, divided by
    the 2D noise variance of unit weight, which is measured in this frame: the weighted squared
    residuals over their degrees of freedom (2 per view, less 3 per joint), pooled over the
    joints that two views or more see (the a posteriori variance factor of weighted least
    squares; joints ten times over the median factor left out), at least ``min_noise_px``
    squared.  Exact detections thus give a sharp measurement and noisy ones a broad one.
    Without such joints, the target heatmap's width in each view (sigma_px, (V,)
    full-resolution pixels) stands in.  A joint seen by one view is constrained along that
    view's ray only by ``single_view_depth_sigma``; every joint gets a weak isotropic prior of
    ``prior_sigma``.  weights (V, J) are 0 for the views that do not support a joint.

    ``sizes``: the joint counts of several people whose joints are the J, in order; each
    person's noise is measured on its own, and ``sigma_px`` is then one (V,) per person.
    """
    known = np.isfinite(positions).all(axis=1)
    residual, jac = reprojection_residuals(rig.projections,
                                           np.where(known[:, None], positions, 0.0), points)
    # Mask, not multiply: a view without weight may overflow (an absurd camera model), and
    # 0 x NaN would spread into every joint.
    used = weights > 0
    residual = np.where(used[..., None], residual, 0.0)
    jac = np.where(used[..., None, None], jac, 0.0)
    counts = used.sum(axis=0)
    if sizes is None:
        sizes, sigma_px = [len(positions)], [sigma_px]
    inverse_variance = np.empty(weights.shape)
    ends = np.cumsum(sizes)
    for start, end, sigma in zip(ends - sizes, ends, sigma_px):
        part = slice(start, end)
        inverse_variance[:, part] = _noise_precision(
            residual[:, part], weights[:, part], counts[part], known[part], sigma,
            config.min_noise_px)[:, None]
    scaled = np.where(used, weights * inverse_variance, 0.0)
    info, _ = normal_equations(jac, scaled)
    for j in np.flatnonzero(known & (counts == 1)):
        ray = positions[j] - rig.centres[int(np.argmax(weights[:, j]))]
        ray /= np.linalg.norm(ray)
        info[j] += np.outer(ray, ray) / config.single_view_depth_sigma ** 2
    return info + np.eye(3) / config.prior_sigma ** 2


def _noise_precision(residual, weights, counts, known, sigma_px, min_noise_px):
    """(V,) one person's inverse 2D noise variance of unit weight (see :func:`information`)."""
    redundant = known & (counts >= 2)
    squares = (weights[:, redundant] * (residual[:, redundant] ** 2).sum(axis=-1)).sum(axis=0)
    freedom = 2 * counts[redundant] - 3
    if freedom.size:
        # A joint whose fit missed its views must not inflate the others' noise.
        pooled = squares <= 10 * np.median(squares / freedom) * freedom
        squares, freedom = squares[pooled], freedom[pooled]
    if freedom.sum() > 0:
        variance = float(squares.sum() / freedom.sum())
        return np.full(len(weights), 1.0 / max(variance, min_noise_px ** 2))
    return 1.0 / np.asarray(sigma_px) ** 2


def describe(rig, positions, points, weights, inliers, person_index, covariance, agreement_px):
    """Build the :class:`PoseEstimate` of a fit: confidence, supporting views, reprojection errors.

    A joint's confidence is its supporting views' mean confidence, times 1 for two views or
    more and 0.25 for one, times a Gaussian of its reprojection error of std
    ``agreement_px``.
    """
    num_joints = positions.shape[0]
    support = (weights > 0) & inliers
    num_views = support.sum(axis=0)
    known = np.isfinite(positions).all(axis=1)
    errors = np.zeros((rig.num_views, num_joints))
    errors[:, known] = reprojection_errors(rig.projections, positions[known], points[:, known])
    supported = num_views > 0
    reprojection = np.full(num_joints, np.nan)
    reprojection[supported] = (np.where(support, errors, 0.0).sum(axis=0)[supported]
                               / num_views[supported])
    mean_conf = (weights * support).sum(axis=0) / np.maximum(num_views, 1)
    view_factor = np.select([num_views >= 2, num_views == 1], [1.0, 0.25], 0.0)
    agreement = np.exp(-0.5 * (np.nan_to_num(reprojection, nan=0.0) / agreement_px) ** 2)
    confidence = np.where(known, mean_conf * view_factor * agreement, 0.0)
    return PoseEstimate(positions=positions, confidence=confidence, covariance=covariance,
                        num_views=num_views.astype(np.int64), reprojection_error=reprojection,
                        inliers=support, person_index=person_index)
