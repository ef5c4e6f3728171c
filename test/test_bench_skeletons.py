# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The skeleton benchmark: its joint groups, and one short run on the real data."""

import importlib
import json
import pathlib
import subprocess
import sys

import pytest

pytest.importorskip('mediapipe')

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'bench'))
skeletons_bench = importlib.import_module('skeletons')

FRAMES = 6


def test_joint_groups_follow_the_names():
    group = skeletons_bench.joint_group
    assert [group(n) for n in ('nose', 'left_hip', 'right_ankle')] == ['body'] * 3
    assert [group(n) for n in ('left_heel', 'right_big_toe', 'left_foot_index')] == \
        ['feet'] * 3
    assert [group(n) for n in ('neck', 'head')] == ['head_neck'] * 2
    assert [group(n) for n in ('left_pinky', 'right_index', 'left_thumb')] == ['hands'] * 3
    assert [group(n) for n in ('mouth_left', 'left_eye_inner', 'hip')] == ['other'] * 3


@pytest.fixture(scope='module')
def report(data_root, tmp_path_factory):
    output = tmp_path_factory.mktemp('bench')
    command = [sys.executable, str(ROOT / 'bench' / 'skeletons.py'), '--frames', str(FRAMES),
               '--video-frames', str(FRAMES), '--repeats', '1', '--data-root', str(data_root),
               '--output', str(output)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert json.loads((output / 'skeletons.json').read_text()) == result
    assert (output / 'skeletons.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    return result


def test_halpe26_scores_feet_head_and_neck_on_the_trc(report):
    openpose = report['openpose']
    for objective in ('analytic', 'rendered'):
        coco = openpose['coco17'][objective]['groups']
        halpe = openpose['halpe26'][objective]['groups']
        assert set(coco) == {'body'} and set(halpe) == {'body', 'feet', 'head_neck'}
        assert len(coco['body']['per_joint_mean_mm']) == 13
        assert len(halpe['feet']['per_joint_mean_mm']) == 6
        for group in halpe.values():
            assert group['coverage'] == 1.0 and group['mean_mm'] < 30
        assert openpose['halpe26'][objective]['median_ms'] > 0


def test_blazepose33_hands_are_located_and_agree_with_the_views(report):
    mediapipe = report['mediapipe']
    assert mediapipe['frames'] == FRAMES
    hands = mediapipe['blazepose33']['hands']
    assert hands['located'] == 1.0 and hands['seen_fraction'] > 0.8
    assert hands['reprojection_median_px'] < 25 and hands['within_25px'] > 0.7
    assert len(mediapipe['blazepose33']['hands_per_joint']) == 6
    assert 'hands' not in mediapipe['coco17']
    assert set(mediapipe['blazepose33']['groups']) == {'body', 'feet'}
    assert mediapipe['coco17']['groups']['body']['mean_mm'] < 100
