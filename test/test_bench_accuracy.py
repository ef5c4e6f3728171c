# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The accuracy benchmark: its corruption protocols, and one short run of the command."""

import importlib
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from skelsplat_ros.cameras import CameraRig, load_calibration
from skelsplat_ros.triangulation import triangulate_dlt

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'bench'))
metrics = importlib.import_module('metrics')
peers = importlib.import_module('peers')
protocols = importlib.import_module('protocols')

FRAMES = 5
METHODS = ['skelsplat', 'dlt', 'weighted_dlt', 'ransac_dlt', 'anipose_triangulate',
           'anipose_optim']
DATASETS = ['real', 'clean', 'noise', 'outliers', 'bystander']


@pytest.fixture(scope='module')
def demo(data_root):
    paths = protocols.demo_paths(data_root)
    cameras = load_calibration(paths['calibration'])
    truth, motion, _ = protocols.load_truth(paths['trc'])
    return cameras, truth[:20], motion[:20]


def test_truth_scores_the_13_marker_joints_and_synthesises_a_plausible_face(demo):
    _, truth, motion = demo
    scored = np.isfinite(truth).all(axis=2)
    assert scored.sum(axis=1).tolist() == [13] * len(truth)
    assert not scored[:, 1:5].any()
    np.testing.assert_array_equal(motion[scored], truth[scored])
    nose = motion[:, 0]
    for joint in range(1, 5):
        distance = np.linalg.norm(motion[:, joint] - nose, axis=1)
        assert np.all((distance > 0.03) & (distance < 0.16))
    # The left eye and ear are on the side of the left shoulder.
    left = motion[:, 5] - motion[:, 6]
    assert np.all(((motion[:, 3] - motion[:, 4]) * left).sum(axis=1) > 0)
    assert np.all(((motion[:, 1] - motion[:, 2]) * left).sum(axis=1) > 0)


def test_clean_protocol_is_exact_and_protocols_are_deterministic(demo):
    cameras, truth, motion = demo
    clean = protocols.make_protocol('clean', cameras, motion)
    P = CameraRig(cameras).projections
    for frame, expected in zip(clean, truth):
        assert [view.shape for view in frame] == [(1, 17, 3)] * len(cameras)
        points = np.stack([cam.undistort_points(view[0, :, :2])
                           for cam, view in zip(cameras, frame)])
        positions = triangulate_dlt(P, points)
        scored = np.isfinite(expected).all(axis=1)
        assert np.abs(positions[scored] - expected[scored]).max() < 1e-4
    for name in protocols.PROTOCOLS:
        first = protocols.make_protocol(name, cameras, motion, seed=3)
        again = protocols.make_protocol(name, cameras, motion, seed=3)
        other = protocols.make_protocol(name, cameras, motion, seed=4)
        assert all(np.array_equal(a, b) for fa, fb in zip(first, again) for a, b in zip(fa, fb))
        if name != 'clean':
            assert not all(np.array_equal(a, b) for fa, fb in zip(first, other)
                           for a, b in zip(fa, fb))


def test_corruptions_do_what_they_say(demo):
    cameras, _, motion = demo
    exact = protocols.project_motion(cameras, motion)                       # (V, F, J, 2)

    def person(frames):
        return np.stack([[view[np.argmin(np.abs(view[:, :, :2] - exact[v, f]).sum(axis=(1, 2)))]
                          for v, view in enumerate(frame)] for f, frame in enumerate(frames)])

    noise = person(protocols.make_protocol('noise', cameras, motion))      # (F, V, J, 3)
    residual = noise[..., :2] - exact.transpose(1, 0, 2, 3)
    assert 2.0 < residual.std() < 4.0
    assert np.all((noise[..., 2] >= 0.8) & (noise[..., 2] <= 0.95))

    outliers = person(protocols.make_protocol('outliers', cameras, motion))
    moved = np.linalg.norm(outliers[..., :2] - exact.transpose(1, 0, 2, 3), axis=-1) > 40
    assert 0.03 < moved.mean() < 0.15
    assert outliers[..., 2][moved].min() >= 0.85

    bystander = protocols.make_protocol('bystander', cameras, motion)
    counts = np.array([[len(view) for view in frame] for frame in bystander])
    assert (counts[:, 0] == 2).all() and (counts[:, 1:] == 1).all()


