# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The motion filter's fitted acceleration std: MPJPE against its floor (one command).

    python bench/adaptive_noise.py --output bench/results/smoothing [--floors 7 10 ...]
                                   [--seeds N]

The filter fits each person's white acceleration std to its innovations
(:class:`skelsplat_ros.motion.AccelEstimate`), never below ``accel_sigma``.  For each floor,
one causal pass of the solver (the rendered objective, as ``bench/accuracy.py``) per seed of
each controlled protocol of :mod:`protocols`, and one on ``real``, gives the causal output, its
fixed-interval smoothing and its fixed-lag smoothing (lag 6); the table keeps the mean MPJPE
over the seeds, the mean fitted std over the frames, and the fitting's cost per frame.  The
causal solver runs with ``accel_sigma`` at one floor and the smoothers' pass with
``smoothing_accel_sigma`` at another: read each column at the floor of its pass.  Writes
``adaptive_noise.json``.  (``accuracy_adaptive_noise.json`` beside it is ``bench/accuracy.py``
with the defaults, 5 seeds, for ours only: ``--methods skelsplat skelsplat_smooth
skelsplat_lag6 skelsplat_per_frame``.)
"""

import argparse
import os
import pathlib
import sys
import time

import metrics
import numpy as np
import peers
import protocols
from report import default_data_root, log, write_report
from skelsplat_ros import motion
from skelsplat_ros.solver import SkelSplatSolver, SolverConfig
from skelsplat_ros.solver.smoothing import FixedLagSmoother, smooth_estimates

FLOORS = (7.0, 10.0, 14.0, 20.0)
DATASETS = ('real', 'noise', 'occlusion', 'outliers', 'swaps', 'bystander', 'mixed', 'fast')


def _positions(estimates, num_frames, num_joints):
    out = np.full((num_frames, num_joints, 3), np.nan)
    for index, estimate in enumerate(estimates):
        if estimate is not None:
            out[index] = estimate.positions
    return out


def _observe_us(steps, floor):
    """Microseconds per frame that AccelEstimate.observe costs over ``steps``."""
    accel = motion.AccelEstimate.starting_at(floor)
    start = time.perf_counter()
    for step in steps:
        accel = accel.observe(step, accel.sigma)
    return 1e6 * (time.perf_counter() - start) / max(len(steps), 1)


def _one_pass(cameras, frames, expected, floor):
    """Causal, smoothed and lag-6 MPJPE of one pass at ``floor``; its mean std; observe's cost."""
    solver = SkelSplatSolver(cameras, SolverConfig(objective='rendered',
                                                   frame_rate=protocols.RATE_HZ,
                                                   accel_sigma=floor))
    estimates, sigmas = [], []
    for frame in frames:
        estimates.append(solver.solve(frame))
        if solver.motion_accel_sigma is not None:
            sigmas.append(solver.motion_accel_sigma)
    num = (len(frames), expected.shape[1])
    smoother, lagged = FixedLagSmoother(peers.SMOOTHING_LAG), []
    for index, estimate in enumerate(estimates):
        lagged += smoother.push(index, estimate)
    lagged += smoother.flush()
    outputs = {'causal': _positions(estimates, *num),
               'smooth': _positions(smooth_estimates(estimates), *num),
               f'lag{peers.SMOOTHING_LAG}': _positions([e for _, e in lagged], *num)}
    means = {key: metrics.mpjpe_summary(positions, expected)['mean_mm']
             for key, positions in outputs.items()}
    steps = [e.motion.step for e in estimates if e is not None and e.motion is not None]
    return means, float(np.mean(sigmas)), _observe_us(steps, floor)


def main(argv=None):
    """Run the sweep; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--output', default='bench/results/smoothing')
    parser.add_argument('--floors', nargs='+', type=float, default=FLOORS)
    parser.add_argument('--datasets', nargs='+', default=DATASETS,
                        choices=('real',) + tuple(protocols.PROTOCOLS))
    parser.add_argument('--seeds', type=int, default=3)
    parser.add_argument('--data-root', type=pathlib.Path, default=default_data_root())
    args = parser.parse_args(argv)
    demo = protocols.load_demo_or_explain('adaptive_noise', args.data_root)
    if demo is None:
        return 2
    cameras, truth, demo_motion = demo
    results, costs = {}, []
    for floor in args.floors:
        results[f'{floor:g}'] = {}
        for dataset in args.datasets:
            runs = []
            for seed in range(1 if dataset == 'real' else args.seeds):
                if dataset == 'real':
                    frames = protocols.real_frames(args.data_root, len(truth))
                else:
                    frames = protocols.make_protocol(dataset, cameras, demo_motion, seed=seed)
                expected = protocols.protocol_truth(dataset, truth)[:len(frames)]
                means, sigma, cost = _one_pass(cameras, frames, expected, floor)
                runs.append(dict(means, fitted_accel_sigma=sigma))
                costs.append(cost)
            results[f'{floor:g}'][dataset] = {key: float(np.mean([run[key] for run in runs]))
                                              for key in runs[0]}
            log(f'floor {floor:g} {dataset}: ' + '  '.join(
                f'{key} {value:.2f}' for key, value in results[f'{floor:g}'][dataset].items()))
    report = {
        'config': {'seeds': args.seeds, 'rate_hz': protocols.RATE_HZ,
                   'floors': list(args.floors), 'objective': 'rendered',
                   'sigma_step': motion.SIGMA_STEP, 'evidence_memory': motion.EVIDENCE_MEMORY,
                   'max_accel_sigma': motion.MAX_ACCEL_SIGMA,
                   'defaults': {'accel_sigma': SolverConfig().accel_sigma,
                                'smoothing_accel_sigma': SolverConfig().smoothing_accel_sigma},
                   'load_average': list(os.getloadavg())},
        'observe_us_per_frame': {'mean': float(np.mean(costs)), 'max': float(np.max(costs))},
        'mean_mm': results,
    }
    write_report(report, args.output, 'adaptive_noise')
    return 0


if __name__ == '__main__':
    sys.exit(main())
