# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The fusion scale benchmark: its virtual cameras, its calibration file, one short live run."""

import importlib
import json
import pathlib
import sys

import numpy as np
import pytest
from skelsplat_ros.cameras import CameraRig, load_calibration

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'bench'))
fusion_scale = importlib.import_module('fusion_scale')
protocols = importlib.import_module('protocols')


@pytest.fixture(scope='module')
def demo(data_root):
    return protocols.load_demo(data_root)


def test_the_virtual_cameras_ring_the_motion_and_look_at_it(demo, tmp_path):
    real, _, motion = demo
    centre = np.nanmean(motion.reshape(-1, 3), axis=0)
    cameras = fusion_scale.ring_cameras(real[0], 16, centre)
    target = np.array([centre[0], centre[1], fusion_scale.LOOK_AT_HEIGHT_M])
    for camera in cameras:
        offset = camera.center - target
        assert np.hypot(*offset[:2]) == pytest.approx(fusion_scale.RING_RADIUS_M)
        assert camera.center[2] == pytest.approx(fusion_scale.RING_HEIGHT_M)
        # The point looked at lands on the principal point.
        np.testing.assert_allclose(camera.project(target[None])[0], camera.K[:2, 2], atol=1e-6)
    # Written as a pose2sim calibration, read back as the node reads it: the same cameras.
    path = tmp_path / 'calibration.toml'
    fusion_scale.write_calibration(cameras, path)
    loaded = load_calibration(path)
    assert [camera.name for camera in loaded] == [camera.name for camera in cameras]
    np.testing.assert_allclose(CameraRig(loaded).projections, CameraRig(cameras).projections,
                               rtol=1e-9, atol=1e-9)


def test_every_person_is_seen_by_the_ring(demo):
    real, truth, motion = demo
    centre = np.nanmean(motion.reshape(-1, 3), axis=0)
    cameras = fusion_scale.ring_cameras(real[0], 8, centre)
    frames = fusion_scale.make_frames(cameras, truth, motion, 5, seed=0)
    assert len(frames) == fusion_scale.SCENE_FRAMES
    people_per_view = np.array([[len(view) for view in frame] for frame in frames])
    assert people_per_view.shape == (fusion_scale.SCENE_FRAMES, 8)
    assert np.median(people_per_view) >= 4          # occlusion hides a few, not most
    indexes = [fusion_scale.playback_index(tick) for tick in range(400)]
    assert min(indexes) == 0 and max(indexes) == fusion_scale.SCENE_FRAMES - 1
    assert max(abs(a - b) for a, b in zip(indexes, indexes[1:])) == 1   # nobody jumps


@pytest.mark.ros
def test_one_short_live_run(tmp_path):
    # The node in its own process, four virtual cameras over DDS on loopback.
    assert fusion_scale.main(['--cameras', '4', '--people', '1', '--duration', '5',
                              '--output', str(tmp_path), '--no-plot']) == 0
    report = json.loads((tmp_path / 'fusion_scale.json').read_text())
    assert len(report['cases']) == 1 and len(report['config']['loadavg_start']) == 3
    case = report['cases'][0]
    live, profile = case['live'], case['profile']
    assert live['groups_published'] > 0 and live['output_rate_hz'] > 0
    assert 0 < live['latency_ms']['median'] <= live['latency_ms']['p95']
    assert live['fusion_cpu_percent'] > 0
    assert live['outputs_with_everyone'] > 0.5
    assert live['node_counters']['fusion_errors'] == '0'
    # The flat message holds the same keypoints in fewer bytes than the per-joint one.
    forms = profile['reading_by_form']
    assert 0 < forms['flat']['message_bytes'] < forms['per_joint']['message_bytes']
    assert profile['tracker_update_cpu_ms'] > 0 and profile['outputs_cpu_ms'] > 0
    assert profile['profiled_ms']['association'] > 0