@pytest.mark.parametrize('name', ['outliers', 'swaps', 'bystander', 'mixed'])
def test_oracle_input_undoes_every_wrong_detection_and_keeps_the_rest(demo, name):
    cameras, _, motion = demo
    exact = protocols.project_motion(cameras, motion).transpose(1, 0, 2, 3)  # (F, V, J, 2)
    corrupted = protocols.make_protocol(name, cameras, motion, seed=5)
    oracle = protocols.make_protocol(name, cameras, motion, seed=5, oracle=True)
    assert all(len(view) <= 1 for frame in oracle for view in frame)
    wrong = kept = 0
    for f, (frame, frame_oracle) in enumerate(zip(corrupted, oracle)):
        for v, (view, view_oracle) in enumerate(zip(frame, frame_oracle)):
            if not len(view_oracle):
                assert not len(view)            # the view lost the person in both
                continue
            seen = view_oracle[0, :, 2] > 0
            # Only noise is left: 3 px per coordinate stays well within 20 px.
            error = np.linalg.norm(view_oracle[0, :, :2] - exact[f, v], axis=-1)
            assert error[seen].max() < 20.0
            # What the corruption left alone is the same detection in both inputs.
            same = (view == view_oracle[0]).all(axis=-1).any(axis=0) & seen
            kept += int(same.sum())
            wrong += int((view[:, :, 2] > 0).sum() - same.sum())
    assert 0 < wrong < kept


def test_mpjpe_summary_counts_gaps_in_coverage():
    truth = np.zeros((2, 3, 3))
    truth[:, 2] = np.nan                                       # an unscored joint
    estimate = np.zeros((2, 3, 3))
    estimate[0, 0] = [0.003, 0.004, 0.0]                       # 5 mm
    estimate[1, 1] = np.nan                                    # a gap
    summary = metrics.mpjpe_summary(estimate, truth, ['a', 'b', 'c'])
    assert summary['coverage'] == pytest.approx(0.75)
    assert summary['mean_mm'] == pytest.approx(5.0 / 3)
    assert summary['median_mm'] == pytest.approx(0.0)
    assert summary['per_joint_mean_mm'] == {'a': pytest.approx(2.5), 'b': pytest.approx(0.0)}
    common = metrics.common_means({'gappy': estimate, 'full': np.zeros((2, 3, 3))}, truth)
    assert common == {'gappy': pytest.approx(5.0 / 3), 'full': pytest.approx(0.0)}


def test_pose2sim_gets_the_real_openpose_files_in_their_own_body_25b_layout(data_root, tmp_path):
    # Pose2Sim tracks the neck to pick each view's person; COCO-17 has none (it then tracks the
    # nose and drops about half the views), so the real row's BODY_25B must reach it intact.
    paths = protocols.demo_paths(data_root)
    frames = peers.read_openpose_frames(paths['keypoints'], 3)
    peers.write_pose2sim_project(tmp_path, paths['calibration'], frames, 'default', 'BODY_25B')
    assert (tmp_path / 'pose_model').read_text().strip() == 'BODY_25B'
    for v, directory in enumerate(paths['keypoints']):
        originals = sorted(directory.glob('*.json'))[:3]
        written = sorted((tmp_path / 'pose' / f'cam{v + 1}_json').glob('*.json'))
        assert len(written) == 3
        for original, copy in zip(originals, written):
            people = [p['pose_keypoints_2d'] for p in json.loads(original.read_text())['people']]
            ours = [p['pose_keypoints_2d'] for p in json.loads(copy.read_text())['people']]
            assert [len(p) for p in ours] == [75] * len(people)
            np.testing.assert_allclose(ours, people, atol=1e-3)
    # The bystander in cam 1 is there for Pose2Sim's person association to reject.
    assert max(len(views[0]) for views in frames) >= 2


