# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Camera models from CameraInfo (binning, ROI, rectified P) and poses at each frame's stamp.

Known geometry: the pose2sim demo rig and its motion-capture truth.  Detections are the
truth projected through the cameras as they were at each stamp, so the fused skeleton must
match the truth; with the camera models or poses the node used before (K and D whatever the
binning, ROI or rectification; the latest camera pose instead of the one at the stamp) it
must not.
"""

import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo, RegionOfInterest
from skelsplat_ros.cameras import CalibrationError, CameraRig, make_camera
from skelsplat_ros.live import fuse_group
from skelsplat_ros.ros import conversions
from skelsplat_ros.ros.camera_states import CameraStates, PoseUnavailable
from skelsplat_ros.ros.params import config_from_values, load_calibrated_cameras, make_engine
from skelsplat_ros.ros.params import PARAMETERS
from skelsplat_ros.triangulation import triangulate_dlt
from solver_helpers import demo_rig, observe

FRAMES = range(0, 100, 2)    # 50 groups at 30 Hz (the demo is filmed at 60 Hz)
RATE_HZ = 60.0


@pytest.fixture(scope='module')
def rig(data_root):
    """Return the demo's cameras, truth (F, J, 3) and the joints it has."""
    return demo_rig(data_root)


def _values(data_root, names, **overrides):
    """Return every parameter's default, ``names`` of the demo calibration, ``overrides``."""
    values = {name: default for name, (default, _) in PARAMETERS.items()}
    calibration = data_root / 'pose2sim-0.4.15/Pose2Sim/Demo/calibration/Calib_qualisys.toml'
    values.update(camera_names=list(names), calibration_file=str(calibration),
                  detector='keypoints_topic', device='cpu', solver_objective='analytic')
    values.update(overrides)
    return values


def _orbit(camera, centre, angle):
    """Return the pose of the camera turned by ``angle`` about the vertical through ``centre``.

    World points seen from the turned camera are the points turned by -angle seen from the
    original one: ``x_cam = R Rz(angle)^T (x - c) + R c + t``.
    """
    c, s = np.cos(angle), np.sin(angle)
    turn = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    R = camera.R @ turn.T
    return R, camera.R @ centre + camera.t - R @ centre


def _mpjpe_mm(people, positions, known):
    assert len(people) == 1
    return 1000 * np.linalg.norm(people[0].positions[known] - positions[known], axis=1).mean()


def _fuse_moving_rig(data_root, rig, stale):
    """Fuse groups of cam_01 (fixed) and cam_02 (orbiting); return the MPJPE per group, mm.

    ``stale``: the pose source gives cam_02's first pose at every stamp.
    """
    cameras, truth, coco_index = rig
    names = ('cam_01', 'cam_02')
    config = config_from_values(_values(data_root, names, extrinsics_source='tf',
                                        intrinsics_source='calibration_file'))
    file_cameras = load_calibrated_cameras(config)
    engine = make_engine(config, notify=lambda line: None)
    centre = np.nanmean(truth[FRAMES[0]], axis=0)
    stamps = {frame: int(1e9 + frame / RATE_HZ * 1e9) for frame in FRAMES}
    angles = {stamps[frame]: np.radians(0.5 * i) for i, frame in enumerate(FRAMES)}

    def pose_source(frame_id, stamp_ns, timeout_s):
        camera = file_cameras[frame_id.replace('_optical_frame', '')]
        if camera.name == 'cam_01':
            return camera.R, camera.t
        return _orbit(camera, centre, angles[stamps[FRAMES[0]] if stale else stamp_ns])

    states = CameraStates(config, engine, file_cameras, pose_source, config.tf_timeout)
    errors, fixed_cameras = [], []
    for frame in FRAMES:
        stamp = stamps[frame]
        moved = [file_cameras['cam_01'], make_camera(
            'cam_02', *[getattr(file_cameras['cam_02'], key) for key in
                        ('K', 'dist', 'distortion_model', 'width', 'height')],
            *_orbit(file_cameras['cam_02'], centre, angles[stamp]))]
        views = observe(moved, truth[frame])
        assert states.update_poses({name: (f'{name}_optical_frame', stamp)
                                    for name in names}) == {}
        fixed_cameras.append(engine.camera('cam_01'))
        result = fuse_group(engine, dict(zip(names, views[:, None])),
                            lambda name, keypoints: keypoints, stamp=stamp * 1e-9)
        known = np.zeros(len(truth[frame]), bool)
        known[coco_index] = True
        errors.append(_mpjpe_mm(result.people, truth[frame], known))
    # The fixed camera's pose never changed: it was registered once, nothing rebuilt for it.
    assert all(camera is fixed_cameras[0] for camera in fixed_cameras)
    return np.array(errors)


