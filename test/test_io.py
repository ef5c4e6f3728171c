# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""OpenPose JSON reading, .trc reading and writing, CSV writing."""

import csv
import json

import numpy as np
import pytest

from skelsplat_ros.fileio.openpose import (
    KeypointFileError, list_openpose_files, read_openpose_json)
from skelsplat_ros.fileio.tabular import write_csv
from skelsplat_ros.fileio.trc import read_trc, write_trc

DEMO = 'pose2sim-0.4.15/Pose2Sim/Demo'


def test_read_real_openpose_frame(data_root):
    files = list_openpose_files(data_root / DEMO / 'pose/cam1_json')
    assert len(files) == 100
    assert files[0].name == 'cam01.0000.json' and files[-1].name == 'cam01.0099.json'
    people = read_openpose_json(files[0], num_keypoints=25)
    assert people.shape == (2, 25, 3)  # the subject and a bystander
    raw = json.loads(files[0].read_text())['people'][1]['pose_keypoints_2d']
    np.testing.assert_array_equal(people[1].ravel(), raw)
    assert ((people[..., 2] >= 0) & (people[..., 2] <= 1)).all()


def test_files_are_listed_in_frame_order(tmp_path):
    for name in ('f10.json', 'f2.json', 'f1.json', 'notes.txt'):
        (tmp_path / name).write_text('{"people": []}')
    assert [p.name for p in list_openpose_files(tmp_path)] == ['f1.json', 'f2.json', 'f10.json']
    with pytest.raises(FileNotFoundError):
        list_openpose_files(tmp_path / 'absent')


def test_file_without_people(tmp_path):
    path = tmp_path / 'empty.json'
    path.write_text('{"version": 1.3, "people": []}')
    assert read_openpose_json(path, num_keypoints=25).shape == (0, 25, 3)
    assert read_openpose_json(path).shape == (0, 0, 3)


@pytest.mark.parametrize('text, message', [
    ('{"people": [', 'cannot read'),
    ('{"version": 1.3}', "no 'people'"),
    ('{"people": [{"pose_keypoints_2d": [1, 2, 0.5, 3]}]}', 'not a multiple of 3'),
    ('{"people": [{"pose_keypoints_2d": [1, 2, 0.5]}]}', 'expected 25'),
    ('{"people": [{"pose_keypoints_2d": ["a", 2, 0.5]}]}', 'non-numeric'),
])
def test_malformed_openpose_files_raise(tmp_path, text, message):
    path = tmp_path / 'frame.json'
    path.write_text(text)
    with pytest.raises(KeypointFileError, match=message):
        read_openpose_json(path, num_keypoints=25)


def test_read_real_trc(data_root):
    names, positions, rate = read_trc(data_root / DEMO / 'opensim/Balancing_for_IK.trc')
    assert rate == 60.0 and positions.shape == (100, 21, 3) and len(names) == 21
    assert names[:3] == ['RHip', 'RKnee', 'RAnkle'] and names[-1] == 'LWrist'
    # Y-up metres: the head is about 1.5 m above the ankles.
    height = positions[:, names.index('Head'), 1] - positions[:, names.index('RAnkle'), 1]
    assert 1.3 < height.mean() < 1.9


def test_trc_round_trip(tmp_path):
    positions = np.random.default_rng(1).normal(size=(5, 3, 3))
    positions[2, 1] = np.nan
    path = tmp_path / 'out.trc'
    write_trc(path, positions, ['nose', 'left_hip', 'right_hip'], 30.0)
    names, read_back, rate = read_trc(path)
    assert names == ['nose', 'left_hip', 'right_hip'] and rate == 30.0
    np.testing.assert_array_equal(read_back, positions)


def test_csv_columns_and_values(tmp_path):
    positions = np.arange(2 * 2 * 3, dtype=float).reshape(2, 2, 3) / 10
    confidence = np.array([[0.9, 0.8], [0.7, np.nan]])
    positions[1, 1] = np.nan
    path = tmp_path / 'out.csv'
    write_csv(path, positions, ['nose', 'neck'], confidence=confidence, times=[0.0, 0.5])
    with path.open() as stream:
        rows = list(csv.reader(stream))
    assert rows[0] == ['frame', 'time', 'nose_x', 'nose_y', 'nose_z', 'nose_conf',
                       'neck_x', 'neck_y', 'neck_z', 'neck_conf']
    assert [float(v) for v in rows[1]] == [0, 0.0, 0.0, 0.1, 0.2, 0.9, 0.3, 0.4, 0.5, 0.8]
    assert rows[2][:6] == ['1', '0.5', '0.6', '0.7', '0.8', '0.7'] and rows[2][6:] == [''] * 4


def test_csv_without_confidence_or_times(tmp_path):
    path = tmp_path / 'out.csv'
    write_csv(path, np.zeros((3, 1, 3)), ['nose'])
    with path.open() as stream:
        rows = list(csv.reader(stream))
    assert rows[0] == ['frame', 'nose_x', 'nose_y', 'nose_z'] and len(rows) == 4