@pytest.fixture(scope='module')
def quick_report(data_root, tmp_path_factory):
    output = tmp_path_factory.mktemp('bench')
    command = [sys.executable, str(ROOT / 'bench' / 'accuracy.py'), '--quick',
               '--frames', str(FRAMES), '--data-root', str(data_root), '--output', str(output),
               '--methods', *METHODS, '--datasets', *DATASETS, '--seeds', '2']
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert json.loads((output / 'accuracy.json').read_text()) == report
    assert (output / 'accuracy.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    return report


def test_quick_run_reports_every_method_on_every_dataset(quick_report):
    assert quick_report['config']['frames'] == FRAMES
    assert len(quick_report['config']['scored_joints']) == 13
    assert list(quick_report['results']) == DATASETS
    for dataset, per_method in quick_report['results'].items():
        assert list(per_method) == METHODS
        for entry in per_method.values():
            assert 0.0 < entry['coverage'] <= 1.0
            assert entry['median_mm'] <= entry['p95_mm']
            assert entry['ms_per_frame'] > 0
            assert entry['common_mean_mm'] is not None
            assert set(entry['per_joint_mean_mm']) == set(quick_report['config']['scored_joints'])
    assert 'checks' in quick_report['targets']


def test_targets_are_judged_on_the_mean_over_seeds(quick_report):
    assert quick_report['config']['seeds'] == [0, 1]
    seeds = quick_report['seeds']
    assert list(seeds) == [d for d in DATASETS if d != 'real']
    for dataset, per_method in seeds.items():
        assert list(per_method) == ['skelsplat', 'dlt', 'ransac_dlt', 'anipose_optim']
        for method, means in per_method.items():
            assert means[0] == quick_report['results'][dataset][method]['mean_mm']
            assert len(means) == 2
    # The clean protocol has no randomness to draw; every other one differs between seeds.
    assert seeds['clean']['dlt'][0] == pytest.approx(seeds['clean']['dlt'][1])
    assert seeds['noise']['dlt'][0] != seeds['noise']['dlt'][1]
    check = quick_report['targets']['checks']['b_outliers_le_half_ransac_dlt']
    assert check['value'] == pytest.approx(np.mean(seeds['outliers']['skelsplat']))
    assert check['ransac_dlt_mm'] == pytest.approx(np.mean(seeds['outliers']['ransac_dlt']))


def test_oracle_runs_report_what_the_corruption_cost(quick_report):
    oracle = quick_report['oracle']
    assert list(oracle) == ['outliers', 'bystander']
    for dataset, per_method in oracle.items():
        assert list(per_method) == ['skelsplat', 'ransac_dlt']
        for method, means in per_method.items():
            assert len(means) == 2
            check = quick_report['targets']['checks'][f'b_{dataset}_le_half_ransac_dlt']
            assert check[f'{method}_oracle_mm'] == pytest.approx(np.mean(means))
    # DLT-based: the displaced detections cost RANSAC-DLT more than removing them would.
    assert np.mean(oracle['outliers']['ransac_dlt']) < np.mean(
        quick_report['seeds']['outliers']['ransac_dlt'])


def test_quick_run_values_are_sane(quick_report):
    results = quick_report['results']
    clean = results['clean']
    for method in ('dlt', 'weighted_dlt', 'ransac_dlt', 'anipose_triangulate'):
        assert clean[method]['mean_mm'] < 1.0, method
        assert clean[method]['coverage'] == 1.0
    assert abs(clean['anipose_triangulate']['mean_mm'] - clean['dlt']['mean_mm']) < 0.1
    assert 1.0 < results['noise']['dlt']['mean_mm'] < 20.0
    assert results['outliers']['ransac_dlt']['mean_mm'] < results['outliers']['dlt']['mean_mm']
    assert results['bystander']['ransac_dlt']['mean_mm'] < 0.5 * \
        results['bystander']['dlt']['mean_mm']
    assert 15.0 < results['real']['dlt']['mean_mm'] < 60.0
    for dataset, per_method in results.items():
        assert per_method['skelsplat']['coverage'] == 1.0, dataset
        assert per_method['skelsplat']['mean_mm'] < 100.0, dataset
