# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Geometry of one person's fit: projections, residuals with Jacobians, crops, plausibility."""

import numpy as np


def project(P, X):
    """Pinhole projection (N, 2) of world points X (N, 3) with one camera's P (3, 4)."""
    h = X @ P[:, :3].T + P[:, 3]
    return h[:, :2] / h[:, 2:3]


def reprojection_residuals(P, X, points):
    """Pinhole residuals (V, J, 2) of X (J, 3) from points (V, J, 2), Jacobians (V, J, 2, 3).

    With h = P[:, :3] X + P[:, 3], u = h0 / h2 and v = h1 / h2.
    """
    h = np.einsum('vik,jk->vji', P[:, :, :3], X) + P[:, None, :, 3]              # (V, J, 3)
    z = np.where(np.abs(h[..., 2]) > 1e-9, h[..., 2], 1e-9)
    projected = h[..., :2] / z[..., None]
    jac = (P[:, None, :2, :3] - projected[..., None] * P[:, None, 2:3, :3]) / z[..., None, None]
    return projected - points, jac


def crops(rig, points, weights, init, crop_size, crop_margin):
    """Square crop per view around the person: its detections and its projected start.

    ``points`` (V, J, 2) undistorted pixels, ``weights`` (V, J) 0 for unused detections,
    ``init`` (J, 3) NaN where unknown.  Returns the crop intrinsics Ks (V, 3, 3), and scale
    (V,) and origin (V, 2) such that crop pixels = scale * (pinhole pixels - origin).
    """
    num_views = rig.num_views
    Ks = np.zeros((num_views, 3, 3))
    scale = np.ones(num_views)
    origins = np.zeros((num_views, 2))
    known = np.isfinite(init).all(axis=1)
    for v in range(num_views):
        with np.errstate(all='ignore'):
            projected = project(rig.projections[v], init[known])
        pts = np.concatenate([points[v][weights[v] > 0], projected])
        # An absurd camera model may overflow: its crop comes from what is finite, and a view
        # with nothing finite (it supports no joint) keeps its own pixels (scale 1).
        pts = pts[np.isfinite(pts).all(axis=1)]
        if not len(pts):
            Ks[v] = rig.intrinsics[v]
            continue
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        side = max(hi[0] - lo[0], hi[1] - lo[1], 1.0) * (1 + 2 * crop_margin)
        centre = (lo + hi) / 2
        scale[v] = crop_size / side
        origins[v] = origin = centre - side / 2
        # Crop pixels = scale * (pixels - origin): the same continuous coordinates for the
        # rendered projection and the target centres, so the renderer's pixel-centre
        # convention cancels out.
        crop = np.array([[scale[v], 0, -scale[v] * origin[0]],
                         [0, scale[v], -scale[v] * origin[1]],
                         [0, 0, 1]])
        Ks[v] = crop @ rig.intrinsics[v]
    return Ks, scale, origins


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
    points = positions[usable]
    with np.errstate(all='ignore'):  # an absurd (finite) camera model may overflow: not seen
        for v, camera in enumerate(rig.cameras):
            ahead = camera.world_to_camera(points)[:, 2] > 0
            pixels = camera.project(points)
            size = np.array([camera.width, camera.height], dtype=float)
            inside = ((pixels >= -IMAGE_MARGIN * size) & (pixels <= (1 + IMAGE_MARGIN) * size))
            result[v, usable] = ahead & inside.all(axis=1)
    return result
