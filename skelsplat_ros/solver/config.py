# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The solver's parameters (:class:`SolverConfig`) and its result (:class:`PoseEstimate`)."""

import dataclasses
from dataclasses import dataclass
from typing import Optional

import numpy as np
from skelsplat_ros import motion, settings
from skelsplat_ros.settings import setting
from skelsplat_ros.solver.objectives import OBJECTIVES, resolve_objective


@dataclass
class SolverConfig:
    """Parameters of :class:`SkelSplatSolver`; each field carries its description and bounds.

    The ROS node offers the fields marked ``node`` as ``solver_<field>`` parameters
    (:mod:`skelsplat_ros.settings`).
    """

    iterations: int = setting(10, 'Adam (rendered) or Gauss-Newton (analytic) steps at most '
                              'per frame', low=1, high=1000)
    min_iterations: int = setting(3, 'steps before early stopping may end the rendered fit',
                                  low=0, high=1000)
    early_stop_rel: float = setting(2e-3, 'the rendered fit stops when its loss improved less '
                                    'than this, relatively', low=0.0, high=1.0)
    early_stop_patience: int = setting(2, '... for this many consecutive steps', low=1,
                                       high=1000)
    crop_size: int = setting(128, "side in pixels of each view's person crop", low=16,
                             high=1024)
    window: int = setting(11, 'side in crop pixels of the rendered window around each joint',
                          low=3, high=255)
    crop_margin: float = setting(0.15, 'crop border around the person, fraction of its size',
                                 low=0.0, high=2.0)
    heatmap_sigma: float = setting(1.5, 'target heatmap std of the rendered objective, crop '
                                   'pixels', low=0.1, high=50.0, low_open=True)
    # Wider than heatmap_sigma because Gauss-Newton reaches the kernel's minimum where the
    # reference's few Adam steps stay near their RANSAC-DLT start: real detections of one joint
    # disagree by 1-2 crop pixels, and a narrow kernel then follows a subset of the views
    # instead of averaging them (sweep in docs/realtime.md: 18.3 mm at 1.5, 14.3 mm at 2.0 on
    # the real 2D; exact input is fitted exactly at any width).
    analytic_sigma: float = setting(2.0, 'target heatmap std of the analytic objective, crop '
                                    'pixels', low=0.1, high=50.0, low_open=True)
    learning_rate: float = setting(4e-3, 'first Adam step for the means, metres', low=0.0,
                                   high=1.0, low_open=True, node=False)
    lr_decay: float = setting(0.85, 'learning rates shrink by this factor every step',
                              low=0.0, high=1.0, low_open=True, node=False)
    scale_learning_rate: float = setting(2e-2, 'first Adam step for the log-scales', low=0.0,
                                         high=1.0, node=False)
    rotation_learning_rate: float = setting(1e-2, 'first Adam step for the rotations',
                                            low=0.0, high=1.0, node=False)
    symmetry_weight: float = setting(0.01, 'weight of the left/right bone-length term, per m^2',
                                     low=0.0, high=1e6, node=False)
    motion_sigma: float = setting(0.05, 'std of the per-frame constant-velocity prior, metres',
                                  low=0.0, high=10.0, low_open=True)
    motion_weight: float = setting(1e-3, 'weight of that prior against the heatmap loss',
                                   low=0.0, high=1e6)
    # The filter fits a larger std per person where the innovations show faster motion
    # (motion.AccelEstimate), so 'fast' (about 60 m/s^2) is followed from any floor; the floor
    # sets how much slow motion is smoothed.  10 gained 0.1-0.17 mm on the synthetic protocols
    # (white 2D noise) but lost 1.2 mm on 'real', the one row with real detections
    # (bench/results/smoothing/adaptive_noise.json).
    accel_sigma: float = setting(20.0, 'the least white acceleration std of the motion filter, '
                                 'm/s^2 (it fits a larger one to fast motion)',
                                 low=0.0, high=motion.MAX_ACCEL_SIGMA, low_open=True)
    # The smoothers see the frames after a jerk, so they can trust the motion more; swept
    # over the accuracy benchmark's protocols (README, accuracy: smoothing).  A floor too, as
    # accel_sigma.
    smoothing_accel_sigma: float = setting(
        10.0, "accel_sigma when the filter's output is smoothed (skelsplat solve --smooth, "
        'smoothing_lag > 0), m/s^2', low=0.0, high=motion.MAX_ACCEL_SIGMA, low_open=True)
    frame_rate: float = setting(30.0, 'Hz: the time step when a frame comes without a stamp',
                                low=0.0, high=10000.0, low_open=True)
    min_noise_px: float = setting(0.05, 'floor of the 2D noise std measured from the '
                                  'residuals, pixels', low=0.0, high=1000.0, low_open=True)
    single_view_depth_sigma: float = setting(
        0.1, 'std along its ray of a joint seen by one view (its depth comes from its '
        'neighbours), metres', low=0.0, high=100.0, low_open=True)
    gate_px: float = setting(80.0, 'joints with at most two agreeing views drop the views this '
                             'far from the predicted projection, pixels', low=0.0, high=1e5,
                             low_open=True)
    min_confidence: float = setting(0.1, 'detections below this confidence are ignored',
                                    low=0.0, high=1.0)
    ransac_threshold_px: float = setting(40.0, 'RANSAC inlier threshold over views, pixels '
                                         '(views of one joint disagree by 10-25 px in 1080p)',
                                         low=0.0, high=1e5, low_open=True)
    agreement_px: float = setting(15.0, "reprojection error at which a joint's confidence "
                                  'drops to 0.61, pixels', low=0.0, high=1e5, low_open=True)
    prior_sigma: float = setting(1.0, "isotropic prior std of every joint's covariance, "
                                 'metres', low=0.0, high=1e3, low_open=True)
    # The world origin of a calibration lies in the capture volume; 20 m holds a large room.
    workspace_radius_m: float = setting(20.0, 'a joint farther than this from the world origin '
                                        'is not a person: no view supports it, metres',
                                        low=0.0, high=1e4, low_open=True)
    temporal: bool = setting(True, 'causal warm start and motion filter (false: every frame '
                             'on its own)')
    objective: str = setting('auto', "rendered: Adam through the Gaussian renderer (the paper's "
                             'method); analytic: the closed form of the same loss without '
                             'occlusion (fast); auto: rendered on a GPU, analytic on the CPU',
                             choices=OBJECTIVES)
    max_gap_frames: int = setting(15, 'frames without the person before the motion state '
                                  'resets', low=0, high=100000)
    coast_frames: int = setting(2, 'frames a joint seen by no view is still predicted', low=0,
                                high=100000)
    depth_memory_frames: int = setting(30, 'a joint seen by one view keeps its depth offset '
                                       'from its neighbours for this many frames after two '
                                       'views saw it', low=0, high=100000)
    device: str = setting('cpu', 'torch device of the solver', node=False)
    # The solver's tensors are tiny: more intra-op threads only add synchronisation and fight
    # the detectors for the cores (5-20x slower measured on 2 busy cores).
    cpu_threads: int = setting(1, "torch intra-op threads on the CPU, 0 leaves torch's",
                               low=0, high=1024, node=False)
    backend: Optional[str] = setting(None, 'renderer; None picks gsplat on CUDA, torch '
                                     'otherwise', node=False)

    def __post_init__(self):
        """Refuse values out of each field's bounds (ValueError naming the field)."""
        settings.check(self)

    def for_smoothing(self) -> 'SolverConfig':
        """Return this configuration for a pass whose output is smoothed afterwards."""
        return dataclasses.replace(self, accel_sigma=self.smoothing_accel_sigma)

    @property
    def resolved_objective(self) -> str:
        """The objective that runs on this config's device (see :func:`resolve_objective`)."""
        return resolve_objective(self.objective, self.device)


