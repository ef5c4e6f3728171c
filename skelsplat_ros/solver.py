# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""SkelSplat: a 3D skeleton as one Gaussian per joint, fitted by rendering joint heatmaps.

Each joint j is a 3D Gaussian (mean, scale, rotation, opacity) whose colour is the one-hot
vector e_j, so rendering the skeleton into camera v gives a J-channel image whose channel j is
joint j's heatmap (occlusion included: front-to-back compositing).  The targets are Gaussian
heatmaps centred on the 2D detections.  Adam moves the Gaussians until their renders match the
targets in every view at once (Bragagnolo et al., SkelSplat, WACV 2026).

What this implementation adds to the paper's recipe, and why:

- Each view is rendered in a square crop around the person (``crop_size`` pixels a side), not
  at full frame, and within that crop only in a small window around each joint's detection
  (``window`` pixels a side): a heatmap channel is zero elsewhere, so the loss needs nothing
  else.  The windows are rendered exactly (every Gaussian composited, as in the full image,
  see :func:`skelsplat_ros.render.rasterize_heatmap_windows`), at a fraction of the cost.
- Detector confidences are used: each (view, joint) channel's loss is weighted by its
  confidence, and views that per-joint RANSAC rejects get weight 0, so that a confidently
  wrong view (a misdetection, a left/right swap, another person) cannot drag the joint.
- The start is a confidence-weighted RANSAC-DLT triangulation; in causal mode the previous
  frame warm-starts the fit and a constant-velocity motion prior holds joints that lost their
  views.  Early stopping ends the fit once the loss stops improving.
- In causal mode each frame's fit is then fused with the motion prediction by a Kalman filter
  (:mod:`skelsplat_ros.motion`) whose measurement noise is the 2D noise measured in that
  frame's reprojection residuals: noisy detections are averaged over a few frames, exact ones
  followed exactly.
- Per joint it reports a confidence, a covariance and the supporting views (see
  :class:`PoseEstimate`).
- Several people, one solver each, are fitted together by :func:`solve_people`: one Adam loop
  and one batched render per step for all of them.

Keypoints enter as raw (distorted) pixels; they are undistorted with each camera's model and
everything afterwards is pinhole.
"""

from dataclasses import dataclass
import itertools
import math
from typing import List, Optional, Sequence

import numpy as np
from skelsplat_ros import motion, render, settings
from skelsplat_ros.settings import setting
from skelsplat_ros.skeletons import COCO17_BONES, COCO17_FLIP, COCO17_SYMMETRIC_BONES
from skelsplat_ros.triangulation import reprojection_errors, triangulate_ransac
import torch


OBJECTIVES = ('auto', 'rendered', 'analytic')


def resolve_objective(objective: str, device: str) -> str:
    """The objective that runs: 'auto' is rendered on a GPU and analytic on the CPU.

    On the CPU the rendered reference costs about 75 ms a frame for 4 views and the analytic
    closed form of the same loss about 4 ms (docs/realtime.md).  The node, ``skelsplat bag``
    and the CLI all choose by this rule.
    """
    if objective == 'auto':
        return 'rendered' if str(device).startswith('cuda') else 'analytic'
    return objective


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
    crop_size: int = setting(128, 'side in pixels of each view\'s person crop', low=16,
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
    # Lower smooths noise more but lags real motion more (README: 'fast' protocol).
    accel_sigma: float = setting(20.0, 'the motion filter\'s white acceleration std, m/s^2',
                                 low=0.0, high=motion.MAX_ACCEL_SIGMA, low_open=True)
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
    agreement_px: float = setting(15.0, 'reprojection error at which a joint\'s confidence '
                                  'drops to 0.61, pixels', low=0.0, high=1e5, low_open=True)
    prior_sigma: float = setting(1.0, 'isotropic prior std of every joint\'s covariance, '
                                 'metres', low=0.0, high=1e3, low_open=True)
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
    cpu_threads: int = setting(1, 'torch intra-op threads on the CPU, 0 leaves torch\'s',
                               low=0, high=1024, node=False)
    backend: Optional[str] = setting(None, 'renderer; None picks gsplat on CUDA, torch '
                                     'otherwise', node=False)

    def __post_init__(self):
        """Refuse values out of each field's bounds (ValueError naming the field)."""
        settings.check(self)

    @property
    def resolved_objective(self) -> str:
        """The objective that runs on this config's device (see :func:`resolve_objective`)."""
        return resolve_objective(self.objective, self.device)


@dataclass
class PoseEstimate:
    """One person's fused 3D skeleton.

    Attributes:
        positions: (J, 3) joint positions in metres, world frame; NaN where nothing is known.
        confidence: (J,) in [0, 1].
        covariance: (J, 3, 3) position covariance in m^2.  Per frame: the inverse
            Gauss-Newton information of the confidence-weighted reprojection objective at the
            fitted position, scaled by the 2D noise variance measured in the frame's residuals
            (see :meth:`SkelSplatSolver._information`); a joint seen in one view is uncertain
            along that view's ray.  In causal mode: the Kalman filter's posterior, which
            combines that with the motion prediction.
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

    @property
    def mean_reprojection_error(self):
        """Mean reprojection error in pixels over the supported joints (NaN if none)."""
        errors = self.reprojection_error[np.isfinite(self.reprojection_error)]
        return float(errors.mean()) if errors.size else float('nan')


@dataclass
class _Problem:
    """One person's fit in one frame group, as `SkelSplatSolver._prepare` sets it up."""

    init: np.ndarray                  # (J, 3) start, NaN where nothing is known
    known: np.ndarray                 # (J,) bool, the joints with a start
    points: np.ndarray                # (V, J, 2) undistorted detections
    weights: np.ndarray               # (V, J) confidences of the supporting views, else 0
    inliers: np.ndarray               # (V, J) bool
    person_index: np.ndarray          # (V,) candidate used in each view, -1 for none
    outvoted: np.ndarray              # (V,) bool, views left out whole


