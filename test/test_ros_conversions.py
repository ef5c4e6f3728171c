# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Message conversions, body frames, parameter validation and the live-pipeline helpers."""

import ast
import pathlib
import threading

from builtin_interfaces.msg import Time
import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from skelsplat_ros import settings
from skelsplat_ros.body_frames import body_frame, joints_in_body_frame, quaternion_from_matrix
from skelsplat_ros.cameras import CalibrationError, make_camera, rotation_from_quaternion
from skelsplat_ros.live import FusionEngine, person_from_estimate
from skelsplat_ros.live import resolve_device
from skelsplat_ros.pacing import KeyedThrottle, LatestMailbox
from skelsplat_ros.ros import conversions
from skelsplat_ros.ros.camera_states import CameraStates
from skelsplat_ros.ros.launch_arguments import arguments
from skelsplat_ros.ros.params import camera_info_topic_for, config_from_values, make_engine
from skelsplat_ros.ros.params import ParameterError, PARAMETERS, validate_update
from skelsplat_ros.ros.runner import check_params_file, default_params_file
from skelsplat_ros.skeletons import BLAZEPOSE33, COCO17_JOINTS, get_format, HALPE26
from skelsplat_ros.solver import PoseEstimate, SolverConfig
from skelsplat_ros.tracking import TrackerConfig
from std_msgs.msg import Header

J = {name: i for i, name in enumerate(COCO17_JOINTS)}


def _standing(facing=(1.0, 0.0, 0.0), offset=(2.0, -1.0, 0.0)):
    """Return (17, 3) joints of a person standing at ``offset``, facing ``facing``."""
    forward = np.asarray(facing, float) / np.linalg.norm(facing)
    up = np.array([0.0, 0.0, 1.0])
    left = np.cross(up, forward)
    local = {  # (forward, left, up) metres
        'nose': (0.1, 0, 1.6), 'left_eye': (0.08, 0.03, 1.65), 'right_eye': (0.08, -0.03, 1.65),
        'left_ear': (0, 0.08, 1.62), 'right_ear': (0, -0.08, 1.62),
        'left_shoulder': (0, 0.2, 1.4), 'right_shoulder': (0, -0.2, 1.4),
        'left_elbow': (0, 0.25, 1.1), 'right_elbow': (0, -0.25, 1.1),
        'left_wrist': (0.1, 0.25, 0.85), 'right_wrist': (0.1, -0.25, 0.85),
        'left_hip': (0, 0.12, 0.9), 'right_hip': (0, -0.12, 0.9),
        'left_knee': (0.05, 0.12, 0.5), 'right_knee': (0.05, -0.12, 0.5),
        'left_ankle': (0, 0.12, 0.08), 'right_ankle': (0, -0.12, 0.08)}
    return np.array([offset + f * forward + s * left + u * up
                     for f, s, u in (local[name] for name in COCO17_JOINTS)])


@pytest.mark.parametrize('facing', [(1, 0, 0), (0, 1, 0), (-1, 1, 0)])
def test_body_frame_faces_forward_with_z_up(facing):
    positions = _standing(facing)
    origin, rotation = body_frame(positions, np.ones(17, bool))
    np.testing.assert_allclose(origin, 0.5 * (positions[J['left_hip']]
                                              + positions[J['right_hip']]))
    np.testing.assert_allclose(rotation.T @ rotation, np.eye(3), atol=1e-12)
    assert np.linalg.det(rotation) == pytest.approx(1.0)
    np.testing.assert_allclose(rotation[:, 0], np.asarray(facing) / np.linalg.norm(facing),
                               atol=1e-12)
    np.testing.assert_allclose(rotation[:, 2], [0, 0, 1], atol=1e-12)
    local = joints_in_body_frame(positions, origin, rotation)
    assert local[J['left_hip'], 1] > 0 > local[J['right_hip'], 1]   # y left
    assert local[J['nose'], 0] > 0 and local[J['nose'], 2] > 0.5     # in front, above
    np.testing.assert_allclose(origin + local @ rotation.T, positions, atol=1e-12)


