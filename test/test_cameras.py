# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Camera models, distortion round trips, calibration loaders and their validation."""

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from skelsplat_ros.cameras import (
    CalibrationError, camera_from_camera_info, CameraRig, load_calibration, make_camera,
    optical_frame_extrinsics, rotation_from_quaternion)
import yaml

K = np.array([[800.0, 0.0, 640.0], [0.0, 810.0, 360.0], [0.0, 0.0, 1.0]])
DISTORTIONS = {
    'plumb_bob': [-0.3, 0.1, 0.001, -0.002, -0.02],
    'rational_polynomial': [0.5, -0.2, 0.001, 0.001, 0.05, 0.8, -0.1, 0.1],
    'equidistant': [0.1, -0.05, 0.01, -0.002],
}
QUALISYS = 'pose2sim-0.4.15/Pose2Sim/Demo/calibration/Calib_qualisys.toml'


def _synthetic_camera(model, dist):
    rotation = Rotation.from_rotvec([0.1, -0.2, 0.05]).as_matrix()
    return make_camera('synthetic', K, dist, model, 1280, 720, R=rotation, t=[0.2, -0.1, 3.0])


def _points_in_view(camera, count=400):
    # Points spread over most of the image, 1.5 to 4 m in front of the camera.
    rng = np.random.default_rng(7)
    depth = rng.uniform(1.5, 4.0, count)
    normalised = rng.uniform([-0.7, -0.4], [0.7, 0.4], (count, 2))
    points_cam = np.column_stack([normalised * depth[:, None], depth])
    return (points_cam - camera.t) @ camera.R  # camera -> world


def _reference_distortion(model, dist, xy):
    """Distort normalised coordinates (N, 2) with the textbook formulas, not OpenCV."""
    x, y = xy.T
    r2 = x * x + y * y
    if model == 'equidistant':
        r = np.sqrt(r2)
        theta = np.arctan(r)
        k1, k2, k3, k4 = dist
        theta_d = theta * (1 + k1 * theta**2 + k2 * theta**4 + k3 * theta**6 + k4 * theta**8)
        return xy * (theta_d / r)[:, None]
    k1, k2, p1, p2, k3, k4, k5, k6 = np.pad(dist, (0, 8 - len(dist)))
    radial = (1 + k1 * r2 + k2 * r2**2 + k3 * r2**3) / (1 + k4 * r2 + k5 * r2**2 + k6 * r2**3)
    return np.column_stack([
        x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x),
        y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y,
    ])


@pytest.mark.parametrize('model', sorted(DISTORTIONS))
def test_projection_matches_the_distortion_formula(model):
    camera = _synthetic_camera(model, DISTORTIONS[model])
    points = _points_in_view(camera)
    points_cam = camera.world_to_camera(points)
    distorted = _reference_distortion(model, np.array(DISTORTIONS[model]),
                                      points_cam[:, :2] / points_cam[:, 2:])
    expected = distorted * K.diagonal()[:2] + K[:2, 2]
    np.testing.assert_allclose(camera.project(points), expected, atol=1e-6)


@pytest.mark.parametrize('model', sorted(DISTORTIONS))
def test_undistortion_inverts_projection(model):
    camera = _synthetic_camera(model, DISTORTIONS[model])
    points = _points_in_view(camera)
    homogeneous = np.column_stack([points, np.ones(len(points))]) @ camera.projection_matrix.T
    pinhole = homogeneous[:, :2] / homogeneous[:, 2:]
    distorted = camera.project(points)
    assert np.abs(distorted - pinhole).max() > 20.0  # the lens really distorts
    undistorted = camera.undistort_points(distorted)
    assert np.abs(undistorted - pinhole).max() < 0.01


def test_undistortion_keeps_missing_points_missing():
    camera = _synthetic_camera('plumb_bob', DISTORTIONS['plumb_bob'])
    pixels = np.array([[100.0, 200.0], [np.nan, np.nan], [700.0, 300.0]])
    undistorted = camera.undistort_points(pixels)
    assert np.isnan(undistorted[1]).all() and np.isfinite(undistorted[[0, 2]]).all()


