# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Weighted DLT, RANSAC over views and reprojection errors, on synthetic and real data."""

import numpy as np
import pytest

from skelsplat_ros.cameras import CameraRig, load_calibration, make_camera
from skelsplat_ros.fileio.openpose import list_openpose_files, read_openpose_json
from skelsplat_ros.fileio.trc import read_trc
from skelsplat_ros.skeletons import to_coco17, trc_correspondence
from skelsplat_ros.triangulation import hypothesis_views, ransac_consensus, reprojection_errors
from skelsplat_ros.triangulation import triangulate_dlt, triangulate_ransac

DEMO = 'pose2sim-0.4.15/Pose2Sim/Demo'


def _ring_of_cameras(count=5, radius=4.0):
    """Cameras on a circle at 1.5 m height, each looking at (0, 0, 1)."""
    K = np.array([[1000.0, 0.0, 640.0], [0.0, 1000.0, 360.0], [0.0, 0.0, 1.0]])
    cameras = []
    for angle in np.linspace(0, 2 * np.pi, count, endpoint=False):
        centre = np.array([radius * np.cos(angle), radius * np.sin(angle), 1.5])
        forward = np.array([0.0, 0.0, 1.0]) - centre
        forward /= np.linalg.norm(forward)
        right = np.cross(forward, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        R = np.stack([right, down, forward])  # rows: camera axes in world
        cameras.append(make_camera(f'c{angle:.2f}', K, [], 'none', 1280, 720, R=R, t=-R @ centre))
    return CameraRig(cameras).projections


def _skeleton(joints=17):
    return np.random.default_rng(11).uniform([-0.4, -0.4, 0.1], [0.4, 0.4, 1.8], (joints, 3))


def _project(P, X):
    image = np.einsum('vab,jb->vja', P, np.column_stack([X, np.ones(len(X))]))
    return image[..., :2] / image[..., 2:]


def test_dlt_is_exact_without_noise():
    P = _ring_of_cameras()
    X = _skeleton()
    weights = np.random.default_rng(2).uniform(0.2, 1.0, (len(P), len(X)))
    np.testing.assert_allclose(triangulate_dlt(P, _project(P, X), weights), X, atol=1e-9)


def test_dlt_skips_unusable_views_and_marks_unseen_joints():
    P = _ring_of_cameras(4)
    X = _skeleton(6)
    points = _project(P, X)
    weights = np.ones((4, 6))
    points[0, 0] += 300.0
    weights[0, 0] = 0.0          # garbage with zero weight
    points[1, 1] = np.nan        # missing keypoint
    weights[2, 2] = np.nan       # missing confidence
    points[1:, 3] = np.nan       # only one view left: no position
    positions = triangulate_dlt(P, points, weights)
    np.testing.assert_allclose(positions[[0, 1, 2, 4, 5]], X[[0, 1, 2, 4, 5]], atol=1e-9)
    assert np.isnan(positions[3]).all()


def test_weights_favour_the_confident_views():
    P = _ring_of_cameras(4)
    X = _skeleton()
    points = _project(P, X)
    points[0] += np.random.default_rng(4).normal(0.0, 15.0, points[0].shape)
    weights = np.ones((4, len(X)))
    weights[0] = 0.05
    equal = np.linalg.norm(triangulate_dlt(P, points) - X, axis=1).mean()
    weighted = np.linalg.norm(triangulate_dlt(P, points, weights) - X, axis=1).mean()
    assert weighted < 0.25 * equal


def test_ransac_rejects_a_confident_outlier_view():
    P = _ring_of_cameras(5)
    X = _skeleton()
    points = _project(P, X)
    points[2, :8] += [120.0, -80.0]  # another person's joints, detected with full confidence
    weights = np.ones((5, len(X)))
    dlt_error = np.linalg.norm(triangulate_dlt(P, points, weights) - X, axis=1)
    assert dlt_error[:8].min() > 0.01
    positions, inliers = triangulate_ransac(P, points, weights, threshold_px=10.0)
    np.testing.assert_allclose(positions, X, atol=1e-9)
    expected = np.ones((5, len(X)), dtype=bool)
    expected[2, :8] = False
    np.testing.assert_array_equal(inliers, expected)


def test_ransac_of_many_views_takes_its_hypotheses_from_the_most_confident():
    # Sixteen views; six of them see another person's joints, each somewhere else, more
    # confidently than the ten that agree.  Only the pairs of each joint's eight most confident
    # views are triangulated (six outliers and two good views), and every view scores them:
    # the two good views' pair wins, as it does among all 120 pairs.
    P = _ring_of_cameras(16)
    X = _skeleton()
    points = _project(P, X)
    rng = np.random.default_rng(8)
    wrong = [1, 4, 6, 9, 12, 14]
    points[wrong] += rng.uniform(80.0, 200.0, (len(wrong), len(X), 2)) * rng.choice(
        [-1, 1], (len(wrong), len(X), 2))
    weights = np.full((16, len(X)), 0.7)
    weights[wrong] = 1.0
    weights[3, :5] = 0.9                    # one good view more confident on a few joints
    views = hypothesis_views(weights)
    assert views.shape == (8, len(X))
    np.testing.assert_array_equal(views[:, 0], [0, 1, 3, 4, 6, 9, 12, 14])
    np.testing.assert_array_equal(views[:, 10], [0, 1, 2, 4, 6, 9, 12, 14])   # ties: lowest
    positions, inliers = triangulate_ransac(P, points, weights, threshold_px=10.0)
    np.testing.assert_allclose(positions, X, atol=1e-9)
    expected = np.ones((16, len(X)), dtype=bool)
    expected[wrong] = False
    np.testing.assert_array_equal(inliers, expected)
    every_pair = triangulate_ransac(P, points, weights, threshold_px=10.0, max_views=16)
    np.testing.assert_allclose(positions, every_pair[0], atol=1e-9)
    np.testing.assert_array_equal(inliers, every_pair[1])


def test_ransac_keeps_the_dlt_of_joints_whose_views_all_agree():
    # Three people in one batch, noisy views; a few (person, joint)s have one view far off.
    # Those alone go through the pairs; every other joint keeps the DLT of all its views with
    # all of them as inliers, and the batch gives what each person gives alone.
    P = _ring_of_cameras(6)
    rng = np.random.default_rng(3)
    X = np.stack([_skeleton() + [dx, 0.0, 0.0] for dx in (-1.0, 0.0, 1.0)])
    points = np.stack([_project(P, x) for x in X]) + rng.normal(0.0, 2.0, (3, 6, len(X[0]), 2))
    far = [(0, 1, 4), (1, 3, 0), (1, 5, 16), (2, 0, 9)]           # (person, view, joint)
    for person, view, joint in far:
        points[person, view, joint] += [150.0, -90.0]
    weights = rng.uniform(0.5, 1.0, (3, 6, len(X[0])))
    positions, inliers = triangulate_ransac(P, points, weights, threshold_px=20.0)
    disputed = np.zeros((3, len(X[0])), dtype=bool)
    for person, view, joint in far:
        disputed[person, joint] = True
        assert not inliers[person, view, joint]
    assert np.linalg.norm(positions - X, axis=-1).max() < 0.02
    for person in range(3):
        alone = triangulate_ransac(P, points[person], weights[person], threshold_px=20.0)
        np.testing.assert_allclose(positions[person], alone[0], atol=1e-12)
        np.testing.assert_array_equal(inliers[person], alone[1])
        agreeing = ~disputed[person]
        np.testing.assert_allclose(positions[person, agreeing],
                                   triangulate_dlt(P, points[person], weights[person])[agreeing],
                                   atol=1e-12)
        assert inliers[person][:, agreeing].all()
    # One set of detections for all three people's weights; and no joints at all.
    shared, _ = triangulate_ransac(P, points[1], weights, threshold_px=20.0)
    np.testing.assert_allclose(shared[1], positions[1], atol=1e-12)
    nothing, no_inliers = triangulate_ransac(P, points[:, :, :0], weights[:, :, :0])
    assert nothing.shape == (3, 0, 3) and no_inliers.shape == (3, 6, 0)


def test_a_ransac_consensus_is_reused_only_for_its_own_input():
    P = _ring_of_cameras(5)
    X = _skeleton()
    points = _project(P, X)
    points[3, 2] = np.nan
    weights = np.ones((5, len(X)))
    first = ransac_consensus(P, points, weights, 10.0)
    np.testing.assert_allclose(first.positions, X, atol=1e-9)
    assert ransac_consensus(P, points.copy(), weights.copy(), 10.0, first) is first
    moved = points.copy()
    moved[0, 0] += 300.0
    for other in (ransac_consensus(P, moved, weights, 10.0, first),
                  ransac_consensus(P, points, weights * 0.5, 10.0, first),
                  ransac_consensus(P, points, weights, 20.0, first)):
        assert other is not first
    assert not ransac_consensus(P, moved, weights, 10.0, first).inliers[0, 0]


def test_ransac_falls_back_without_consensus():
    P = _ring_of_cameras(3)
    X = _skeleton(4)
    points = _project(P, X)
    points[0] += 200.0
    points[1] -= 200.0
    points[2, 3] = np.nan
    points[1, 3] = np.nan
    positions, inliers = triangulate_ransac(P, points, threshold_px=5.0, min_views=3)
    np.testing.assert_allclose(positions[:3], triangulate_dlt(P, points)[:3])
    assert not inliers.any()
    assert np.isnan(positions[3]).all()


def test_reprojection_errors_measure_pixel_offsets():
    P = _ring_of_cameras(3)
    X = _skeleton(5)
    points = _project(P, X)
    points[1, 2] += [3.0, 4.0]
    points[2, 4] = np.nan
    errors = reprojection_errors(P, X, points)
    expected = np.zeros((3, 5))
    expected[1, 2] = 5.0
    expected[2, 4] = np.nan
    np.testing.assert_allclose(errors, expected, atol=1e-9)


@pytest.fixture(scope='module')
def demo_views(data_root):
    """Undistorted COCO-17 keypoints (F, V, 17, 2), confidences and trc truth of the demo."""
    demo = data_root / DEMO
    cameras = load_calibration(demo / 'calibration/Calib_qualisys.toml')
    files = [list_openpose_files(demo / f'pose/cam{i}_json') for i in range(1, 5)]
    points, weights = [], []
    for frame_files in zip(*files):
        frame_points, frame_weights = [], []
        for camera, path in zip(cameras, frame_files):
            people = read_openpose_json(path, num_keypoints=25)
            # The subject has the highest mean confidence, except in camera 1 of frame 37 where
            # OpenPose splits them into two "people" and a bystander wins; the test keeps it.
            person = to_coco17(people[np.argmax(people[:, :, 2].mean(axis=1))], 'body25b')
            frame_points.append(camera.undistort_points(person[:, :2]))
            frame_weights.append(person[:, 2])
        points.append(frame_points)
        weights.append(frame_weights)
    names, markers, _ = read_trc(demo / 'opensim/Balancing_for_IK.trc')
    marker_index, coco_index = trc_correspondence(names)
    truth = markers[:, marker_index][..., [2, 0, 1]]  # OpenSim Y-up -> calibration Z-up
    P = CameraRig(cameras).projections
    return P, np.array(points), np.array(weights), truth, coco_index


def _mpjpe(triangulate, demo_views):
    P, points, weights, truth, coco_index = demo_views
    positions = np.stack([triangulate(P, p, w) for p, w in zip(points, weights)])
    return np.linalg.norm(positions[:, coco_index] - truth, axis=-1).mean()


def test_dlt_of_openpose_matches_the_pose2sim_markers(demo_views):
    assert len(demo_views[1]) == 100
    mpjpe = _mpjpe(triangulate_dlt, demo_views)
    assert mpjpe < 0.045  # measured: 35 mm over the 13 shared joints and 100 frames


def test_ransac_of_openpose_beats_plain_dlt(demo_views):
    dlt = _mpjpe(triangulate_dlt, demo_views)
    ransac = _mpjpe(lambda P, p, w: triangulate_ransac(P, p, w)[0], demo_views)
    assert ransac < 0.8 * dlt  # measured: 22 mm against 35 mm
