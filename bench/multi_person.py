# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Multi-person benchmark: several people at once in the real 4-camera rig (one command).

    python bench/multi_person.py --output bench/results [--frames N] [--people 2 3 5] [--quick]

Scenes (:mod:`scenes`): N copies of pose2sim's demo ``.trc`` motion, placed at random (seeded)
apart from each other, turned and time-offset, some walking out of the cameras' views and back;
projected through the real calibration with occlusion between people (and confusions: an
occluded joint detected on the occluder), 2.5 px pixel noise, confidences 0.7-0.95, shuffled
detections.  Every method sees the same frames in the same run:

- ``skelsplat``: :class:`skelsplat_ros.tracking.MultiPersonTracker` with the reference solver
  (``SolverConfig(objective='rendered')``);
- ``skelsplat_analytic``: the same with the fast solver (``objective='analytic'``);
- ``greedy``: :class:`peers.GreedyMultiPerson`, greedy epipolar matching to the view with the
  most people, weighted DLT, nearest-centre id linking (a plain baseline).

Scoring, per frame: estimated people are matched to true people by the Hungarian method on the
mean distance over the scored joints, up to ``--gate`` metres.  A true person is *visible* when
at least two views detect :data:`scenes.MIN_VISIBLE_JOINTS` of its joints (occlusion
considered).  Per true person, over its matched frames and the 13 scored joints, MPJPE in mm
(mean, median, 95th percentile, and coverage: the fraction of those joints located) of:

- every joint the method reports (``mean_mm``...): SkelSplat also reports joints that one view
  sees, at a guessed depth, where a DLT reports nothing;
- ``seen_twice``: the joints that at least two views truly detect (confusions not counted);
- ``common_mean_mm``: the joint-frames that every method located, for equal terms.

Id switches: a true person's matched id differs from its previous matched id.  Per frame and
totalled: false people (estimates matched to nobody) and missed people (visible, matched to no
estimate).  The tracker reports a person at once when its association is unambiguous, and
after ``birth_frames`` matched frames when another grouping of its detections was possible,
so some of a person's first ``birth_frames - 1`` visible frames may be missed by design:
``missed_after_birth`` leaves those out (for every method alike).  Times are wall-clock per
frame on this machine, after an untimed warm-up per method.  Writes ``multi_person.json``
(also printed on stdout) and ``multi_person.png`` into the output directory; progress goes to
stderr.
"""

import argparse
import dataclasses
import os
import pathlib
import platform
import sys
import time

import numpy as np
import peers
import protocols
from report import default_data_root, log, source_sha1, write_report
import scenes
from scipy.optimize import linear_sum_assignment
from skelsplat_ros import association, solver, tracking
from skelsplat_ros.skeletons import COCO17_JOINTS
from skelsplat_ros.tracking import MultiPersonTracker, TrackerConfig

METHODS = ('skelsplat', 'skelsplat_analytic', 'greedy')
# The scenes play the demo's motion at its frame rate.
SOLVER_CONFIGS = {'skelsplat': solver.SolverConfig(objective='rendered',
                                                   frame_rate=protocols.RATE_HZ),
                  'skelsplat_analytic': solver.SolverConfig(objective='analytic',
                                                            frame_rate=protocols.RATE_HZ)}
DEFAULT_PEOPLE = (2, 3, 5)
DEFAULT_FRAMES = 100
QUICK_FRAMES = 30
QUICK_PEOPLE = (2, 3)
CONFUSION_RATE = 0.3
WARM_UP_FRAMES = 3


def build_parser():
    """Build the argument parser of the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--output', default='bench/results', help='directory for the results')
    parser.add_argument('--frames', type=int, default=0,
                        help=f'frames per scene (default {DEFAULT_FRAMES}; {QUICK_FRAMES} with '
                             '--quick)')
    parser.add_argument('--people', type=int, nargs='+', default=None,
                        help='people per scene, one scene each (default '
                             f'{" ".join(map(str, DEFAULT_PEOPLE))}; with --quick '
                             f'{" ".join(map(str, QUICK_PEOPLE))})')
    parser.add_argument('--methods', nargs='+', choices=METHODS, default=METHODS)
    parser.add_argument('--quick', action='store_true', help='fewer frames and scenes')
    parser.add_argument('--seed', type=int, default=0, help='seed of the scenes')
    parser.add_argument('--gate', type=float, default=0.5,
                        help='largest mean joint distance of a match to a true person, metres')
    parser.add_argument('--confusion-rate', type=float, default=CONFUSION_RATE,
                        help='fraction of occluded joints detected on the occluder')
    parser.add_argument('--data-root', type=pathlib.Path, default=default_data_root(),
                        help='the real data (default $SKELSPLAT_DATA or ~/.cache/...)')
    parser.add_argument('--no-plot', action='store_true', help='skip multi_person.png')
    return parser


