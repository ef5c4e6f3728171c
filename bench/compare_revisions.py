# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The solver section of the speed benchmark for two revisions side by side, in one run.

    python bench/compare_revisions.py --baseline REV [--rounds 2] [--frames N]
                                      [--output bench/results]

A refactoring must keep the solver's speed and accuracy.  Timings taken on different days or
under different load cannot tell that, so this runs ``bench/speed.py --sections solver`` of
the baseline revision (extracted with ``git archive`` into a temporary folder) and of the
working tree alternately, ``--rounds`` times each, the order swapped every round so that a
drift in the machine's load hits both alike.  Each run imports its own revision's
``skelsplat_ros`` (its folder first on ``PYTHONPATH``).  Per configuration and dataset it
reports the median over the rounds of the per-frame median wall time and of the mean process
CPU time, the ratios current / baseline, and both MPJPEs.  CPU time is the steadier of the two
on a machine that other work shares; the load average of every run is recorded.

Writes ``speed_compare.json`` (also printed on stdout) into the output directory; progress
goes to stderr.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
from report import log, write_report

ROOT = pathlib.Path(__file__).resolve().parents[1]


def build_parser():
    """Build the argument parser of the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--baseline', required=True, help='git revision to compare with')
    parser.add_argument('--rounds', type=int, default=2, help='runs of each revision')
    parser.add_argument('--frames', type=int, default=0,
                        help='frames per dataset (default: all 100)')
    parser.add_argument('--output', default='bench/results', help='directory for the results')
    return parser


def _extract(revision, folder):
    """Write the tree of ``revision`` into ``folder``; return its full commit hash."""
    commit = subprocess.run(['git', '-C', str(ROOT), 'rev-parse', '--verify',
                             f'{revision}^{{commit}}'], check=True, capture_output=True,
                            text=True).stdout.strip()
    archive = subprocess.Popen(['git', '-C', str(ROOT), 'archive', commit],
                               stdout=subprocess.PIPE)
    subprocess.run(['tar', '-x', '-C', str(folder)], stdin=archive.stdout, check=True)
    if archive.wait():
        raise SystemExit(f'git archive {revision} failed')
    return commit


def _run_solver_section(tree, frames, output):
    """Run ``tree``'s speed benchmark, solver section, importing ``tree``'s package."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([str(tree)] + [p for p in
                                                       env.get('PYTHONPATH', '').split(os.pathsep)
                                                       if p])
    command = [sys.executable, str(tree / 'bench' / 'speed.py'), '--sections', 'solver',
               '--no-plot', '--output', str(output)]
    if frames:
        command += ['--frames', str(frames)]
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return json.loads((output / 'speed.json').read_text())


def _side_by_side(runs):
    """Per configuration and dataset: median times and MPJPE of both revisions."""
    table = {}
    first = runs['baseline'][0]['solver']
    for config, rows in first.items():
        for dataset in rows['datasets']:
            entry = {}
            for label, reports in runs.items():
                values = [report['solver'][config]['datasets'][dataset] for report in reports]
                entry[label] = {
                    'median_ms': float(np.median([v['median_ms'] for v in values])),
                    'p95_ms': float(np.median([v['p95_ms'] for v in values])),
                    'cpu_mean_ms': float(np.median([v['cpu_mean_ms'] for v in values])),
                    'mean_mm': values[0]['mean_mm']}
            entry['time_ratio'] = entry['current']['median_ms'] / entry['baseline']['median_ms']
            entry['cpu_ratio'] = (entry['current']['cpu_mean_ms']
                                  / entry['baseline']['cpu_mean_ms'])
            entry['mpjpe_difference_mm'] = (entry['current']['mean_mm']
                                            - entry['baseline']['mean_mm'])
            table.setdefault(config, {})[dataset] = entry
    return table


def main(argv=None):
    """Run both revisions alternately and write the comparison."""
    args = build_parser().parse_args(argv)
    with tempfile.TemporaryDirectory(prefix='skelsplat-baseline-') as scratch:
        scratch = pathlib.Path(scratch)
        baseline = scratch / 'tree'
        baseline.mkdir()
        commit = _extract(args.baseline, baseline)
        trees = {'baseline': baseline, 'current': ROOT}
        runs = {'baseline': [], 'current': []}
        for round_index in range(args.rounds):
            order = ('baseline', 'current') if round_index % 2 == 0 else ('current', 'baseline')
            for label in order:
                log(f'round {round_index + 1}/{args.rounds}: {label}')
                result = scratch / f'{label}-{round_index}'
                result.mkdir()
                runs[label].append(_run_solver_section(trees[label], args.frames, result))
    table = _side_by_side(runs)
    ratios = {kind: [entry[kind] for rows in table.values() for entry in rows.values()]
              for kind in ('time_ratio', 'cpu_ratio')}
    report = {
        'config': {'baseline': commit, 'rounds': args.rounds,
                   'frames': runs['current'][0]['config']['frames'],
                   'solver_sha1': {label: reports[0]['config']['solver_sha1']
                                   for label, reports in runs.items()}},
        'load_average': {label: [report['config']['load_average'] for report in reports]
                         for label, reports in runs.items()},
        'solver': table,
        'summary': {f'{kind}_{what}': value for kind, values in ratios.items()
                    for what, value in (('median', float(np.median(values))),
                                        ('range', [float(min(values)), float(max(values))]))}}
    write_report(report, args.output, 'speed_compare')


if __name__ == '__main__':
    main()
