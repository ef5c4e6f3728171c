# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``skelsplat videos`` on the first frames of the pose2sim trial, and its input errors."""

import json
import shutil

import cv2
import numpy as np
import pytest
from skelsplat_ros.cli import main
from skelsplat_ros.fileio.trc import read_trc
from skelsplat_ros.skeletons import BLAZEPOSE33, COCO17_JOINTS, trc_correspondence

NUM_FRAMES = 6


@pytest.fixture(scope='module')
def trial(data_root):
    """Calibration, the four videos and the reference .trc of the pose2sim demo."""
    demo = data_root / 'pose2sim-0.4.15/Pose2Sim/Demo'
    videos = data_root / 'pose2sim-0.10.49/Pose2Sim/Demo_SinglePerson/videos'
    return {'calibration': demo / 'calibration/Calib_qualisys.toml',
            'videos': [videos / f'cam0{i}.mp4' for i in range(1, 5)],
            'trc': demo / 'opensim/Balancing_for_IK.trc'}


@pytest.fixture(scope='module')
def run(trial, tmp_path_factory):
    """Run the command once on the first NUM_FRAMES frames; return (status, output dir)."""
    output = tmp_path_factory.mktemp('videos')
    status = main(['videos', '--calibration', str(trial['calibration']),
                   *map(str, trial['videos']), '--output', str(output),
                   '--frames', str(NUM_FRAMES)])
    return status, output


def test_poses_are_written_and_match_the_reference(run, trial):
    status, output = run
    assert status == 0
    saved = np.load(output / 'poses.npz')
    positions = saved['positions']
    assert positions.shape == (NUM_FRAMES, 17, 3)
    assert saved['confidence'].shape == (NUM_FRAMES, 17)
    assert list(saved['joint_names']) == list(COCO17_JOINTS)
    names, markers, _ = read_trc(trial['trc'])
    marker_index, coco_index = trc_correspondence(names)
    truth = markers[:NUM_FRAMES, marker_index][..., [2, 0, 1]]  # OpenSim Y-up -> world Z-up
    error = np.linalg.norm(positions[:, coco_index] - truth, axis=-1)
    assert np.isfinite(error).all()
    # Plain DLT of MediaPipe gets about 94-100 mm on this trial.
    assert 1000 * error.mean() < 150

    trc_names, trc_positions, rate = read_trc(output / 'poses.trc')
    assert trc_names == list(COCO17_JOINTS) and rate == 60
    np.testing.assert_allclose(trc_positions, positions, atol=1e-9)
    header = (output / 'poses.csv').read_text().splitlines()[0].split(',')
    assert header[:4] == ['frame', 'nose_x', 'nose_y', 'nose_z']
    assert len((output / 'poses.csv').read_text().splitlines()) == NUM_FRAMES + 1


def test_pictures_are_written(run):
    _, output = run
    video = cv2.VideoCapture(str(output / 'annotated.mp4'))
    frames = []
    while True:
        ok, image = video.read()
        if not ok:
            break
        frames.append(image)
    assert len(frames) == NUM_FRAMES
    assert frames[0].shape[0] >= 300 and frames[0].shape[1] > 4 * 150
    # The annotation colours are present: orange detections and magenta reprojections.
    pixels = frames[0].reshape(-1, 3).astype(int)
    assert ((pixels[:, 2] > 200) & (pixels[:, 1] > 100) & (pixels[:, 0] < 80)).sum() > 100
    assert ((pixels[:, 2] > 200) & (pixels[:, 1] < 90) & (pixels[:, 0] > 180)).sum() > 100
    summary = cv2.imread(str(output / 'summary.png'))
    assert summary is not None and summary.shape[0] > 1000 and summary.std() > 20


def _fails(capsys, argv, message):
    status = main(argv)
    error = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert error[-1].startswith('skelsplat videos: error: ') and message in error[-1], error


def test_input_errors_are_one_line_and_nonzero(trial, tmp_path, capsys):
    calibration = str(trial['calibration'])
    videos = [str(path) for path in trial['videos']]
    output = str(tmp_path / 'out')
    _fails(capsys, ['videos', '--calibration', calibration, *videos[:3], '--output', output],
           '3 videos given, but the calibration has 4 cameras')
    _fails(capsys, ['videos', '--calibration', calibration, *videos[:3],
                    str(tmp_path / 'missing.mp4'), '--output', output], 'no such video file')
    garbage = tmp_path / 'garbage.mp4'
    garbage.write_bytes(b'not a video at all' * 100)
    _fails(capsys, ['videos', '--calibration', calibration, *videos[:3], str(garbage),
                    '--output', output], 'cannot read video frames')
    _fails(capsys, ['videos', '--calibration', str(tmp_path / 'none.toml'), *videos,
                    '--output', output], 'none.toml')
    small = tmp_path / 'small.avi'
    writer = cv2.VideoWriter(str(small), cv2.VideoWriter_fourcc(*'MJPG'), 10, (320, 320))
    for _ in range(2):
        writer.write(np.full((320, 320, 3), 128, np.uint8))
    writer.release()
    _fails(capsys, ['videos', '--calibration', calibration, *videos[:3], str(small),
                    '--output', output], 'neither the same sensor nor a uniform scaling')
    assert not (tmp_path / 'out' / 'poses.npz').exists()


