# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Accuracy benchmark of SkelSplat against its peers on pose2sim's demo (one command).

    python bench/accuracy.py --output bench/results [--frames N] [--methods ...] [--seeds N]
                             [--quick]

Datasets: ``real`` is pose2sim's real OpenPose 2D (4 views, bystanders in cam1 and cam2)
scored against its .trc; the others are the controlled protocols of :mod:`protocols` (the .trc
motion projected through the real calibration, then corrupted) scored against the exact 3D.
Every method sees the same inputs in the same run.  13 COCO-17 joints are scored (those with a
.trc marker); ``common_mean_mm`` is each method's mean over the joint-frames that every method
located, which compares methods of different coverage on equal terms.  Writes
``accuracy.json`` (also printed on stdout) and ``accuracy.png`` into the output directory;
progress goes to stderr.  Times are wall-clock per frame on this machine, after one untimed
warm-up per method (JIT compilation, first torch call); other load on the machine inflates
them.

Ours: ``skelsplat`` (causal), ``skelsplat_smooth`` (``skelsplat solve --smooth``: the causal
pass, then the fixed-interval smoother) and ``skelsplat_lag6`` (the node with
``smoothing_lag`` 6), all three from one causal pass.  Pose2Sim 0.10.49 itself runs as a peer
(``pose2sim_per_frame``, ``pose2sim_interpolated``, ``pose2sim_filtered``; see :mod:`peers`)
when its venv is there (``scripts/setup_pose2sim.sh`` or ``--setup-pose2sim``); its time is
its whole run per frame, Python start-up included.

One seed's corruptions are one draw: on ``outliers`` the ratio of SkelSplat to RANSAC-DLT
moved from 0.50 to 0.63 between seeds.  So the controlled protocols are run again with
``--seeds`` seeds for the methods the targets compare (``seeds`` in the JSON, per seed), and
the targets are judged on the mean over those seeds.

On the protocols where some views are confidently wrong, SkelSplat and RANSAC-DLT also run on
each seed's *oracle* input (:func:`protocols.make_protocol`, ``oracle=True``: the same frames
with every wrong detection undone or removed), ``oracle`` in the JSON.  The gap between a
method's error and its oracle's is what the corruption cost it; the oracle's error is the
noise it cannot reject, so a target below it cannot be met by rejecting better.
"""

import argparse
import dataclasses
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

import metrics
import numpy as np
import peers
import protocols
from report import default_data_root, log, source_sha1, write_report
from skelsplat_ros import solver
from skelsplat_ros.skeletons import COCO17_JOINTS

DATASETS = ('real',) + tuple(protocols.PROTOCOLS)
SETUP_POSE2SIM = pathlib.Path(__file__).resolve().parents[1] / 'scripts' / 'setup_pose2sim.sh'
QUICK_DATASETS = ('real', 'clean', 'noise', 'outliers', 'bystander')
QUICK_FRAMES = 20
# The protocols where some views are confidently wrong.
OUTLIER_PROTOCOLS = ('outliers', 'swaps', 'bystander', 'mixed')
# The methods the targets compare, run on every seed of the controlled protocols.
TARGET_METHODS = ('skelsplat', 'skelsplat_smooth', 'skelsplat_lag6', 'skelsplat_per_frame', 'dlt',
                  'ransac_dlt', 'anipose_optim') + peers.POSE2SIM_METHODS
# The methods compared on OUTLIER_PROTOCOLS, also run on those protocols' oracle input.
ORACLE_METHODS = ('skelsplat', 'ransac_dlt')
SEEDS = 5
# Datasets without target checks on their protocol: 'real' has its own; 'fast' is ours,
# beyond the issue, and measures the motion model's lag.
UNJUDGED = ('real', 'fast')
# The protocols issue 19's targets judge, against Pose2Sim.
POSE2SIM_JUDGED = ('noise', 'occlusion', 'outliers', 'swaps', 'bystander', 'mixed', 'fast')
# Errors below this are drawn at it, so that exact results stay visible on the log scale.
PLOT_FLOOR_MM = 0.1


def build_parser():
    """Build the argument parser of the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--output', default='bench/results', help='directory for the results')
    parser.add_argument('--frames', type=int, default=0,
                        help=f'only the first N frames (default all; {QUICK_FRAMES} with --quick)')
    parser.add_argument('--methods', nargs='+', choices=peers.METHODS, default=None,
                        help="default all (Pose2Sim's when its venv is there)")
    parser.add_argument('--setup-pose2sim', action='store_true',
                        help=f'first create the Pose2Sim venv ({SETUP_POSE2SIM}, ~2 GB)')
    parser.add_argument('--datasets', nargs='+', choices=DATASETS, default=None,
                        help='default all; with --quick: ' + ' '.join(QUICK_DATASETS))
    parser.add_argument('--quick', action='store_true',
                        help='fewer frames and protocols, for a check in a minute or two')
    parser.add_argument('--seed', type=int, default=0, help='seed of the corruptions')
    parser.add_argument('--seeds', type=int, default=SEEDS,
                        help=f'seeds (from --seed on) the targets are judged on, run for '
                             f'{", ".join(TARGET_METHODS)} (default {SEEDS}; 1 with --quick)')
    parser.add_argument('--data-root', type=pathlib.Path, default=default_data_root(),
                        help='the real data (default $SKELSPLAT_DATA or ~/.cache/...)')
    parser.add_argument('--no-plot', action='store_true', help='skip accuracy.png')
    return parser


