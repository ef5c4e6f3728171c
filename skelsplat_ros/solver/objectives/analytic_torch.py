# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Many frames (or people) in one call: the analytic objective batched in torch.

Offline work (a recorded sequence, many people) needs throughput, not latency.  This fits B
skeletons at once with the analytic objective (:mod:`.analytic`): a RANSAC-DLT start over
view pairs, then iteratively reweighted Gauss-Newton on the closed-form heatmap overlap (a
Welsch kernel on reprojection errors).  Every step is a batched tensor operation over
(B, V, J), on any torch device, so the cost per frame falls with the batch size instead of
paying Python and numpy overhead per frame.

Each function is the batched twin of the numpy reference of the same name, and computes
the same thing by the same algorithm: :func:`dlt`, :func:`project`, :func:`truncated_cost`
and :func:`triangulate_ransac` (:mod:`skelsplat_ros.triangulation`),
:func:`reprojection_residuals` (:mod:`skelsplat_ros.solver.geometry`),
:func:`break_ties_by_skeleton` (:mod:`skelsplat_ros.solver.observations`) and
:func:`fit_analytic` (:mod:`skelsplat_ros.solver.objectives.analytic`).

What :func:`solve_frames_analytic` leaves out, against the per-frame solver: the temporal prior
and prediction gating (each batch entry is independent, like ``temporal=False``, and like it
settles a 2-2 split of views by the skeleton), views outvoted whole, the choice among several
people per view (each entry is one person per view, already associated), back-projection of
joints seen in a single view (NaN here), and covariances.
"""

import itertools
from typing import Optional, Sequence

import numpy as np
from skelsplat_ros.cameras import CameraRig
from skelsplat_ros.skeletons import COCO17, Skeleton
from skelsplat_ros.triangulation import EARLY_STOP_FRACTION, HYPOTHESIS_VIEWS
import torch

__all__ = ['dlt', 'project', 'truncated_cost', 'triangulate_ransac', 'reprojection_residuals',
           'break_ties_by_skeleton', 'fit_analytic', 'fit_analytic_batch',
           'solve_frames_analytic']


def dlt(P, points, weights):
    """Weighted homogeneous DLT (the least singular vector), batched.

    ``P`` (..., V, 3, 4), ``points`` (..., V, J, 2), ``weights`` (..., V, J) already zero for
    unusable views (leading dims broadcast).  Returns (..., J, 3), NaN where fewer than two
    views have weight.
    """
    points = torch.where(weights[..., None] > 0, points, torch.zeros_like(points))
    # Each view gives two equations x * P[2] - P[0] and y * P[2] - P[1]: (..., V, J, 2, 4).
    rows = points[..., None] * P[..., :, None, 2:3, :] - P[..., :, None, 0:2, :]
    # Unit-norm rows make the views comparable whatever their scale; then the weight applies.
    norms = rows.norm(dim=-1, keepdim=True)
    rows = rows / torch.where(norms > 0, norms, torch.ones_like(norms)) \
        * weights[..., None, None]
    # A view whose equations overflow (an absurd camera model) says nothing: mask it, since
    # one NaN row makes the whole system's SVD fail.
    finite = rows.isfinite().all(dim=-1).all(dim=-1)                    # (..., V, J)
    rows = torch.where(finite[..., None, None], rows, torch.zeros_like(rows))
    system = rows.movedim(-4, -3).flatten(-3, -2)                        # (..., J, 2V, 4)
    # As the reference: the least eigenvector of system^T system.
    homogeneous = torch.linalg.eigh(system.transpose(-1, -2) @ system)[1][..., :, 0]
    positions = homogeneous[..., :3] / homogeneous[..., 3:]
    enough = ((weights > 0) & finite).sum(dim=-2) >= 2
    return torch.where(enough[..., None] & positions.isfinite(), positions,
                       torch.full_like(positions, float('nan')))


def project(P, positions):
    """Project positions (..., J, 3) by P (V, 3, 4): pixels (..., V, J, 2), depths (..., V, J)."""
    homogeneous = torch.cat([positions, torch.ones_like(positions[..., :1])], dim=-1)
    image = torch.einsum('vab,...jb->...vja', P, homogeneous)
    return image[..., :2] / image[..., 2:], image[..., 2]


def truncated_cost(P, positions, points, threshold_px):
    """min((reprojection error / threshold)^2, 1), and 1 behind the camera: (..., V, J)."""
    pixels, depth = project(P, positions)
    cost = (((pixels - points).norm(dim=-1) / threshold_px) ** 2).clamp_max(1.0)
    cost = torch.nan_to_num(cost, nan=1.0)
    return torch.where(depth > 0, cost, torch.ones_like(cost))


def triangulate_ransac(P, points, weights, threshold_px=40.0, refinements=2,
                       max_views=HYPOTHESIS_VIEWS):
    """MSAC over view pairs, then refits of the inliers, batched over B (``min_views`` 2).

    ``P`` (V, 3, 4), ``points`` (B, V, J, 2), ``weights`` (B, V, J) already zero for unusable
    views.  The hypotheses are the pairs of each joint's ``max_views`` most confident views.
    Returns positions (B, J, 3), NaN where fewer than two views see the joint, and inliers
    (B, V, J) (none where fewer than two views agree).
    """
    # Without a consensus, the weighted DLT of every usable view (which the fit then leaves
    # as it is: it has no inlier views to pull it).
    fallback = dlt(P, points, weights)
    candidates = _pair_candidates(P, points, weights, max_views)           # (B, S, J, 3)
    cost = (weights[:, None] * truncated_cost(P, candidates, points[:, None],
                                              threshold_px)).sum(dim=2)   # (B, S, J)
    cost = torch.where(candidates.isfinite().all(dim=-1), cost, torch.full_like(cost, np.inf))
    best = cost.argmin(dim=1)                                              # (B, J)
    positions = torch.gather(candidates, 1, best[:, None, :, None].expand(-1, 1, -1, 3))[:, 0]
    # The reference's early stop: the DLT of all views where every usable view agrees with it.
    # Every joint's pairs are still triangulated here; fixed shapes suit the GPU better.
    usable = weights > 0
    within = truncated_cost(P, fallback, points, threshold_px) < EARLY_STOP_FRACTION ** 2
    agree = (within | ~usable).all(dim=1)
    agree &= usable.sum(dim=1) >= 2                                        # (B, J)
    positions = torch.where(agree[..., None], fallback, positions)
    for _ in range(refinements + 1):
        inliers = (truncated_cost(P, positions, points, threshold_px) < 1.0) & (weights > 0)
        agreed = inliers.sum(dim=1) >= 2                                   # (B, J)
        positions = torch.where(agreed[..., None], dlt(P, points, weights * inliers), fallback)
    return positions, inliers & agreed[:, None]


def _pair_candidates(P, points, weights, max_views):
    """(B, S, J, 3) DLT of each joint's pairs of its ``max_views`` most confident views."""
    num_views, num_joints = weights.shape[-2:]
    if num_views <= max_views:
        pairs = torch.tensor(list(itertools.combinations(range(num_views), 2)),
                             device=P.device)
        return dlt(P[pairs], points[:, pairs], weights[:, pairs])
    # The twin of triangulation.hypothesis_views: a stable sort, ties to the lower index.
    best = torch.sort(-weights, dim=1, stable=True)[1][:, :max_views]      # (B, K, J)
    views = torch.sort(best, dim=1)[0]
    ranks = torch.tensor(list(itertools.combinations(range(max_views), 2)), device=P.device)
    pairs = views[:, ranks].movedim(-1, 2)                                  # (B, S, J, 2)
    joint = torch.arange(num_joints, device=P.device)[None, None, :, None]
    batch = torch.arange(points.shape[0], device=P.device)[:, None, None, None]
    # One two-view system per pair and joint: the joint is a leading dim of its own.
    candidates = dlt(P[pairs], points[batch, pairs, joint][..., None, :],
                     weights[batch, pairs, joint][..., None])              # (B, S, J, 1, 3)
    return candidates[..., 0, :]