@dataclass
class _RenderedStart:
    """Tensors of one person's rendered fit (V views, J joints, P pixels per window)."""

    Ks: torch.Tensor                  # (V, 3, 3) crop intrinsics
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


@dataclass
class _Fit:
    means: np.ndarray                 # (J, 3)
    log_scales: Optional[torch.Tensor]  # (J, 3); None when no shapes were fitted
    quats: Optional[torch.Tensor]       # (J, 4)
    iterations: int
    loss: float
    detection_sigma_px: np.ndarray    # (V,)


@dataclass
class _MotionState:
    joints: motion.JointFilter                 # filtered positions and velocities
    stamp: Optional[float] = None              # seconds, of the last fitted frame
    scales: Optional[torch.Tensor] = None      # (J, 3) log-scales of the last fit
    quats: Optional[torch.Tensor] = None       # (J, 4)
    missed: int = 0                            # frames in a row without the person
    weak: Optional[np.ndarray] = None          # (J,) frames since >= 2 views saw the joint
    unseen: Optional[np.ndarray] = None        # (J,) frames since any view saw the joint

    @property
    def positions(self):
        return self.joints.positions


class SkelSplatSolver:
    """Fits one Gaussian skeleton per call, causally across calls when ``temporal``."""

    def __init__(self, cameras, config: Optional[SolverConfig] = None,
                 bones=COCO17_BONES, symmetric_bones=COCO17_SYMMETRIC_BONES, flip=COCO17_FLIP):
        """Prepare the solver for a fixed camera set.

        Args:
            cameras: sequence of :class:`skelsplat_ros.cameras.Camera` (V).
            config: solver parameters.
            bones: (B, 2) joint index pairs of the skeleton.
            symmetric_bones: pairs of indices into ``bones`` (left, right).
            flip: (J,) the joint index of each joint's mirror image (left <-> right).

        """
        self.config = config or SolverConfig()
        self.cameras = list(cameras)
        self.device = torch.device(self.config.device)
        if self.device.type == 'cpu' and self.config.cpu_threads:
            torch.set_num_threads(self.config.cpu_threads)
        self.backend = self.config.backend or render.default_backend(self.device)
        self._P = np.stack([cam.projection_matrix for cam in self.cameras])      # (V, 3, 4)
        self._K = np.stack([np.asarray(cam.K, float) for cam in self.cameras])   # (V, 3, 3)
        self._viewmats = torch.as_tensor(
            np.stack([cam.viewmat for cam in self.cameras]), dtype=torch.float32,
            device=self.device)
        self._bones = np.asarray(bones, dtype=np.int64).reshape(-1, 2)
        self._symmetric = np.asarray(symmetric_bones, dtype=np.int64).reshape(-1, 2)
        # (left, right) joint pairs, from the flip permutation of the joint set.
        self._mirror_pairs = np.array([(j, int(m)) for j, m in enumerate(flip) if j < m],
                                      dtype=np.int64).reshape(-1, 2)
        self._centres = np.stack([cam.center for cam in self.cameras])            # (V, 3)
        self._state: Optional[_MotionState] = None
        # The motion state moved to the frame being solved (None: no prediction).
        self._prior: Optional[motion.JointFilter] = None
        self._stamp: Optional[float] = None

    @property
    def num_views(self):
        """Number of cameras V."""
        return len(self.cameras)

    def reset(self):
        """Forget the temporal state (a new sequence, or a lost person)."""
        self._state = None

    # ------------------------------------------------------------------------------------------
    def solve(self, keypoints, stamp: Optional[float] = None) -> Optional[PoseEstimate]:
        """Fuse one frame group.

        Args:
            keypoints: per view, the detected people: a sequence of V arrays (P_v, J, 3) of raw
                pixels and confidence (P_v may be 0 for a view without detections), or one
                array (V, J, 3) with one person per view.
            stamp: capture time in seconds, for the motion model's time step; None: one
                period of ``frame_rate`` after the previous frame.

        Returns:
            The fused skeleton, or None when fewer than two views see anyone (the temporal
            state then ages and eventually resets).

        """
        problem = self._prepare(keypoints, stamp)
        if problem is None:
            return None
        return self._finish(problem, self._fit(problem))

    def _prepare(self, keypoints, stamp=None) -> Optional[_Problem]:
        """Pick the person in each view and triangulate the start of the fit.

        Returns None, after ageing the temporal state, when too little is seen to fit.
        """
        self._predict(stamp)
        candidates = self._undistort_candidates(keypoints)
        points, weights, person_index = self._select_person(candidates)
        if int(((weights > 0).sum(axis=1) > 0).sum()) < 2:
            self._age_state()
            return None
        self._unswap_by_prediction(points, weights)

        init, inliers, outvoted = self._initial_positions(points, weights)
        known = np.isfinite(init).all(axis=1)
        if known.sum() < 2:
            self._age_state()
            return None
        return _Problem(init=init, known=known, points=points,
                        weights=np.where(inliers, weights, 0.0), inliers=inliers,
                        person_index=person_index, outvoted=outvoted)

    def _finish(self, problem: _Problem, fit: _Fit) -> PoseEstimate:
        """Describe the fitted skeleton and advance the temporal state."""
        positions = np.where(problem.known[:, None], fit.means, np.nan)
        self._hold_single_view_depth(positions, problem.init, problem.points, problem.weights)
        known = np.isfinite(positions).all(axis=1)
        # A joint left without a depth is not supported by the view that saw it.
        weights = np.where(known[None], problem.weights, 0.0) * problem.inliers
        information = self._information(positions, problem.points, weights,
                                        fit.detection_sigma_px)
        if self.config.temporal:
            # A joint seen by one view takes its depth from its neighbours this frame (see
            # _hold_single_view_depth), which the motion model cannot improve on.
            single = (weights > 0).sum(axis=0) == 1
            joints = motion.update(self._prior or motion.JointFilter.empty(len(positions)),
                                   positions, information, restart=single)
            positions = np.where(known[:, None], joints.mean[:, :3], np.nan)
            covariance = joints.position_covariance.copy()
        else:
            joints, covariance = None, np.linalg.inv(information)
        covariance[~known] = np.eye(3) * self.config.prior_sigma ** 2
        estimate = self._describe(positions, problem.points, weights, problem.inliers,
                                  problem.person_index, covariance)
        estimate.iterations, estimate.loss = fit.iterations, fit.loss
        estimate.outvoted = problem.outvoted
        self._update_state(joints, estimate.num_views, fit.log_scales, fit.quats)
        # A joint no view has seen for a while is only a guess: report it unknown.
        stale = self._state.unseen > self.config.coast_frames if self._state else None
        if stale is not None:
            estimate.positions[stale] = np.nan
            estimate.confidence[stale] = 0.0
        return estimate

    # ------------------------------------------------------------------------------------------
    def _undistort_candidates(self, keypoints):
        """Return per view (points (P_v, J, 2) pinhole pixels, confidence (P_v, J))."""
        if isinstance(keypoints, np.ndarray) and keypoints.ndim == 3:
            keypoints = [keypoints[v][None] for v in range(keypoints.shape[0])]
        if len(keypoints) != self.num_views:
            raise ValueError(f'got keypoints for {len(keypoints)} views, '
                             f'the solver has {self.num_views} cameras')
        result = []
        for cam, people in zip(self.cameras, keypoints):
            people = np.asarray(people, dtype=np.float64)
            if people.size == 0:
                result.append((np.zeros((0, 0, 2)), np.zeros((0, 0))))
                continue
            people = people.reshape(-1, people.shape[-2], people.shape[-1])
            finite = np.isfinite(people).all(axis=-1)
            conf = np.where(finite, people[..., 2], 0.0)
            conf = np.where(finite & (conf >= self.config.min_confidence), conf, 0.0)
            raw = np.where(finite[..., None], people[..., :2], 0.0)
            pinhole = cam.undistort_points(raw.reshape(-1, 2)).reshape(raw.shape)
            result.append((pinhole, np.clip(conf, 0.0, 1.0)))
        return result

    def _select_person(self, candidates):
        """Pick in each view the person consistent with the other views.

        Returns points (V, J, 2), weights (V, J) and the chosen index per view (V,).
        """
        num_joints = max((c[1].shape[1] for c in candidates if c[1].size), default=0)
        points = np.zeros((self.num_views, num_joints, 2))
        weights = np.zeros((self.num_views, num_joints))
        chosen = np.full(self.num_views, -1)
        counts = [c[1].shape[0] for c in candidates]
        reference = self._reference_skeleton(candidates, counts)
        for v, (pts, conf) in enumerate(candidates):
            if not counts[v]:
                continue
            if counts[v] == 1 or reference is None:
                best = int(np.argmax(conf.sum(axis=1)))
            else:
                best = self._closest_candidate(v, pts, conf, reference)
                if best < 0:
                    continue
            chosen[v] = best
            points[v], weights[v] = pts[best], conf[best]
        return points, weights, chosen

    def _reference_skeleton(self, candidates, counts):
        """Return a (J, 3) skeleton to pick people by, or None when no view is ambiguous."""
        if max(counts, default=0) <= 1:
            return None
        if self._prior is not None and self._prior.known.any():
            return self._prior.positions
        # Try every combination of candidates (few views, few people) and keep the one whose
        # triangulation the most confident views agree with.
        options = [range(n) if n else [None] for n in counts]
        best_score, best_positions = -1.0, None
        for combo in itertools.islice(itertools.product(*options), 256):
            pts, conf = self._combo_arrays(candidates, combo)
            positions, inliers = triangulate_ransac(
                self._P, pts, conf, threshold_px=self.config.ransac_threshold_px)
            score = float((conf * inliers).sum())
            if score > best_score:
                best_score, best_positions = score, positions
        return best_positions

    def _combo_arrays(self, candidates, combo):
        num_joints = max(c[1].shape[1] for c in candidates if c[1].size)
        pts = np.zeros((self.num_views, num_joints, 2))
        conf = np.zeros((self.num_views, num_joints))
        for v, i in enumerate(combo):
            if i is not None:
                pts[v], conf[v] = candidates[v][0][i], candidates[v][1][i]
        return pts, conf

    def _closest_candidate(self, v, pts, conf, reference):
        """Index of the candidate in view v nearest the reference's projection, or -1."""
        known = np.isfinite(reference).all(axis=1)
        if not known.any():
            return int(np.argmax(conf.sum(axis=1)))
        projected = _project(self._P[v], reference[known])                  # (Jk, 2)
        errors = np.linalg.norm(pts[:, known] - projected[None], axis=-1)    # (P, Jk)
        w = conf[:, known]
        score = (np.minimum(errors, 10 * self.config.ransac_threshold_px) * w).sum(axis=1)
        score = score / np.maximum(w.sum(axis=1), 1e-9)
        best = int(np.argmin(score))
        return best if score[best] < 5 * self.config.ransac_threshold_px else -1

    # ------------------------------------------------------------------------------------------
    def _initial_positions(self, points, weights):
        """RANSAC-DLT start, completed by the motion prediction and single-view back-projection.

        Returns positions (J, 3) with NaN where nothing is known, inliers (V, J), and the
        views left out whole (V,) (see :func:`_outvoted_views`).
        """
        positions, inliers = triangulate_ransac(
            self._P, points, weights, threshold_px=self.config.ransac_threshold_px)
        inliers = inliers & (weights > 0)
        outvoted = _outvoted_views(inliers, weights > 0)
        if outvoted.any():
            # A view whose skeleton the others contradict almost everywhere shows someone
            # else (a one-person detector locked onto a bystander): the few joints where it
            # happens to agree would otherwise pull, so the whole view goes.
            weights = np.where(outvoted[:, None], 0.0, weights)
            positions, inliers = triangulate_ransac(
                self._P, points, weights, threshold_px=self.config.ransac_threshold_px)
            inliers = inliers & (weights > 0)
        predicted = self._predicted_positions()
        if predicted is not None:
            weights = self._gate_by_prediction(positions, inliers, points, weights, predicted)
        else:
            weights = self._break_ties_by_skeleton(positions, inliers, points, weights)
        missing = ~np.isfinite(positions).all(axis=1)
        if predicted is not None:
            use = missing & np.isfinite(predicted).all(axis=1)
            positions[use] = predicted[use]
            missing &= ~use
        # A joint seen in one view only: on its ray, at the depth of the rest of the body.
        seen = weights > 0
        for j in np.flatnonzero(missing):
            views = np.flatnonzero(seen[:, j])
            if views.size:
                v = views[np.argmax(weights[views, j])]
                positions[j] = self._back_project(v, points[v, j], positions)
        single = (seen.sum(axis=0) == 1) & np.isfinite(positions).all(axis=1)
        inliers[:, single] = seen[:, single]
        return positions, inliers & (weights > 0), outvoted

    def _gate_by_prediction(self, positions, inliers, points, weights, predicted):
        """Drop views that contradict the motion prediction.

        With two views a confident outlier cannot be outvoted, and two outliers can outvote
        or join two good views, but an outlier lands far from where the joint was a frame
        ago.  Views are dropped, and the joint re-triangulated from the rest (``positions``
        and ``inliers`` are updated in place):

        - where two views or more lie within ``ransac_threshold_px`` of the predicted
          projection, the views beyond it, unless the prediction is uncertain there (its
          projected std over a quarter of that distance);
        - where no two views agree, or just two do while the joint was well seen a frame ago,
          the views more than ``gate_px`` from the predicted projection.

        Otherwise a consensus of views wins over the prediction.

        Returns the gated weights (V, J).
        """
        cfg = self.config
        known = np.isfinite(predicted).all(axis=1)
        projected, jac = _reprojection_residuals(
            self._P, np.where(known[:, None], predicted, 0.0), np.zeros_like(points))
        spread = np.einsum('vjki,jil,vjkl->vj', jac, self._prior.position_covariance, jac)
        distance = np.linalg.norm(points - projected, axis=-1)
        detected = weights > 0
        outvoted = detected & (distance > cfg.ransac_threshold_px) \
            & (spread < (cfg.ransac_threshold_px / 4) ** 2)
        outvoted &= ((detected & ~outvoted).sum(axis=0) >= 2)[None]
        agreeing = inliers.sum(axis=0)
        # Two agreeing views are trusted over a prediction that itself went without two views
        # (it has drifted along a ray); otherwise the prediction arbitrates.
        weak_consensus = (agreeing < 2) | ((agreeing == 2) & (self._state.weak == 0))
        drop = known[None] & (outvoted | (detected & (distance > cfg.gate_px)
                                          & weak_consensus[None]))
        suspect = drop.any(axis=0)
        if not suspect.any():
            return weights
        weights = np.where(drop, 0.0, weights)
        regated, regated_inliers = triangulate_ransac(
            self._P, points[:, suspect], weights[:, suspect],
            threshold_px=cfg.ransac_threshold_px)
        positions[suspect] = regated
        inliers[:, suspect] = regated_inliers & (weights[:, suspect] > 0)
        return weights

    def _break_ties_by_skeleton(self, positions, inliers, points, weights):
        """Settle 2-2 splits of a joint's views by the skeleton, without a motion prediction.

        Two confident outliers in four views can agree with each other as well as the two
        good views do (a 2-2 tie; on the first frame, or in per-frame mode, no prediction can
        tell).  The two consensuses place the joint far apart, and only one of them next to
        its skeleton neighbours.  For a joint whose RANSAC consensus is two views while two
        others saw it, the other views are triangulated too, and the consensus nearer (mean
        distance) to the neighbours that three views or more agree on is kept; the views of
        the other are dropped.  ``positions`` and ``inliers`` are updated in place.

        Returns the weights (V, J) without the dropped views.
        """
        detected = weights > 0
        agreeing = inliers.sum(axis=0)
        anchored = agreeing >= 3
        tied = (agreeing == 2) & ((detected & ~inliers).sum(axis=0) >= 2)
        for j in np.flatnonzero(tied):
            neighbours = np.concatenate([self._bones[self._bones[:, 0] == j, 1],
                                         self._bones[self._bones[:, 1] == j, 0]])
            neighbours = neighbours[anchored[neighbours]]
            if not neighbours.size:
                continue
            others = np.where(inliers[:, j], 0.0, weights[:, j])
            other, other_inliers = triangulate_ransac(
                self._P, points[:, j:j + 1], others[:, None],
                threshold_px=self.config.ransac_threshold_px)
            if other_inliers.sum() < 2:
                continue

            def distance(position):
                return np.linalg.norm(positions[neighbours] - position, axis=1).mean()

            if distance(other[0]) < distance(positions[j]):
                weights[:, j] = others
                positions[j] = other[0]
                inliers[:, j] = other_inliers[:, 0]
        return weights

    def _unswap_by_prediction(self, points, weights):
        """Undo left/right swaps of joint pairs in a view, judged by the motion (in place).

        Detectors swap limbs; two views swapping the same limb tie 2-2 in RANSAC.  Where a
        view's left and right joints each lie closer to the other side's predicted projection,
        by a clear margin, the pair is swapped back before anything else sees it.
        """
        predicted = self._predicted_positions()
        if predicted is None:
            return
        left, right = self._mirror_pairs.T
        known = np.isfinite(predicted[left]).all(axis=1) \
            & np.isfinite(predicted[right]).all(axis=1)
        if not known.any():
            return
        left, right = left[known], right[known]
        for v, P in enumerate(self._P):
            expect_left, expect_right = _project(P, predicted[left]), _project(P, predicted[right])
            seen = (weights[v, left] > 0) & (weights[v, right] > 0)
            kept = (np.linalg.norm(points[v, left] - expect_left, axis=1)
                    + np.linalg.norm(points[v, right] - expect_right, axis=1))
            crossed = (np.linalg.norm(points[v, left] - expect_right, axis=1)
                       + np.linalg.norm(points[v, right] - expect_left, axis=1))
            swap = seen & (crossed < 0.5 * kept) & (kept > self.config.ransac_threshold_px)
            for a, b in zip(left[swap], right[swap]):
                points[v, [a, b]] = points[v, [b, a]]
                weights[v, [a, b]] = weights[v, [b, a]]

    def _back_project(self, v, pixel, positions):
        """World point on view v's ray through ``pixel`` at the median depth of ``positions``."""
        cam = self.cameras[v]
        known = np.isfinite(positions).all(axis=1)
        if not known.any():
            return np.full(3, np.nan)
        depth = np.median(cam.world_to_camera(positions[known])[:, 2])
        return self._on_ray(v, pixel, depth)

    def _on_ray(self, v, pixel, depth):
        cam = self.cameras[v]
        ray = np.linalg.solve(self._K[v], np.array([pixel[0], pixel[1], 1.0]))
        return np.asarray(cam.R).T @ (ray * depth - np.asarray(cam.t))

    def _hold_single_view_depth(self, positions, init, points, weights):
        """Put joints seen by one view on its ray at a depth with some ground (in place).

        One view fixes two of a joint's three coordinates; the heatmap loss is flat along the
        ray, and Adam, which normalises each coordinate's step, would wander along it from
        frame to frame.  The depth comes from the joint's skeleton neighbours that two views
        see (:meth:`_depth_by_neighbours`), so that the joint follows the body in depth;
        without such a neighbour, from the motion prediction while two views saw the joint
        within ``depth_memory_frames``.  A joint with neither has no depth worth reporting:
        it becomes unknown rather than a guess a metre off along the ray.
        """
        seen = (weights > 0).sum(axis=0)
        state = self._state
        remembered = np.zeros(len(positions), dtype=bool)
        if self.config.temporal and state is not None and not state.missed:
            remembered = state.weak <= self.config.depth_memory_frames
        for j in np.flatnonzero((seen == 1) & np.isfinite(positions).all(axis=1)):
            v = int(np.argmax(weights[:, j]))
            depth = self._depth_by_neighbours(v, j, positions, seen >= 2)
            if depth is None and remembered[j]:
                depth = self.cameras[v].world_to_camera(init[j][None])[0, 2]
            positions[j] = np.nan if depth is None else self._on_ray(v, points[v, j], depth)

    def _depth_by_neighbours(self, v, j, positions, well_seen):
        """View v's depth of joint j from its well-seen neighbours' depths, or None.

        The joint keeps its depth offset from each neighbour as of when two views last saw it
        (within ``depth_memory_frames``); a joint without such a depth gets its neighbours'
        depth, which puts it at the shortest bone its view allows.
        """
        state = self._state
        recent = (self.config.temporal and state is not None and not state.missed
                  and state.weak[j] <= self.config.depth_memory_frames)
        depth = self.cameras[v].world_to_camera
        depths = []
        for a, b in self._bones:
            other = b if a == j else a if b == j else -1
            if other < 0 or not well_seen[other]:
                continue
            offset = 0.0
            if recent and np.isfinite(state.positions[[j, other]]).all():
                then = depth(state.positions[[j, other]])[:, 2]
                offset = then[0] - then[1]
            depths.append(depth(positions[other][None])[0, 2] + offset)
        return float(np.mean(depths)) if depths else None

    def _predict(self, stamp):
        """Move the motion state to the frame at ``stamp`` (see :meth:`solve`)."""
        state, cfg = self._state, self.config
        self._stamp, self._prior = stamp, None
        if not cfg.temporal or state is None:
            return
        dt = (state.missed + 1) / cfg.frame_rate
        if stamp is not None and state.stamp is not None and stamp > state.stamp:
            dt = stamp - state.stamp
        self._prior = motion.predict(state.joints, dt, cfg.accel_sigma)

    def _predicted_positions(self):
        # Only a state from the previous frame predicts this one; after a missed frame the
        # person may be anywhere.
        if self._prior is None or self._state.missed:
            return None
        return self._prior.positions

    # ------------------------------------------------------------------------------------------
    def _crops(self, points, weights, init):
        """Square crop per view around the person.

        Returns the crop intrinsics Ks (V, 3, 3), and scale (V,) and origin (V, 2) such that
        crop pixels = scale * (pinhole pixels - origin).
        """
        cfg = self.config
        Ks = np.zeros((self.num_views, 3, 3))
        scale = np.ones(self.num_views)
        origins = np.zeros((self.num_views, 2))
        known = np.isfinite(init).all(axis=1)
        for v in range(self.num_views):
            projected = _project(self._P[v], init[known])
            pts = np.concatenate([points[v][weights[v] > 0], projected])
            lo, hi = pts.min(axis=0), pts.max(axis=0)
            side = max(hi[0] - lo[0], hi[1] - lo[1], 1.0) * (1 + 2 * cfg.crop_margin)
            centre = (lo + hi) / 2
            scale[v] = cfg.crop_size / side
            origins[v] = origin = centre - side / 2
            # Crop pixels = scale * (pixels - origin): the same continuous coordinates for the
            # rendered projection and the target centres, so the renderer's pixel-centre
            # convention cancels out.
            crop = np.array([[scale[v], 0, -scale[v] * origin[0]],
                             [0, scale[v], -scale[v] * origin[1]],
                             [0, 0, 1]])
            Ks[v] = crop @ self._K[v]
        return Ks, scale, origins

    def _windows(self, points, scale, origins):
        """Pixel centres around each detection and the target heatmap there.

        Returns pixels (V, J, P, 2) in crop pixels, P = window^2, centred on the pixel that
        holds the detection, and targets (V, J, P): a Gaussian of std ``heatmap_sigma``
        centred on the detection (V, J, 2).
        """
        half = self.config.window // 2
        centres = scale[:, None, None] * (points - origins[:, None, :])          # (V, J, 2)
        centres = torch.as_tensor(centres, dtype=torch.float32, device=self.device)
        offsets = torch.arange(-half, half + 1, dtype=torch.float32, device=self.device)
        grid = torch.stack(torch.meshgrid(offsets, offsets, indexing='xy'), dim=-1)
        pixels = torch.floor(centres)[:, :, None, :] + 0.5 + grid.reshape(1, 1, -1, 2)
        squared = ((pixels - centres[:, :, None, :]) ** 2).sum(dim=-1)
        targets = torch.exp(-0.5 * squared / self.config.heatmap_sigma ** 2)
        return pixels, targets

    def _initial_shape(self, init, known, Ks):
        """Log-scales (J, 3) whose projection matches the target width, and identity quats."""
        state = self._state
        if self.config.temporal and state is not None and state.scales is not None:
            return state.scales.clone(), state.quats.clone()
        # The renderer adds eps2d = 0.3 px^2 to every projected covariance.
        sigma_px = math.sqrt(max(self.config.heatmap_sigma ** 2 - 0.3, 0.25))
        safe = np.where(known[:, None], init, 0.0)
        # The third row of P = K [R | t] is [r3 | t3]: the depth of each joint in each view.
        depth = safe @ self._P[:, 2, :3].T + self._P[:, 2, 3]                  # (J, V)
        metres = np.median(sigma_px * np.abs(depth) / Ks[:, 0, 0], axis=1)
        metres = np.clip(np.where(np.isfinite(metres), metres, 0.03), 0.005, 0.2)
        log_scales = torch.log(torch.as_tensor(metres, dtype=torch.float32)).repeat(3, 1).T
        quats = torch.zeros((len(init), 4))
        quats[:, 0] = 1.0
        return log_scales.contiguous().to(self.device), quats.to(self.device)

    def _fit(self, problem: _Problem) -> _Fit:
        """Fit the Gaussians with the configured objective."""
        if self.config.resolved_objective == 'analytic':
            return self._fit_analytic(problem.init, problem.known, problem.points,
                                      problem.weights)
        return _fit_rendered_together([self], [problem])[0]

    def _fit_analytic(self, init, known, points, weights):
        """Minimise the closed form of the heatmap loss by iteratively reweighted Gauss-Newton.

        For a Gaussian rendered with the target's width sigma (``analytic_sigma``) and no other
        Gaussian in front, the masked MSE between render and target is, up to a constant, the
        overlap integral of two 2D Gaussians: ``1 - exp(-e^2 / (4 sigma^2))`` of the
        reprojection error e.  So each view pulls like a Welsch (redescending) kernel on its
        reprojection error: hard within a few sigma, and hardly at all from farther away,
        which is what makes SkelSplat shrug off a confidently wrong view.  This drops the
        occlusion between Gaussians and the (weak) symmetry term, and solves each joint's 3x3
        system directly.
        """
        cfg = self.config
        _, scale, _ = self._crops(points, weights, init)
        sigma_px = cfg.analytic_sigma / scale                                      # (V,)
        width = 4.0 * sigma_px[:, None] ** 2                                       # (V, 1)
        w = weights * known[None, :]
        positions = np.where(known[:, None], init, 0.0)
        prior = self._predicted_positions()
        prior_weight = np.zeros(len(init))
        if prior is not None:
            usable = np.isfinite(prior).all(axis=1) & known
            prior_weight[usable] = cfg.motion_weight / cfg.motion_sigma ** 2
            prior = np.where(usable[:, None], prior, 0.0)
        # Levenberg damping keeps a joint steady along directions no view constrains.
        damping = np.eye(3) * 1e-9
        iteration = 0
        for iteration in range(1, cfg.iterations + 1):
            residual, jac = _reprojection_residuals(self._P, positions, points)   # (V,J,2/2x3)
            kernel = w * np.exp(-(residual ** 2).sum(axis=-1) / width) / width    # (V, J)
            hessian = np.einsum('vj,vjki,vjkl->jil', kernel, jac, jac) \
                + prior_weight[:, None, None] * np.eye(3) + damping
            gradient = np.einsum('vj,vjki,vjk->ji', kernel, jac, residual)
            if prior is not None:
                gradient += prior_weight[:, None] * (positions - prior)
            step = np.linalg.solve(hessian, gradient[..., None])[..., 0]
            positions = positions - step
            if np.abs(step).max() < 1e-5:
                break
        # No Gaussian shapes are fitted here.
        return _Fit(means=positions, log_scales=None, quats=None, iterations=iteration,
                    loss=float('nan'), detection_sigma_px=sigma_px)

    def _rendered_start(self, problem: _Problem) -> _RenderedStart:
        """Crops, windows, targets and starting Gaussians of the rendered fit."""
        dev = self.device
        init, known = problem.init, problem.known
        Ks, scale, origins = self._crops(problem.points, problem.weights, init)
        pixels, targets = self._windows(problem.points, scale, origins)
        log_scales, quats = self._initial_shape(init, known, Ks)
        prior = self._predicted_positions()
        if prior is None:
            prior_mask = np.zeros(len(init))
        else:
            prior_mask = np.isfinite(prior).all(axis=1) & known
        bones_known = known[self._bones].all(axis=1)
        return _RenderedStart(
            Ks=torch.as_tensor(Ks, dtype=torch.float32, device=dev), pixels=pixels,
            targets=targets,
            weights=torch.as_tensor(problem.weights * known[None, :], dtype=torch.float32,
                                    device=dev),
            means=torch.tensor(np.where(known[:, None], init, 0.0), dtype=torch.float32,
                               device=dev),
            log_scales=log_scales, quats=quats,
            prior=torch.as_tensor(np.zeros_like(init) if prior is None else np.nan_to_num(prior),
                                  dtype=torch.float32, device=dev),
            prior_mask=torch.as_tensor(prior_mask, dtype=torch.float32, device=dev),
            symmetric=torch.as_tensor(bones_known[self._symmetric].all(axis=1),
                                      dtype=torch.float32, device=dev),
            detection_sigma_px=self.config.heatmap_sigma / scale)

    # ------------------------------------------------------------------------------------------
    def _describe(self, positions, points, weights, inliers, person_index, covariance):
        """Confidence, supporting views and reprojection errors of a fit."""
        cfg = self.config
        num_joints = positions.shape[0]
        support = (weights > 0) & inliers
        num_views = support.sum(axis=0)
        known = np.isfinite(positions).all(axis=1)
        errors = np.zeros((self.num_views, num_joints))
        errors[:, known] = reprojection_errors(self._P, positions[known], points[:, known])
        supported = num_views > 0
        reprojection = np.full(num_joints, np.nan)
        reprojection[supported] = (np.where(support, errors, 0.0).sum(axis=0)[supported]
                                   / num_views[supported])
        mean_conf = (weights * support).sum(axis=0) / np.maximum(num_views, 1)
        view_factor = np.select([num_views >= 2, num_views == 1], [1.0, 0.25], 0.0)
        agreement = np.exp(-0.5 * (np.nan_to_num(reprojection, nan=0.0) / cfg.agreement_px) ** 2)
        confidence = np.where(known, mean_conf * view_factor * agreement, 0.0)
        return PoseEstimate(positions=positions, confidence=confidence, covariance=covariance,
                            num_views=num_views.astype(np.int64),
                            reprojection_error=reprojection, inliers=support,
                            person_index=person_index)

    def _information(self, positions, points, weights, sigma_px):
        """(J, 3, 3) information (inverse covariance, m^-2) of the fitted positions.

        The Gauss-Newton information of the confidence-weighted reprojection objective,
        divided by the 2D noise variance of unit weight, which is measured in this frame: the
        weighted squared residuals over their degrees of freedom (2 per view, less 3 per
        joint), pooled over the joints that two views or more see (the a posteriori variance
        factor of weighted least squares; joints ten times over the median factor left out),
        at least ``min_noise_px`` squared.  Exact detections thus give a sharp measurement and
        noisy ones a broad one.  Without such joints, the target heatmap's width in each view
        (sigma_px, (V,) full-resolution pixels) stands in.  A joint seen by one view is
        constrained along that view's ray only by ``single_view_depth_sigma``; every joint gets
        a weak isotropic prior of ``prior_sigma``.  weights (V, J) are 0 for the views that do
        not support a joint.
        """
        cfg = self.config
        known = np.isfinite(positions).all(axis=1)
        residual, jac = _reprojection_residuals(self._P, np.where(known[:, None], positions, 0.0),
                                                points)
        counts = (weights > 0).sum(axis=0)
        redundant = known & (counts >= 2)
        squares = (weights[:, redundant] * (residual[:, redundant] ** 2).sum(axis=-1)).sum(axis=0)
        freedom = 2 * counts[redundant] - 3
        if freedom.size:
            # A joint whose fit missed its views must not inflate the others' noise.
            pooled = squares <= 10 * np.median(squares / freedom) * freedom
            squares, freedom = squares[pooled], freedom[pooled]
        if freedom.sum() > 0:
            variance = float(squares.sum() / freedom.sum())
            inverse_variance = np.full(self.num_views, 1.0 / max(variance, cfg.min_noise_px ** 2))
        else:
            inverse_variance = 1.0 / np.asarray(sigma_px) ** 2
        information = np.einsum('vj,vjki,vjkl->jil', weights * inverse_variance[:, None],
                                jac, jac)
        for j in np.flatnonzero(known & (counts == 1)):
            ray = positions[j] - self._centres[int(np.argmax(weights[:, j]))]
            ray /= np.linalg.norm(ray)
            information[j] += np.outer(ray, ray) / cfg.single_view_depth_sigma ** 2
        return information + np.eye(3) / cfg.prior_sigma ** 2

    # ------------------------------------------------------------------------------------------
    def _update_state(self, joints, num_views, log_scales, quats):
        """Keep the filtered joints (None in per-frame mode) as the next frame's motion state."""
        if not self.config.temporal:
            return
        state = self._state
        # A joint seen by fewer than two views has no measured depth: its velocity decays
        # rather than extrapolating its own depth drift (its depth may come from the
        # prediction), and a joint no view saw coasts on its prediction, slowing down.
        joints.mean[joints.known & (num_views < 2), 3:] *= 0.5
        # Frames since two views saw each joint (never: a large number).
        weak = (state.weak + 1 if state is not None else np.full(len(num_views), 10 ** 6))
        unseen = (state.unseen + 1 if state is not None else np.zeros(len(num_views), int))
        weak[num_views >= 2] = 0
        unseen[num_views >= 1] = 0
        joints.known &= unseen <= self.config.coast_frames
        self._state = _MotionState(joints=joints, stamp=self._stamp, scales=log_scales,
                                   quats=quats, weak=weak, unseen=unseen)

    def _age_state(self):
        if self._state is None:
            return
        self._state.missed += 1
        if self._state.missed > self.config.max_gap_frames:
            self._state = None


