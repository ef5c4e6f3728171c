# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""gsplat CUDA rasterizer behind the same signature as the pure-PyTorch backend.

gsplat is imported only when this backend is used, so the package works without it.
Leading batch dimensions (several scenes in one call, ``means (..., N, 3)``) go straight to
``gsplat.rasterization``, which renders each scene on its own; it wants the cameras per scene,
so shared ``viewmats (V, 4, 4)`` or ``Ks (V, 3, 3)`` are expanded to the batch.
"""

from typing import Tuple

from skelsplat_ros.render.errors import RendererUnavailable
from skelsplat_ros.render.torch_backend import NEAR_PLANE
import torch
from torch import Tensor

# Channel counts gsplat's CUDA rasterizer is compiled for (gsplat/cuda/_wrapper.py).
SUPPORTED_CHANNELS = (1, 2, 3, 4, 5, 8, 9, 16, 17, 32, 33, 64, 65, 128, 129, 256, 257, 512, 513)


def padded_channel_count(channels: int) -> int:
    """Smallest channel count >= ``channels`` that gsplat's kernels are compiled for."""
    for supported in SUPPORTED_CHANNELS:
        if supported >= channels:
            return supported
    raise ValueError(f'gsplat renders at most {SUPPORTED_CHANNELS[-1]} channels, got {channels}')


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
    """Render N Gaussians into V views with gsplat; see `rasterize_heatmaps` for the shapes.

    Raises:
        RendererUnavailable: when the tensors are not on a CUDA device or gsplat is missing.

    """
    if means.device.type != 'cuda':
        raise RendererUnavailable(
            f"the 'gsplat' renderer needs CUDA tensors, got device '{means.device}'; "
            "use backend='torch' on the CPU")
    try:
        import gsplat
    except ImportError as error:
        raise RendererUnavailable(
            "the 'gsplat' renderer needs the gsplat package (pip install gsplat); "
            "use backend='torch' instead") from error

    channels = colors.shape[-1]
    padding = padded_channel_count(channels) - channels
    padded_colors = torch.nn.functional.pad(colors, (0, padding))
    batch_shape = means.shape[:-2]
    viewmats = viewmats.expand(batch_shape + viewmats.shape[-3:])
    Ks = Ks.expand(batch_shape + Ks.shape[-3:])
    rendered, alphas, _ = gsplat.rasterization(
        means, quats, scales, opacities, padded_colors, viewmats, Ks, width, height,
        near_plane=NEAR_PLANE, eps2d=eps2d, packed=False, rasterize_mode='classic',
        render_mode='RGB', camera_model='pinhole', backgrounds=None)
    return rendered[..., :channels], alphas


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
    """Render the whole W x H images with gsplat and read them at ``pixels`` (..., V, G, P, 2).

    gsplat renders in tiles, so sparse windows cost as much as the image; on a GPU that is
    cheap.  Pixel centres outside the image read as zero.
    """
    rendered, alphas = rasterize(means, quats, scales, opacities, colors, viewmats, Ks,
                                 width, height, eps2d)
    images = rendered.shape[:-3].numel()                       # views of every batch entry
    column = torch.floor(pixels[..., 0]).long().reshape(images, -1)
    row = torch.floor(pixels[..., 1]).long().reshape(images, -1)
    inside = ((column >= 0) & (column < width) & (row >= 0) & (row < height))[..., None]
    flat = row.clamp(0, height - 1) * width + column.clamp(0, width - 1)   # (B V, G * P)
    image = torch.arange(images, device=rendered.device)[:, None]
    colour = rendered.reshape(images, -1, rendered.shape[-1])[image, flat] * inside
    alpha = alphas.reshape(images, -1, 1)[image, flat] * inside
    return (colour.reshape(pixels.shape[:-1] + (-1,)), alpha.reshape(pixels.shape[:-1] + (1,)))