class Runner:
    """Runs each method on frames and times it, warming each method up once.

    ``skelsplat`` and its smoothers come from one causal pass, and Pose2Sim's three columns
    from one run of its pipeline: both are computed once per input (the same list of frames)
    and kept for the other methods of the group.
    """

    def __init__(self, cameras, calibration):
        self.cameras = cameras
        self.calibration = calibration
        self._group = None
        self._warm = set()
        self._shared = {}   # (group, id(frames)) -> (frames, {method: (positions, ms, ...)})

    def _anipose_group(self):
        if self._group is None:
            self._group = peers.anipose_camera_group(self.cameras)
        return self._group

    def _estimate(self, method, frames, rate_hz):
        if method in peers.CAUSAL_METHODS:
            estimate = peers.make_causal(method, self.cameras, rate_hz)
            return np.stack([estimate(frame)[0] for frame in frames])
        return peers.run_anipose(method, self._anipose_group(), frames, len(COCO17_JOINTS))

    def _shared_run(self, method, frames, rate_hz, pose2sim_input=None):
        group = 'skelsplat' if method in peers.SKELSPLAT_METHODS else 'pose2sim'
        key = (group, id(frames))
        if key not in self._shared:
            self._shared.clear()  # one input at a time: the frames of the last one
            if group == 'skelsplat':
                if group not in self._warm:
                    peers.run_skelsplat_smoothing(self.cameras, frames[:2], rate_hz)
                    self._warm.add(group)
                outputs = peers.run_skelsplat_smoothing(self.cameras, frames, rate_hz)
            else:
                start = time.perf_counter()
                native, pose_model = pose2sim_input or (frames, peers.POSE2SIM_COCO17)
                with tempfile.TemporaryDirectory(prefix='pose2sim-') as workdir:
                    columns = peers.run_pose2sim({0: native}, self.calibration, rate_hz,
                                                 workdir, pose_model)[0]
                # Its whole run, Python start-up included, for each column.
                ms = 1000.0 * (time.perf_counter() - start) / len(frames)
                outputs = {name: (positions, ms, None) for name, positions in columns.items()}
            self._shared[key] = (frames, outputs)
        return self._shared[key][1][method]

    def run(self, method, frames, rate_hz, pose2sim_input=None):
        """Return positions (F, 17, 3) and milliseconds per frame of ``method``.

        ``pose2sim_input``: ``(frames, pose_model)``, the same frames in a Pose2Sim skeleton
        model that Pose2Sim is given instead of ``frames`` (COCO-17, its ``COCO_17``).
        """
        if method in peers.SKELSPLAT_METHODS or method in peers.POSE2SIM_METHODS:
            positions, ms_per_frame, _ = self._shared_run(method, frames, rate_hz,
                                                          pose2sim_input)
            return positions, ms_per_frame
        if method not in self._warm:
            self._estimate(method, frames[:1], rate_hz)
            self._warm.add(method)
        start = time.perf_counter()
        positions = self._estimate(method, frames, rate_hz)
        return positions, 1000.0 * (time.perf_counter() - start) / len(frames)

    def smoothing_ms(self, method, frames, rate_hz):
        """Return the smoothing alone of ``skelsplat_smooth`` or ``skelsplat_lag6``, ms/frame."""
        return self._shared_run(method, frames, rate_hz)[2]


