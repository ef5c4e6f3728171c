# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Concurrent detection in the live pipeline's core (:meth:`FusionEngine.map_views`).

The detectors injected here meet at a barrier: a group can only get through if every view's
detector runs at the same time, which is what proves the views are detected concurrently
(without any timing assertion).
"""

import threading

import numpy as np
import pytest
from skelsplat_ros.cameras import load_calibration
from skelsplat_ros.fileio.openpose import list_openpose_files, read_openpose_json
from skelsplat_ros.live import fuse_group, FusionEngine
from skelsplat_ros.skeletons import to_coco17
from skelsplat_ros.solver import SolverConfig

DEMO = 'pose2sim-0.4.15/Pose2Sim/Demo'
NAMES = ('cam_01', 'cam_02', 'cam_03', 'cam_04')


@pytest.fixture(scope='module')
def demo(data_root):
    """Return (cameras by name, the first frame's keypoints by camera (P, 17, 3))."""
    root = data_root / DEMO
    cameras = {c.name: c for c in load_calibration(root / 'calibration' / 'Calib_qualisys.toml')}
    keypoints = {name: to_coco17(read_openpose_json(
        list_openpose_files(root / 'pose' / f'cam{v}_json')[0], 25), 'body25b')[:1]
        for v, name in enumerate(NAMES, start=1)}
    return cameras, keypoints


class _MeetingDetector:
    """Returns its camera's keypoints once ``parties`` detectors are inside ``detect``.

    Its first call is the engine's warm-up (:meth:`FusionEngine.prepare`), which runs alone.
    """

    def __init__(self, keypoints, barrier, log, fail=False):
        self.keypoints, self.barrier, self.log, self.fail = keypoints, barrier, log, fail
        self.busy = threading.Lock()
        self.warmed_up = False

    def detect(self, bgr):
        if not self.warmed_up:
            self.warmed_up = True
            return np.zeros((0, 17, 3))
        # A detector (MediaPipe's) must never be entered by two threads at once.
        assert self.busy.acquire(blocking=False), 'detector entered concurrently'
        try:
            self.log.append(threading.current_thread().name)
            self.barrier.wait()
            if self.fail:
                raise RuntimeError('detector crashed')
            return self.keypoints
        finally:
            self.busy.release()


def _engine(cameras, keypoints, workers, parties, timeout_s, failing=()):
    barrier = threading.Barrier(parties, timeout=timeout_s)
    log = []
    made = iter(NAMES)

    def factory(name, **options):
        camera = next(made)
        return _MeetingDetector(keypoints[camera], barrier, log, fail=camera in failing)

    engine = FusionEngine(NAMES, detector='mediapipe', notify=lambda line: None,
                          solver_config=SolverConfig(device='cpu', objective='analytic'),
                          detector_factory=factory, detection_workers=workers)
    for name in NAMES:
        engine.set_camera(name, cameras[name])
    # Detectors are made on first use; prepare() makes them in camera order, so each gets its
    # camera's keypoints.
    engine.prepare()
    return engine, barrier, log


def _detect(engine):
    return lambda name, image: engine.detect(name, image)


def test_the_views_of_a_group_are_detected_concurrently(demo):
    cameras, keypoints = demo
    engine, _, log = _engine(cameras, keypoints, workers=4, parties=4, timeout_s=20.0,
                             failing=('cam_02',))
    images = {name: np.zeros((8, 8, 3), np.uint8) for name in NAMES}
    try:
        for _ in range(3):
            result = fuse_group(engine, images, _detect(engine))
            # All four met at the barrier; the crashing one costs only its own view.
            assert list(result.faults) == ['cam_02'] and 'crashed' in result.faults['cam_02']
            assert sorted(result.keypoints) == ['cam_01', 'cam_03', 'cam_04']
            assert len(result.people) == 1 and result.people[0].known.sum() >= 12
    finally:
        engine.close()
    assert all(name.startswith('skelsplat-detect') for name in log)
    assert len(set(log)) == 4


def test_one_worker_detects_the_views_one_after_the_other(demo):
    cameras, keypoints = demo
    # Two detectors can never meet when one thread runs them in turn: each waits alone.
    engine, barrier, log = _engine(cameras, keypoints, workers=1, parties=2, timeout_s=0.2)
    images = {name: np.zeros((8, 8, 3), np.uint8) for name in NAMES}
    result = fuse_group(engine, images, _detect(engine))
    engine.close()
    assert sorted(result.faults) == sorted(NAMES)
    assert all('BrokenBarrierError' in error for error in result.faults.values())
    assert set(log) == {threading.current_thread().name}
    assert result.people == []


def test_worker_defaults_and_validation():
    assert FusionEngine(NAMES, detector=None, notify=lambda line: None,
                        cuda_available=False).detection_workers == 1
    assert FusionEngine(NAMES, detector='mediapipe', notify=lambda line: None,
                        cuda_available=False).detection_workers == len(NAMES)
    with pytest.raises(ValueError, match='detection_workers'):
        FusionEngine(NAMES, detector='mediapipe', notify=lambda line: None,
                     cuda_available=False, detection_workers=0)
