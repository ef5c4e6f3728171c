# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""SkelSplat: a 3D skeleton as one Gaussian per joint, fitted by rendering joint heatmaps.

Each joint j is a 3D Gaussian (mean, scale, rotation, opacity) whose colour is the one-hot
vector e_j, so rendering the skeleton into camera v gives a J-channel image whose channel j is
joint j's heatmap (occlusion included: front-to-back compositing).  The targets are Gaussian
heatmaps centred on the 2D detections.  Adam moves the Gaussians until their renders match the
targets in every view at once (Bragagnolo et al., SkelSplat, WACV 2026).

What this implementation adds to the paper's recipe, and why:

- Each view is rendered in a square crop around the person, and within that crop only in a
  small window around each joint's detection (:mod:`.objectives.rendered`).  The analytic
  objective (:mod:`.objectives.analytic`) minimises the closed form of the same loss without
  occlusion, much faster on a CPU; :mod:`.objectives.analytic_torch` batches it over frames.
- Detector confidences are used: each (view, joint) channel's loss is weighted by its
  confidence, and views that per-joint RANSAC rejects get weight 0, so that a confidently
  wrong view (a misdetection, a left/right swap, another person) cannot drag the joint
  (:mod:`.observations`).
- The start is a confidence-weighted RANSAC-DLT triangulation; in causal mode the previous
  frame warm-starts the fit and a constant-velocity motion prior holds joints that lost their
  views.  Early stopping ends the fit once the loss stops improving.
- In causal mode each frame's fit is then fused with the motion prediction by a Kalman filter
  (:mod:`skelsplat_ros.motion`) whose measurement noise is the 2D noise measured in that
  frame's reprojection residuals (:mod:`.uncertainty`): noisy detections are averaged over a
  few frames, exact ones followed exactly.
- Per joint it reports a confidence, a covariance and the supporting views (see
  :class:`PoseEstimate`).
- Several people, one solver each, are fitted together by :func:`solve_people`.

Keypoints enter as raw (distorted) pixels; they are undistorted with each camera's model
(:class:`skelsplat_ros.cameras.CameraRig`) and everything afterwards is pinhole.
"""

from skelsplat_ros.solver.config import PoseEstimate, SolverConfig
from skelsplat_ros.solver.core import SkelSplatSolver, solve_people, SolverDiverged
from skelsplat_ros.solver.objectives import OBJECTIVES, resolve_objective
from skelsplat_ros.solver.objectives.analytic_torch import solve_frames_analytic

__all__ = ['OBJECTIVES', 'PoseEstimate', 'SkelSplatSolver', 'SolverConfig', 'SolverDiverged',
           'resolve_objective', 'solve_frames_analytic', 'solve_people']
