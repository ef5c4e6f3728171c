# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The analytic objective: the closed form of the heatmap loss, by Gauss-Newton (numpy).

For a Gaussian rendered with the target's width sigma (``analytic_sigma``) and no other
Gaussian in front, the masked MSE between render and target is, up to a constant, the overlap
integral of two 2D Gaussians: ``1 - exp(-e^2 / (4 sigma^2))`` of the reprojection error e.  So
each view pulls like a Welsch (redescending) kernel on its reprojection error: hard within a
few sigma, and hardly at all from farther away, which is what makes SkelSplat shrug off a
confidently wrong view.  This drops the occlusion between Gaussians and the (weak) symmetry
term, and solves each joint's 3x3 system directly.  People are fitted one after the other.

:func:`fit_analytic` is the reference of its batched torch twin in
:mod:`skelsplat_ros.solver.objectives.analytic_torch`.
"""

from typing import List, Sequence

import numpy as np
from skelsplat_ros.solver.geometry import crops, normal_equations, reprojection_residuals
from skelsplat_ros.solver.problem import Fit, Problem


def fit(problems: Sequence[Problem]) -> List[Fit]:
    """Fit each person's joints on its own (the objective's entry, see the registry)."""
    return [_fit_one(problem) for problem in problems]


def _fit_one(problem: Problem) -> Fit:
    cfg = problem.config
    _, scale, _ = crops(problem.rig, problem.points, problem.weights, problem.init,
                        cfg.crop_size, cfg.crop_margin)
    sigma_px = cfg.analytic_sigma / scale                                      # (V,)
    prior, prior_weight = problem.prediction, None
    if prior is not None:
        usable = np.isfinite(prior).all(axis=1) & problem.known
        prior_weight = np.where(usable, cfg.motion_weight / cfg.motion_sigma ** 2, 0.0)
        prior = np.where(usable[:, None], prior, 0.0)
    positions, iterations = fit_analytic(problem.rig.projections, problem.init, problem.points,
                                         problem.weights, sigma_px, cfg.iterations,
                                         prior=prior, prior_weight=prior_weight)
    # No Gaussian shapes are fitted here.
    return Fit(means=positions, log_scales=None, quats=None, iterations=iterations,
               loss=float('nan'), detection_sigma_px=sigma_px)


def fit_analytic(P, init, points, weights, sigma_px, iterations=10, tolerance=1e-5,
                 prior=None, prior_weight=None):
    """Minimise the Welsch kernel on the reprojection errors by reweighted Gauss-Newton.

    Args:
        P: (V, 3, 4) projection matrices.
        init: (J, 3) start, NaN where unknown (those joints stay NaN).
        points: (V, J, 2) undistorted pixels.
        weights: (V, J) confidences of the supporting views, else 0.
        sigma_px: (V,) the target heatmap's width in each view's pixels (the kernel's scale).
        iterations: Gauss-Newton steps at most.
        tolerance: stop once no joint moves more than this, metres.
        prior: (J, 3) motion prediction the joints are pulled towards, or None.
        prior_weight: (J,) its weight per joint, m^-2 (0 where it does not apply).

    Returns:
        ``(positions (J, 3), steps taken)``.

    """
    known = np.isfinite(init).all(axis=1)
    width = 4.0 * np.asarray(sigma_px)[:, None] ** 2                          # (V, 1)
    w = weights * known[None, :]
    used = w > 0
    positions = np.where(known[:, None], init, 0.0)
    if prior_weight is None:
        prior_weight = np.zeros(len(init))
    # Levenberg damping keeps a joint steady along directions no view constrains.
    damping = np.eye(3) * 1e-9
    iteration = 0
    for iteration in range(1, iterations + 1):
        residual, jac = reprojection_residuals(P, positions, points)          # (V,J,2/2x3)
        # Mask, not multiply: an absurd camera's overflow (NaN) times its weight 0 is NaN.
        residual = np.where(used[..., None], residual, 0.0)
        jac = np.where(used[..., None, None], jac, 0.0)
        kernel = np.where(used, w * np.exp(-(residual ** 2).sum(axis=-1) / width) / width,
                          0.0)                                                # (V, J)
        hessian, gradient = normal_equations(jac, kernel, residual)
        hessian = hessian + prior_weight[:, None, None] * np.eye(3) + damping
        if prior is not None:
            gradient += prior_weight[:, None] * (positions - prior)
        step = np.linalg.solve(hessian, gradient[..., None])[..., 0]
        positions = positions - step
        if np.abs(step).max() < tolerance:
            break
    return np.where(known[:, None], positions, np.nan), iteration
