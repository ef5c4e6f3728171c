# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The solver of one person across frames: predict, observe, fit, measure, update.

:class:`SkelSplatSolver` keeps the person's motion state and runs each frame through the
stateless stages: the motion prediction (:mod:`skelsplat_ros.motion`), what the detections
say (:mod:`.observations`), the fit by the configured objective (:mod:`.objectives`), and its
uncertainty (:mod:`.uncertainty`); the Kalman filter then fuses the fit with the prediction.
:func:`solve_people` runs several solvers' frames together through the same stages (each
person's selection, then the unswaps and the gating of everyone's joints together, one
objective call, then the uncertainty and the motion update of everyone's joints together);
:meth:`SkelSplatSolver.solve` is the same with one person.
"""

from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np
from skelsplat_ros import motion
from skelsplat_ros.cameras import CameraRig
from skelsplat_ros.skeletons import COCO17, Skeleton
from skelsplat_ros.solver import geometry, observations, uncertainty
from skelsplat_ros.solver.config import MotionRecord, PoseEstimate, SolverConfig
from skelsplat_ros.solver.objectives import objective_fit
from skelsplat_ros.solver.problem import Fit, Problem
from skelsplat_ros.triangulation import Consensus
import torch


class SolverDiverged(RuntimeError):
    """A fit came out non-finite (or absurd); its result must not be published."""


@dataclass
class _MotionState:
    joints: motion.JointFilter                 # filtered positions and velocities
    accel: motion.AccelEstimate                # the person's acceleration std so far
    stamp: Optional[float] = None              # seconds, of the last fitted frame
    scales: Optional[torch.Tensor] = None      # (J, 3) log-scales of the last fit
    quats: Optional[torch.Tensor] = None       # (J, 4)
    missed: int = 0                            # frames in a row without the person
    weak: Optional[np.ndarray] = None          # (J,) frames since >= 2 views saw the joint
    unseen: Optional[np.ndarray] = None        # (J,) frames since any view saw the joint


class SkelSplatSolver:
    """Fits one Gaussian skeleton per call, causally across calls when ``temporal``."""

    def __init__(self, cameras, config: Optional[SolverConfig] = None,
                 skeleton: Skeleton = COCO17):
        """Prepare the solver for a fixed camera set.

        Args:
            cameras: sequence of :class:`skelsplat_ros.cameras.Camera` (V).
            config: solver parameters.
            skeleton: the joint set of the keypoints (its bones, mirror and symmetric bones
                shape the fit).

        """
        self.config = config or SolverConfig()
        self.rig = CameraRig(cameras)
        self.skeleton = skeleton
        if torch.device(self.config.device).type == 'cpu' and self.config.cpu_threads:
            torch.set_num_threads(self.config.cpu_threads)
        self._state: Optional[_MotionState] = None
        # The motion state moved to the frame being solved (None: no prediction).
        self._prior: Optional[motion.JointFilter] = None
        self._stamp: Optional[float] = None
        self._dt = 0.0                         # seconds from the motion state to the prior
        self._accel_sigma = self.config.accel_sigma   # the prior's acceleration std

    @property
    def cameras(self):
        """The V cameras, in view order."""
        return self.rig.cameras

    @property
    def motion_accel_sigma(self) -> Optional[float]:
        """The acceleration std (m/s^2) the motion filter fitted so far; None without a state."""
        return None if self._state is None else self._state.accel.sigma

    @property
    def num_views(self):
        """Number of cameras V."""
        return self.rig.num_views

    def set_cameras(self, cameras):
        """Move the V cameras (new poses, same views); the temporal state is kept.

        The motion state is in world coordinates, so a camera on a moving base leaves it valid.
        """
        rig = CameraRig(cameras)
        if rig.num_views != self.rig.num_views:
            raise ValueError(f'got {rig.num_views} cameras, the solver has {self.rig.num_views}')
        self.rig = rig

    def reset(self):
        """Forget the temporal state (a new sequence, or a lost person)."""
        self._state = None

    def miss(self, stamp: Optional[float] = None):
        """Record a frame group without the person: the motion state ages (and resets late).

        ``stamp`` is the frame's capture time in seconds (see :meth:`solve`).
        """
        self._predict(stamp)
        self._age_state()

    def solve(self, keypoints, stamp: Optional[float] = None) -> Optional[PoseEstimate]:
        """Fuse one frame group.

        Args:
            keypoints: per view, the detected people: a sequence of V arrays (P_v, J, 3) of raw
                pixels and confidence (P_v may be 0 for a view without detections), or one
                array (V, J, 3) with one person per view; J is the skeleton's joint count.
            stamp: capture time in seconds, for the motion model's time step; None: one
                period of ``frame_rate`` after the previous frame.

        Returns:
            The fused skeleton, or None when fewer than two views see anyone (the temporal
            state then ages and eventually resets).

        Raises:
            ValueError: the view count is not the camera count, or the joint count is not the
                skeleton's.
            SolverDiverged: the fit came out non-finite (the temporal state is reset).

        """
        return solve_people([self], [keypoints], stamp)[0]

    def _select(self, keypoints, stamp, observed):
        """Move the motion state to ``stamp`` and pick the person in each view.

        Returns ``(points (V, J, 2), weights (V, J), person_index (V,), prediction)`` (the
        :class:`observations.Prediction` or None), or None, after ageing the temporal state,
        when fewer than two views see the person.
        """
        self._predict(stamp)
        candidates = self._observe(keypoints) if observed is None else observed
        reference = (self._prior.positions if self._prior is not None
                     and self._prior.known.any() else None)
        selected = observations.select_person(self.rig, candidates, reference,
                                              self.config.ransac_threshold_px)
        if int(((selected[1] > 0).sum(axis=1) > 0).sum()) < 2:
            self._age_state()
            return None
        return (*selected, self._prediction())

    def _problem(self, points, weights, person_index, prediction, start) -> Optional[Problem]:
        """Return the fit's :class:`Problem` from its start, or None (state aged) without one.

        ``start``: ``(init, inliers, outvoted)`` of
        :func:`skelsplat_ros.solver.observations.initial_positions`.
        """
        init, inliers, outvoted = start
        known = np.isfinite(init).all(axis=1)
        if known.sum() < 2:
            self._age_state()
            return None
        state = self._state
        shapes = None
        if self.config.temporal and state is not None and state.scales is not None:
            shapes = (state.scales, state.quats)
        return Problem(rig=self.rig, config=self.config, skeleton=self.skeleton, init=init,
                       known=known, points=points, weights=np.where(inliers, weights, 0.0),
                       inliers=inliers, person_index=person_index, outvoted=outvoted,
                       prediction=None if prediction is None else prediction.positions,
                       shapes=shapes)

    def _supported(self, problem: Problem, fit: Fit, plausible: Optional[np.ndarray]):
        """Return the fitted joints with a depth and the views that could have seen them there.

        Returns ``(positions (J, 3), weights (V, J))``: implausible views dropped, joints seen
        by one view given a depth by their neighbours (or left unknown), a view's weight 0 for
        the joints left unknown.
        """
        state = self._state
        positions, weights = self._plausible(
            np.where(problem.known[:, None], fit.means, np.nan), problem.weights,
            plausible=plausible)
        remembered = np.zeros(len(positions), dtype=bool)
        if self.config.temporal and state is not None and not state.missed:
            remembered = state.weak <= self.config.depth_memory_frames
        fitted = positions
        positions = uncertainty.hold_single_view_depth(
            self.rig, self.skeleton.bones, positions, problem.init, problem.points,
            weights, remembered, None if state is None else state.joints.positions)
        # Only the joints given a new depth can have become implausible.
        moved = ~((positions == fitted) | (np.isnan(positions) & np.isnan(fitted))).all(axis=1)
        positions, weights = self._plausible(positions, weights, moved)
        known = np.isfinite(positions).all(axis=1)
        # A joint left without a depth is not supported by the view that saw it.
        return positions, np.where(known[None], weights, 0.0) * problem.inliers

    def _accel(self) -> motion.AccelEstimate:
        """Return the acceleration std estimate of the motion state (the floor's without one)."""
        if self._state is not None:
            return self._state.accel
        return motion.AccelEstimate.starting_at(self.config.accel_sigma)

    def _advance(self, problem: Problem, fit: Fit, estimate: PoseEstimate, weights,
                 step: Optional[motion.Step],
                 accel: Optional[motion.AccelEstimate]) -> PoseEstimate:
        """Complete a fit's estimate and keep its motion state (see :func:`_finish_people`).

        ``accel``: the acceleration estimate with this step's innovations (causal mode).
        """
        cfg = self.config
        estimate.iterations, estimate.loss = fit.iterations, fit.loss
        estimate.outvoted = problem.outvoted
        joints = None
        if step is not None:
            joints = step.filtered
            # The step's filtered state is the one _update_state keeps (same object).
            estimate.motion = MotionRecord(step=step, rig=self.rig, points=problem.points,
                                           weights=weights * problem.inliers,
                                           agreement_px=cfg.agreement_px)
        self._update_state(joints, accel, estimate.num_views, fit.log_scales, fit.quats)
        if joints is not None:  # after the update, which slows joints without a depth
            estimate.velocities = joints.mean[:, 3:].copy()
            estimate.velocity_covariance = joints.cov[:, 3:, 3:].copy()
        # A joint no view has seen for a while is only a guess: report it unknown.
        if self._state is not None:
            stale = self._state.unseen > cfg.coast_frames
            estimate.positions[stale] = np.nan
            estimate.confidence[stale] = 0.0
        return estimate

    # ------------------------------------------------------------------------------------------
    def _plausible(self, positions, weights, joints=None, plausible=None):
        """Drop the support of views that could not have seen a joint where it was fitted.

        Returns ``(positions, weights)``: weights (V, J) 0 for those views, and positions NaN
        (unknown) for the joints that had support and have none left
        (:func:`skelsplat_ros.solver.geometry.plausible_views`).  A joint that no view saw
        keeps its predicted position (it coasts; it is not published).  ``joints`` (J,) bool:
        check only these (the others keep their weights); all by default.  ``plausible``:
        the check's (V, J) result, already computed by the caller.
        """
        had = (weights > 0).any(axis=0)
        if plausible is None:
            joints = np.ones(len(positions), dtype=bool) if joints is None else joints
            plausible = np.ones(weights.shape, dtype=bool)
            if joints.any():
                plausible[:, joints] = geometry.plausible_views(
                    self.rig, positions[joints], self.config.workspace_radius_m)
        weights = weights * plausible
        lost = had & ~(weights > 0).any(axis=0)
        return np.where(lost[:, None], np.nan, positions), weights

    def _observe(self, keypoints):
        """Per view (points (P_v, J, 2), confidence (P_v, J)) of ``keypoints`` (see solve)."""
        if isinstance(keypoints, np.ndarray) and keypoints.ndim == 3:
            keypoints = [keypoints[v][None] for v in range(keypoints.shape[0])]
        return self.rig.observe_people(keypoints, self.config.min_confidence,
                                       self.skeleton.num_joints)

    def _predict(self, stamp):
        """Move the motion state to the frame at ``stamp`` (see :meth:`solve`)."""
        state, cfg = self._state, self.config
        self._stamp, self._prior = stamp, None
        if not cfg.temporal or state is None:
            return
        dt = (state.missed + 1) / cfg.frame_rate
        if stamp is not None and state.stamp is not None and stamp > state.stamp:
            dt = stamp - state.stamp
        self._dt, self._accel_sigma = dt, state.accel.sigma
        self._prior = motion.predict(state.joints, dt, self._accel_sigma)

    def _prediction(self) -> Optional[observations.Prediction]:
        # Only a state from the previous frame predicts this one; after a missed frame the
        # person may be anywhere.
        if self._prior is None or self._state.missed:
            return None
        return observations.Prediction(positions=self._prior.positions,
                                       covariance=self._prior.position_covariance,
                                       weak=self._state.weak)

    def _update_state(self, joints, accel, num_views, log_scales, quats):
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
        self._state = _MotionState(joints=joints, accel=accel, stamp=self._stamp,
                                   scales=log_scales, quats=quats, weak=weak, unseen=unseen)

    def _age_state(self):
        if self._state is None:
            return
        self._state.missed += 1
        if self._state.missed > self.config.max_gap_frames:
            self._state = None


def solve_people(solvers: Sequence[SkelSplatSolver], keypoints: Sequence,
                 stamp: Optional[float] = None,
                 earlier: Optional[Sequence[Optional[Consensus]]] = None,
                 observed: Optional[Sequence[Sequence]] = None
                 ) -> List[Optional[PoseEstimate]]:
    """Fuse one frame group for several people at once, each person with its own solver.

    Each person gets what a solver of its own gives frame by frame
    (:meth:`SkelSplatSolver.solve` is this with one person).  The first solver's objective fits
    everyone in one call: the rendered objective fits the people together, one Adam loop and
    one batched render per step for all of them (on a GPU, one render's kernel launches
    instead of one per person; on a CPU, fewer small tensor operations); each person's loss is
    normalised on its own and the losses are summed, so each person takes the steps of a fit
    of its own, and stops early when it would have.

    Args:
        solvers: one :class:`SkelSplatSolver` per person, with the same cameras: a view
            that does not see a person gives that person's fit nothing.  The people of
            solvers alike (configuration, cameras and skeleton) are prepared and finished
            together; the rendered objective fits only solvers built alike (one
            configuration, skeleton and camera count), the analytic one fits each kind of
            skeleton in a call of its own.
        keypoints: per person, what its solver's :meth:`SkelSplatSolver.solve` takes.
        stamp: capture time in seconds (see :meth:`SkelSplatSolver.solve`).
        earlier: per person, a RANSAC of its detections already run this frame
            (:func:`skelsplat_ros.triangulation.ransac_consensus`), reused where the start
            triangulates the same input, or None.
        observed: per person, its keypoints as its solver's rig observes them (per view
            ``(points, confidence)``, :meth:`skelsplat_ros.cameras.CameraRig.observe_people`),
            for a caller that has them already (its ``keypoints`` are then not read), or None.

    Returns:
        Per person, its estimate, or None when fewer than two views see it.

    Raises:
        ValueError: the lists differ in length, a solver is given twice, or the solvers are
            not built alike.
        SolverDiverged: a person's fit came out non-finite (that person's temporal state is
            reset; the people finished before it, with other cameras or settings, keep theirs).

    """
    if len(solvers) != len(keypoints):
        raise ValueError(f'got {len(keypoints)} keypoint sets for {len(solvers)} solvers')
    if len({id(solver) for solver in solvers}) != len(solvers):
        raise ValueError('each person needs a solver of its own: one is given twice')
    earlier = [None] * len(solvers) if earlier is None else earlier
    observed = [None] * len(solvers) if observed is None else observed
    problems = _prepare_people(solvers, keypoints, stamp, earlier, observed)
    fitted = [n for n, problem in enumerate(problems) if problem is not None]
    estimates: List[Optional[PoseEstimate]] = [None] * len(solvers)
    if not fitted:
        return estimates
    config = solvers[fitted[0]].config
    fits = dict(zip(fitted, objective_fit(config.objective, config.device)(
        [problems[n] for n in fitted])))
    for group in _alike(solvers, fitted):
        finished = _finish_people([solvers[n] for n in group], [problems[n] for n in group],
                                  [fits[n] for n in group])
        for n, estimate in zip(group, finished):
            estimates[n] = estimate
    return estimates


def _prepare_people(solvers: Sequence[SkelSplatSolver], keypoints: Sequence,
                    stamp: Optional[float], earlier: Sequence[Optional[Consensus]],
                    observed: Sequence[Optional[Sequence]]) -> List[Optional[Problem]]:
    """Move each person's motion state to ``stamp`` and set up its fit (see solve_people).

    A person gets None, after its temporal state ages, when too little is seen to fit.  The
    people of alike solvers (:func:`_alike`) undo their left/right swaps in one call and are
    gated by their predictions in one call, on all their joints together; each person's
    selection, RANSAC and problem are still its own.
    """
    selected = [solver._select(people, stamp, seen)
                for solver, people, seen in zip(solvers, keypoints, observed)]
    problems: List[Optional[Problem]] = [None] * len(solvers)
    for group in _alike(solvers, [n for n, chosen in enumerate(selected) if chosen is not None]):
        first = solvers[group[0]]
        points = [selected[n][0] for n in group]
        weights = [selected[n][1] for n in group]
        predictions = [selected[n][3] for n in group]
        predicted = [k for k, prediction in enumerate(predictions) if prediction is not None]
        if predicted:
            unswapped = observations.unswap_by_prediction(
                first.rig, np.stack([points[k] for k in predicted]),
                np.stack([weights[k] for k in predicted]),
                np.stack([predictions[k].positions for k in predicted]), first.skeleton,
                first.config.ransac_threshold_px)
            for row, k in enumerate(predicted):
                points[k], weights[k] = unswapped[0][row], unswapped[1][row]
        starts = observations.initial_positions(first.rig, points, weights, predictions,
                                                first.config, first.skeleton,
                                                [earlier[n] for n in group])
        for n, person_points, person_weights, prediction, start in zip(
                group, points, weights, predictions, starts):
            problems[n] = solvers[n]._problem(person_points, person_weights, selected[n][2],
                                              prediction, start)
    return problems


def _alike(solvers: Sequence[SkelSplatSolver], indices: Sequence[int]) -> List[List[int]]:
    """Split ``indices`` into groups of solvers alike, in order.

    Alike: the same configuration, cameras (the same objects: their distortion and image
    sizes count too) and skeleton.
    """
    groups: List[List[int]] = []
    for n in indices:
        solver = solvers[n]
        for group in groups:
            first = solvers[group[0]]
            if (solver.config == first.config
                    and _same_skeleton(solver.skeleton, first.skeleton)
                    and len(solver.cameras) == len(first.cameras)
                    and all(a is b for a, b in zip(solver.cameras, first.cameras))):
                group.append(n)
                break
        else:
            groups.append([n])
    return groups


def _same_skeleton(a: Skeleton, b: Skeleton) -> bool:
    """Whether two skeletons have the same joints, bones and mirror."""
    return a is b or (a.name == b.name and a.joint_names == b.joint_names
                      and np.array_equal(a.bones, b.bones) and np.array_equal(a.flip, b.flip))


def _finish_people(solvers: Sequence[SkelSplatSolver], problems: Sequence[Problem],
                   fits: Sequence[Fit]) -> List[PoseEstimate]:
    """Describe several people's fitted skeletons and advance their motion states.

    The solvers are alike (:func:`_alike`).  The stages that treat each joint on its own (the
    plausibility of the views, the information matrices, the Kalman update, the description)
    run once on everyone's joints together: for a few people, the cost of a stage is its
    per-call overhead, not its arithmetic.  Each person's 2D noise and acceleration std are
    still measured on its own, so each gets what a solver of its own gives.

    Raises:
        SolverDiverged: every joint a fit started from came out non-finite: a fault of the
            arithmetic, not a frame without the person (that person's temporal state is
            reset; no state of these people has moved).
    """
    for solver, problem, fit in zip(solvers, problems, fits):
        if not np.isfinite(fit.means[problem.known]).all(axis=1).any():
            solver.reset()
            raise SolverDiverged(f'all {int(problem.known.sum())} joints of the fit came out '
                                 'non-finite')
    first, cfg = solvers[0], solvers[0].config
    sizes = [len(problem.known) for problem in problems]
    ends = np.cumsum(sizes)
    parts = [slice(end - size, end) for size, end in zip(sizes, ends)]
    means = np.concatenate([np.where(problem.known[:, None], fit.means, np.nan)
                            for problem, fit in zip(problems, fits)])
    plausible = geometry.plausible_views(first.rig, means, cfg.workspace_radius_m)
    supported = [solver._supported(problem, fit, plausible[:, part])
                 for solver, problem, fit, part in zip(solvers, problems, fits, parts)]
    positions = np.concatenate([p for p, _ in supported])
    weights = np.concatenate([w for _, w in supported], axis=1)
    points = np.concatenate([problem.points for problem in problems], axis=1)
    known = np.isfinite(positions).all(axis=1)
    information = uncertainty.information(first.rig, positions, points, weights,
                                          [fit.detection_sigma_px for fit in fits], cfg, sizes)
    steps: List[Optional[motion.Step]] = [None] * len(solvers)
    accels: List[Optional[motion.AccelEstimate]] = [None] * len(solvers)
    if cfg.temporal:
        prior = motion.JointFilter.concatenate([
            solver._prior or motion.JointFilter.empty(size)
            for solver, size in zip(solvers, sizes)])
        # A joint seen by one view takes its depth from its neighbours this frame, which
        # the motion model cannot improve on.
        single = (weights > 0).sum(axis=0) == 1
        step = motion.update_step(prior, positions, information, restart=single)
        steps = [step.part(part, solver._dt) for solver, part in zip(solvers, parts)]
        accels = motion.observe_together([solver._accel() for solver in solvers], steps,
                                         [solver._accel_sigma for solver in solvers])
        positions = np.where(known[:, None], step.filtered.mean[:, :3], np.nan)
        covariance = step.filtered.position_covariance.copy()
    else:
        covariance = np.linalg.inv(information)
    covariance[~known] = np.eye(3) * cfg.prior_sigma ** 2
    inliers = np.concatenate([problem.inliers for problem in problems], axis=1)
    together = uncertainty.describe(first.rig, positions, points, weights, inliers, None,
                                    covariance, cfg.agreement_px)
    return [solver._advance(problem, fit, PoseEstimate(
                positions=together.positions[part], confidence=together.confidence[part],
                covariance=together.covariance[part], num_views=together.num_views[part],
                reprojection_error=together.reprojection_error[part],
                inliers=together.inliers[:, part], person_index=problem.person_index),
                weights[:, part], step, accel)
            for solver, problem, fit, part, step, accel
            in zip(solvers, problems, fits, parts, steps, accels)]
