# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The batched analytic fit agrees with the per-frame fast path, frame by frame."""

import importlib
import pathlib
import sys

import numpy as np
import pytest
from skelsplat_ros.cameras import load_calibration
from skelsplat_ros.solver import SkelSplatSolver, solve_frames_analytic, SolverConfig

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'bench'))
protocols = importlib.import_module('protocols')
FRAMES = 20


@pytest.fixture(scope='module')
def demo(data_root):
    paths = protocols.demo_paths(data_root)
    cameras = load_calibration(paths['calibration'])
    truth, motion, _ = protocols.load_truth(paths['trc'])
    return cameras, truth[:FRAMES], motion[:FRAMES]


def _stack(frames):
    """(F, V, 17, 3) of protocol frames with one person per view."""
    assert all(len(people) == 1 for views in frames for people in views)
    return np.stack([np.concatenate(views) for views in frames])


@pytest.mark.parametrize('protocol', ['noise', 'outliers'])
def test_batch_matches_the_per_frame_fast_path(demo, protocol):
    cameras, truth, motion = demo
    frames = protocols.make_protocol(protocol, cameras, motion, seed=1)
    solver = SkelSplatSolver(cameras, SolverConfig(objective='analytic', temporal=False))
    expected = np.stack([solver.solve(frame).positions for frame in frames])
    positions = solve_frames_analytic(cameras, _stack(frames))
    assert positions.shape == (FRAMES, 17, 3)
    # Same start, same kernel; the kernel widths come from slightly different crops.
    difference = np.linalg.norm(positions - expected, axis=-1)
    assert np.nanmax(difference) < 0.01 and np.nanmean(difference) < 0.002
    scored = np.isfinite(truth).all(axis=-1)
    error = np.linalg.norm(positions - truth, axis=-1)[scored]
    expected_error = np.linalg.norm(expected - truth, axis=-1)[scored]
    assert np.isfinite(error).all() and error.mean() < expected_error.mean() + 0.001
    assert error.mean() < 0.03


def test_batch_entries_are_independent_and_unseen_joints_are_nan(demo):
    cameras, _, motion = demo
    stacked = _stack(protocols.make_protocol('noise', cameras, motion, seed=2))
    stacked[3, 1:, 9, 2] = 0.0          # left wrist seen by view 0 only
    stacked[4, :, 10, 2] = 0.0          # right wrist seen by nobody
    together = solve_frames_analytic(cameras, stacked)
    alone = solve_frames_analytic(cameras, stacked[3:5])
    # Equal up to the stopping rule (a batch stops when all its entries moved < 10 um).
    np.testing.assert_allclose(together[3:5], alone, atol=2e-5, equal_nan=True)
    assert np.isnan(together[3, 9]).all() and np.isnan(together[4, 10]).all()
    assert np.isfinite(np.delete(together[3], 9, axis=0)).all()
