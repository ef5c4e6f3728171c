# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Exact pure-PyTorch 3D Gaussian splatting renderer (CPU or GPU, differentiable).

Reproduces the maths of gsplat 1.5.3's ``rasterization(..., rasterize_mode='classic',
packed=False, render_mode='RGB', camera_model='pinhole')`` without tiles:

* covariance ``Sigma = R S S^T R^T`` from a wxyz quaternion (normalised) and scales;
* world to camera with the (4, 4) view matrix;
* EWA projection with the Jacobian of the pinhole at the mean, where x/z and y/z in the
  Jacobian (not in the projected mean) are clamped to gsplat's limits
  ``[-(cx / fx + 0.3 tan_fovx), (W - cx) / fx + 0.3 tan_fovx]`` with
  ``tan_fovx = 0.5 W / fx`` (likewise for y), i.e. about 1.3 half-fields of view;
* ``eps2d`` added to the diagonal of the 2D covariance (no compensation: classic mode);
* a Gaussian is dropped in a view when its depth z is outside [near, far];
* per pixel centre ``p = (x + 0.5, y + 0.5)``: ``sigma = 0.5 d^T Conic d`` with
  ``d = mean2d - p``, ``alpha = min(0.999, opacity exp(-sigma))``; the Gaussian is skipped
  when ``sigma < 0`` or ``alpha < 1/255``;