def test_videos_of_a_scaled_sensor_are_resized(trial, tmp_path, capsys):
    """A video at half the calibrated size runs (resized), with a warning saying so."""
    half = tmp_path / 'cam04_half.avi'
    source = cv2.VideoCapture(str(trial['videos'][3]))
    writer = cv2.VideoWriter(str(half), cv2.VideoWriter_fourcc(*'MJPG'), 60, (544, 960))
    for _ in range(2):
        writer.write(cv2.resize(source.read()[1], (544, 960), interpolation=cv2.INTER_AREA))
    writer.release()
    videos = [str(path) for path in trial['videos'][:3]] + [str(half)]
    status = main(['videos', '--calibration', str(trial['calibration']), *videos,
                   '--output', str(tmp_path / 'out'), '--frames', '2', '--method', 'dlt',
                   '--video-format', 'gif'])
    error = capsys.readouterr().err
    assert status == 0
    assert 'cam04_half.avi: 544x960 video, calibrated at 1088x1920: resized to it' in error
    assert 'cam01.mp4: 1080x1920 video, calibrated at 1088x1920: padded' in error
    assert np.isfinite(np.load(tmp_path / 'out' / 'poses.npz')['positions']).any()
    assert (tmp_path / 'out' / 'annotated.gif').stat().st_size > 10_000
    shutil.rmtree(tmp_path / 'out')


def test_blazepose33_skeleton_locates_the_hands(trial, tmp_path):
    """``--skeleton blazepose33``: MediaPipe's hands and feet come out in 3D, by name."""
    output = tmp_path / 'out'
    assert main(['videos', '--calibration', str(trial['calibration']),
                 *map(str, trial['videos']), '--output', str(output), '--frames', '3',
                 '--skeleton', 'blazepose33', '--method', 'dlt', '--video-format', 'none',
                 '--quiet']) == 0
    saved = np.load(output / 'poses.npz')
    positions = saved['positions']
    assert positions.shape == (3, 33, 3)
    assert tuple(saved['joint_names']) == BLAZEPOSE33.joint_names
    assert read_trc(output / 'poses.trc')[0] == list(BLAZEPOSE33.joint_names)
    joint = {name: positions[:, j] for j, name in enumerate(BLAZEPOSE33.joint_names)}
    for side in ('left', 'right'):
        forearm = np.linalg.norm(joint[f'{side}_wrist'] - joint[f'{side}_elbow'], axis=-1)
        assert (forearm > 0.15).all() and (forearm < 0.4).all()
        for finger in ('pinky', 'index', 'thumb'):
            reach = np.linalg.norm(joint[f'{side}_{finger}'] - joint[f'{side}_wrist'], axis=-1)
            assert (reach < 0.2).all(), (side, finger, reach)   # a hand is about 0.1 m
        # The heels are on the ground, below the ankles (world Z up).
        assert (joint[f'{side}_heel'][:, 2] < joint[f'{side}_ankle'][:, 2]).all()


def test_smooth_writes_the_smoothed_poses(run, trial, tmp_path):
    """``--smooth``: the same detections, revised with later frames, written in every format."""
    _, causal_output = run
    output = tmp_path / 'smooth'
    assert main(['videos', '--calibration', str(trial['calibration']),
                 *map(str, trial['videos']), '--output', str(output),
                 '--frames', str(NUM_FRAMES), '--video-format', 'none', '--smooth',
                 '--quiet']) == 0
    smooth = np.load(output / 'poses.npz')['positions']
    causal = np.load(causal_output / 'poses.npz')['positions']
    assert smooth.shape == causal.shape
    moved = np.linalg.norm(smooth - causal, axis=-1)
    assert np.isfinite(moved).all() and 1e-5 < np.median(moved) < 0.05
    np.testing.assert_allclose(read_trc(output / 'poses.trc')[1], smooth, atol=1e-9)


def test_several_people_are_tracked_under_ids_with_their_pictures(trial, data_root, tmp_path):
    videos = data_root / 'pose2sim-0.10.49/Pose2Sim/Demo_MultiPerson/videos'
    output = tmp_path / 'people'
    assert main(['videos', '--multi-person', '--calibration', str(trial['calibration']),
                 *[str(videos / f'cam0{i}.mp4') for i in range(1, 5)], '--output', str(output),
                 '--frames', str(NUM_FRAMES), '--objective', 'analytic', '--quiet']) == 0
    # tracks.npz as `skelsplat solve --multi-person` writes it.
    with np.load(output / 'tracks.npz') as data:
        positions, confidence, track_ids = data['positions'], data['confidence'], \
            data['track_ids']
        assert tuple(data['joint_names']) == tuple(COCO17_JOINTS)
    assert positions.shape == (NUM_FRAMES, len(track_ids), 17, 3)
    assert confidence.shape == (NUM_FRAMES, len(track_ids), 17)
    assert len(track_ids) >= 1 and list(track_ids) == sorted(set(track_ids.tolist()))
    located = np.isfinite(positions).all(axis=-1).sum(axis=-1) >= 8         # (F, T)
    # A lone, unambiguous person is tracked from the first frame.
    assert located.any(axis=1).all()
    report = json.loads((output / 'people.json').read_text())
    assert report['people_per_frame'] == located.sum(axis=1).tolist()
    assert report['id_switches'] == []
    for by_camera in report['reprojection_median_px'].values():
        seen = [px for px in by_camera.values() if px is not None]
        assert len(seen) >= 2 and max(seen) < 25.0, by_camera
    video = cv2.VideoCapture(str(output / 'annotated.mp4'))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == NUM_FRAMES
    ok, first = video.read()
    video.release()
    assert ok and first.shape[1] > 2 * first.shape[0]     # four portrait views side by side
    summary = cv2.imread(str(output / 'summary.png'))
    assert summary is not None and summary.shape[0] > summary.shape[1]