def reprojection_residuals(P, X, points):
    """Residuals (B, V, J, 2) of X (B, J, 3) from points (B, V, J, 2), Jacobians (.., 2, 3)."""
    h = torch.einsum('vik,bjk->bvji', P[:, :, :3], X) + P[:, None, :, 3]     # (B, V, J, 3)
    z = torch.where(h[..., 2].abs() > 1e-9, h[..., 2], torch.full_like(h[..., 2], 1e-9))
    projected = h[..., :2] / z[..., None]
    jac = (P[:, None, :2, :3] - projected[..., None] * P[:, None, 2:3, :3]) / z[..., None, None]
    return projected - points, jac


def break_ties_by_skeleton(P, positions, inliers, points, weights, bones, threshold_px):
    """Settle 2-2 splits of a joint's views by the skeleton, batched over B.

    Where two views agree on a joint against two others or more, the others' consensus
    replaces it when it is nearer (mean distance) the joint's skeleton neighbours (``bones``
    (K, 2) tensor) that three views or more agree on.  Returns the settled ``(positions,
    inliers, weights)``.
    """
    agreeing = inliers.sum(dim=1)                                          # (B, J)
    tied = (agreeing == 2) & (((weights > 0) & ~inliers).sum(dim=1) >= 2)
    if not bool(tied.any()):
        return positions, inliers, weights
    others = torch.where(inliers, torch.zeros_like(weights), weights)
    other, other_inliers = triangulate_ransac(P, points, others, threshold_px)
    num_joints = positions.shape[1]
    adjacent = torch.zeros(num_joints, num_joints, dtype=torch.bool, device=positions.device)
    adjacent[bones[:, 0], bones[:, 1]] = adjacent[bones[:, 1], bones[:, 0]] = True
    anchors = adjacent[None] & (agreeing >= 3)[:, None, :]                 # (B, J, K)
    count = anchors.sum(dim=-1)

    def distance(candidates):
        apart = (candidates[:, :, None] - positions[:, None]).norm(dim=-1)  # (B, J, K)
        apart = torch.where(anchors, apart, torch.zeros_like(apart))
        return apart.sum(dim=-1) / count.clamp_min(1)

    switch = tied & (count > 0) & (other_inliers.sum(dim=1) >= 2) \
        & (distance(other) < distance(positions))
    return (torch.where(switch[..., None], other, positions),
            torch.where(switch[:, None], other_inliers, inliers),
            torch.where(switch[:, None], others, weights))