def _mean(results, dataset, method, seeds=None):
    """Mean MPJPE of ``method`` on ``dataset``: over the seeds where they ran, else the first."""
    per_seed = (seeds or {}).get(dataset, {}).get(method)
    if per_seed and None not in per_seed:
        return float(np.mean(per_seed))
    entry = results.get(dataset, {}).get(method)
    return None if entry is None else entry['mean_mm']


def evaluate_targets(results, seeds=None, oracle=None):
    """Check issue 3's targets on ``results[dataset][method]``; returns a JSON-ready dict.

    (a) skelsplat <= 33 mm on real; (b) skelsplat <= half of RANSAC-DLT on the protocols with
    confidently wrong views, <= anipose_optim on every protocol, <= DLT + 1 mm on clean and
    noise; speed <= 100 ms per frame on every dataset.  Issue 19's, on
    :data:`POSE2SIM_JUDGED`: (e) skelsplat_smooth <= pose2sim_filtered and skelsplat <=
    pose2sim_per_frame (with their ratio); (f) skelsplat_lag6 closes at least half the gap
    from skelsplat to skelsplat_smooth on noise and mixed; (g) on fast, the smoothers within
    1 mm of skelsplat_per_frame; (h) the smoothing alone <= 1 ms per frame (fixed lag: per
    group).  The protocols' means are over the
    seeds in ``seeds[dataset][method]`` (lists, one mean per seed) where given.  The half of
    RANSAC-DLT checks also report the mean over seeds of each method's error on the oracle
    input, ``oracle[dataset][method]`` where given.  A check whose methods did not run is left
    out.
    """
    checks = {}

    def check(name, value, limit, **detail):
        if value is None or limit is None:
            return
        checks[name] = {'met': bool(value <= limit), 'value': value, 'limit': limit, **detail}

    check('a_real_mpjpe_le_33mm', _mean(results, 'real', 'skelsplat'), 33.0
          if 'real' in results else None)
    for dataset in results:
        if dataset in UNJUDGED:
            continue
        ours = _mean(results, dataset, 'skelsplat', seeds)
        ransac = _mean(results, dataset, 'ransac_dlt', seeds)
        if dataset in OUTLIER_PROTOCOLS and ransac is not None:
            oracle_means = {f'{method}_oracle_mm': float(np.mean(means))
                            for method, means in (oracle or {}).get(dataset, {}).items()}
            check(f'b_{dataset}_le_half_ransac_dlt', ours, 0.5 * ransac, ransac_dlt_mm=ransac,
                  **oracle_means)
        check(f'b_{dataset}_le_anipose_optim', ours,
              _mean(results, dataset, 'anipose_optim', seeds))
        dlt = _mean(results, dataset, 'dlt', seeds)
        if dataset in ('clean', 'noise') and dlt is not None:
            check(f'b_{dataset}_within_1mm_of_dlt', ours, dlt + 1.0, dlt_mm=dlt)
    for dataset in results:
        if dataset not in POSE2SIM_JUDGED:
            continue
        ours = _mean(results, dataset, 'skelsplat', seeds)
        smooth = _mean(results, dataset, 'skelsplat_smooth', seeds)
        for mine, theirs, name in ((smooth, 'pose2sim_filtered', 'smooth'),
                                   (ours, 'pose2sim_per_frame', 'causal')):
            other = _mean(results, dataset, theirs, seeds)
            if mine is not None and other:
                check(f'e_{dataset}_{name}_le_{theirs}', mine, other, ratio=mine / other)
        lagged = _mean(results, dataset, 'skelsplat_lag6', seeds)
        if dataset in ('noise', 'mixed') and None not in (ours, smooth, lagged):
            check(f'f_{dataset}_lag6_closes_half_the_causal_smooth_gap', lagged,
                  ours - 0.5 * (ours - smooth), causal_mm=ours, smooth_mm=smooth,
                  closed=(ours - lagged) / (ours - smooth) if ours != smooth else None)
    per_frame = _mean(results, 'fast', 'skelsplat_per_frame', seeds)
    if per_frame is not None:
        for method in ('skelsplat_smooth', 'skelsplat_lag6'):
            check(f'g_fast_{method}_within_1mm_of_per_frame',
                  _mean(results, 'fast', method, seeds), per_frame + 1.0,
                  per_frame_mm=per_frame)
    for method, what in (('skelsplat_smooth', 'h_smoother_le_1ms_per_frame'),
                         ('skelsplat_lag6', 'h_fixed_lag_le_1ms_per_group')):
        costs = [entry[method]['smoothing_ms_per_frame'] for entry in results.values()
                 if 'smoothing_ms_per_frame' in entry.get(method, {})]
        if costs:
            check(what, max(costs), 1.0, mean_ms=float(np.mean(costs)),
                  load_average=list(os.getloadavg()))
    times = [entry['skelsplat']['ms_per_frame'] for entry in results.values()
             if 'skelsplat' in entry]
    if times:
        check('speed_le_100ms_per_frame', max(times), 100.0, mean_ms=float(np.mean(times)))
    return {'all_met': all(c['met'] for c in checks.values()), 'checks': checks}


