# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Many frames (or people) in one call: the analytic SkelSplat fit batched in torch.

Offline work (a recorded sequence, many people) needs throughput, not latency.  This fits B
skeletons at once with the fast path of :class:`skelsplat_ros.solver.SkelSplatSolver`
(``objective='analytic'``): a RANSAC-DLT start over view pairs, then iteratively reweighted
Gauss-Newton on the closed-form heatmap overlap (a Welsch kernel on reprojection errors).
Every step is a batched tensor operation over (B, V, J), on any torch device, so the cost per
frame falls with the batch size instead of paying Python and numpy overhead per frame.

What it leaves out, against the per-frame solver: the temporal prior and prediction gating
(each batch entry is independent, like ``temporal=False``, and like it settles a 2-2 split of
views by the skeleton), the choice among several people
per view (each entry is one person per view, already associated), back-projection of joints
seen in a single view (NaN here), and covariances.
"""

import itertools
from typing import Optional, Sequence

import numpy as np
from skelsplat_ros.skeletons import COCO17_BONES
import torch

__all__ = ['fit_analytic_batch', 'solve_frames_analytic']


def _dlt(P, points, weights):
    """Weighted DLT by inhomogeneous least squares, batched.

    ``P`` (..., V, 3, 4), ``points`` (..., V, J, 2), ``weights`` (..., V, J) (leading dims
    broadcast).  Returns (..., J, 3), NaN where fewer than two views have weight.
    """
    # Each view gives two equations x * P[2] - P[0] and y * P[2] - P[1]: (..., V, J, 2, 4).
    rows = points[..., None] * P[..., :, None, 2:3, :] - P[..., :, None, 0:2, :]
    # Unit-norm rows make views comparable whatever their scale; then the weight applies.
    rows = rows / rows.norm(dim=-1, keepdim=True).clamp_min(1e-12) * weights[..., None, None]
    system = rows.movedim(-4, -3).flatten(-3, -2)                        # (..., J, 2V, 4)
    A, b = system[..., :3], -system[..., 3]
    normal = A.transpose(-1, -2) @ A
    normal = normal + 1e-12 * torch.eye(3, dtype=A.dtype, device=A.device)
    positions = torch.linalg.solve_ex(normal, (A.transpose(-1, -2) @ b[..., None]))[0][..., 0]
    enough = (weights > 0).sum(dim=-2) >= 2
    return torch.where(enough[..., None] & positions.isfinite(), positions,
                       torch.full_like(positions, float('nan')))


def _project(P, positions):
    """Project positions (..., J, 3) by P (V, 3, 4): pixels (..., V, J, 2), depths (..., V, J)."""
    h = torch.einsum('vab,...jb->...vja', P[:, :, :3], positions) + P[:, None, :, 3]
    depth = h[..., 2]
    safe = torch.where(depth.abs() > 1e-9, depth, torch.full_like(depth, 1e-9))
    return h[..., :2] / safe[..., None], depth


def _truncated_cost(P, positions, points, threshold_px):
    """min((reprojection error / threshold)^2, 1), and 1 behind the camera: (..., V, J)."""
    pixels, depth = _project(P, positions)
    cost = (((pixels - points).norm(dim=-1) / threshold_px) ** 2).clamp_max(1.0)
    cost = torch.nan_to_num(cost, nan=1.0)
    return torch.where(depth > 0, cost, torch.ones_like(cost))


def _ransac(P, points, weights, threshold_px, refinements):
    """Start as :func:`skelsplat_ros.triangulation.triangulate_ransac` does, batched over B.

    Returns positions (B, J, 3), NaN where fewer than two views see the joint, and inliers
    (B, V, J) (none where fewer than two views agree).
    """
    num_views = P.shape[0]
    pairs = torch.tensor(list(itertools.combinations(range(num_views), 2)), device=P.device)
    candidates = _dlt(P[pairs], points[:, pairs], weights[:, pairs])       # (B, S, J, 3)
    cost = (weights[:, None] * _truncated_cost(P, candidates, points[:, None],
                                               threshold_px)).sum(dim=2)  # (B, S, J)
    cost = torch.where(candidates.isfinite().all(dim=-1), cost, torch.full_like(cost, np.inf))
    best = cost.argmin(dim=1)                                              # (B, J)
    positions = torch.gather(candidates, 1, best[:, None, :, None].expand(-1, 1, -1, 3))[:, 0]
    # Without a consensus, the weighted DLT of every usable view (which the fit then leaves
    # as it is: it has no inlier views to pull it).
    fallback = _dlt(P, points, weights)
    for _ in range(refinements + 1):
        inliers = (_truncated_cost(P, positions, points, threshold_px) < 1.0) & (weights > 0)
        agreed = inliers.sum(dim=1) >= 2                                   # (B, J)
        positions = torch.where(agreed[..., None], _dlt(P, points, weights * inliers), fallback)
    return positions, inliers & agreed[:, None]


def _break_ties_by_skeleton(P, points, weights, positions, inliers, bones, threshold_px,
                            refinements):
    """As :meth:`skelsplat_ros.solver.SkelSplatSolver._break_ties_by_skeleton`, batched.

    Where two views agree on a joint against two others or more, the others' consensus
    replaces it when it is nearer (mean distance) the joint's skeleton neighbours that three
    views or more agree on.  Returns the settled ``(positions, inliers)``.
    """
    agreeing = inliers.sum(dim=1)                                          # (B, J)
    tied = (agreeing == 2) & (((weights > 0) & ~inliers).sum(dim=1) >= 2)
    if not bool(tied.any()):
        return positions, inliers
    others = torch.where(inliers, torch.zeros_like(weights), weights)
    other, other_inliers = _ransac(P, points, others, threshold_px, refinements)
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
            torch.where(switch[:, None], other_inliers, inliers))


def fit_analytic_batch(P, points, weights, sigma_px, threshold_px: float = 40.0,
                       iterations: int = 10, refinements: int = 2, tolerance: float = 1e-5,
                       bones=COCO17_BONES):
    """Fit B skeletons at once: RANSAC-DLT start, then IRLS Gauss-Newton on the Welsch kernel.

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
        bones: (N, 2) joint index pairs of the skeleton, for settling 2-2 splits of views.

    Returns:
        ``(positions (B, J, 3), inliers (B, V, J))``: metres, NaN where fewer than two views
        see the joint; the views that supported each joint.

    """
    positions, inliers = _ransac(P, points, weights, threshold_px, refinements)
    positions, inliers = _break_ties_by_skeleton(
        P, points, weights, positions, inliers,
        torch.as_tensor(np.asarray(bones).reshape(-1, 2), device=positions.device),
        threshold_px, refinements)
    known = positions.isfinite().all(dim=-1)                               # (B, J)
    w = weights * inliers
    x = torch.where(known[..., None], positions, torch.zeros_like(positions))
    width = (4.0 * sigma_px ** 2)[..., None]                               # (B, V, 1)
    damping = 1e-9 * torch.eye(3, dtype=x.dtype, device=x.device)
    for _ in range(iterations):
        pixels, depth = _project(P, x)                                     # (B, V, J, 2)
        residual = pixels - points
        # d(u, v)/dX = (P[:2, :3] - (u, v) P[2, :3]) / depth: (B, V, J, 2, 3).
        safe = torch.where(depth.abs() > 1e-9, depth, torch.full_like(depth, 1e-9))
        jac = (P[:, None, :2, :3] - pixels[..., None] * P[:, None, 2:3, :3]) \
            / safe[..., None, None]
        kernel = w * torch.exp(-(residual ** 2).sum(dim=-1) / width) / width  # (B, V, J)
        hessian = torch.einsum('bvj,bvjki,bvjkl->bjil', kernel, jac, jac) + damping
        gradient = torch.einsum('bvj,bvjki,bvjk->bji', kernel, jac, residual)
        step = torch.linalg.solve_ex(hessian, gradient[..., None])[0][..., 0]
        x = x - step
        if float(step.abs().max()) < tolerance:
            break
    positions = torch.where(known[..., None], x, torch.full_like(x, float('nan')))
    return positions, inliers


def solve_frames_analytic(cameras: Sequence, frames, analytic_sigma: float = 2.0,
                          crop_size: int = 128, crop_margin: float = 0.15,
                          min_confidence: float = 0.1, threshold_px: float = 40.0,
                          iterations: int = 10, device: Optional[str] = None,
                          dtype=torch.float64) -> np.ndarray:
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

    Returns:
        (B, J, 3) positions in metres, NaN where fewer than two views see the joint.

    """
    frames = np.asarray(frames, dtype=float)
    num_frames, num_views, num_joints, _ = frames.shape
    finite = np.isfinite(frames).all(axis=-1)
    confidence = np.where(finite, frames[..., 2], 0.0)
    confidence = np.where(confidence >= min_confidence, np.clip(confidence, 0.0, 1.0), 0.0)
    raw = np.where(finite[..., None], frames[..., :2], 0.0)
    points = np.stack([cam.undistort_points(raw[:, v].reshape(-1, 2)).reshape(
        num_frames, num_joints, 2) for v, cam in enumerate(cameras)], axis=1)
    # The person's extent in each view, as the per-frame solver sizes its crop.
    seen = confidence > 0
    lo = np.where(seen[..., None], points, np.inf).min(axis=2)
    hi = np.where(seen[..., None], points, -np.inf).max(axis=2)
    side = np.nan_to_num((hi - lo).max(axis=-1), nan=1.0, posinf=1.0, neginf=1.0)
    side = np.maximum(side, 1.0) * (1 + 2 * crop_margin)                  # (B, V)
    sigma_px = analytic_sigma * side / crop_size

    def tensor(array):
        return torch.as_tensor(array, dtype=dtype, device=device)

    P = tensor(np.stack([cam.projection_matrix for cam in cameras]))
    positions, _ = fit_analytic_batch(P, tensor(points), tensor(confidence), tensor(sigma_px),
                                      threshold_px=threshold_px, iterations=iterations)
    return positions.cpu().numpy()