def fit_analytic(P, init, points, weights, sigma_px, iterations=10, tolerance=1e-5):
    """Reweighted Gauss-Newton on the Welsch kernel, batched over B (no motion prior).

    ``init`` (B, J, 3) NaN where unknown (those joints stay NaN), ``points`` (B, V, J, 2),
    ``weights`` (B, V, J), ``sigma_px`` (B, V).  The batch stops once no joint of any entry
    moved more than ``tolerance`` metres.  Returns ``(positions (B, J, 3), steps taken)``.
    """
    known = init.isfinite().all(dim=-1)                                    # (B, J)
    w = weights * known[:, None]
    used = w > 0
    x = torch.where(known[..., None], init, torch.zeros_like(init))
    width = (4.0 * sigma_px ** 2)[..., None]                               # (B, V, 1)
    damping = 1e-9 * torch.eye(3, dtype=x.dtype, device=x.device)
    iteration = 0
    for iteration in range(1, iterations + 1):
        residual, jac = reprojection_residuals(P, x, points)
        # Mask, not multiply: an absurd camera's overflow (NaN) times its weight 0 is NaN.
        residual = torch.where(used[..., None], residual, torch.zeros_like(residual))
        jac = torch.where(used[..., None, None], jac, torch.zeros_like(jac))
        kernel = torch.where(used, w * torch.exp(-(residual ** 2).sum(dim=-1) / width) / width,
                             torch.zeros_like(w))                             # (B, V, J)
        hessian = torch.einsum('bvj,bvjki,bvjkl->bjil', kernel, jac, jac) + damping
        gradient = torch.einsum('bvj,bvjki,bvjk->bji', kernel, jac, residual)
        step = torch.linalg.solve_ex(hessian, gradient[..., None])[0][..., 0]
        x = x - step
        if float(step.abs().max()) < tolerance:
            break
    return torch.where(known[..., None], x, torch.full_like(x, float('nan'))), iteration