* front-to-back compositing in increasing camera depth z (ties keep the input order, as
  gsplat's stable radix sort does), and gsplat's termination: a Gaussian whose
  ``T (1 - alpha)`` would be ``<= 1e-4`` is not composited and ends the pixel;
* output colour ``sum_k c_k alpha_k T_k`` and alpha ``1 - T_final``, no background.

gsplat also culls a Gaussian whose tight bounding box (``ceil(e sqrt(Sigma_xx))`` with
``e = min(3.33, sqrt(2 ln(255 opacity)))``) misses the image, and only visits the 16x16
tiles that box touches.  For opacity <= 1 that box contains every pixel where
``alpha >= 1/255`` (``sqrt(2 ln 255) = 3.329 < 3.33``), so the culling never changes a
pixel and is not reproduced here; it would differ only for opacities above 1.

Shapes: N Gaussians, V views, C colour channels, images H x W.  Every function also takes
leading batch dimensions (B scenes, e.g. one per person, rendered separately in one call):
``means (B, N, 3)`` with ``viewmats (B, V, 4, 4)`` or shared ``(V, 4, 4)``, and so on.
"""

from typing import NamedTuple, Tuple

import torch
from torch import Tensor

NEAR_PLANE = 0.01
FAR_PLANE = 1e10
ALPHA_THRESHOLD = 1.0 / 255.0
MAX_ALPHA = 0.999
MIN_TRANSMITTANCE = 1e-4
# Beyond this many standard deviations alpha < 1/255 for any opacity <= 1 (sqrt(2 ln 255)).
FOOTPRINT_SIGMAS = 3.33
# Slack on the x/z, y/z clamp of the EWA Jacobian, as a fraction of tan(fov / 2).
JACOBIAN_FOV_MARGIN = 0.3


class Projection(NamedTuple):
    """Gaussians projected into V views (after any leading batch dimensions).

    Attributes:
        means2d: (..., V, N, 2) projected centres in pixels.
        conics: (..., V, N, 3) upper triangle (a, b, c) of the inverse 2D covariance.
        depths: (..., V, N) camera-frame z in metres.
        valid: (..., V, N) bool, False where the Gaussian is culled in that view.

    """

    means2d: Tensor
    conics: Tensor
    depths: Tensor
    valid: Tensor


def quat_to_rotmat(quats: Tensor) -> Tensor:
    """Rotation matrices (N, 3, 3) from quaternions (N, 4) in wxyz order, normalised first."""
    w, x, y, z = torch.unbind(quats / quats.norm(dim=-1, keepdim=True), dim=-1)
    rows = [
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ]
    return torch.stack(rows, dim=-1).reshape(quats.shape[:-1] + (3, 3))


def quat_scale_to_covariance(quats: Tensor, scales: Tensor) -> Tensor:
    """World covariances (N, 3, 3) = R S S^T R^T from quats (N, 4) wxyz and scales (N, 3)."""
    rs = quat_to_rotmat(quats) * scales[..., None, :]
    return rs @ rs.transpose(-1, -2)


def project_gaussians(
    means: Tensor,
    quats: Tensor,
    scales: Tensor,
    viewmats: Tensor,
    Ks: Tensor,
    width: int,
    height: int,
    eps2d: float = 0.3,
    near_plane: float = NEAR_PLANE,
    far_plane: float = FAR_PLANE,
) -> Projection:
    """Project N 3D Gaussians into V pinhole views (EWA splatting, as gsplat does it).

    Args:
        means: (..., N, 3) centres in world coordinates, metres.
        quats: (..., N, 4) wxyz quaternions.
        scales: (..., N, 3) standard deviations along the Gaussian's axes, metres.
        viewmats: (..., V, 4, 4) world-to-camera transforms (x right, y down, z forward);
            leading dimensions broadcast against the Gaussians'.
        Ks: (..., V, 3, 3) pinhole intrinsics.
        width: image width W in pixels (sets the Jacobian clamp).
        height: image height H in pixels.
        eps2d: pixel variance added to the diagonal of each 2D covariance.
        near_plane: Gaussians nearer than this depth (metres) are culled.
        far_plane: Gaussians farther than this depth (metres) are culled.

    Returns:
        The `Projection`; entries of culled Gaussians are finite but meaningless.

    """
    rotations = viewmats[..., :, None, :3, :3]  # (..., V, 1, 3, 3)
    means_c = (rotations @ means[..., None, :, :, None])[..., 0] + viewmats[..., :, None, :3, 3]
    covars_c = rotations @ quat_scale_to_covariance(quats, scales)[..., None, :, :, :] \
        @ rotations.transpose(-1, -2)  # (..., V, N, 3, 3)

    fx, fy = Ks[..., 0, 0, None], Ks[..., 1, 1, None]  # (..., V, 1)
    cx, cy = Ks[..., 0, 2, None], Ks[..., 1, 2, None]
    x, y, depths = torch.unbind(means_c, dim=-1)  # (..., V, N)
    in_range = (depths >= near_plane) & (depths <= far_plane)
    # Culled Gaussians get a harmless depth so that no inf/NaN reaches the (masked) gradients.
    z = torch.where(in_range, depths, torch.ones_like(depths))
    margin_x = JACOBIAN_FOV_MARGIN * 0.5 * width / fx
    margin_y = JACOBIAN_FOV_MARGIN * 0.5 * height / fy
    x_clamped = z * torch.clamp(x / z, min=-(cx / fx + margin_x), max=(width - cx) / fx + margin_x)
    y_clamped = z * torch.clamp(y / z, min=-(cy / fy + margin_y),
                                max=(height - cy) / fy + margin_y)
    zeros = torch.zeros_like(z)
    jacobian = torch.stack([
        fx / z, zeros, -fx * x_clamped / (z * z),
        zeros, fy / z, -fy * y_clamped / (z * z),
    ], dim=-1).reshape(z.shape + (2, 3))
    covars2d = jacobian @ covars_c @ jacobian.transpose(-1, -2)  # (..., V, N, 2, 2)

    a = covars2d[..., 0, 0] + eps2d
    b = 0.5 * (covars2d[..., 0, 1] + covars2d[..., 1, 0])
    c = covars2d[..., 1, 1] + eps2d
    det = a * c - b * b
    conics = torch.stack([c, -b, a], dim=-1) / det[..., None]
    means2d = torch.stack([fx * x / z + cx, fy * y / z + cy], dim=-1)
    return Projection(means2d, conics, depths, in_range & (det > 0))


def composite(
    projection: Projection,
    opacities: Tensor,
    colors: Tensor,
    width: int,
    height: int,
) -> Tuple[Tensor, Tensor]:
    """Alpha-composite projected Gaussians front to back over every pixel of V images.

    Args:
        projection: the Gaussians in V views, see `Projection`.
        opacities: (..., N) opacities in [0, 1].
        colors: (..., N, C) colours or features.
        width: image width W in pixels.
        height: image height H in pixels.

    Returns:
        colours (..., V, H, W, C) and accumulated alphas (..., V, H, W, 1).

    """
    batch_shape = projection.depths.shape[:-1]
    projection, opacities, colors = _per_view(projection, opacities, colors)
    order, means2d, conics = _depth_sorted(projection)
    # sigma splits into a pixel-column term, a pixel-row term and their product, which saves
    # most of the work on the (V, N, H, W) grid; the rounding matches gsplat's expression.
    dtype, device = means2d.dtype, means2d.device
    dx = means2d[..., 0, None] - (torch.arange(width, dtype=dtype, device=device) + 0.5)
    dy = means2d[..., 1, None] - (torch.arange(height, dtype=dtype, device=device) + 0.5)
    conic_a, conic_b, conic_c = (conics[..., k, None] for k in range(3))
    sigma = ((0.5 * conic_a * dx * dx)[:, :, None, :] + (0.5 * conic_c * dy * dy)[..., None]
             + (conic_b * dx)[:, :, None, :] * dy[..., None]).flatten(2)  # (V, N, H * W)
    rendered, accumulated = _blend(sigma, torch.gather(projection.valid, 1, order),
                                   *_gather_sorted(order, opacities, colors))
    return (rendered.reshape(batch_shape + (height, width, -1)),
            accumulated.reshape(batch_shape + (height, width, 1)))


def composite_windows(
    projection: Projection,
    opacities: Tensor,
    colors: Tensor,
    pixels: Tensor,
) -> Tuple[Tensor, Tensor]:
    """Alpha-composite like `composite`, but only at G windows of P pixel centres per view.

    Compositing is per pixel, so each value equals the full image's at that pixel.  Within a
    window only the Gaussians that can touch it are visited: for opacity <= 1, alpha >= 1/255
    needs ``sigma <= ln 255``, i.e. a pixel within ``sqrt(2 ln 255) < 3.33`` standard
    deviations of the mean, so a Gaussian whose 3.33-sigma circle misses the window's box is
    skipped there without changing any value.  This is gsplat's tile culling, per window.

    Args:
        projection: the Gaussians in V views, see `Projection`.
        opacities: (..., N) opacities in [0, 1].
        colors: (..., N, C) colours or features.
        pixels: (..., V, G, P, 2) pixel centres (x + 0.5, y + 0.5 for pixel column x, row y).

    Returns:
        colours (..., V, G, P, C) and accumulated alphas (..., V, G, P, 1).

    """
    batch_shape = projection.depths.shape[:-1]
    projection, opacities, colors = _per_view(projection, opacities, colors)
    n_views, n_gaussians = projection.depths.shape
    n_windows, n_pixels = pixels.shape[-3:-1]
    pixels = pixels.reshape(n_views, n_windows, n_pixels, 2)
    order, means2d, conics = _depth_sorted(projection)
    valid = torch.gather(projection.valid, 1, order)
    with torch.no_grad():
        # Largest eigenvalue of the 2D covariance, the inverse of the conic (a, b; b, c).
        a, b, c = conics.unbind(-1)
        det = a * c - b * b
        half_trace = 0.5 * (a + c) / det
        largest = half_trace + torch.sqrt(torch.clamp(half_trace ** 2 - 1.0 / det, min=0.0))
        radius = FOOTPRINT_SIGMAS * torch.sqrt(largest)                       # (V, N)
        low, high = pixels.amin(dim=2), pixels.amax(dim=2)                     # (V, G, 2)
        nearest = torch.minimum(torch.maximum(means2d[:, None], low[:, :, None]),
                                high[:, :, None])                              # (V, G, N, 2)
        reaches = valid[:, None] & ((means2d[:, None] - nearest).norm(dim=-1)
                                    <= radius[:, None])                        # (V, G, N)
        count = max(int(reaches.sum(dim=-1).max()), 1)
        # The reaching Gaussians of each window, still front to back; slots beyond a window's
        # own count hold non-reaching Gaussians, masked out below.
        rank = torch.arange(n_gaussians, 0, -1, device=pixels.device, dtype=pixels.dtype)
        picked = torch.topk(reaches * rank, count, dim=-1).indices              # (V, G, K)
        kept = torch.gather(reaches, 2, picked)

    def take(values):  # (V, N, ...) sorted -> (V, G, K, ...)
        flat = values.reshape(n_views, n_gaussians, -1)
        index = picked.reshape(n_views, -1, 1).expand(-1, -1, flat.shape[-1])
        return torch.gather(flat, 1, index).reshape(n_views, n_windows, count, -1)

    window_means, window_conics = take(means2d), take(conics)
    d = window_means[:, :, :, None, :] - pixels[:, :, None, :, :]              # (V, G, K, P, 2)
    dx, dy = d[..., 0], d[..., 1]
    conic_a, conic_b, conic_c = (window_conics[..., k, None] for k in range(3))
    sigma = 0.5 * conic_a * dx * dx + 0.5 * conic_c * dy * dy + conic_b * dx * dy
    batch = n_views * n_windows
    sorted_opacities, sorted_colors = _gather_sorted(order, opacities, colors)
    rendered, accumulated = _blend(
        sigma.reshape(batch, count, n_pixels), kept.reshape(batch, count),
        take(sorted_opacities[..., None]).reshape(batch, count),
        take(sorted_colors).reshape(batch, count, -1))
    return (rendered.reshape(batch_shape + (n_windows, n_pixels, -1)),
            accumulated.reshape(batch_shape + (n_windows, n_pixels, 1)))


def _per_view(projection: Projection, opacities: Tensor,
              colors: Tensor) -> Tuple[Projection, Tensor, Tensor]:
    """Fold the batch dimensions into the views: (..., V, N) -> (B V, N).

    Returns the projection with (B V, N, ...) fields and each view's opacities (B V, N) and
    colours (B V, N, C): compositing is per view, whichever scene the view belongs to.
    """
    batch_shape = projection.depths.shape[:-1]
    n_gaussians = projection.depths.shape[-1]
    flat = Projection(*(field.reshape((-1, n_gaussians) + field.shape[len(batch_shape) + 1:])
                        for field in projection))
    opacities = opacities[..., None, :].expand(batch_shape + (n_gaussians,))
    colors = colors[..., None, :, :].expand(batch_shape + colors.shape[-2:])
    return (flat, opacities.reshape(-1, n_gaussians),
            colors.reshape((-1,) + colors.shape[-2:]))


def _gather_sorted(order: Tensor, opacities: Tensor, colors: Tensor) -> Tuple[Tensor, Tensor]:
    """Opacities (V, N) and colours (V, N, C) of each view, in that view's ``order`` (V, N)."""
    return (torch.gather(opacities, 1, order),
            torch.gather(colors, 1, order[..., None].expand(-1, -1, colors.shape[-1])))


def _depth_sorted(projection: Projection) -> Tuple[Tensor, Tensor, Tensor]:
    """Front-to-back order (V, N) and the sorted means2d (V, N, 2) and conics (V, N, 3)."""
    order = torch.sort(projection.depths.detach(), dim=1, stable=True).indices
    means2d = torch.gather(projection.means2d, 1, order[..., None].expand(-1, -1, 2))
    conics = torch.gather(projection.conics, 1, order[..., None].expand(-1, -1, 3))
    return order, means2d, conics


def _blend(sigma: Tensor, valid: Tensor, opacities: Tensor,
           colors: Tensor) -> Tuple[Tensor, Tensor]:
    """Composite front-to-back sorted Gaussians with Mahalanobis terms ``sigma`` (B, N, P).

    ``valid`` (B, N), ``opacities`` (B, N) and ``colors`` (B, N, C) are in the same order.
    Returns colours (B, P, C) and accumulated alpha (B, P).
    """
    alpha = torch.clamp(opacities[..., None] * torch.exp(-sigma), max=MAX_ALPHA)

    # Up to the first Gaussian whose next T would be <= 1e-4 the running transmittance is the
    # plain product; it never increases, so that Gaussian and every one behind it are exactly
    # those where the product is <= 1e-4, and none of them is composited.
    with torch.no_grad():
        touches = valid[..., None] & (sigma >= 0) & (alpha >= ALPHA_THRESHOLD)
        kept = touches & (torch.cumprod(1.0 - alpha * touches, dim=1) > MIN_TRANSMITTANCE)
    alpha = torch.where(kept, alpha, torch.zeros_like(alpha))

    transmittance = torch.cumprod(1.0 - alpha, dim=1)
    transmittance_before = torch.cat(
        [torch.ones_like(transmittance[:, :1]), transmittance[:, :-1]], dim=1)
    weights = alpha * transmittance_before  # (B, N, P)
    rendered = torch.einsum('bnp,bnc->bpc', weights, colors)
    return rendered, 1.0 - transmittance[:, -1]


def rasterize(
    means: Tensor,
    quats: Tensor,
    scales: Tensor,
    opacities: Tensor,
    colors: Tensor,
    viewmats: Tensor,
    Ks: Tensor,
    width: int,
    height: int,
    eps2d: float = 0.3,
) -> Tuple[Tensor, Tensor]:
    """Render N Gaussians into V views; see `skelsplat_ros.render.rasterize_heatmaps`."""
    projection = project_gaussians(means, quats, scales, viewmats, Ks, width, height, eps2d)
    return composite(projection, opacities, colors, width, height)


def rasterize_windows(
    means: Tensor,
    quats: Tensor,
    scales: Tensor,
    opacities: Tensor,
    colors: Tensor,
    viewmats: Tensor,
    Ks: Tensor,
    width: int,
    height: int,
    pixels: Tensor,
    eps2d: float = 0.3,
) -> Tuple[Tensor, Tensor]:
    """Render N Gaussians into V views at pixel centres ``pixels`` (..., V, G, P, 2)."""
    projection = project_gaussians(means, quats, scales, viewmats, Ks, width, height, eps2d)
    return composite_windows(projection, opacities, colors, pixels)