def test_a_moving_camera_is_placed_where_it_was_at_each_stamp(data_root, rig):
    errors = _fuse_moving_rig(data_root, rig, stale=False)
    assert errors.max() < 1.0, errors
    # The same groups fused with the camera's first pose (what a latest-pose lookup refreshed
    # once a second gives between refreshes) are wrong, more so as the camera turns away.
    stale = _fuse_moving_rig(data_root, rig, stale=True)
    assert stale[0] < 1.0 and stale[-1] > 100.0, stale


def test_a_pose_unknown_at_the_stamp_drops_that_frame(data_root, rig):
    names = ('cam_01', 'cam_02', 'cam_03')
    config = config_from_values(_values(data_root, names, extrinsics_source='tf',
                                        intrinsics_source='calibration_file'))
    file_cameras = load_calibrated_cameras(config)
    engine = make_engine(config, notify=lambda line: None)
    asked = []

    def pose_source(frame_id, stamp_ns, timeout_s):
        asked.append((frame_id, stamp_ns, timeout_s))
        if frame_id == 'cam_03_optical_frame':
            raise PoseUnavailable('no transform world -> cam_03_optical_frame')
        camera = file_cameras[frame_id.replace('_optical_frame', '')]
        return camera.R, camera.t

    states = CameraStates(config, engine, file_cameras, pose_source, pose_timeout=0.25)
    # Ready before any pose: a camera's frames are taken once its intrinsics are known.
    assert all(states.ready(name) is not None for name in names)
    assert engine.ready_cameras() == []
    faults = states.update_poses({'cam_01': ('cam_01_optical_frame', 5),
                                  'cam_02': ('', 5), 'cam_03': ('cam_03_optical_frame', 7)})
    assert set(faults) == {'cam_02', 'cam_03'} and 'frame_id' in faults['cam_02']
    assert 'cam_03_optical_frame' in faults['cam_03']
    assert engine.ready_cameras() == ['cam_01']
    # One time budget for the group, never more than the timeout.
    assert [stamp for _, stamp, _ in asked] == [5, 7]
    assert all(0.0 <= timeout <= 0.25 for _, _, timeout in asked)


def _info(camera, **fields):
    msg = conversions.camera_info_msg(camera, stamp=CameraInfo().header.stamp,
                                      frame_id=f'{camera.name}_optical_frame')
    for key, value in fields.items():
        setattr(msg, key, value)
    return msg


def _triangulation_error_mm(cameras, pixels, truth, known):
    rig = CameraRig(cameras)
    points = np.stack([camera.undistort_points(view) for camera, view in zip(cameras, pixels)])
    weights = np.ones(points.shape[:2])
    located = triangulate_dlt(rig.projections, points, weights)
    return 1000 * np.linalg.norm(located[known] - truth[known], axis=1).max()


def _posed(intrinsics, camera):
    return make_camera(camera.name, intrinsics.K, intrinsics.dist, intrinsics.distortion_model,
                       intrinsics.width, intrinsics.height, R=camera.R, t=camera.t)