def fit_analytic_batch(P, points, weights, sigma_px, threshold_px: float = 40.0,
                       iterations: int = 10, refinements: int = 2, tolerance: float = 1e-5,
                       skeleton: Skeleton = COCO17):
    """Fit B skeletons at once: RANSAC-DLT start, ties settled, then :func:`fit_analytic`.

    Args:
        P: (V, 3, 4) projection matrices ``K [R | t]`` (undistorted pixels).
        points: (B, V, J, 2) undistorted pixels.
        weights: (B, V, J) confidences, 0 where a view does not see the joint.
        sigma_px: (B, V) the target heatmap's width in each view's pixels (the kernel's
            scale: a view pulls hard within a few sigma and hardly at all beyond).
        threshold_px: RANSAC inlier threshold, pixels.
        iterations: Gauss-Newton steps at most.
        refinements: RANSAC refits of the inliers.
        tolerance: stop once no joint moves more than this, metres.
        skeleton: the joint set, whose bones settle 2-2 splits of views.

    Returns:
        ``(positions (B, J, 3), inliers (B, V, J))``: metres, NaN where fewer than two views
        see the joint; the views that supported each joint.

    """
    positions, inliers = triangulate_ransac(P, points, weights, threshold_px, refinements)
    bones = torch.tensor(skeleton.bones, device=positions.device)
    positions, inliers, _ = break_ties_by_skeleton(P, positions, inliers, points, weights,
                                                   bones, threshold_px)
    positions, _ = fit_analytic(P, positions, points, weights * inliers, sigma_px, iterations,
                                tolerance)
    return positions, inliers


def solve_frames_analytic(cameras: Sequence, frames, analytic_sigma: float = 2.0,
                          crop_size: int = 128, crop_margin: float = 0.15,
                          min_confidence: float = 0.1, threshold_px: float = 40.0,
                          iterations: int = 10, device: Optional[str] = None,
                          dtype=torch.float64, skeleton: Skeleton = COCO17) -> np.ndarray:
    """Fit every frame of ``frames`` in one batch (one person per view and frame).

    The parameters mirror :class:`skelsplat_ros.solver.SolverConfig`: a view's kernel width
    is ``analytic_sigma`` crop pixels of a ``crop_size`` crop around the person's detections
    with a ``crop_margin`` border, as the per-frame solver scales it.

    Args:
        cameras: V :class:`skelsplat_ros.cameras.Camera`.
        frames: (B, V, J, 3) raw (distorted) pixels and confidence; a missing detection has
            confidence 0 (or NaN).
        analytic_sigma: target heatmap std, crop pixels.
        crop_size: crop side, pixels.
        crop_margin: crop border, fraction of the person's size.
        min_confidence: detections below it are ignored.
        threshold_px: RANSAC inlier threshold, pixels.
        iterations: Gauss-Newton steps at most.
        device: torch device (default CPU).
        dtype: torch dtype of the fit.
        skeleton: the joint set of ``frames``.

    Returns:
        (B, J, 3) positions in metres, NaN where fewer than two views see the joint.

    Raises:
        ValueError: ``frames`` do not hold ``skeleton``'s joints.

    """
    frames = np.asarray(frames, dtype=float)
    if frames.ndim != 4 or frames.shape[2] != skeleton.num_joints:
        raise ValueError(f'frames of the {skeleton.name} skeleton need shape (B, V, '
                         f'{skeleton.num_joints}, 3), got {frames.shape}')
    rig = CameraRig(cameras)
    observed = [rig.observe(v, frames[:, v], min_confidence) for v in range(rig.num_views)]
    points = np.stack([pts for pts, _ in observed], axis=1)
    confidence = np.stack([conf for _, conf in observed], axis=1)
    # The person's extent in each view, as the per-frame solver sizes its crop.
    seen = confidence > 0
    lo = np.where(seen[..., None], points, np.inf).min(axis=2)
    hi = np.where(seen[..., None], points, -np.inf).max(axis=2)
    side = np.nan_to_num((hi - lo).max(axis=-1), nan=1.0, posinf=1.0, neginf=1.0)
    side = np.maximum(side, 1.0) * (1 + 2 * crop_margin)                  # (B, V)
    sigma_px = analytic_sigma * side / crop_size

    def tensor(array):
        return torch.as_tensor(array, dtype=dtype, device=device)

    positions, _ = fit_analytic_batch(tensor(rig.projections), tensor(points),
                                      tensor(confidence), tensor(sigma_px),
                                      threshold_px=threshold_px, iterations=iterations,
                                      skeleton=skeleton)
    return positions.cpu().numpy()
