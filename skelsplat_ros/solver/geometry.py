# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Geometry of one person's fit: projections, residuals with Jacobians, crops, plausibility."""

import numpy as np
from skelsplat_ros.triangulation import project as project_all


def project(P, X):
    """Pinhole projection (N, 2) of world points X (N, 3) with one camera's P (3, 4)."""
    h = X @ P[:, :3].T + P[:, 3]
    return h[:, :2] / h[:, 2:3]


def reprojection_residuals(P, X, points):
    """Pinhole residuals (V, J, 2) of X (J, 3) from points (V, J, 2), Jacobians (V, J, 2, 3).

    With h = P[:, :3] X + P[:, 3], u = h0 / h2 and v = h1 / h2.
    """
    # One matrix product for all views (einsum's default loop is many times slower).
    h = (X @ P[:, :, :3].reshape(-1, 3).T).reshape(len(X), len(P), 3)
    h = np.swapaxes(h, 0, 1) + P[:, None, :, 3]                                # (V, J, 3)
    z = np.where(np.abs(h[..., 2]) > 1e-9, h[..., 2], 1e-9)
    projected = h[..., :2] / z[..., None]
    jac = (P[:, None, :2, :3] - projected[..., None] * P[:, None, 2:3, :3]) / z[..., None, None]
    return projected - points, jac


def normal_equations(jac, weights, residual=None):
    """Weighted least-squares terms of each joint: ``J' W J`` (J, 3, 3) and ``J' W r`` (J, 3).

    ``jac`` (V, J, 2, 3) and ``residual`` (V, J, 2) as :func:`reprojection_residuals` gives
    them, ``weights`` (V, J) per view and joint.  Without ``residual``, ``J' W r`` is None.
    """
    num_views, num_joints = weights.shape
    # Per joint, the rows of every view stacked: one batched matrix product.
    rows = np.moveaxis(jac, 1, 0).reshape(num_joints, 2 * num_views, 3)
    weighted_t = np.swapaxes(rows * np.repeat(weights.T, 2, axis=1)[..., None], -1, -2)
    gradient = None
    if residual is not None:
        stacked = np.moveaxis(residual, 1, 0).reshape(num_joints, 2 * num_views, 1)
        gradient = (weighted_t @ stacked)[..., 0]
    return weighted_t @ rows, gradient


def crops(rig, points, weights, init, crop_size, crop_margin):
    """Square crop per view around the person: its detections and its projected start.

    ``points`` (..., V, J, 2) undistorted pixels, ``weights`` (..., V, J) 0 for unused
    detections, ``init`` (..., J, 3) NaN where unknown; leading dims are people, each cropped
    on its own.  Returns the crop intrinsics Ks (..., V, 3, 3), and scale (..., V) and origin
    (..., V, 2) such that crop pixels = scale * (pinhole pixels - origin).
    """
    known = np.isfinite(init).all(axis=-1)                                    # (..., J)
    with np.errstate(all='ignore'):
        projected, _ = project_all(rig.projections, init)                      # (..., V, J, 2)
    pts = np.concatenate([points, projected], axis=-2)
    # An absurd camera model may overflow: its crop comes from what is finite, and a view
    # with nothing finite (it supports no joint) keeps its own pixels (scale 1).
    used = np.concatenate([weights > 0, np.broadcast_to(known[..., None, :], weights.shape)],
                          axis=-1)
    used &= np.isfinite(pts).all(axis=-1)
    some = used.any(axis=-1)
    lo = np.where(used[..., None], pts, np.inf).min(axis=-2)
    hi = np.where(used[..., None], pts, -np.inf).max(axis=-2)
    with np.errstate(invalid='ignore'):
        side = np.maximum((hi - lo).max(axis=-1), 1.0) * (1 + 2 * crop_margin)
        scale = np.where(some, crop_size / side, 1.0)
        origins = np.where(some[..., None], (lo + hi) / 2 - side[..., None] / 2, 0.0)
    # Crop pixels = scale * (pixels - origin): the same continuous coordinates for the
    # rendered projection and the target centres, so the renderer's pixel-centre convention
    # cancels out.
    crop = np.zeros(scale.shape + (3, 3))
    crop[..., 0, 0] = crop[..., 1, 1] = scale
    crop[..., :2, 2] = -scale[..., None] * origins
    crop[..., 2, 2] = 1.0
    return crop @ rig.intrinsics, scale, origins


def on_ray(rig, view, pixel, depth):
    """World point (3,) on ``view``'s ray through the undistorted ``pixel`` at ``depth``."""
    cam = rig.cameras[view]
    ray = np.linalg.solve(rig.intrinsics[view], np.array([pixel[0], pixel[1], 1.0]))
    return np.asarray(cam.R).T @ (ray * depth - np.asarray(cam.t))


def back_project(rig, view, pixel, positions):
    """World point on ``view``'s ray through ``pixel`` at the median depth of ``positions``.

    NaN when no joint of ``positions`` (J, 3) is known.
    """
    known = np.isfinite(positions).all(axis=1)
    if not known.any():
        return np.full(3, np.nan)
    depth = np.median(rig.cameras[view].world_to_camera(positions[known])[:, 2])
    return on_ray(rig, view, pixel, depth)


# A supported joint may project a little outside its view's image: detectors report cut-off
# joints there (MediaPipe keeps them), and the fit follows them.  Fraction of the image size.
IMAGE_MARGIN = 0.1


def plausible_views(rig, positions, workspace_radius_m):
    """(V, J) bool: the views that can support each of the joints ``positions`` (J, 3).

    A view can support a joint that lies in front of it and projects into its image (within
    ``IMAGE_MARGIN`` of the image's size), when the joint lies within ``workspace_radius_m``
    metres of the world origin.  A consistent fit can still be a person no camera could have
    seen: far away, behind cameras, or outside their images.  NaN joints: no view.
    """
    positions = np.asarray(positions, dtype=float)
    usable = np.isfinite(positions).all(axis=1)
    usable[usable] = np.linalg.norm(positions[usable], axis=1) <= workspace_radius_m
    result = np.zeros((rig.num_views, len(positions)), dtype=bool)
    if not usable.any():
        return result
    with np.errstate(all='ignore'):  # an absurd (finite) camera model may overflow: not seen
        pixels, depths = rig.project(positions[usable])                       # (V, N, 2)
        size = rig.sizes[:, None, :]
        inside = ((pixels >= -IMAGE_MARGIN * size) & (pixels <= (1 + IMAGE_MARGIN) * size))
    result[:, usable] = (depths > 0) & inside.all(axis=-1)
    return result