def solve_people(solvers: Sequence[SkelSplatSolver], keypoints: Sequence,
                 stamp: Optional[float] = None) -> List[Optional[PoseEstimate]]:
    """Fuse one frame group for several people at once, each person with its own solver.

    Gives what ``[solver.solve(k) for solver, k in zip(solvers, keypoints)]`` gives.  With the
    rendered objective the people are fitted together: one Adam loop, and one batched render
    per step for all of them (on a GPU, one render's kernel launches instead of one per
    person; on a CPU, fewer small tensor operations).  Each person's loss is normalised on
    its own and the losses are summed; the people's parameters are disjoint and Adam works
    element-wise, so each person takes the steps of a fit of its own, and stops early when it
    would have.  The analytic objective fits one after the other.

    Args:
        solvers: one :class:`SkelSplatSolver` per person, built alike (one configuration,
            skeleton and camera count); the views are the same cameras for everyone, and a
            view that does not see a person gives that person's fit nothing.
        keypoints: per person, what its solver's :meth:`SkelSplatSolver.solve` takes.
        stamp: capture time in seconds (see :meth:`SkelSplatSolver.solve`).

    Returns:
        Per person, its estimate, or None when fewer than two views see it.

    Raises:
        ValueError: the lists differ in length, or the solvers are not built alike.

    """
    if len(solvers) != len(keypoints):
        raise ValueError(f'got {len(keypoints)} keypoint sets for {len(solvers)} solvers')
    problems = [solver._prepare(people, stamp) for solver, people in zip(solvers, keypoints)]
    fitted = [n for n, problem in enumerate(problems) if problem is not None]
    estimates: List[Optional[PoseEstimate]] = [None] * len(solvers)
    if not fitted:
        return estimates
    together = [solvers[n] for n in fitted]
    if together[0].config.resolved_objective == 'analytic':
        fits = [solvers[n]._fit(problems[n]) for n in fitted]
    else:
        fits = _fit_rendered_together(together, [problems[n] for n in fitted])
    for n, fit in zip(fitted, fits):
        estimates[n] = solvers[n]._finish(problems[n], fit)
    return estimates


