# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Differentiable rendering of 3D Gaussians into per-view multi-channel heatmaps.

Two backends share one signature: ``'torch'`` (pure PyTorch, any device, see
`torch_backend`) and ``'gsplat'`` (gsplat's CUDA kernels, CUDA tensors only).  Both follow
gsplat's classic 3DGS rasterization, so they give the same images.

Both also render B scenes in one call (e.g. one skeleton per person): give every Gaussian
tensor a leading batch dimension, ``means (B, N, 3)``, ``quats (B, N, 4)``, ``scales
(B, N, 3)``, ``opacities (B, N)``, ``colors (B, N, C)``, and the cameras per scene,
``viewmats (B, V, 4, 4)`` and ``Ks (B, V, 3, 3)``, or shared by all scenes, ``(V, 4, 4)`` and
``(V, 3, 3)``; the outputs get the same leading dimension.  Each scene is rendered on its own
(the people do not occlude one another), as if by its own call, and every scene has the same
Gaussian count N: pad a smaller one with zero-opacity Gaussians, which render nothing.
"""

import importlib
import numbers
from typing import Tuple

from skelsplat_ros.render.errors import RendererUnavailable
import torch
from torch import Tensor

__all__ = ['RendererUnavailable', 'available_backends', 'default_backend', 'rasterize_heatmaps',
           'rasterize_heatmap_windows']

#: The largest image side either backend renders, pixels: the solver renders crops of at most
#: ``SolverConfig.crop_size`` (1024); a larger size is a caller's bug that would allocate
#: V x H x W x C floats, and gsplat's tile counts grow with it.
MAX_SIDE = 4096

# Backend name -> module with a ``rasterize`` function of the signature below.
_BACKEND_MODULES = {
    'torch': 'skelsplat_ros.render.torch_backend',
    'gsplat': 'skelsplat_ros.render.gsplat_backend',
}


def _gsplat_usable() -> bool:
    if not torch.cuda.is_available():
        return False
    try:
        importlib.import_module('gsplat')
    except ImportError:
        return False
    return True


def available_backends() -> Tuple[str, ...]:
    """Names of the backends that can run on this machine, 'torch' always first."""
    return ('torch', 'gsplat') if _gsplat_usable() else ('torch',)


def default_backend(device) -> str:
    """Fastest backend for tensors on ``device`` (a torch.device or its name)."""
    on_cuda = torch.device(device).type == 'cuda'
    return 'gsplat' if on_cuda and 'gsplat' in available_backends() else 'torch'


def rasterize_heatmaps(
    means: Tensor,
    quats: Tensor,
    scales: Tensor,
    opacities: Tensor,
    colors: Tensor,
    viewmats: Tensor,
    Ks: Tensor,
    width: int,
    height: int,
    backend: str = 'torch',
    eps2d: float = 0.3,
) -> Tuple[Tensor, Tensor]:
    """Render N 3D Gaussians into V pinhole views, differentiably.

    Args:
        means: (N, 3) centres in world coordinates, metres.
        quats: (N, 4) orientations as wxyz quaternions (normalised internally).
        scales: (N, 3) standard deviations along the Gaussian's axes, metres.
        opacities: (N,) opacities in [0, 1].
        colors: (N, C) colours; one-hot rows give one heatmap channel per Gaussian.
        viewmats: (V, 4, 4) world-to-camera transforms (OpenCV camera axes).
        Ks: (V, 3, 3) intrinsics of undistorted pinhole images.
        width: image width W in pixels.
        height: image height H in pixels.
        backend: 'torch' (any device) or 'gsplat' (CUDA only).
        eps2d: pixel variance added to each projected 2D covariance.

    Returns:
        colours (V, H, W, C) and accumulated alphas (V, H, W, 1), each with the leading B of
        a batch of B scenes (see the module's description).

    Raises:
        RendererUnavailable: the backend cannot run here.
        ValueError: unknown backend name, or a side not in 1..``MAX_SIDE``.

    """
    _check_size(width, height)
    return _backend(backend).rasterize(means, quats, scales, opacities, colors, viewmats, Ks,
                                       width, height, eps2d=eps2d)


def rasterize_heatmap_windows(
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
    backend: str = 'torch',
    eps2d: float = 0.3,
) -> Tuple[Tensor, Tensor]:
    """Render like `rasterize_heatmaps`, but return only G windows of P pixels per view.

    The values equal the full W x H render read at those pixels.  The torch backend computes
    just those pixels, and in each window just the Gaussians that reach it, which is what makes
    small windows around each joint cheap on a CPU.

    Args:
        means: (N, 3), as in `rasterize_heatmaps`; likewise quats, scales, opacities,
            colors, viewmats, Ks and eps2d.
        quats: (N, 4).
        scales: (N, 3).
        opacities: (N,).
        colors: (N, C).
        viewmats: (V, 4, 4).
        Ks: (V, 3, 3).
        width: image width W, which sets the projection's Jacobian clamp as in a full render.
        height: image height H.
        pixels: (V, G, P, 2) pixel centres (column + 0.5, row + 0.5) of each window;
            (B, V, G, P, 2) for a batch of B scenes (see the module's description).
        backend: 'torch' or 'gsplat'.
        eps2d: pixel variance added to each projected 2D covariance.

    Returns:
        colours (V, G, P, C) and accumulated alphas (V, G, P, 1), each with the leading B of
        a batch.

    Raises:
        RendererUnavailable: the backend cannot run here.
        ValueError: unknown backend name, or a side not in 1..``MAX_SIDE``.

    """
    _check_size(width, height)
    return _backend(backend).rasterize_windows(means, quats, scales, opacities, colors,
                                               viewmats, Ks, width, height, pixels,
                                               eps2d=eps2d)


def _check_size(width, height):
    """Refuse an image size outside 1..MAX_SIDE before any tensor or kernel sees it."""
    if not all(isinstance(side, numbers.Integral) and 1 <= side <= MAX_SIDE
               for side in (width, height)):
        raise ValueError(f'render size {width!r} x {height!r} is not in 1..{MAX_SIDE} pixels')


def _backend(name):
    if name not in _BACKEND_MODULES:
        raise ValueError(f'unknown renderer backend {name!r}; choose from '
                         f'{sorted(_BACKEND_MODULES)}')
    return importlib.import_module(_BACKEND_MODULES[name])