def test_pose_properties_agree():
    camera = _synthetic_camera('none', [])
    assert camera.distortion_model == 'none'
    np.testing.assert_allclose(camera.world_to_camera(camera.center[None]), 0.0, atol=1e-12)
    np.testing.assert_allclose(camera.viewmat[:3], np.column_stack([camera.R, camera.t]))
    points = _points_in_view(camera, 10)
    homogeneous = np.column_stack([points, np.ones(10)]) @ camera.projection_matrix.T
    np.testing.assert_allclose(camera.project(points), homogeneous[:, :2] / homogeneous[:, 2:])


def test_a_rig_stacks_its_cameras_matrices():
    cameras = [_synthetic_camera(model, dist) for model, dist in sorted(DISTORTIONS.items())]
    rig = CameraRig(cameras)
    assert rig.num_views == 3 and rig.cameras == cameras
    assert rig.projections.shape == (3, 3, 4) and rig.viewmats.shape == (3, 4, 4)
    for v, camera in enumerate(cameras):
        np.testing.assert_array_equal(rig.projections[v], camera.projection_matrix)
        np.testing.assert_array_equal(rig.intrinsics[v], camera.K)
        np.testing.assert_array_equal(rig.viewmats[v], camera.viewmat)
        np.testing.assert_array_equal(rig.centres[v], camera.center)