def make_method(method, cameras):
    """Return ``views -> [(id, positions (17, 3))]`` for a fresh instance of ``method``."""
    if method == 'greedy':
        return peers.GreedyMultiPerson(cameras).update
    tracker = MultiPersonTracker(cameras, SOLVER_CONFIGS[method])

    def update(views):
        return [(track_id, estimate.positions) for track_id, estimate in tracker.update(views)]
    return update


def run_method(method, cameras, frames):
    """Run ``method`` on every frame: its outputs and its milliseconds per frame."""
    warm_up = make_method(method, cameras)
    for frame in frames[:WARM_UP_FRAMES]:
        warm_up(frame.views)
    update = make_method(method, cameras)
    start = time.perf_counter()
    outputs = [update(frame.views) for frame in frames]
    return outputs, 1000.0 * (time.perf_counter() - start) / len(frames)


def match_people(estimates, truths, gate_m):
    """Pair estimates with true people: {estimate index: true person index}.

    ``estimates`` (E, J, 3) and ``truths`` (N, J, 3) with NaN where unknown; the cost is the
    mean distance over the joints known in both, and pairs costing more than ``gate_m`` (or
    sharing no joint) are not matched.
    """
    if not len(estimates) or not len(truths):
        return {}
    with np.errstate(invalid='ignore'):
        distance = np.linalg.norm(estimates[:, None] - truths[None], axis=-1)     # (E, N, J)
    known = np.isfinite(distance)
    with np.errstate(invalid='ignore', divide='ignore'):
        cost = np.where(known, distance, 0.0).sum(axis=-1) / known.sum(axis=-1)
    cost = np.where(known.any(axis=-1), cost, np.inf)
    bounded = np.where(cost <= gate_m, cost, 1e6)
    rows, cols = linear_sum_assignment(bounded)
    return {int(r): int(c) for r, c in zip(rows, cols) if bounded[r, c] < 1e6}


def _statistics(errors, scored):
    """Mean, median and p95 of the finite ``errors`` (mm) where ``scored``, and coverage.

    ``scored`` is a boolean array of the shape of ``errors``; coverage is the share of its
    joints that have a finite error.
    """
    errors = errors[scored & np.isfinite(errors)]
    coverage = float(errors.size / scored.sum()) if scored.any() else None
    if not errors.size:
        return {'mean_mm': None, 'median_mm': None, 'p95_mm': None, 'coverage': coverage}
    return {'mean_mm': float(np.mean(errors)), 'median_mm': float(np.median(errors)),
            'p95_mm': float(np.percentile(errors, 95)), 'coverage': coverage}


