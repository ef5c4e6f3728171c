# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``skelsplat solve``: the pose2sim OpenPose JSON in, poses out; clear errors on bad input."""

import shutil

import numpy as np
import pytest
from skelsplat_ros.cli import main
from skelsplat_ros.fileio.trc import read_trc
from skelsplat_ros.skeletons import COCO17, COCO17_JOINTS, HALPE26, trc_correspondence

FRAMES = 12


@pytest.fixture(scope='module')
def trial(data_root):
    demo = data_root / 'pose2sim-0.4.15' / 'Pose2Sim' / 'Demo'
    return (demo / 'calibration' / 'Calib_qualisys.toml',
            [demo / 'pose' / f'cam{i}_json' for i in range(1, 5)],
            demo / 'opensim' / 'Balancing_for_IK.trc')


def _solve(calibration, dirs, output, *extra):
    return main(['solve', '--calibration', str(calibration), '--keypoints', *map(str, dirs),
                 '--keypoint-format', 'body25b', '--output', str(output), '--quiet', *extra])


def _joint_errors_mm(positions, trc_path, skeleton):
    """Errors (F, M) of the M joints the .trc marks, and their names."""
    names, markers, _ = read_trc(trc_path)
    marker_index, joint_index = trc_correspondence(names, skeleton)
    truth = markers[:len(positions), marker_index][..., [2, 0, 1]]   # OpenSim Y-up -> Z-up
    errors = 1000 * np.linalg.norm(positions[:, joint_index] - truth, axis=-1)
    return errors, [skeleton.joint_names[j] for j in joint_index]


def _mpjpe_mm(positions, trc_path):
    return np.nanmean(_joint_errors_mm(positions, trc_path, COCO17)[0])


def test_npz_csv_and_trc_outputs(trial, tmp_path):
    calibration, dirs, trc = trial
    assert _solve(calibration, dirs, tmp_path / 'poses.npz', '--frames', str(FRAMES)) == 0
    result = np.load(tmp_path / 'poses.npz')
    assert result['positions'].shape == (FRAMES, 17, 3)
    assert result['confidence'].shape == (FRAMES, 17)
    assert tuple(result['joint_names']) == COCO17_JOINTS
    assert _mpjpe_mm(result['positions'], trc) < 40.0
    assert ((result['confidence'] >= 0) & (result['confidence'] <= 1)).all()

    assert _solve(calibration, dirs, tmp_path / 'poses.trc', '--frames', str(FRAMES)) == 0
    names, markers, rate = read_trc(tmp_path / 'poses.trc')
    assert tuple(names) == COCO17_JOINTS and rate == 60.0
    np.testing.assert_allclose(markers, result['positions'], atol=1e-5)

    assert _solve(calibration, dirs, tmp_path / 'poses.csv', '--frames', str(FRAMES)) == 0
    rows = (tmp_path / 'poses.csv').read_text().splitlines()
    assert len(rows) == FRAMES + 1 and 'left_wrist_x' in rows[0]


def test_methods_share_the_contract(trial, tmp_path):
    calibration, dirs, trc = trial
    for method in ('dlt', 'ransac'):
        output = tmp_path / f'{method}.npz'
        assert _solve(calibration, dirs, output, '--frames', '5', '--method', method) == 0
        assert np.load(output)['positions'].shape == (5, 17, 3)


def test_halpe26_locates_the_feet_of_body25b_input(trial, tmp_path):
    """BODY_25B's feet, neck and head top reach HALPE-26 by name and are scored on the .trc."""
    calibration, dirs, trc = trial
    output = tmp_path / 'halpe.trc'
    assert _solve(calibration, dirs, output, '--skeleton', 'halpe26', '--objective',
                  'analytic', '--frames', '30') == 0
    names, positions, rate = read_trc(output)
    assert tuple(names) == HALPE26.joint_names and positions.shape == (30, 26, 3)
    errors, scored = _joint_errors_mm(positions, trc, HALPE26)
    feet = [name for name in scored if name.endswith(('_heel', '_toe'))]
    assert len(feet) == 6 and {'neck', 'head'} <= set(scored)
    by_name = dict(zip(scored, errors.T))
    for name in feet + ['neck', 'head']:
        assert np.isfinite(by_name[name]).all(), name      # located in every frame
        # About 7-16 mm on average (the 13 COCO joints: 8-19 mm), never far off.
        assert np.mean(by_name[name]) < 30 and np.max(by_name[name]) < 60, name
    assert np.nanmean(errors) < 25
    # BODY_25B has no pelvis point: HALPE's hip is never seen, so it stays unknown.
    assert np.isnan(positions[:, HALPE26.joint_names.index('hip')]).all()


