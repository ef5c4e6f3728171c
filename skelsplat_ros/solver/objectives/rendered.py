# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The rendered objective: Adam through the Gaussian renderer (the paper's method).

Each view is rendered in a square crop around the person (``crop_size`` pixels a side), and
within that crop only in a small window around each joint's detection (``window`` pixels a
side): a heatmap channel is zero elsewhere, so the loss needs nothing else.  The loss is each
channel's masked MSE against a Gaussian target heatmap, weighted by the channel's confidence,
plus the left/right bone-length symmetry and the motion prior.  Several people are fitted
together: one Adam loop, and one batched render per step for all of them.
"""

from dataclasses import dataclass
import math
from typing import List, Sequence
import warnings

import numpy as np
from skelsplat_ros import render
from skelsplat_ros.solver.geometry import crops
from skelsplat_ros.solver.problem import Fit, Problem
import torch


@dataclass
class _Start:
    """Tensors of one person's rendered fit (V views, J joints, P pixels per window)."""

    Ks: torch.Tensor                  # (V, 3, 3) crop intrinsics
    viewmats: torch.Tensor            # (V, 4, 4)
    pixels: torch.Tensor              # (V, J, P, 2) window pixel centres, crop pixels
    targets: torch.Tensor             # (V, J, P) target heatmaps there
    weights: torch.Tensor             # (V, J) channel weights, 0 for unknown joints
    means: torch.Tensor               # (J, 3) start, 0 where unknown
    log_scales: torch.Tensor          # (J, 3)
    quats: torch.Tensor               # (J, 4)
    prior: torch.Tensor               # (J, 3) motion prediction, 0 where none
    prior_mask: torch.Tensor          # (J,) 1 where the prediction applies
    symmetric: torch.Tensor           # (S,) 1 for the symmetric bone pairs with known joints
    detection_sigma_px: np.ndarray    # (V,)


def _alike(first: Problem, problem: Problem):
    return (problem.config == first.config
            and problem.rig.num_views == first.rig.num_views
            and np.array_equal(problem.skeleton.bones, first.skeleton.bones)
            and np.array_equal(problem.skeleton.symmetric_bones,
                               first.skeleton.symmetric_bones)
            and problem.init.shape == first.init.shape)