def score(scene, frames, outputs, gate_m, birth_frames):
    """Score one method's ``outputs`` on a scene.

    Returns a JSON-ready dict and the joint errors (F, N, 17) in mm, NaN where the true person
    was not matched, the joint is not scored, or the method did not locate it.
    """
    num_people = len(scene.people)
    truths = np.array([[scene.truth_at(p, f) for p in range(num_people)]
                       for f in range(len(frames))])                          # (F, N, J, 3)
    scored = np.isfinite(truths).all(axis=-1)
    visible = np.array([[frame.visible(p) for p in range(num_people)] for frame in frames])
    # The joints that two views truly detect, which any method could locate.
    seen_twice = scored & np.array([[frame.triangulable(p) for p in range(num_people)]
                                    for frame in frames])
    errors = np.full(scored.shape, np.nan)
    ids = np.full(visible.shape, -1)                   # matched estimate's id, -1: unmatched
    false_per_frame = []
    for f, output in enumerate(outputs):
        estimates = np.array([positions for _, positions in output]).reshape(
            -1, *truths.shape[2:])
        pairs = match_people(estimates, truths[f], gate_m)
        for e, p in pairs.items():
            ids[f, p] = output[e][0]
            errors[f, p] = 1000.0 * np.linalg.norm(estimates[e] - truths[f, p], axis=-1)
        false_per_frame.append(len(output) - len(pairs))
    errors[~scored] = np.nan
    matched = ids >= 0
    missed = visible & ~matched
    # A person's first birth_frames - 1 visible frames: a tracker cannot report it yet.
    at_birth = visible & (np.cumsum(visible, axis=0) < birth_frames)

    people = []
    for p in range(num_people):
        ids_seen = ids[matched[:, p], p]
        entry = _statistics(errors[matched[:, p], p], scored[matched[:, p], p])
        entry['seen_twice'] = _statistics(np.where(seen_twice, errors, np.nan)[matched[:, p], p],
                                          seen_twice[matched[:, p], p])
        entry.update({
            'visible_frames': int(visible[:, p].sum()),
            'matched_frames': int(matched[:, p].sum()), 'missed': int(missed[:, p].sum()),
            'missed_after_birth': int((missed[:, p] & ~at_birth[:, p]).sum()),
            'id_switches': int((ids_seen[1:] != ids_seen[:-1]).sum()),
            'ids': sorted(set(ids_seen.tolist())),
        })
        people.append(entry)
    result = _statistics(errors[matched], scored[matched])
    result['seen_twice'] = _statistics(np.where(seen_twice, errors, np.nan)[matched],
                                       seen_twice[matched])
    result.update({
        'false_people': int(sum(false_per_frame)), 'missed_people': int(missed.sum()),
        'missed_after_birth': int((missed & ~at_birth).sum()),
        'id_switches': sum(entry['id_switches'] for entry in people),
        'distinct_ids': len({track_id for output in outputs for track_id, _ in output}),
        'false_per_frame': false_per_frame, 'missed_per_frame': missed.sum(axis=1).tolist(),
        'people': people,
    })
    return result, errors


def add_common_means(entries, errors):
    """Give each method's entry its mean over the joint-frames that every method located.

    ``entries`` and ``errors`` map methods to :func:`score`'s dict and (F, N, J) errors; sets
    ``common_mean_mm`` overall and per person (None where no joint is common).
    """
    common = np.logical_and.reduce([np.isfinite(e) for e in errors.values()])
    for method, entry in entries.items():
        entry['common_mean_mm'] = _mean_or_none(errors[method][common])
        for p, person in enumerate(entry['people']):
            person['common_mean_mm'] = _mean_or_none(errors[method][:, p][common[:, p]])


def _mean_or_none(values):
    return float(values.mean()) if values.size else None


def make_scene(cameras, truth, motion, num_people, num_frames, seed, confusion_rate):
    """Make the seeded scene of ``num_people`` and its frames (:class:`scenes.SceneFrame`)."""
    rng = np.random.default_rng([seed, num_people])
    scene = scenes.random_scene(cameras, truth, motion, num_people, num_frames, rng,
                                confusion_rate=confusion_rate)
    return scene, [scene.frame(f, rng) for f in range(num_frames)]


def describe_scene(scene, frames):
    """JSON-ready summary of a scene: its people and what the views saw of them."""
    visible = np.array([[frame.visible(p) for p in range(len(scene.people))]
                        for frame in frames])
    detections = np.array([[len(view) for view in frame.views] for frame in frames])
    return {
        'num_people': len(scene.people),
        'frames': len(frames),
        'layout': [person.to_dict() for person in scene.people],
        'visible_frames': visible.sum(axis=0).tolist(),
        'visible_person_frames': int(visible.sum()),
        'detections_per_view_mean': detections.mean(axis=0).round(2).tolist(),
        'hidden_joints': int(sum(frame.hidden for frame in frames)),
        'confused_joints': int(sum(frame.confusions for frame in frames)),
    }


