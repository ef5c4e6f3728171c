# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The analytic objective: the closed form of the heatmap loss, by Gauss-Newton (numpy).

For a Gaussian rendered with the target's width sigma (``analytic_sigma``) and no other
Gaussian in front, the masked MSE between render and target is, up to a constant, the overlap
integral of two 2D Gaussians: ``1 - exp(-e^2 / (4 sigma^2))`` of the reprojection error e.  So
each view pulls like a Welsch (redescending) kernel on its reprojection error: hard within a
few sigma, and hardly at all from farther away, which is what makes SkelSplat shrug off a
confidently wrong view.  This drops the occlusion between Gaussians and the (weak) symmetry
term, and solves each joint's 3x3 system directly.  The people seen by the same cameras are
fitted together, each stopping when it would alone.

:func:`fit_analytic` is the reference of its batched torch twin in
:mod:`skelsplat_ros.solver.objectives.analytic_torch`.
"""

from typing import List, Sequence

import numpy as np
from skelsplat_ros.solver.geometry import crops, normal_equations, reprojection_residuals
from skelsplat_ros.solver.problem import Fit, Problem


def fit(problems: Sequence[Problem]) -> List[Fit]:
    """Fit each person's joints on its own (the objective's entry, see the registry).

    The people seen by the same cameras (with the same step budget, crops and heatmap width)
    go through one batched :func:`fit_analytic`: their joints are independent problems, and
    one set of array operations for all of them costs little more than one person's.
    """
    fits: List[Fit] = [None] * len(problems)
    remaining = list(range(len(problems)))
    while remaining:
        first = problems[remaining[0]]
        shared = [n for n in remaining
                  if np.array_equal(problems[n].rig.projections, first.rig.projections)
                  and problems[n].init.shape == first.init.shape
                  and _batch_settings(problems[n].config) == _batch_settings(first.config)]
        for n, one_fit in zip(shared, _fit_together([problems[n] for n in shared])):
            fits[n] = one_fit
        remaining = [n for n in remaining if n not in shared]
    return fits


def _batch_settings(config):
    """Return the settings that people fitted in one batch share."""
    return config.iterations, config.crop_size, config.crop_margin, config.analytic_sigma


def _fit_together(problems: Sequence[Problem]) -> List[Fit]:
    """Fit people seen by the same cameras (``problems[0].rig``) in one batched solve."""
    priors, prior_weights = [], []
    iterations, crop_size, crop_margin, analytic_sigma = _batch_settings(problems[0].config)
    points = np.stack([problem.points for problem in problems])
    weights = np.stack([problem.weights for problem in problems])
    init = np.stack([problem.init for problem in problems])
    _, scale, _ = crops(problems[0].rig, points, weights, init, crop_size, crop_margin)
    sigmas = analytic_sigma / scale                                             # (P, V)
    for problem in problems:
        cfg = problem.config
        prior = problem.prediction
        usable = np.zeros(len(problem.init), dtype=bool)
        if prior is not None:
            usable = np.isfinite(prior).all(axis=1) & problem.known
        prior_weights.append(np.where(usable, cfg.motion_weight / cfg.motion_sigma ** 2, 0.0))
        priors.append(np.where(usable[:, None], prior, 0.0) if prior is not None
                      else np.zeros_like(problem.init))
    positions, iterations = fit_analytic(
        problems[0].rig.projections, init, points, weights, sigmas, iterations,
        prior=np.stack(priors),
        prior_weight=np.stack(prior_weights))
    # No Gaussian shapes are fitted here.
    return [Fit(means=means, log_scales=None, quats=None, iterations=int(steps),
                loss=float('nan'), detection_sigma_px=sigma)
            for means, steps, sigma in zip(positions, iterations, sigmas)]


def fit_analytic(P, init, points, weights, sigma_px, iterations=10, tolerance=1e-5,
                 prior=None, prior_weight=None):
    """Minimise the Welsch kernel on the reprojection errors by reweighted Gauss-Newton.

    Leading dims ``...`` (none, or the people of a frame) are independent problems seen by
    the same cameras; each stops on its own, as it would alone.

    Args:
        P: (V, 3, 4) projection matrices.
        init: (..., J, 3) start, NaN where unknown (those joints stay NaN).
        points: (..., V, J, 2) undistorted pixels.
        weights: (..., V, J) confidences of the supporting views, else 0.
        sigma_px: (..., V) the target heatmap's width in each view's pixels (the kernel's
            scale).
        iterations: Gauss-Newton steps at most.
        tolerance: a problem stops once none of its joints moves more than this, metres.
        prior: (..., J, 3) motion prediction the joints are pulled towards, or None.
        prior_weight: (..., J) its weight per joint, m^-2 (0 where it does not apply).

    Returns:
        ``(positions (..., J, 3), steps taken)``: the steps an int without leading dims,
        else an int array of the leading shape.

    """
    init = np.asarray(init, dtype=float)
    batch, (num_views, num_joints) = init.shape[:-2], np.shape(weights)[-2:]
    count = int(np.prod(batch, dtype=int))
    # The joints of every problem are independent: one (V, count * J) problem of joints.
    flat_init = init.reshape(count * num_joints, 3)
    flat_points = np.moveaxis(np.reshape(points, (count, num_views, num_joints, 2)), 0, 1)
    flat_points = flat_points.reshape(num_views, count * num_joints, 2)
    w = np.moveaxis(np.reshape(weights, (count, num_views, num_joints)), 0, 1)
    w = w.reshape(num_views, count * num_joints)
    width = 4.0 * np.repeat(np.reshape(sigma_px, (count, num_views)).T, num_joints,
                            axis=1) ** 2                                      # (V, count J)
    known = np.isfinite(flat_init).all(axis=1)
    w = w * known[None, :]
    used = w > 0
    positions = np.where(known[:, None], flat_init, 0.0)
    if prior_weight is None:
        prior_weight = np.zeros(count * num_joints)
    prior_weight = np.reshape(prior_weight, count * num_joints)
    if prior is not None:
        prior = np.reshape(prior, (count * num_joints, 3))
    # Levenberg damping keeps a joint steady along directions no view constrains.
    damping = np.eye(3) * 1e-9
    steps = np.zeros(count, dtype=int)
    active = np.ones(count, dtype=bool)
    for iteration in range(1, iterations + 1):
        residual, jac = reprojection_residuals(P, positions, flat_points)     # (V,N,2/2x3)
        # Mask, not multiply: an absurd camera's overflow (NaN) times its weight 0 is NaN.
        residual = np.where(used[..., None], residual, 0.0)
        jac = np.where(used[..., None, None], jac, 0.0)
        kernel = np.where(used, w * np.exp(-(residual ** 2).sum(axis=-1) / width) / width,
                          0.0)                                                # (V, N)
        hessian, gradient = normal_equations(jac, kernel, residual)
        hessian = hessian + prior_weight[:, None, None] * np.eye(3) + damping
        if prior is not None:
            gradient += prior_weight[:, None] * (positions - prior)
        step = np.linalg.solve(hessian, gradient[..., None])[..., 0]
        # A problem that has stopped keeps its joints where they are.
        step = np.where(np.repeat(active, num_joints)[:, None], step, 0.0)
        positions = positions - step
        steps[active] = iteration
        # Not "max >= tolerance": a NaN step keeps its problem going, as it did alone.
        largest = np.abs(step).reshape(count, 3 * num_joints).max(axis=1, initial=0.0)
        active &= ~(largest < tolerance)
        if not active.any():
            break
    positions = np.where(known[:, None], positions, np.nan).reshape(init.shape)
    return positions, (int(steps[0]) if not batch else steps.reshape(batch))