@dataclass
class MotionRecord:
    """What smoothing needs of one fitted frame (:mod:`skelsplat_ros.solver.smoothing`).

    Attributes:
        step: the motion filter's step of the frame.
        rig: the solver's cameras.
        points: (V, J, 2) undistorted detections the fit used.
        weights: (V, J) their weights, 0 for views that do not support a joint.
        agreement_px: the solver's ``agreement_px`` (confidence from reprojection).

    """

    step: motion.Step
    rig: object
    points: np.ndarray
    weights: np.ndarray
    agreement_px: float


@dataclass
class PoseEstimate:
    """One person's fused 3D skeleton.

    Attributes:
        positions: (J, 3) joint positions in metres, world frame; NaN where nothing is known.
        confidence: (J,) in [0, 1].
        covariance: (J, 3, 3) position covariance in m^2.  Per frame: the inverse
            Gauss-Newton information of the confidence-weighted reprojection objective at the
            fitted position, scaled by the 2D noise variance measured in the frame's residuals
            (see :func:`skelsplat_ros.solver.uncertainty.information`); a joint seen in one
            view is uncertain along that view's ray.  In causal mode: the Kalman filter's
            posterior, which combines that with the motion prediction.
        num_views: (J,) number of views whose detection supported the joint.
        reprojection_error: (J,) mean pixel distance, in the undistorted images, between the
            supporting detections and the projected joint; NaN where no view supports it.
        inliers: (V, J) bool, the supporting views.
        person_index: (V,) which candidate of each view was used, -1 for none.
        iterations: Adam steps taken.
        loss: final heatmap loss.
        outvoted: (V,) bool, views left out whole because the other views contradict their
            skeleton almost everywhere (another person: a one-person detector locked onto a
            bystander); None when not computed.
        velocities: (J, 3) joint velocities in m/s, world frame, from the motion filter
            (causal mode only, else None); not meaningful where ``num_views`` is 0.
        velocity_covariance: (J, 3, 3) their covariance in (m/s)^2, or None.
        motion: the motion filter's record of the frame, for smoothing; None in per-frame
            mode.

    """

    positions: np.ndarray
    confidence: np.ndarray
    covariance: np.ndarray
    num_views: np.ndarray
    reprojection_error: np.ndarray
    inliers: np.ndarray
    person_index: np.ndarray
    iterations: int = 0
    loss: float = float('nan')
    outvoted: Optional[np.ndarray] = None
    velocities: Optional[np.ndarray] = None
    velocity_covariance: Optional[np.ndarray] = None
    motion: Optional[MotionRecord] = None

    @property
    def mean_reprojection_error(self):
        """Mean reprojection error in pixels over the supported joints (NaN if none)."""
        errors = self.reprojection_error[np.isfinite(self.reprojection_error)]
        return float(errors.mean()) if errors.size else float('nan')