def test_binning_and_roi_map_the_images_pixels_to_the_calibration(rig):
    cameras, truth, coco_index = rig
    positions = truth[50]
    known = np.zeros(len(positions), bool)
    known[coco_index] = True
    crops = [(2, 2, RegionOfInterest(x_offset=40, y_offset=20, width=1000, height=900)),
             (1, 1, RegionOfInterest(x_offset=100, y_offset=50, width=900, height=900)),
             (2, 1, RegionOfInterest()), (4, 4, RegionOfInterest())]
    models, naive, pixels = [], [], []
    for camera, (bx, by, roi) in zip(cameras, crops):
        full = camera.project(positions[known])
        # The driver's images: the calibration's pixels cut to the ROI, then binned.
        offset = np.array([roi.x_offset, roi.y_offset], float)
        pixels.append((full - offset) / [bx, by])
        msg = _info(camera, binning_x=bx, binning_y=by, roi=roi)
        model = conversions.camera_from_info_msg(msg, camera.name)
        width = roi.width or camera.width
        height = roi.height or camera.height
        assert (model.width, model.height) == (width // bx, height // by)
        models.append(_posed(model, camera))
        naive.append(camera)   # K and D as they are: what the node did before
    truth_known = positions[known]
    all_known = np.ones(len(truth_known), bool)
    assert _triangulation_error_mm(models, pixels, truth_known, all_known) < 1.0
    assert _triangulation_error_mm(naive, pixels, truth_known, all_known) > 100.0


def test_a_roi_outside_the_calibrated_image_is_rejected(rig):
    camera = rig[0][0]
    msg = _info(camera, roi=RegionOfInterest(x_offset=camera.width - 10, width=20, height=10))
    with pytest.raises(CalibrationError, match='roi'):
        conversions.camera_from_info_msg(msg, camera.name)


def test_rectified_cameras_use_p_without_distortion_and_stereo_offset(data_root, rig):
    cameras, truth, coco_index = rig
    positions = truth[50][coco_index]
    left = cameras[0]
    assert left.dist.any(), 'the test needs a distorted camera: rectified must ignore D'
    # A rectified stereo pair in the left camera's frame: new focal length and centre, the
    # right camera 0.3 m to the right (Tx = -fx' B), both images binned by 2.
    K_rect = np.array([[1500.0, 0.0, 980.0], [0.0, 1500.0, 520.0], [0.0, 0.0, 1.0]])
    baseline = 0.3
    P_left = np.hstack([K_rect, np.zeros((3, 1))])
    P_right = np.hstack([K_rect, [[-K_rect[0, 0] * baseline], [0.0], [0.0]]])
    pixels, models = [], []
    for P in (P_left, P_right):
        # image_geometry's project3dToPixel: P times the point in the message's frame.
        homogeneous = np.c_[left.world_to_camera(positions), np.ones(len(positions))] @ P.T
        pixels.append(homogeneous[:, :2] / homogeneous[:, 2:] / 2)
        msg = _info(left, p=P.reshape(12).tolist(), binning_x=2, binning_y=2)
        model = conversions.camera_from_info_msg(msg, left.name, rectified=True)
        assert model.distortion_model == 'none'
        models.append(model)
    np.testing.assert_allclose(models[0].t, [0.0, 0.0, 0.0])
    np.testing.assert_allclose(models[1].t, [-baseline, 0.0, 0.0])

    # Through the node's CameraStates, with the per-camera parameter: each camera's pose is
    # its frame's (both cameras here in the left camera's frame) and the right one's offset.
    names = ('cam_01', 'cam_02')
    config = config_from_values(_values(data_root, names, **{
        f'cameras.{name}.rectified': True for name in names}))
    assert all(camera.rectified for camera in config.cameras)
    engine = make_engine(config, notify=lambda line: None)
    states = CameraStates(config, engine, dict.fromkeys(names, left))
    for name, P in zip(names, (P_left, P_right)):
        assert states.camera_info(name, _info(left, p=P.reshape(12).tolist(), binning_x=2,
                                              binning_y=2)) == ''
    posed = [engine.camera(name) for name in names]
    np.testing.assert_allclose(posed[1].center - posed[0].center,
                               left.R.T @ [baseline, 0.0, 0.0], atol=1e-9)
    every = np.ones(len(positions), bool)
    assert _triangulation_error_mm(posed, pixels, positions, every) < 1.0
    # K and D of the raw image instead: wrong.
    raw = conversions.camera_from_info_msg(_info(left, p=P_left.reshape(12).tolist()),
                                           left.name)
    assert _triangulation_error_mm([_posed(raw, left), posed[1]], pixels, positions,
                                   every) > 100.0


def test_a_tracked_person_keeps_its_id_while_a_camera_moves(rig):
    from skelsplat_ros.live import FusionEngine
    from skelsplat_ros.solver import SolverConfig
    cameras, truth, coco_index = rig
    names = [camera.name for camera in cameras]
    engine = FusionEngine(names, detector=None, device='cpu', notify=lambda line: None,
                          solver_config=SolverConfig(objective='analytic'), multi_person=True)
    for camera in cameras:
        engine.set_camera(camera.name, camera)
    centre = np.nanmean(truth[0], axis=0)
    moving = list(cameras)
    for frame in range(0, 60, 2):
        if frame >= 20:   # cam_02 starts turning about the person
            R, t = _orbit(cameras[1], centre, np.radians(frame - 20))
            assert engine.set_pose('cam_02', R, t)
            moving[1] = make_camera('cam_02', cameras[1].K, cameras[1].dist,
                                    cameras[1].distortion_model, cameras[1].width,
                                    cameras[1].height, R, t)
        views = observe(moving, truth[frame])
        people, _ = engine.track(dict(zip(names, views[:, None])), stamp=frame / RATE_HZ)
        if frame >= 10:
            assert [track_id for track_id, _ in people] == [0], frame
            error = np.linalg.norm(people[0][1].positions[coco_index]
                                   - truth[frame][coco_index], axis=1)
            assert 1000 * error.max() < 5.0, frame
