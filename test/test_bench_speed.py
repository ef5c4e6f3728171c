# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The speed benchmark: one --quick run of the command, its report's structure and values.

No timing is asserted (that is the benchmark's job); the values checked are the ones that do
not depend on the machine's speed: accuracy, coverage, the synthesised cameras' geometry.
"""

import importlib
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from skelsplat_ros.cameras import load_calibration

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'bench'))
protocols = importlib.import_module('protocols')
speed = importlib.import_module('speed')


@pytest.fixture(scope='module')
def quick_report(data_root, tmp_path_factory):
    output = tmp_path_factory.mktemp('speed')
    command = [sys.executable, str(ROOT / 'bench' / 'speed.py'), '--quick',
               '--data-root', str(data_root), '--output', str(output)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert json.loads((output / 'speed.json').read_text()) == report
    assert (output / 'speed.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    return report


def test_rotated_cameras_see_the_subject_as_the_real_ones_do(data_root):
    cameras = load_calibration(protocols.demo_paths(data_root)['calibration'])
    _, motion, _ = protocols.load_truth(protocols.demo_paths(data_root)['trc'])
    centre = np.nanmean(motion.reshape(-1, 3), axis=0)
    angle = np.radians(30.0)
    turned = speed.rotated_cameras(cameras, centre, angle)
    c, s = np.cos(-angle), np.sin(-angle)
    Rz = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    # The subject turned by -angle about the same axis projects as before.
    subject = motion[0]
    subject_turned = (subject - centre) @ Rz.T + centre
    for real, synthetic in zip(cameras, turned):
        np.testing.assert_allclose(synthetic.project(subject), real.project(subject_turned),
                                   atol=1e-6)
        assert abs(np.linalg.norm(synthetic.center - centre)
                   - np.linalg.norm(real.center - centre)) < 1e-9
    views = speed.view_set(cameras, centre, 16)
    assert len(views) == 16 and len({cam.name for cam in views}) == 16


def test_quick_run_reports_every_section(quick_report):
    config = quick_report['config']
    assert config['quick'] and config['machine']['gpu'] is None
    solver = quick_report['solver']
    assert set(solver) == {'reference', 'fast', 'fast_narrow'}
    # Each configuration's departures from the rendered reference: all at the demo's 60 Hz.
    assert solver['fast']['config'] == {'objective': 'analytic', 'frame_rate': 60.0}
    assert solver['reference']['config'] == {'frame_rate': 60.0}
    for name, entry in solver.items():
        assert list(entry['datasets']) == config['datasets']
        for stats in entry['datasets'].values():
            assert stats['coverage'] == 1.0
            assert 0.0 < stats['median_ms'] <= stats['p95_ms']
            assert stats['iterations_mean'] >= 1
    targets = quick_report['targets']
    assert set(targets['cpu']) == {'fast', 'fast_narrow'}
    for checks in targets['cpu'].values():
        assert {'cpu_median_le_10ms_real', 'cpu_p95_le_20ms_real',
                'mpjpe_within_1mm_real'} <= set(checks['checks'])
        assert checks['all_met'] == all(c['met'] for c in checks['checks'].values())
    assert all(check['measured'] is False for check in targets['cuda'].values())
    scaling = quick_report['scaling']
    for key in ('views', 'people', 'crop_size', 'window', 'iterations', 'warm_start',
                'torch_threads', 'render_step', 'analytic_sigma'):
        assert scaling[key], key
    modes = quick_report['end_to_end']['modes']
    assert [mode['detection_workers'] for mode in modes.values()] == [1, 2, 2]
    assert [mode['max_side'] for mode in modes.values()] == [None, None, 640]
    for mode in modes.values():
        profile = mode['profile_ms_per_group']
        assert profile['detection_sum_over_views'] > 0 and profile['solve'] > 0
        assert mode['rate_hz'] > 0


def test_quick_run_values_are_sane(quick_report):
    solver = quick_report['solver']
    for dataset in quick_report['config']['datasets']:
        reference = solver['reference']['datasets'][dataset]['mean_mm']
        fast = solver['fast']['datasets'][dataset]['mean_mm']
        limit = 60.0 if dataset == 'real' else 25.0
        assert 0.0 < reference < limit and 0.0 < fast < limit, dataset
        assert abs(fast - reference) < 5.0, dataset
    views = {row['views']: row for row in quick_report['scaling']['views']
             if row['config'] == 'reference'}
    # Two views of noisy detections triangulate worse than four.
    assert views[2]['mean_mm'] > views[4]['mean_mm']
    for row in quick_report['scaling']['people']:
        assert row['mean_mm'] < 25.0
        # Fitted together, the people come out as fitted one by one.
        assert ('batched' in row) == (row['config'] == 'reference')
        if 'batched' in row:
            assert row['batched']['mean_mm'] == pytest.approx(row['mean_mm'], abs=1e-6)
    for row in quick_report['scaling']['render_step']:
        side = row['crop_size'] if row['mode'] == 'full_crop' else row['window']
        joints = 1 if row['mode'] == 'full_crop' else 17
        assert row['pixels_per_view'] == joints * side * side
    for mode in quick_report['end_to_end']['modes'].values():
        assert mode['mpjpe_mm_vs_trc'] is None or mode['mpjpe_mm_vs_trc'] < 200.0
