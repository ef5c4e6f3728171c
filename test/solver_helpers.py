# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Shared pieces of the solver tests: the pose2sim demo rig and exact detections in it."""

import numpy as np
from skelsplat_ros.cameras import load_calibration
from skelsplat_ros.fileio.trc import read_trc
from skelsplat_ros.skeletons import COCO17, trc_correspondence

J = COCO17.num_joints


def demo_rig(data_root):
    """Return the demo's cameras, its .trc as COCO-17 joints (F, J, 3) and the joints it has.

    The .trc is OpenSim Y-up; the calibration's world is Z-up.  Joints without a marker are NaN.
    """
    demo = data_root / 'pose2sim-0.4.15' / 'Pose2Sim' / 'Demo'
    cameras = load_calibration(demo / 'calibration' / 'Calib_qualisys.toml')
    names, markers, _ = read_trc(demo / 'opensim' / 'Balancing_for_IK.trc')
    marker_index, coco_index = trc_correspondence(names)
    truth = np.full((markers.shape[0], J, 3), np.nan)
    truth[:, coco_index] = markers[:, marker_index][..., [2, 0, 1]]
    return cameras, truth, coco_index


def observe(cameras, positions, confidence=0.9):
    """Exact detections (V, J, 3) of ``positions`` (J, 3), by each camera's projection formula.

    Unknown joints get confidence 0; points behind a camera are projected all the same.
    """
    known = np.isfinite(positions).all(axis=1)
    views = np.zeros((len(cameras), J, 3))
    for v, cam in enumerate(cameras):
        views[v, known, :2] = cam.project(positions[known])
        views[v, known, 2] = confidence
    return views