def fit(problems: Sequence[Problem]) -> List[Fit]:
    """Adam on several people's Gaussians against their target heatmaps, in one loop.

    Every step renders all the people still fitting in one batched call.  Each person's loss
    is normalised on its own and the losses are summed; the people's parameters are disjoint
    and Adam works element-wise, so each person takes the steps of a fit of its own.  A
    person whose fit would have stopped (early stopping, or a non-finite loss) leaves the
    batch, and its best iterate (the start included) is its result.

    Raises:
        ValueError: the problems differ in configuration, skeleton or camera count.

    """
    first = problems[0]
    if not all(_alike(first, problem) for problem in problems):
        raise ValueError('people are fitted together only by solvers built alike (one '
                         'configuration, skeleton and camera count)')
    cfg = first.config
    dev = torch.device(cfg.device)
    backend = cfg.backend or render.default_backend(dev)
    starts = [_start(problem, dev) for problem in problems]

    def stacked(name):
        return torch.stack([getattr(start, name) for start in starts])

    Ks, pixels, targets, weights = (stacked(name) for name in ('Ks', 'pixels', 'targets',
                                                               'weights'))
    w_total = weights.sum(dim=(1, 2)).clamp_min(1e-6)                            # (B,)
    prior, prior_mask, symmetric = (stacked(name) for name in ('prior', 'prior_mask',
                                                               'symmetric'))
    viewmats = stacked('viewmats')
    means, log_scales, quats = (stacked(name).requires_grad_(True)
                                for name in ('means', 'log_scales', 'quats'))
    count, num_joints = means.shape[:2]
    opacities = torch.ones(count, num_joints, device=dev)
    colors = torch.eye(num_joints, device=dev).expand(count, -1, -1)
    bones = torch.tensor(first.skeleton.bones, device=dev)
    pairs = torch.tensor(first.skeleton.symmetric_bones, device=dev)
    optimizer = torch.optim.Adam([
        {'params': [means], 'lr': cfg.learning_rate},
        {'params': [log_scales], 'lr': cfg.scale_learning_rate},
        {'params': [quats], 'lr': cfg.rotation_learning_rate}])
    # Adam's first steps have the full learning rate whatever the gradient, which would kick
    # an already good start; a decaying rate and returning the best iterate (the start
    # included) make refinement never worse than the start.
    schedule = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=cfg.lr_decay)

    best = [means.detach().clone(), log_scales.detach().clone(), quats.detach().clone()]
    best_loss = np.full(count, math.inf)
    stalls = np.zeros(count, dtype=np.int64)
    iterations = np.full(count, cfg.iterations)
    fitting = np.ones(count, dtype=bool)
    for iteration in range(1, cfg.iterations + 1):
        rows = np.flatnonzero(fitting)
        index = torch.as_tensor(rows, device=dev)
        optimizer.zero_grad(set_to_none=True)
        person_means = means[index]
        rendered, _ = render.rasterize_heatmap_windows(
            person_means, quats[index], torch.exp(log_scales[index]), opacities[index],
            colors[index], viewmats[index], Ks[index], cfg.crop_size, cfg.crop_size,
            pixels[index], backend=backend)
        # Joint j's window only needs channel j: (B, V, J, P, J) -> (B, V, J, P).
        rendered = torch.diagonal(rendered, dim1=2, dim2=4).transpose(2, 3)
        loss = _heatmap_loss(rendered, targets[index], weights[index]) / w_total[index]
        loss = loss + cfg.symmetry_weight * _symmetry_loss(person_means, bones, pairs,
                                                           symmetric[index])
        residual = ((person_means - prior[index]) ** 2).sum(dim=2) * prior_mask[index]
        loss = loss + cfg.motion_weight * residual.sum(dim=1) / (
            2 * cfg.motion_sigma ** 2) / w_total[index]
        values = loss.detach().cpu().double().numpy()
        improved, going = [], []
        for k, n in enumerate(rows):
            value = values[k]
            if not math.isfinite(value):
                # Diverged: keep the best iterate so far (at worst the start).
                fitting[n], iterations[n] = False, iteration
                continue
            if value < best_loss[n]:
                stalls[n] = 0 if value < best_loss[n] * (1 - cfg.early_stop_rel) \
                    else stalls[n] + 1
                best_loss[n] = value
                improved.append(n)
            else:
                stalls[n] += 1
            if iteration > cfg.min_iterations and stalls[n] >= cfg.early_stop_patience:
                fitting[n], iterations[n] = False, iteration
            else:
                going.append(k)
        if improved:
            people = torch.as_tensor(improved, device=dev)
            for kept, current in zip(best, (means, log_scales, quats)):
                kept[people] = current.detach()[people]
        if not going:
            break
        loss[torch.as_tensor(going, device=dev)].sum().backward()
        optimizer.step()
        schedule.step()
    best_means, best_scales, best_quats = best
    best_quats = best_quats / best_quats.norm(dim=2, keepdim=True)
    return [Fit(means=best_means[n].cpu().double().numpy(), log_scales=best_scales[n],
                quats=best_quats[n], iterations=int(iterations[n]), loss=float(best_loss[n]),
                detection_sigma_px=starts[n].detection_sigma_px)
            for n in range(count)]


def _start(problem: Problem, dev) -> _Start:
    """Crops, windows, targets and starting Gaussians of one person's rendered fit."""
    cfg = problem.config
    init, known = problem.init, problem.known
    Ks, scale, origins = crops(problem.rig, problem.points, problem.weights, init,
                               cfg.crop_size, cfg.crop_margin)
    detection_sigma_px = cfg.heatmap_sigma / scale
    log_scales, quats = _initial_shape(problem, Ks, dev)
    viewmats = problem.rig.viewmats.copy()
    # A view that supports none of the joints adds nothing to the loss, but its weight 0 does
    # not keep an absurd camera's NaN out of it (0 x NaN is NaN, in the gradient too): it is
    # rendered through a supporting view's camera and windows instead, which changes no value.
    # A view whose crop overflows supports nothing: the renderer only sees finite cameras.
    broken = ~(np.isfinite(Ks).all(axis=(1, 2)) & np.isfinite(scale)
               & np.isfinite(origins).all(axis=1) & np.isfinite(viewmats).all(axis=(1, 2)))
    weights = np.where(broken[:, None], 0.0, problem.weights)
    idle = ~(weights > 0).any(axis=1)
    if idle.any() and not idle.all():
        donor = int(np.flatnonzero(~idle)[0])
        Ks[idle], viewmats[idle] = Ks[donor], viewmats[donor]
        scale[idle], origins[idle] = scale[donor], origins[donor]
        points = np.where(idle[:, None, None], problem.points[donor], problem.points)
    else:
        points = problem.points
    pixels, targets = _windows(points, scale, origins, cfg.window, cfg.heatmap_sigma, dev)
    prior = problem.prediction
    if prior is None:
        prior_mask = np.zeros(len(init))
    else:
        prior_mask = np.isfinite(prior).all(axis=1) & known
    bones_known = known[problem.skeleton.bones].all(axis=1)
    return _Start(
        Ks=torch.as_tensor(Ks, dtype=torch.float32, device=dev),
        viewmats=torch.as_tensor(viewmats, dtype=torch.float32, device=dev),
        pixels=pixels, targets=targets,
        weights=torch.as_tensor(weights * known[None, :], dtype=torch.float32,
                                device=dev),
        means=torch.tensor(np.where(known[:, None], init, 0.0), dtype=torch.float32,
                           device=dev),
        log_scales=log_scales, quats=quats,
        prior=torch.as_tensor(np.zeros_like(init) if prior is None else np.nan_to_num(prior),
                              dtype=torch.float32, device=dev),
        prior_mask=torch.as_tensor(prior_mask, dtype=torch.float32, device=dev),
        symmetric=torch.as_tensor(bones_known[problem.skeleton.symmetric_bones].all(axis=1),
                                  dtype=torch.float32, device=dev),
        detection_sigma_px=detection_sigma_px)