def plot(report, path):
    """Plot MPJPE per person, id switches, false and missed people, and time, per scene."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    results = report['results']
    methods = report['config']['methods']
    scene_names = list(results)
    colours = {m: plt.get_cmap('tab10')(i) for i, m in enumerate(methods)}
    figure, axes = plt.subplots(2, 2, figsize=(15, 10), gridspec_kw={'width_ratios': [3, 2]})
    width = 0.8 / len(methods)

    def offset(m):
        return (m - (len(methods) - 1) / 2) * width

    # MPJPE per true person: bars on the joints every method located, dots on all reported.
    ax = axes[0, 0]
    labels, ticks, position = [], [], 0.0
    for name in scene_names:
        for p in range(results[name]['scene']['num_people']):
            for m, method in enumerate(methods):
                person = results[name]['methods'][method]['people'][p]
                first = (name, p) == (scene_names[0], 0)
                common, everything = person['common_mean_mm'], person['mean_mm']
                ax.bar(position + offset(m), np.nan if common is None else common, width,
                       color=colours[method], label=method if first else None)
                ax.plot(position + offset(m), np.nan if everything is None else everything,
                        'o', color='black', markersize=4,
                        label='every joint reported' if first and m == 0 else None)
            ticks.append(position)
            labels.append(f'{name.split("_")[0]} people\nperson {p}')
            position += 1.0
        position += 0.5
    ax.set_xticks(ticks, labels, fontsize=7)
    _plain_log_axis(ax)
    ax.set_ylabel('MPJPE, mean (mm, log scale)')
    ax.set_title('MPJPE per true person: bars on the joint-frames every method located,\n'
                 'dots on every joint the method reported (one-view joints included)',
                 fontsize=10)
    ax.grid(axis='y', which='both', alpha=0.3)
    ax.legend(fontsize=8)

    def grouped(ax, key, fmt):
        for m, method in enumerate(methods):
            values = [results[n]['methods'][method][key] for n in scene_names]
            bars = ax.bar(np.arange(len(scene_names)) + offset(m), values, width,
                          color=colours[method], label=method)
            ax.bar_label(bars, fmt=fmt, fontsize=8)
        ax.set_xticks(np.arange(len(scene_names)), [n.replace('_', ' ') for n in scene_names])
        ax.grid(axis='y', alpha=0.3)

    grouped(axes[0, 1], 'id_switches', '%d')
    axes[0, 1].set_title('Id switches (all true people)', fontsize=10)
    axes[0, 1].set_ylabel('switches')
    axes[0, 1].set_ylim(top=1.15 * max(1, axes[0, 1].get_ylim()[1]))

    # False and missed people; the missed part during the birth delay hatched on top.
    ax = axes[1, 0]
    for m, method in enumerate(methods):
        entries = [results[n]['methods'][method] for n in scene_names]
        x = np.arange(len(scene_names)) * 2.5 + offset(m)
        bars = ax.bar(x, [e['false_people'] for e in entries], width, color=colours[method])
        ax.bar_label(bars, fontsize=8)
        after = np.array([e['missed_after_birth'] for e in entries])
        birth = np.array([e['missed_people'] for e in entries]) - after
        ax.bar(x + 1, after, width, color=colours[method], label=method)
        bars = ax.bar(x + 1, birth, width, bottom=after, color=colours[method], alpha=0.35,
                      hatch='//', edgecolor='white')
        ax.bar_label(bars, labels=[f'{a}+{b}' if b else f'{a}' for a, b in zip(after, birth)],
                     fontsize=7)
    ax.set_xticks([2.5 * i + k for i in range(len(scene_names)) for k in (0, 1)],
                  [f'{n.split("_")[0]} people\n{kind}' for n in scene_names
                   for kind in ('false', 'missed')], fontsize=8)
    ax.set_ylabel('person-frames')
    ax.set_title('False and missed people over all frames; missed = after birth + during the '
                 'birth delay (hatched)', fontsize=10)
    ax.grid(axis='y', alpha=0.3)
    ax.set_ylim(top=1.12 * max(1, ax.get_ylim()[1]))
    ax.legend(fontsize=8)

    grouped(axes[1, 1], 'ms_per_frame', '%.1f')
    _plain_log_axis(axes[1, 1])
    axes[1, 1].set_title('Time per frame (this machine, one thread)', fontsize=10)
    axes[1, 1].set_ylabel('ms per frame')
    config = report['config']
    figure.suptitle(f'Several people (synthetic): {config["frames"]} frames per scene, '
                    f'pose2sim\'s 4 cameras, {config["noise_px"]:g} px noise, occlusion, '
                    f'{config["confusion_rate"]:.0%} of occluded joints confused')
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _plain_log_axis(ax):
    """Log y axis with plain numbers at 1, 2, 5, 10, 20, ... (no minor labels)."""
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    ax.set_yscale('log')
    low, high = ax.get_ylim()
    ticks = [m * 10.0 ** e for e in range(-1, 5) for m in (1, 2, 5)]
    ax.set_yticks([t for t in ticks if low <= t <= high])
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_ylim(low, high)


def _torch_threads():
    import torch
    return torch.get_num_threads()


def main(argv=None):
    """Run the benchmark; returns the exit status."""
    args = build_parser().parse_args(argv)
    num_frames = args.frames or (QUICK_FRAMES if args.quick else DEFAULT_FRAMES)
    people_counts = args.people or (QUICK_PEOPLE if args.quick else DEFAULT_PEOPLE)
    demo = protocols.load_demo_or_explain('multi_person', args.data_root)
    if demo is None:
        return 2
    cameras, truth, motion = demo
    scored = [COCO17_JOINTS[j] for j in np.flatnonzero(np.isfinite(truth[0]).all(axis=1))]
    birth_frames = TrackerConfig().birth_frames

    results = {}
    started = time.perf_counter()
    for num_people in people_counts:
        name = f'{num_people}_people'
        scene, frames = make_scene(cameras, truth, motion, num_people, num_frames, args.seed,
                                   args.confusion_rate)
        results[name] = {'scene': describe_scene(scene, frames), 'methods': {}}
        log(f'[{time.perf_counter() - started:6.1f} s] {name}: '
            f'{results[name]["scene"]["visible_person_frames"]} visible person-frames, '
            f'{results[name]["scene"]["hidden_joints"]} occluded joints')
        errors = {}
        for method in args.methods:
            outputs, ms_per_frame = run_method(method, cameras, frames)
            entry, errors[method] = score(scene, frames, outputs, args.gate, birth_frames)
            entry['ms_per_frame'] = ms_per_frame
            results[name]['methods'][method] = entry
            mean = entry['mean_mm']
            twice = entry['seen_twice']['mean_mm']
            log(f'[{time.perf_counter() - started:6.1f} s] {name:>9} {method:<19} '
                f'MPJPE {mean if mean is not None else float("nan"):6.1f} mm '
                f'(seen twice {twice if twice is not None else float("nan"):5.1f})  '
                f'switches {entry["id_switches"]:3d}  false {entry["false_people"]:4d}  '
                f'missed {entry["missed_people"]:4d} ({entry["missed_after_birth"]} after '
                f'birth)  {ms_per_frame:7.1f} ms/frame')
        add_common_means(results[name]['methods'], errors)

    report = {
        'config': {
            'frames': num_frames, 'people': list(people_counts), 'methods': list(args.methods),
            'seed': args.seed, 'gate_m': args.gate, 'scored_joints': scored,
            'noise_px': scenes.Scene.noise_px, 'confidence': list(scenes.Scene.confidence),
            'confusion_rate': args.confusion_rate, 'body_radius_m': scenes.BODY_RADIUS_M,
            'min_visible_joints': scenes.MIN_VISIBLE_JOINTS, 'birth_frames': birth_frames,
            'tracker': dataclasses.asdict(TrackerConfig()),
            'solvers': {m: dataclasses.asdict(c) for m, c in SOLVER_CONFIGS.items()},
            # Which code produced the numbers: digests of the sources as imported.
            'sha1': {module.__name__: source_sha1(module)
                     for module in (solver, tracking, association)},
            'machine': {'cpus': os.cpu_count(), 'torch_threads': _torch_threads(),
                        'python': platform.python_version()},
            'elapsed_s': time.perf_counter() - started,
        },
        'results': results,
    }
    write_report(report, args.output, 'multi_person', None if args.no_plot else plot)
    return 0


if __name__ == '__main__':
    sys.exit(main())