def _fit_rendered_together(solvers, problems) -> List[_Fit]:
    """Adam on several people's Gaussians against their target heatmaps, in one loop.

    Every step renders all the people still fitting in one batched call.  A person whose fit
    would have stopped (early stopping, or a non-finite loss) leaves the batch, and its best
    iterate (the start included) is its result.
    """
    first = solvers[0]
    cfg, dev = first.config, first.device
    for solver, problem in zip(solvers, problems):
        if (solver.config != cfg or solver.num_views != first.num_views
                or not np.array_equal(solver._bones, first._bones)
                or not np.array_equal(solver._symmetric, first._symmetric)
                or problem.init.shape != problems[0].init.shape):
            raise ValueError('people are fitted together only by solvers built alike (one '
                             'configuration, skeleton and camera count)')
    starts = [solver._rendered_start(problem) for solver, problem in zip(solvers, problems)]

    def stacked(name):
        return torch.stack([getattr(start, name) for start in starts])

    Ks, pixels, targets, weights = (stacked(name) for name in ('Ks', 'pixels', 'targets',
                                                               'weights'))
    w_total = weights.sum(dim=(1, 2)).clamp_min(1e-6)                            # (B,)
    prior, prior_mask, symmetric = (stacked(name) for name in ('prior', 'prior_mask',
                                                               'symmetric'))
    viewmats = torch.stack([solver._viewmats for solver in solvers])
    means, log_scales, quats = (stacked(name).requires_grad_(True)
                                for name in ('means', 'log_scales', 'quats'))
    count, num_joints = means.shape[:2]
    opacities = torch.ones(count, num_joints, device=dev)
    colors = torch.eye(num_joints, device=dev).expand(count, -1, -1)
    bones = torch.as_tensor(first._bones, device=dev)
    pairs = torch.as_tensor(first._symmetric, device=dev)
    optimizer = torch.optim.Adam([
        {'params': [means], 'lr': cfg.learning_rate},
        {'params': [log_scales], 'lr': cfg.scale_learning_rate},
        {'params': [quats], 'lr': cfg.rotation_learning_rate}])
    # Adam's first steps have the full learning rate whatever the gradient, which would
    # kick an already good start; a decaying rate and returning the best iterate (the
    # start included) make refinement never worse than the start.
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
            pixels[index], backend=first.backend)
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
    return [_Fit(means=best_means[n].cpu().double().numpy(), log_scales=best_scales[n],
                 quats=best_quats[n], iterations=int(iterations[n]), loss=float(best_loss[n]),
                 detection_sigma_px=starts[n].detection_sigma_px)
            for n in range(count)]