def test_body_frame_fallbacks():
    positions = _standing((0, 1, 0))
    known = np.ones(17, bool)
    known[[J['left_hip'], J['right_shoulder']]] = False
    origin, rotation = body_frame(positions, known)   # no hip pair, no torso: world up
    np.testing.assert_allclose(origin, positions[known].mean(axis=0))
    np.testing.assert_allclose(rotation, np.eye(3), atol=1e-12)  # no left/right pair at all
    known[J['right_shoulder']] = True
    _, rotation = body_frame(positions, known)        # shoulders give left, world gives up
    np.testing.assert_allclose(rotation[:, 1], [-1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(rotation[:, 2], [0, 0, 1], atol=1e-12)


def test_quaternion_round_trip():
    rng = np.random.default_rng(3)
    for _ in range(50):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        q = q if q[3] >= 0 else -q
        np.testing.assert_allclose(quaternion_from_matrix(rotation_from_quaternion(q)), q,
                                   atol=1e-9)


def _estimate(positions):
    num_joints = len(positions)
    covariance = np.tile(np.eye(3) * 1e-4, (num_joints, 1, 1))
    return PoseEstimate(positions=positions, confidence=np.full(num_joints, 0.8),
                        covariance=covariance, num_views=np.full(num_joints, 4),
                        reprojection_error=np.full(num_joints, 3.0),
                        inliers=np.ones((4, num_joints), bool),
                        person_index=np.zeros(4, int))


def test_person_has_no_nan_and_messages_keep_it():
    positions = _standing()
    positions[J['left_wrist']] = np.nan
    estimate = _estimate(positions)
    estimate.covariance[J['right_wrist']] = np.nan
    person = person_from_estimate(estimate, 1)
    centre = np.nanmean(positions, axis=0)
    np.testing.assert_allclose(person.positions[J['left_wrist']], centre)
    assert person.confidence[J['left_wrist']] == 0 and person.num_views[J['left_wrist']] == 0
    assert np.isfinite(person.covariance).all()
    assert person_from_estimate(_estimate(np.full((17, 3), np.nan)), 1) is None

    msg = conversions.person_msg(person)
    assert len(msg.covariance) == 9 * 17 and np.isfinite(msg.covariance).all()
    assert msg.covariance[9 * 2:9 * 3] == pytest.approx(list(np.eye(3).ravel() * 1e-4))
    assert list(msg.num_views)[J['left_wrist']] == 0
    transforms = conversions.person_transforms(person, conversions.Header().stamp, 'world')
    children = [t.child_frame_id for t in transforms]
    assert children[0] == 'body_1' and 'left_wrist_1' not in children and len(children) == 17
    cloud = conversions.points_msg([person], conversions.Header().stamp, 'world')
    data = np.frombuffer(bytes(cloud.data), conversions.POINT_DTYPE)
    assert cloud.width == 16 and J['left_wrist'] not in data['joint']
    np.testing.assert_allclose(data['x'], person.positions[person.known, 0], atol=1e-5)
    markers = conversions.person_markers(person, conversions.Header().stamp, 'world', 0.5,
                                         ellipsoids=True)
    ellipsoid = [m for m in markers if m.ns == 'skelsplat/covariance'][0]
    assert ellipsoid.scale.x == pytest.approx(2 * 0.01)  # 1-sigma diameter of 1e-4 m^2
    deleted = conversions.delete_markers([(m.ns, m.id) for m in markers], ellipsoid.header.stamp,
                                         'world')
    assert all(m.action == m.DELETE for m in deleted) and len(deleted) == len(markers)


def test_keypoints_message_round_trip():
    rng = np.random.default_rng(0)
    body25b = np.concatenate([rng.uniform(0, 1000, (2, 25, 2)), rng.uniform(0, 1, (2, 25, 1))],
                             axis=2)
    msg = conversions.keypoints_msg(body25b, 'body25b', conversions.Header().stamp, 'cam')
    coco = conversions.keypoints_msg_to_skeleton(msg)
    np.testing.assert_allclose(coco, body25b[:, :17].astype(np.float32), rtol=1e-7)
    msg.skeleton_format = ''
    msg.joint_names = list(get_format('body25b').joint_names)
    assert conversions.keypoints_msg_to_skeleton(msg).shape == (2, 17, 3)
    msg.people[1].keypoints.pop()
    with pytest.raises(conversions.KeypointsMessageError, match='person 1 has 24'):
        conversions.keypoints_msg_to_skeleton(msg)
    msg.skeleton_format = 'nonsense'
    with pytest.raises(conversions.KeypointsMessageError, match='unknown keypoint format'):
        conversions.keypoints_msg_to_skeleton(msg)


def test_flat_keypoints_message_reads_as_the_per_joint_one():
    rng = np.random.default_rng(2)
    body25b = np.concatenate([rng.uniform(0, 1000, (3, 25, 2)), rng.uniform(0, 1, (3, 25, 1))],
                             axis=2)
    stamp = conversions.Header().stamp
    flat = conversions.keypoints_msg(body25b, 'body25b', stamp, 'cam', flat=True)
    assert not flat.people and flat.num_joints == 25 and len(flat.xy) == 3 * 25 * 2
    # As received (rclpy's own serialisation: float32 on the wire, arrays as array.array).
    per_joint, flat = (deserialize_message(serialize_message(msg), type(msg)) for msg in (
        conversions.keypoints_msg(body25b, 'body25b', stamp, 'cam'), flat))
    coco = conversions.keypoints_msg_to_skeleton(flat)
    np.testing.assert_array_equal(coco, conversions.keypoints_msg_to_skeleton(per_joint))
    np.testing.assert_allclose(coco, body25b[:, :17].astype(np.float32), rtol=1e-7)
    # By joint name as well, and nobody in view.
    flat.skeleton_format = ''
    flat.joint_names = list(get_format('body25b').joint_names)
    np.testing.assert_array_equal(conversions.keypoints_msg_to_skeleton(flat), coco)
    empty = conversions.keypoints_msg(np.zeros((0, 25, 3)), 'body25b', stamp, 'cam', flat=True)
    assert conversions.keypoints_msg_to_skeleton(empty).shape == (0, 17, 3)


def test_flat_keypoints_of_another_layout_are_refused_not_misread():
    # 17 people of BODY_25B sent as COCO-17 hold 25 people's worth of COCO-17 values: only
    # num_joints tells them apart.
    body25b = np.random.default_rng(3).uniform(0, 1, (17, 25, 3))
    msg = conversions.keypoints_msg(body25b, 'body25b', conversions.Header().stamp, 'cam',
                                    flat=True)
    msg.skeleton_format = 'coco17'
    with pytest.raises(conversions.KeypointsMessageError,
                       match='num_joints is 25, the message names 17 joints'):
        conversions.keypoints_msg_to_skeleton(msg)
    msg.skeleton_format, msg.num_joints = 'body25b', 25
    msg.confidence = msg.confidence[:-1]
    with pytest.raises(conversions.KeypointsMessageError, match='are not 2 \\* P \\* 25'):
        conversions.keypoints_msg_to_skeleton(msg)
    msg.confidence.append(0.5)
    msg.xy = msg.xy[:-2]
    with pytest.raises(conversions.KeypointsMessageError, match='are not 2 \\* P \\* 25'):
        conversions.keypoints_msg_to_skeleton(msg)
    both = conversions.keypoints_msg(body25b[:1], 'body25b', conversions.Header().stamp, 'cam')
    both.num_joints, both.xy, both.confidence = 25, msg.xy[:50], msg.confidence[:25]
    with pytest.raises(conversions.KeypointsMessageError, match='use one form'):
        conversions.keypoints_msg_to_skeleton(both)


def test_keypoints_message_is_mapped_by_joint_name():
    rng = np.random.default_rng(1)
    body25b = np.concatenate([rng.uniform(0, 1000, (1, 25, 2)), rng.uniform(0, 1, (1, 25, 1))],
                             axis=2).astype(np.float32)
    names = get_format('body25b').joint_names
    msg = conversions.keypoints_msg(body25b, 'body25b', conversions.Header().stamp, 'cam')
    # HALPE-26 shares COCO-17, neck, head and the feet with BODY_25B; its 'hip' is missing.
    halpe = conversions.keypoints_msg_to_skeleton(msg, HALPE26)
    assert halpe.shape == (1, 26, 3)
    for j, name in enumerate(HALPE26.joint_names):
        expected = body25b[0, names.index(name)] if name in names else (0.0, 0.0, 0.0)
        np.testing.assert_array_equal(halpe[0, j], expected)
    assert halpe[0, HALPE26.joint_names.index('hip'), 2] == 0.0
    # BlazePose-33 from the same message: the shared joints, and no inner eye corners.
    blaze = conversions.keypoints_msg_to_skeleton(msg, BLAZEPOSE33)
    assert blaze.shape == (1, 33, 3)
    for name in ('nose', 'left_eye', 'right_wrist', 'left_heel'):
        np.testing.assert_array_equal(blaze[0, BLAZEPOSE33.joint_names.index(name)],
                                      body25b[0, names.index(name)])
    assert blaze[0, BLAZEPOSE33.joint_names.index('left_eye_inner'), 2] == 0.0
    # Joint names without a format are mapped the same way.
    msg.skeleton_format = ''
    msg.joint_names = list(names)
    np.testing.assert_array_equal(conversions.keypoints_msg_to_skeleton(msg, HALPE26), halpe)
    # Joints that cannot be mapped are refused, never misread.
    msg.joint_names = [f'marker_{j}' for j in range(25)]
    with pytest.raises(conversions.KeypointsMessageError, match='no joint of the message'):
        conversions.keypoints_msg_to_skeleton(msg)
    msg.joint_names = list(names[:24])
    with pytest.raises(conversions.KeypointsMessageError, match='person 0 has 25 keypoints'):
        conversions.keypoints_msg_to_skeleton(msg)
    msg.skeleton_format = 'body25b'
    with pytest.raises(conversions.KeypointsMessageError, match='do not match'):
        conversions.keypoints_msg_to_skeleton(msg)


def test_camera_info_round_trip_and_zero_k():
    camera = make_camera('cam', [[1500, 0, 540], [0, 1500, 960], [0, 0, 1]],
                         [0.01, -0.02, 0.001, 0.0005, 0.0], 'plumb_bob', 1080, 1920)
    msg = conversions.camera_info_msg(camera, conversions.Header().stamp, 'cam_optical')
    back = conversions.camera_from_info_msg(msg, 'cam')
    np.testing.assert_allclose(back.K, camera.K)
    np.testing.assert_allclose(back.dist, camera.dist)
    assert (back.width, back.height, back.distortion_model) == (1080, 1920, 'plumb_bob')
    msg.k = [0.0] * 9
    with pytest.raises(CalibrationError, match='all zeros'):
        conversions.camera_from_info_msg(msg, 'cam')


def _values(tmp_path, **changes):
    calibration = tmp_path / 'calib.toml'
    calibration.write_text('')
    values = {name: default for name, (default, _) in PARAMETERS.items()}
    values.update(camera_names=['cam_a', 'cam_b'], calibration_file=str(calibration))
    values.update(changes)
    return values


def test_parameter_validation(tmp_path):
    config = config_from_values(_values(tmp_path))
    assert config.camera_names == ('cam_a', 'cam_b')
    assert config.cameras[0].image_topic == 'cam_a/image_raw'
    assert config.cameras[0].camera_info_topic == 'cam_a/camera_info'
    assert camera_info_topic_for('/c/image_raw/compressed') == '/c/camera_info'
    cases = {'min_views': 3, 'slop': -0.1, 'max_wait': 0.0, 'detector': 'yolo',
             'device': 'tpu', 'world_frame': '/world', 'image_qos': 'fast',
             'camera_names': ['a', 'a'], 'calibration_file': '/does/not/exist.toml',
             'publish_tf': 'yes', 'detector_max_side': 8, 'solver_objective': 'fastest',
             'solver_temporal': 1, 'solver_accel_sigma': 0.0, 'detector_num_poses': 0,
             'model_path': str(tmp_path / 'missing.task')}
    for name, value in cases.items():
        with pytest.raises(ParameterError, match=name):
            config_from_values(_values(tmp_path, **{name: value}))
    with pytest.raises(ParameterError, match='onnx_model_path'):
        config_from_values(_values(tmp_path, detector='onnx'))
    (tmp_path / 'broken.task').write_bytes(b'PK not a zip')
    with pytest.raises(ParameterError, match=r'model_path: not a MediaPipe \.task bundle .*'
                       r'broken\.task: build the bundle with `bash scripts/setup.sh`'):
        config_from_values(_values(tmp_path, model_path=str(tmp_path / 'broken.task')))
    # Several people by default, with every detector (MediaPipe's Tasks API finds several).
    assert config.multi_person and config.detector == 'mediapipe'
    assert not config_from_values(_values(tmp_path, multi_person=False)).multi_person
    assert config_from_values(_values(tmp_path, detector='keypoints_topic',
                                      multi_person=True)).multi_person
    with pytest.raises(ParameterError, match='solver_accel_sigma'):
        config_from_values(_values(tmp_path, solver_accel_sigma=1001.0))
    assert config_from_values(_values(tmp_path, solver_accel_sigma=5)).solver.accel_sigma == 5.0
    # The node and `skelsplat bag` build their engine from the configuration alike.
    engine = make_engine(config_from_values(_values(
        tmp_path, detector='keypoints_topic', multi_person=True, solver_objective='rendered',
        tracker_gate_m=0.3, device='cpu')), notify=lambda message: None)
    assert engine.multi_person and engine.objective == 'rendered' and engine.device == 'cpu'
    assert engine.skeleton.name == 'coco17'
    cpu = config_from_values(_values(tmp_path, device='cpu'))
    assert make_engine(cpu, notify=lambda message: None).objective == 'analytic'
    updated, reason = validate_update(config, 'min_views', 1)
    assert updated.min_views == 1 and not reason
    updated, reason = validate_update(config, 'min_views', 5)
    assert updated is None and 'min_views' in reason
    updated, reason = validate_update(config, 'detector', 'onnx')
    assert updated is None and 'restart' in reason
    updated, reason = validate_update(config, 'solver_accel_sigma', 3.0)
    assert updated is None and 'restart' in reason
    assert config_from_values(_values(tmp_path, skeleton='halpe26')).skeleton is HALPE26
    with pytest.raises(ParameterError, match='skeleton'):
        config_from_values(_values(tmp_path, skeleton='h36m'))


@pytest.mark.parametrize('config_class, prefix', [(SolverConfig, 'solver_'),
                                                  (TrackerConfig, 'tracker_')])
def test_parameters_are_generated_from_the_config_fields(tmp_path, config_class, prefix):
    fields = list(settings.exposed(config_class))
    assert fields and 'backend' not in {field.name for field in fields}
    config = config_from_values(_values(tmp_path))
    part = config.solver if prefix == 'solver_' else config.tracker
    assert part == config_class()   # every default reaches the configuration
    for field in fields:
        name = prefix + field.name
        assert PARAMETERS[name] == (field.default, settings.describe(field)), name
        # Each value goes to its field, and is checked against the field's bounds.
        meta = field.metadata
        if meta['kind'] is bool:
            value = not field.default
        elif meta['choices']:
            value = [choice for choice in meta['choices'] if choice != field.default][0]
        else:
            value = meta['low'] if meta['low'] is not None and not meta['low_open'] \
                else meta['high']
        changed = config_from_values(_values(tmp_path, **{name: value}))
        assert getattr(changed.solver if prefix == 'solver_' else changed.tracker,
                       field.name) == value, name
        bad = 'yes' if meta['kind'] in (bool, int, float) else 3
        with pytest.raises(ParameterError, match=f'^{name}: '):
            config_from_values(_values(tmp_path, **{name: bad}))


def test_out_of_range_solver_values_are_refused_in_one_line(tmp_path):
    for value, why in ((float('inf'), 'must be in (0, 1000]'), (float('nan'), 'must be'),
                       (0.0, 'must be in (0, 1000]'), (True, 'expected a number')):
        with pytest.raises(ParameterError) as error:
            config_from_values(_values(tmp_path, solver_accel_sigma=value))
        message = str(error.value)
        assert message.startswith('solver_accel_sigma: ') and why in message
        assert '\n' not in message
    with pytest.raises(ParameterError, match='^tracker_min_views: must be in .2, 1000'):
        config_from_values(_values(tmp_path, tracker_min_views=1))


def test_params_file_checks(tmp_path):
    assert check_params_file(default_params_file())['camera_names'][0] == 'cam_01'
    empty = tmp_path / 'other.yaml'
    empty.write_text('other_node:\n  ros__parameters: {a: 1}\n')
    with pytest.raises(ParameterError, match="no parameters for node 'skelsplat_node'"):
        check_params_file(empty)


def test_mailbox_newest_wins_and_throttle():
    mailbox = LatestMailbox()
    assert not mailbox.put(1) and mailbox.put(2) and mailbox.dropped == 1
    assert mailbox.get(timeout=0) == 2 and mailbox.get(timeout=0) is None
    taken = []
    worker = threading.Thread(target=lambda: taken.append(mailbox.get(timeout=5.0)))
    worker.start()
    mailbox.put(3)
    worker.join()
    assert taken == [3]
    mailbox.close()
    assert mailbox.get(timeout=5.0) is None and mailbox.closed

    now = [0.0]
    throttle = KeyedThrottle(5.0, clock=lambda: now[0])
    assert throttle.allow('a') == (True, 0)
    assert throttle.allow('a') == (False, 0) and throttle.allow('b') == (True, 0)
    now[0] = 5.0
    assert throttle.allow('a') == (True, 1)


def test_auto_objective_follows_the_device():
    on_gpu = FusionEngine(['a'], detector=None, device='cuda', cuda_available=True,
                          notify=lambda line: None)
    on_cpu = FusionEngine(['a'], detector=None, device='auto', cuda_available=False,
                          solver_config=SolverConfig(objective='auto'), notify=lambda line: None)
    assert (on_gpu.objective, on_cpu.objective) == ('rendered', 'analytic')
    chosen = FusionEngine(['a'], detector=None, device='cpu', notify=lambda line: None,
                          solver_config=SolverConfig(objective='rendered'))
    assert chosen.objective == 'rendered'


def test_resolve_device():
    assert resolve_device('auto', True)[0] == 'cuda'
    device, message = resolve_device('auto', False)
    assert device == 'cpu' and 'CPU' in message
    device, message = resolve_device('cuda', False)
    assert device == 'cpu' and 'no CUDA device' in message
    assert resolve_device('cpu', True)[0] == 'cpu'


def test_launch_file_declares_its_arguments():
    path = pathlib.Path(__file__).resolve().parents[1] / 'launch' / 'multiview.launch.py'
    tree = ast.parse(path.read_text(), str(path))
    # Declared from launch_arguments.arguments() only, which the in-process runner uses too.
    declarations = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
                    and getattr(node.func, 'id', '') == 'DeclareLaunchArgument']
    assert [ast.unparse(node) for node in declarations] == [
        'DeclareLaunchArgument(name, default_value=default, description=description)']
    assert 'in arguments().items()' in ast.unparse(tree)
    used = {node.args[0].value for node in ast.walk(tree) if isinstance(node, ast.Call)
            and getattr(node.func, 'id', '') == 'LaunchConfiguration'}
    assert used == set(arguments()) == {'params_file', 'namespace', 'use_sim_time', 'rviz'}
    assert 'skelsplat.rviz' in path.read_text() and 'skelsplat_node' in path.read_text()


def test_keypoints_not_from_their_cameras_images_are_refused(tmp_path):
    config = config_from_values(_values(tmp_path, detector='keypoints_topic',
                                        extrinsics_source='tf'))
    states = CameraStates(config, FusionEngine(config.camera_names, detector=None), {})
    stamp = Time(sec=100, nanosec=5)
    # Before any CameraInfo, the camera's frame is not known: any frame_id is taken.
    assert states.keypoints_origin('cam_a', Header(stamp=stamp, frame_id='anything')) == ''
    camera = make_camera('cam_a', [[1500, 0, 540], [0, 1500, 960], [0, 0, 1]], [], 'none',
                         1080, 1920)
    assert states.camera_info('cam_a', conversions.camera_info_msg(camera, stamp,
                                                                   'cam_a_optical')) == ''
    assert states.keypoints_origin('cam_a', Header(stamp=stamp, frame_id='cam_a_optical')) == ''
    assert states.keypoints_origin('cam_a', Header(stamp=stamp, frame_id='cam_b_optical')) == (
        "their frame_id 'cam_b_optical' is not the camera's ('cam_a_optical', from its "
        "CameraInfo): another camera's keypoints on this topic?")
    assert 'stamp is zero' in states.keypoints_origin(
        'cam_a', Header(stamp=Time(), frame_id='cam_a_optical'))
    # The other camera has no CameraInfo yet.
    assert states.keypoints_origin('cam_b', Header(stamp=stamp, frame_id='cam_a_optical')) == ''