def _per_seed(runner, methods, datasets, seeds, demo, started, oracle=False):
    """Mean MPJPE of ``methods`` on the controlled ``datasets``, one per seed of ``seeds``.

    ``demo`` is ``(cameras, motion, truth)``; ``oracle`` runs the protocols' oracle input.
    Returns ``{dataset: {method: [mean MPJPE per seed]}}``.
    """
    cameras, motion, truth = demo
    means = {}
    for dataset in datasets:
        means[dataset] = {method: [] for method in methods}
        expected = protocols.protocol_truth(dataset, truth)
        for seed in seeds:
            frames = protocols.make_protocol(dataset, cameras, motion, seed=seed, oracle=oracle)
            for method in methods:
                positions, _ = runner.run(method, frames, protocols.RATE_HZ)
                mean = metrics.mpjpe_summary(positions, expected[:len(frames)])['mean_mm']
                means[dataset][method].append(mean)
            log(f'[{time.perf_counter() - started:6.1f} s] {dataset:>9} seed {seed}'
                f'{" oracle" if oracle else ""}: ' +
                '  '.join(f'{method} {means[dataset][method][-1]:.2f}' for method in methods))
    return means


def _other_seeds(runner, args, datasets, demo, results, started):
    """Run TARGET_METHODS on the controlled protocols with the seeds after ``args.seed``.

    Returns ``{dataset: {method: [mean MPJPE per seed]}}``, the first seed's from ``results``.
    """
    if args.seeds < 2:
        return {}
    methods = [method for method in TARGET_METHODS if method in args.methods]
    # 'fast' too: issue 19 judges it.
    judged = [dataset for dataset in datasets if dataset != 'real']
    later = _per_seed(runner, methods, judged, range(args.seed + 1, args.seed + args.seeds),
                      demo, started)
    return {dataset: {method: [results[dataset][method]['mean_mm']] + later[dataset][method]
                      for method in methods} for dataset in judged}