def _windows(points, scale, origins, window, heatmap_sigma, dev):
    """Pixel centres around each detection and the target heatmap there.

    Returns pixels (V, J, P, 2) in crop pixels, P = window^2, centred on the pixel that holds
    the detection, and targets (V, J, P): a Gaussian of std ``heatmap_sigma`` centred on the
    detection (V, J, 2).
    """
    half = window // 2
    centres = scale[:, None, None] * (points - origins[:, None, :])              # (V, J, 2)
    centres = torch.as_tensor(centres, dtype=torch.float32, device=dev)
    offsets = torch.arange(-half, half + 1, dtype=torch.float32, device=dev)
    grid = torch.stack(torch.meshgrid(offsets, offsets, indexing='xy'), dim=-1)
    pixels = torch.floor(centres)[:, :, None, :] + 0.5 + grid.reshape(1, 1, -1, 2)
    squared = ((pixels - centres[:, :, None, :]) ** 2).sum(dim=-1)
    targets = torch.exp(-0.5 * squared / heatmap_sigma ** 2)
    return pixels, targets


def _initial_shape(problem: Problem, Ks, dev):
    """Log-scales (J, 3) whose projection matches the target width, and identity quats.

    The previous fit's shapes, where the problem carries them.
    """
    if problem.shapes is not None:
        log_scales, quats = problem.shapes
        return log_scales.clone(), quats.clone()
    init, known, P = problem.init, problem.known, problem.rig.projections
    # The renderer adds eps2d = 0.3 px^2 to every projected covariance.
    sigma_px = math.sqrt(max(problem.config.heatmap_sigma ** 2 - 0.3, 0.25))
    safe = np.where(known[:, None], init, 0.0)
    # The third row of P = K [R | t] is [r3 | t3]: the depth of each joint in each view.
    with np.errstate(all='ignore'):
        depth = safe @ P[:, 2, :3].T + P[:, 2, 3]                                # (J, V)
        metres = sigma_px * np.abs(depth) / Ks[:, 0, 0]
    # A view whose (absurd) camera overflows has no say; all-finite, this is np.median.
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)  # a joint no view can place
        metres = np.nanmedian(np.where(np.isfinite(metres), metres, np.nan), axis=1)
    metres = np.clip(np.where(np.isfinite(metres), metres, 0.03), 0.005, 0.2)
    log_scales = torch.log(torch.as_tensor(metres, dtype=torch.float32)).repeat(3, 1).T
    quats = torch.zeros((len(init), 4))
    quats[:, 0] = 1.0
    return log_scales.contiguous().to(dev), quats.to(dev)


def _heatmap_loss(rendered, targets, weights):
    """Confidence-weighted squared error over the pixels where target or render is non-zero.

    rendered, targets: (B, V, J, P) joint j's heatmap channel at its window's P pixels, per
    person; weights: (B, V, J).  Returns per person (B,) the weighted sum over channels of
    each channel's mean squared error on its support (the paper's masked MSE).
    """
    with torch.no_grad():
        support = ((targets > 1e-3) | (rendered > 1e-3)).float()
        counts = support.sum(dim=3).clamp_min(1.0)                             # (B, V, J)
    squared = ((rendered - targets) ** 2 * support).sum(dim=3) / counts
    return (squared * weights).sum(dim=(1, 2))


def _symmetry_loss(means, bones, pairs, used):
    """Squared difference of left and right bone lengths, summed over the used pairs.

    means: (B, J, 3); bones: (K, 2) joint pairs; pairs: (S, 2) indices into ``bones`` (left,
    right); used: (B, S), 1 for the pairs whose bones are known.  Returns (B,).
    """
    lengths = (means[:, bones[:, 0]] - means[:, bones[:, 1]]).norm(dim=2)     # (B, K)
    return ((lengths[:, pairs[:, 0]] - lengths[:, pairs[:, 1]]) ** 2 * used).sum(dim=1)