def _outvoted_views(inliers, seen, min_joints=6, min_support=0.25, consensus=0.5):
    """Return the (V,) views that the other views contradict almost everywhere.

    Those are the views that detected ``min_joints`` or more joints and had under
    ``min_support`` of them kept, while at least two other views had ``consensus`` or more of
    theirs kept.
    """
    detected = seen.sum(axis=1)
    support = inliers.sum(axis=1) / np.maximum(detected, 1)
    enough = detected >= min_joints
    if (enough & (support >= consensus)).sum() < 2:
        return np.zeros(len(seen), dtype=bool)
    return enough & (support < min_support)


def _project(P, X):
    """Pinhole projection (N, 2) of world points X (N, 3) with P (3, 4)."""
    h = X @ P[:, :3].T + P[:, 3]
    return h[:, :2] / h[:, 2:3]


def _reprojection_residuals(P, X, points):
    """Pinhole residuals (V, J, 2) of X (J, 3) from points (V, J, 2), Jacobians (V, J, 2, 3).

    With h = P[:, :3] X + P[:, 3], u = h0 / h2 and v = h1 / h2.
    """
    h = np.einsum('vik,jk->vji', P[:, :, :3], X) + P[:, None, :, 3]              # (V, J, 3)
    z = np.where(np.abs(h[..., 2]) > 1e-9, h[..., 2], 1e-9)
    projected = h[..., :2] / z[..., None]
    jac = (P[:, None, :2, :3] - projected[..., None] * P[:, None, 2:3, :3]) / z[..., None, None]
    return projected - points, jac


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
