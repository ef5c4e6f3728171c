# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What each live smoothing lag buys: MPJPE against the lag's latency (one command).

    python bench/smoothing_lag.py --output bench/results [--lags 0 1 2 ...] [--seeds N]

On the controlled protocols of :mod:`protocols` (pose2sim's demo motion through its real
cameras, 60 Hz), one causal pass of the solver with ``smoothing_accel_sigma`` per seed is
pushed through the node's fixed-lag smoother (:class:`FixedLagSmoother`) at each lag, and
through the fixed-interval smoother (``all``: ``skelsplat solve --smooth``); the plain causal
solver (``accel_sigma``) is the lag-0 reference of today's node.  The latency a lag adds is
lag / rate: the table gives it at 30 and 60 Hz.  Writes ``smoothing_lag.json``.
"""

import argparse
import os
import pathlib
import sys

import metrics
import numpy as np
import peers
import protocols
from report import default_data_root, log, write_report
from skelsplat_ros.solver import SkelSplatSolver, SolverConfig
from skelsplat_ros.solver.smoothing import FixedLagSmoother, smooth_estimates

LAGS = (0, 1, 2, 3, 6, 12)
DATASETS = ('noise', 'mixed', 'fast')


def _positions(estimates, num_frames, num_joints):
    out = np.full((num_frames, num_joints, 3), np.nan)
    for index, estimate in enumerate(estimates):
        if estimate is not None:
            out[index] = estimate.positions
    return out


def main(argv=None):
    """Run the sweep; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--output', default='bench/results')
    parser.add_argument('--lags', nargs='+', type=int, default=LAGS)
    parser.add_argument('--datasets', nargs='+', default=DATASETS,
                        choices=tuple(protocols.PROTOCOLS))
    parser.add_argument('--seeds', type=int, default=3)
    parser.add_argument('--data-root', type=pathlib.Path, default=default_data_root())
    args = parser.parse_args(argv)
    demo = protocols.load_demo_or_explain('smoothing_lag', args.data_root)
    if demo is None:
        return 2
    cameras, truth, motion = demo
    rate = protocols.RATE_HZ
    config = SolverConfig(objective='rendered', frame_rate=rate)
    results = {}
    for dataset in args.datasets:
        means = {key: [] for key in ['causal'] + [f'lag{lag}' for lag in args.lags] + ['all']}
        for seed in range(args.seeds):
            frames = protocols.make_protocol(dataset, cameras, motion, seed=seed)
            expected = protocols.protocol_truth(dataset, truth)[:len(frames)]
            num = (len(frames), truth.shape[1])
            causal = peers.make_causal('skelsplat', cameras, rate)
            means['causal'].append(metrics.mpjpe_summary(
                np.stack([causal(frame)[0] for frame in frames]), expected)['mean_mm'])
            solver = SkelSplatSolver(cameras, config.for_smoothing())
            estimates = [solver.solve(frame) for frame in frames]
            for lag in args.lags:
                smoother, released = FixedLagSmoother(lag), []
                for index, estimate in enumerate(estimates):
                    released += smoother.push(index, estimate)
                released += smoother.flush()
                positions = _positions([e for _, e in released], *num)
                means[f'lag{lag}'].append(metrics.mpjpe_summary(positions, expected)['mean_mm'])
            positions = _positions(smooth_estimates(estimates), *num)
            means['all'].append(metrics.mpjpe_summary(positions, expected)['mean_mm'])
            scores = '  '.join(f'{key} {values[-1]:.2f}' for key, values in means.items())
            log(f'{dataset} seed {seed}: {scores}')
        results[dataset] = {key: float(np.mean(values)) for key, values in means.items()}
    report = {
        'config': {'seeds': args.seeds, 'rate_hz': rate, 'lags': list(args.lags),
                   'accel_sigma': config.accel_sigma,
                   'smoothing_accel_sigma': config.smoothing_accel_sigma,
                   'load_average': list(os.getloadavg())},
        'latency_ms': {f'lag{lag}': {'30hz': 1000.0 * lag / 30.0, '60hz': 1000.0 * lag / 60.0}
                       for lag in args.lags},
        'mean_mm': results,
    }
    write_report(report, args.output, 'smoothing_lag')
    return 0


if __name__ == '__main__':
    sys.exit(main())