def test_a_rig_gates_detections_by_confidence_and_undistorts_them():
    camera = _synthetic_camera('plumb_bob', DISTORTIONS['plumb_bob'])
    rig = CameraRig([camera, camera])
    pixels = camera.project(_points_in_view(camera, 6))
    confidence = np.array([0.5, 0.05, 1.7, -0.2, np.nan, 0.9])
    keypoints = np.column_stack([pixels, confidence])
    keypoints[5, 0] = np.inf                           # a confident but broken detection
    points, gated = rig.observe(0, keypoints, min_confidence=0.1)
    # Under the threshold, non-finite, or negative: 0; above 1: clipped to 1.
    np.testing.assert_array_equal(gated, [0.5, 0.0, 1.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(points[:4], camera.undistort_points(pixels[:4]), atol=1e-12)
    assert np.isfinite(points).all()
    # Per view, several people or none.
    views = [np.stack([keypoints, keypoints]), np.zeros((0, 6, 3))]
    observed = rig.observe_people(views, min_confidence=0.1)
    assert [conf.shape for _, conf in observed] == [(2, 6), (0, 6)]
    np.testing.assert_array_equal(observed[0][1][1], gated)
    with pytest.raises(ValueError, match='3 views'):
        rig.observe_people(views + [views[1]], min_confidence=0.1)
    with pytest.raises(ValueError, match=r'\(P, 7, 3\)'):
        rig.observe_people(views, min_confidence=0.1, num_joints=7)


def test_qualisys_calibration_loads(data_root):
    cameras = load_calibration(data_root / QUALISYS)
    assert [c.name for c in cameras] == ['cam_01', 'cam_02', 'cam_03', 'cam_04']
    for camera in cameras:
        assert (camera.width, camera.height) == (1088, 1920)  # portrait
        assert camera.distortion_model == 'plumb_bob' and camera.dist.shape == (4,)
        assert 3.0 < np.linalg.norm(camera.center) < 5.0
        assert 1.0 < camera.center[2] < 2.5  # Z-up world: cameras at head height
        # The subject stands near the origin: 1 m above it is in view and in front.
        pixel = camera.project([[0.0, 0.0, 1.0]])[0]
        assert 0 < pixel[0] < camera.width and 0 < pixel[1] < camera.height
        assert camera.world_to_camera([[0.0, 0.0, 1.0]])[0, 2] > 2.0


def _ros_camera_info_yaml(**overrides):
    fields = {
        'image_width': 1280,
        'image_height': 720,
        'camera_name': 'left',
        'camera_matrix': {'rows': 3, 'cols': 3, 'data': K.ravel().tolist()},
        'distortion_model': 'plumb_bob',
        'distortion_coefficients': {'rows': 1, 'cols': 5, 'data': DISTORTIONS['plumb_bob']},
        'rectification_matrix': {'rows': 3, 'cols': 3, 'data': np.eye(3).ravel().tolist()},
        'projection_matrix': {'rows': 3, 'cols': 4,
                              'data': np.column_stack([K, np.zeros(3)]).ravel().tolist()},
    }
    fields.update(overrides)
    return {key: value for key, value in fields.items() if value is not None}


def test_ros_camera_info_yaml_without_extrinsics(tmp_path):
    path = tmp_path / 'left.yaml'
    path.write_text(yaml.safe_dump(_ros_camera_info_yaml()))
    (camera,) = load_calibration(path)
    assert camera.name == 'left' and (camera.width, camera.height) == (1280, 720)
    np.testing.assert_array_equal(camera.K, K)
    np.testing.assert_array_equal(camera.dist, DISTORTIONS['plumb_bob'])
    np.testing.assert_array_equal(camera.viewmat, np.eye(4))


def test_ros_camera_info_yaml_with_extrinsics_matches_camera_info(tmp_path):
    rotation = Rotation.from_rotvec([0.3, 0.2, -0.1]).as_matrix()
    document = _ros_camera_info_yaml(
        rotation={'rows': 3, 'cols': 3, 'data': rotation.ravel().tolist()},
        translation=[0.5, -0.2, 3.0])
    path = tmp_path / 'left.yml'
    path.write_text(yaml.safe_dump(document))
    (loaded,) = load_calibration(path)
    from_info = camera_from_camera_info(K.ravel(), DISTORTIONS['plumb_bob'], 'plumb_bob',
                                        1280, 720, name='left', R=rotation, t=[0.5, -0.2, 3.0])
    np.testing.assert_allclose(loaded.projection_matrix, from_info.projection_matrix)
    # A Rodrigues vector is accepted for the rotation as well.
    document['rotation'] = [0.3, 0.2, -0.1]
    path.write_text(yaml.safe_dump(document))
    np.testing.assert_allclose(load_calibration(path)[0].R, rotation, atol=1e-12)


def test_yaml_list_of_cameras_keeps_order(tmp_path):
    path = tmp_path / 'rig.yaml'
    cameras = [_ros_camera_info_yaml(camera_name=name) for name in ('b', 'a', 'c')]
    path.write_text(yaml.safe_dump({'cameras': cameras}))
    assert [c.name for c in load_calibration(path)] == ['b', 'a', 'c']


def test_opencv_filestorage_yaml(tmp_path):
    path = tmp_path / 'opencv.yaml'
    rotation = Rotation.from_rotvec([0.0, 0.4, 0.1]).as_matrix()
    storage = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE)
    storage.write('image_width', 1280)
    storage.write('image_height', 720)
    storage.write('camera_matrix', K)
    storage.write('distortion_coefficients', np.array(DISTORTIONS['rational_polynomial']))
    storage.write('rotation', rotation)
    storage.write('translation', np.array([0.1, 0.2, 2.0]))
    storage.release()
    (camera,) = load_calibration(path)
    assert camera.name == 'opencv' and camera.distortion_model == 'rational_polynomial'
    np.testing.assert_allclose(camera.K, K)
    np.testing.assert_allclose(camera.R, rotation)
    np.testing.assert_allclose(camera.t, [0.1, 0.2, 2.0])


def test_fisheye_toml(tmp_path):
    path = tmp_path / 'calib.toml'
    path.write_text(
        '[cam_b]\nname = "wide"\nsize = [1280.0, 720.0]\n'
        f'matrix = {K.tolist()}\ndistortions = {DISTORTIONS["equidistant"]}\n'
        'rotation = [0.0, 0.0, 0.0]\ntranslation = [0.0, 0.0, 1.0]\nfisheye = true\n'
        '[cam_a]\nsize = [640, 480]\n'
        f'matrix = {K.tolist()}\ndistortions = {DISTORTIONS["rational_polynomial"]}\n'
        'rotation = [0.0, 0.0, 0.0]\ntranslation = [0.0, 0.0, 1.0]\n'
        '[metadata]\nadjusted = false\n')
    wide, second = load_calibration(path)
    assert (wide.name, wide.distortion_model) == ('wide', 'equidistant')
    assert (second.name, second.distortion_model) == ('cam_a', 'rational_polynomial')


def test_optical_frame_extrinsics_from_a_tf_pose():
    # The usual camera_link -> optical rotation: optical z = world x, x = -world y, y = -world z.
    rotation = rotation_from_quaternion([-0.5, 0.5, -0.5, 0.5])
    np.testing.assert_allclose(rotation, [[0, 0, 1], [-1, 0, 0], [0, -1, 0]], atol=1e-12)
    pose = np.eye(4)
    pose[:3, :3] = rotation
    pose[:3, 3] = [1.0, 2.0, 3.0]
    R, t = optical_frame_extrinsics(pose)
    camera = camera_from_camera_info(K.ravel(), [], 'plumb_bob', 1280, 720, R=R, t=t)
    np.testing.assert_allclose(camera.center, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(camera.world_to_camera([[5.0, 2.0, 3.0]]), [[0, 0, 4]], atol=1e-12)
    # A point right of (world -y) and below (world -z) the axis lands right of and below cx, cy.
    pixel = camera.project([[5.0, 1.0, 2.0]])[0]
    np.testing.assert_allclose(pixel, [640 + 800 / 4, 360 + 810 / 4])


def test_rotation_from_quaternion_matches_scipy():
    quaternions = np.random.default_rng(5).normal(size=(20, 4))
    for q in quaternions:
        np.testing.assert_allclose(rotation_from_quaternion(q * 3.0),
                                   Rotation.from_quat(q).as_matrix(), atol=1e-12)
    with pytest.raises(CalibrationError, match='quaternion'):
        rotation_from_quaternion([0, 0, 0, 0])


VALID = {'name': 'c', 'K': K, 'dist': [0.0] * 5, 'distortion_model': 'plumb_bob',
         'width': 640, 'height': 480}


@pytest.mark.parametrize('change, message', [
    ({'K': np.zeros((3, 3))}, 'all zeros'),
    ({'K': np.where(np.eye(3) > 0, np.nan, K)}, 'non-finite'),
    ({'K': [[800, 0, 320], [0, 800, 240], [0, 0, 2]]}, 'not an intrinsic matrix'),
    ({'K': np.ones(8)}, 'K needs 9 values'),
    ({'dist': [0.1, np.inf, 0, 0, 0]}, 'non-finite'),
    ({'dist': [0.1, 0.0, 0.0]}, 'takes 4 or 5 coefficients'),
    ({'distortion_model': 'equidistant'}, 'takes 4 coefficients'),
    ({'distortion_model': 'thin_prism'}, 'unsupported distortion model'),
    ({'R': 2.0 * np.eye(3)}, 'not a rotation'),
    ({'R': np.diag([1.0, 1.0, -1.0])}, 'not a rotation'),
    ({'t': [0.0, np.nan, 1.0]}, 'non-finite'),
    ({'width': 0}, 'not positive'),
])
def test_invalid_cameras_raise(change, message):
    with pytest.raises(CalibrationError, match=message):
        make_camera(**{**VALID, **change})


def test_camera_info_of_an_uncalibrated_camera_raises():
    with pytest.raises(CalibrationError, match='all zeros'):
        camera_from_camera_info([0.0] * 9, [], '', 640, 480, name='raw')


@pytest.mark.parametrize('name, text, message', [
    ('bad.toml', '[cam_01\nsize = [1, 2]', 'unparsable TOML'),
    ('bad.yaml', 'image_width: [1, 2\n', 'unparsable YAML'),
    ('list.yaml', '- 1\n- 2\n', 'must be a mapping'),
    ('missing.toml', '[cam_01]\nsize = [640, 480]\ndistortions = [0, 0, 0, 0]\n'
                     'rotation = [0, 0, 0]\ntranslation = [0, 0, 1]\n', "missing field 'matrix'"),
    ('missing.yaml', 'image_width: 640\nimage_height: 480\n', "missing field 'camera_matrix'"),
    ('empty.toml', '[metadata]\nerror = 0.0\n', 'no cameras'),
    ('calib.json', '{}', 'unknown calibration format'),
])
def test_invalid_files_raise(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(CalibrationError, match=message):
        load_calibration(path)


def test_missing_file_raises(tmp_path):
    with pytest.raises(CalibrationError, match='cannot read'):
        load_calibration(tmp_path / 'absent.toml')