def plot(report, path):
    """Plot grouped bars of mean MPJPE per dataset and method, and ms per frame per method."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    results = report['results']
    datasets = list(results)
    methods = report['config']['methods']
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(13, 9),
                                         gridspec_kw={'height_ratios': [3, 2]})
    width = 0.8 / len(methods)
    colours = plt.get_cmap('tab10')
    for m, method in enumerate(methods):
        values = [results[d][method]['mean_mm'] for d in datasets]
        values = [np.nan if v is None else max(v, PLOT_FLOOR_MM) for v in values]
        x = np.arange(len(datasets)) + (m - (len(methods) - 1) / 2) * width
        top.bar(x, values, width, label=method, color=colours(m))
    top.set_xticks(np.arange(len(datasets)), datasets)
    top.set_yscale('log')
    top.set_ylim(bottom=PLOT_FLOOR_MM)
    top.set_ylabel(f'MPJPE, mean (mm, log scale, floor {PLOT_FLOOR_MM:g})')
    top.set_title(f'MPJPE on pose2sim demo, {report["config"]["frames"]} frames, '
                  f'{len(report["config"]["scored_joints"])} joints scored')
    top.grid(axis='y', which='both', alpha=0.3)
    top.legend(ncol=4, fontsize=8)
    speeds = [np.mean([results[d][method]['ms_per_frame'] for d in datasets])
              for method in methods]
    bottom.bar(np.arange(len(methods)), speeds, color=[colours(m) for m in range(len(methods))])
    bottom.axhline(100.0, color='grey', linestyle='--', linewidth=1)
    bottom.set_xticks(np.arange(len(methods)), methods, fontsize=8)
    bottom.set_yscale('log')
    bottom.set_ylabel('ms per frame (mean over datasets)')
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _torch_threads():
    import torch
    return torch.get_num_threads()


def main(argv=None):
    """Run the benchmark; returns the exit status."""
    args = build_parser().parse_args(argv)
    num_frames = args.frames or (QUICK_FRAMES if args.quick else 0)
    if args.quick and args.seeds == SEEDS:
        args.seeds = 1
    if args.seeds < 1:
        log('accuracy: error: --seeds must be at least 1')
        return 2
    datasets = args.datasets or (QUICK_DATASETS if args.quick else DATASETS)
    if args.setup_pose2sim:
        subprocess.run(['nice', 'bash', str(SETUP_POSE2SIM)], check=True)
    if not peers.pose2sim_available():
        if args.methods is not None and set(args.methods) & set(peers.POSE2SIM_METHODS):
            log(f'accuracy: error: no Pose2Sim venv at {peers.POSE2SIM_VENV}: run '
                f'{SETUP_POSE2SIM} (or pass --setup-pose2sim)')
            return 2
        log(f'accuracy: no Pose2Sim venv at {peers.POSE2SIM_VENV}: its columns are left out '
            f'(run {SETUP_POSE2SIM}, or pass --setup-pose2sim)')
    args.methods = args.methods or [method for method in peers.METHODS if method not in
                                    peers.POSE2SIM_METHODS or peers.pose2sim_available()]
    demo = protocols.load_demo_or_explain('accuracy', args.data_root, num_frames)
    if demo is None:
        return 2
    cameras, truth, motion = demo
    scored = [COCO17_JOINTS[j] for j in np.flatnonzero(np.isfinite(truth[0]).all(axis=1))]

    # Which solver produces the numbers: its defaults and a digest of its source as imported.
    solver_info = {
        'config': dataclasses.asdict(solver.SolverConfig(objective='rendered')),
        'sha1': source_sha1(solver),
    }
    runner = Runner(cameras, protocols.demo_paths(args.data_root)['calibration'])
    results = {}
    started = time.perf_counter()
    for dataset in datasets:
        pose2sim_input = None
        if dataset == 'real':
            frames = protocols.real_frames(args.data_root, len(truth))
            # Pose2Sim reads the OpenPose files as its own pipeline did for that .trc: BODY_25B.
            pose2sim_input = (peers.read_openpose_frames(
                protocols.demo_paths(args.data_root)['keypoints'], len(truth)), 'BODY_25B')
        else:
            frames = protocols.make_protocol(dataset, cameras, motion, seed=args.seed)
        expected = protocols.protocol_truth(dataset, truth)[:len(frames)]
        results[dataset], estimates = {}, {}
        for method in args.methods:
            estimates[method], ms_per_frame = runner.run(method, frames, protocols.RATE_HZ,
                                                         pose2sim_input)
            entry = metrics.mpjpe_summary(estimates[method], expected, COCO17_JOINTS)
            entry['ms_per_frame'] = ms_per_frame
            if method in ('skelsplat_smooth', 'skelsplat_lag6'):
                entry['smoothing_ms_per_frame'] = runner.smoothing_ms(method, frames,
                                                                      protocols.RATE_HZ)
            results[dataset][method] = entry
            mean = entry['mean_mm']
            log(f'[{time.perf_counter() - started:6.1f} s] {dataset:>9} {method:<20} '
                f'MPJPE {mean if mean is not None else float("nan"):8.2f} mm  '
                f'coverage {entry["coverage"]:.3f}  {ms_per_frame:8.1f} ms/frame')
        for method, common_mean in metrics.common_means(estimates, expected).items():
            results[dataset][method]['common_mean_mm'] = common_mean

    seeds = _other_seeds(runner, args, datasets, (cameras, motion, truth), results, started)
    oracle = _per_seed(runner, [method for method in ORACLE_METHODS if method in args.methods],
                       [dataset for dataset in datasets if dataset in OUTLIER_PROTOCOLS],
                       range(args.seed, args.seed + args.seeds), (cameras, motion, truth),
                       started, oracle=True)

    report = {
        'config': {
            'frames': len(truth), 'datasets': list(datasets), 'methods': list(args.methods),
            'seed': args.seed, 'seeds': list(range(args.seed, args.seed + args.seeds)),
            'scored_joints': scored,
            'min_confidence': peers.MIN_CONFIDENCE,
            'solver': solver_info,
            'protocols': {name: protocols.PROTOCOLS[name] for name in datasets if name != 'real'},
            'real': 'pose2sim 0.4.15 Demo: OpenPose BODY_25B JSON, 4 views, vs '
                    "Balancing_for_IK.trc (Pose2Sim 0.4's own filtered output: agreement "
                    'with its pipeline, not accuracy)',
            'pose2sim': {'package': 'pose2sim==0.10.49', 'venv': str(peers.POSE2SIM_VENV),
                         'steps': 'personAssociation, triangulation, filtering (defaults of '
                                  'Demo_SinglePerson/Config.toml; pose_model BODY_25B on '
                                  'real, COCO_17 on the protocols)',
                         'handle_LR_swap': False, 'undistort_points': False},
            'smoothing_lag': peers.SMOOTHING_LAG,
            'load_average': list(os.getloadavg()),
            'machine': {'cpus': os.cpu_count(), 'torch_threads': _torch_threads(),
                        'python': platform.python_version()},
            'elapsed_s': time.perf_counter() - started,
        },
        'results': results,
        'seeds': seeds,
        'oracle': oracle,
        'targets': evaluate_targets(results, seeds, oracle),
    }
    write_report(report, args.output, 'accuracy', None if args.no_plot else plot)
    return 0


if __name__ == '__main__':
    sys.exit(main())