def test_multi_person_tracks_carry_the_skeleton(trial, tmp_path):
    calibration, dirs, trc = trial
    output = tmp_path / 'people.npz'
    assert _solve(calibration, dirs, output, '--multi-person', '--skeleton', 'halpe26',
                  '--objective', 'analytic', '--frames', '10') == 0
    result = np.load(output)
    people = len(result['track_ids'])
    assert people >= 1 and result['positions'].shape == (10, people, 26, 3)
    assert result['confidence'].shape == (10, people, 26)
    assert tuple(result['joint_names']) == HALPE26.joint_names
    # The subject is the track closest to the .trc; its feet are located while it is tracked
    # (a track is confirmed after a few frames).
    errors = [np.nanmean(_joint_errors_mm(result['positions'][:, t], trc, HALPE26)[0])
              for t in range(people)]
    subject = result['positions'][:, int(np.argmin(errors))]
    assert min(errors) < 30
    tracked = np.isfinite(subject).all(axis=-1).any(axis=-1)
    feet = [HALPE26.joint_names.index(f'{side}_{part}') for side in ('left', 'right')
            for part in ('heel', 'big_toe', 'small_toe')]
    assert tracked.sum() >= 5 and np.isfinite(subject[tracked][:, feet]).all()


def _one_line_error(capsys, needle):
    error = capsys.readouterr().err.strip()
    assert error.count('\n') == 0 and error.startswith('skelsplat solve: error:')
    assert needle in error


def test_bad_input_is_one_line_and_exit_2(trial, tmp_path, capsys):
    calibration, dirs, _ = trial
    output = tmp_path / 'out.npz'
    assert _solve(calibration, [*dirs[:3], tmp_path / 'missing'], output) == 2
    _one_line_error(capsys, 'missing')

    assert _solve(calibration, dirs[:3], output) == 2
    _one_line_error(capsys, 'calibration has 4 cameras')

    short = tmp_path / 'short'
    short.mkdir()
    for path in sorted(dirs[3].glob('*.json'))[:10]:
        shutil.copy(path, short)
    assert _solve(calibration, [*dirs[:3], short], output) == 2
    _one_line_error(capsys, 'unequal frame counts')

    broken = tmp_path / 'broken'
    shutil.copytree(dirs[3], broken)
    sorted(broken.glob('*.json'))[4].write_text('{"people": [{"pose_keypoints_2d": [1, 2')
    assert _solve(calibration, [*dirs[:3], broken], output) == 2
    _one_line_error(capsys, 'cannot read OpenPose JSON')

    assert _solve(calibration, dirs, tmp_path / 'out.txt') == 2
    _one_line_error(capsys, 'output must end in')

    assert _solve(calibration, dirs, output, '--objective', 'newton') == 2
    _one_line_error(capsys, 'newton')
    assert not output.exists()


def test_smooth_revises_the_causal_output_with_later_frames(trial, tmp_path):
    calibration, dirs, _ = trial
    assert _solve(calibration, dirs, tmp_path / 'causal.npz', '--frames', str(FRAMES)) == 0
    assert _solve(calibration, dirs, tmp_path / 'smooth.npz', '--frames', str(FRAMES),
                  '--smooth') == 0
    causal, smooth = np.load(tmp_path / 'causal.npz'), np.load(tmp_path / 'smooth.npz')
    located = np.isfinite(causal['positions']).all(axis=-1)
    np.testing.assert_array_equal(np.isfinite(smooth['positions']).all(axis=-1), located)
    moved = np.linalg.norm(smooth['positions'] - causal['positions'], axis=-1)[located]
    # Revised by a few millimetres, not moved elsewhere.
    assert 1e-4 < np.median(moved) < 0.02


def test_smooth_needs_the_motion_filter(trial, tmp_path, capsys):
    calibration, dirs, _ = trial
    for extra in (['--per-frame'], ['--method', 'dlt'], ['--multi-person']):
        assert _solve(calibration, dirs, tmp_path / 'out.npz', '--smooth', *extra) == 2
        assert '--smooth needs --method skelsplat' in capsys.readouterr().err
