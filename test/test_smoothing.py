# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Smoothing of the solver's output: offline (fixed interval) and live (fixed lag).

The pose2sim demo's .trc motion, projected through its real cameras with seeded pixel noise,
goes through the real solver; the smoother must bring it closer to the known motion, and the
live engine's lagged output must be the offline smoother's over the groups seen so far, each
with its own stamp.
"""

import numpy as np
import pytest
from skelsplat_ros.estimators import make_estimator
from skelsplat_ros.live import fuse_group, FusionEngine
from skelsplat_ros.solver import SkelSplatSolver, SolverConfig
from skelsplat_ros.solver.smoothing import FixedLagPeopleSmoother, FixedLagSmoother
from skelsplat_ros.solver.smoothing import smooth_estimates
from solver_helpers import demo_rig, observe

RATE_HZ = 60.0
NUM_FRAMES = 40
NOISE_PX = 3.0


@pytest.fixture(scope='module')
def noisy(data_root):
    """Return (cameras, truth (F, J, 3) with NaN where no marker, per frame (V, J, 3))."""
    cameras, truth, coco_index = demo_rig(data_root)
    truth = truth[:NUM_FRAMES]
    motion = truth.copy()
    # Joints without a marker (eyes, ears) sit on the nose: a complete skeleton to fit.
    missing = ~np.isfinite(motion).all(axis=2)
    motion[missing] = np.broadcast_to(motion[:, [0]], motion.shape)[missing]
    rng = np.random.default_rng(0)
    frames = []
    for positions in motion:
        views = observe(cameras, positions)
        views[..., :2] += rng.normal(0.0, NOISE_PX, views[..., :2].shape)
        frames.append(views)
    return cameras, truth, frames


def _config():
    return SolverConfig(objective='analytic', frame_rate=RATE_HZ)


def _error_mm(positions, truth):
    scored = np.isfinite(truth).all(axis=2)
    return 1000 * np.linalg.norm(positions - truth, axis=2)[scored].mean()


def test_offline_smoothing_is_closer_to_the_known_motion(noisy):
    cameras, truth, frames = noisy
    estimate = make_estimator('skelsplat', cameras, _config(), smooth=True)
    causal = np.stack([estimate(frame)[0] for frame in frames])
    smoothed, confidence = estimate.smoothed()
    assert smoothed.shape == causal.shape and confidence.shape == causal.shape[:2]
    assert _error_mm(smoothed, truth) < 0.85 * _error_mm(causal, truth)
    # The same joints are located; the last frame has no future to revise it.
    np.testing.assert_array_equal(np.isfinite(smoothed), np.isfinite(causal))
    np.testing.assert_array_equal(smoothed[-1], causal[-1])
    assert ((confidence > 0) & (confidence <= 1))[np.isfinite(smoothed).all(axis=2)].all()


def test_smoothed_covariance_is_no_larger_than_the_filtered(noisy):
    cameras, _, frames = noisy
    solver = SkelSplatSolver(cameras, _config())
    estimates = [solver.solve(frame) for frame in frames]
    smoothed = smooth_estimates(estimates)
    for before, after in zip(estimates[:-1], smoothed[:-1]):
        located = np.isfinite(before.positions).all(axis=1)
        shrink = np.linalg.eigvalsh(before.covariance[located] - after.covariance[located])
        assert shrink.min() > -1e-12
        assert np.trace(after.covariance[located], axis1=1, axis2=2).sum() \
            < np.trace(before.covariance[located], axis1=1, axis2=2).sum()


def test_smoothing_needs_the_motion_filter(noisy):
    cameras, _, _ = noisy
    with pytest.raises(ValueError, match='per-frame'):
        make_estimator('skelsplat', cameras, SolverConfig(temporal=False), smooth=True)
    with pytest.raises(ValueError, match='skelsplat'):
        make_estimator('dlt', cameras, smooth=True)


@pytest.mark.parametrize('lag', [1, 6])
def test_fixed_lag_gives_the_fixed_interval_smoother_over_the_groups_so_far(noisy, lag):
    cameras, _, frames = noisy
    solver = SkelSplatSolver(cameras, _config())
    # A group without the person: nothing to smooth there, and its neighbours still are.
    frames = list(frames)
    frames[10] = np.zeros_like(frames[10])
    estimates = [solver.solve(frame, stamp=n / RATE_HZ) for n, frame in enumerate(frames)]
    assert estimates[10] is None
    smoother = FixedLagSmoother(lag)
    released = []
    for n, estimate in enumerate(estimates):
        out = smoother.push(1000 + n, estimate)
        assert len(out) == (n >= lag)
        released += out
    assert len(smoother) == lag
    released += smoother.flush()
    assert [item for item, _ in released] == [1000 + n for n in range(len(frames))]
    for n, (_, estimate) in enumerate(released):
        if estimates[n] is None:
            assert estimate is None
            continue
        expected = smooth_estimates(estimates[:n + lag + 1])[n]
        np.testing.assert_allclose(estimate.positions, expected.positions, atol=1e-12)
        np.testing.assert_allclose(estimate.covariance, expected.covariance, atol=1e-15)
        np.testing.assert_allclose(estimate.confidence, expected.confidence, atol=1e-12)
        if any(later is not None for later in estimates[n + 1:n + lag + 1]):
            # Not what the causal filter said: later groups moved it.
            assert np.abs(estimate.positions - estimates[n].positions).max() > 1e-5


def test_the_engine_publishes_each_group_lag_groups_late_with_its_stamp(noisy):
    cameras, _, frames = noisy
    lag = 6
    names = [camera.name for camera in cameras]

    def engine_with(smoothing_lag, config):
        engine = FusionEngine(names, detector=None, notify=lambda _: None,
                              solver_config=config, smoothing_lag=smoothing_lag)
        for camera in cameras:
            engine.set_camera(camera.name, camera)
        return engine

    # The lagged engine's filter runs with smoothing_accel_sigma: so does the reference's.
    lagged, at_once = engine_with(lag, _config()), engine_with(0, _config().for_smoothing())
    assert lagged.smoothing_lag == lag
    stamps = [1_700_000_000_000_000_000 + n * 16_666_667 for n in range(len(frames))]
    results, causal = [], []
    for stamp, frame in zip(stamps, frames):
        views = {name: frame[v][None] for v, name in enumerate(names)}
        given = (lambda views: lambda name, item: views[name])(views)
        results.append(fuse_group(lagged, views, given, stamp=stamp * 1e-9, stamp_ns=stamp))
        causal.append(fuse_group(at_once, views, given, stamp=stamp * 1e-9, stamp_ns=stamp))
    assert [r.stamp_ns for r in results[:lag]] == [None] * lag
    assert not any(r.people for r in results[:lag])
    assert [r.stamp_ns for r in results[lag:]] == stamps[:-lag]
    assert [r.stamp_ns for r in causal] == stamps
    offline = smooth_estimates([r.estimate for r in causal])
    for n, result in enumerate(results[lag:]):
        expected = smooth_estimates([r.estimate for r in causal[:n + lag + 1]])[n]
        np.testing.assert_allclose(result.estimate.positions, expected.positions, atol=1e-12)
        (person,) = result.people
        located = np.isfinite(expected.positions).all(axis=1)
        np.testing.assert_allclose(person.positions[located], expected.positions[located],
                                   atol=1e-12)
    released = lagged.flush_smoothing()
    assert [stamp for stamp, _ in released] == stamps[-lag:]
    for (_, estimate), expected in zip(released, offline[-lag:]):
        np.testing.assert_allclose(estimate.positions, expected.positions, atol=1e-12)


def test_several_people_are_smoothed_each_along_its_track(noisy):
    cameras, _, frames = noisy
    lag = 3
    # Two tracks: one from the first group, one from group 5 on (its own solver).
    first, second = SkelSplatSolver(cameras, _config()), SkelSplatSolver(cameras, _config())
    tracks = [{1: first.solve(frame), **({2: second.solve(frame)} if n >= 5 else {})}
              for n, frame in enumerate(frames)]
    smoother, released = FixedLagPeopleSmoother(lag), []
    for n, people in enumerate(tracks):
        released += smoother.push(n, people)
    released += smoother.flush()
    assert [n for n, _ in released] == list(range(len(frames)))
    for key, start in ((1, 0), (2, 5)):
        alone = [people[key] for people in tracks[start:]]
        expected = FixedLagSmoother(lag)
        singles = [e for n, estimate in enumerate(alone) for _, e in expected.push(n, estimate)]
        singles += [e for _, e in expected.flush()]
        for n, people in released[start:]:
            np.testing.assert_allclose(people[key].positions, singles[n - start].positions,
                                       atol=1e-12)
        assert all(key not in people for _, people in released[:start])
