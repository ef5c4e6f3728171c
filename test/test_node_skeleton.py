# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The ``skeleton`` parameter end to end: HALPE-26 or BlazePose-33 keypoints in, same joints out.

A synthetic person of known 3D joints stands among the pose2sim demo's four calibrated
cameras; its exact projections go to the node as Keypoints2D over real DDS.  The node, run
with ``skeleton:=<that joint set>``, must publish a HumanPose3D with the joint set's names at
the known positions, marker bones of that joint set, and a TF frame per joint.
"""

from node_helpers import calibrate, CAMERAS, Probe, stamp_of
import numpy as np
import pytest
from ros_helpers import RosContext, spin_until
from skelsplat_ros.cameras import load_calibration
from skelsplat_ros.ros.conversions import keypoints_msg
from skelsplat_ros.ros.runner import create_node, default_params_file
from skelsplat_ros.skeletons import BLAZEPOSE33, HALPE26

pytestmark = pytest.mark.ros

NUM_GROUPS = 3
OUTPUT_TIMEOUT_S = 60.0
# Where the four cameras' optical axes pass closest, on the floor (metres, world Z up).
STANDING_AT = np.array([-0.94, -0.02, 0.0])

# (forward, left, up) metres of the left-side and middle joints; right = left mirrored.
_LEFT = {
    'eye_inner': (0.09, 0.015, 1.66), 'eye': (0.085, 0.03, 1.66), 'eye_outer': (0.08, 0.045, 1.66),
    'ear': (0.0, 0.08, 1.62), 'shoulder': (0.0, 0.2, 1.42), 'elbow': (0.02, 0.26, 1.12),
    'wrist': (0.12, 0.27, 0.88), 'pinky': (0.16, 0.28, 0.82), 'index': (0.18, 0.26, 0.81),
    'thumb': (0.17, 0.23, 0.85), 'hip': (0.0, 0.11, 0.92), 'knee': (0.05, 0.12, 0.5),
    'ankle': (0.0, 0.12, 0.08), 'heel': (-0.05, 0.12, 0.03), 'big_toe': (0.16, 0.13, 0.02),
    'small_toe': (0.14, 0.17, 0.02), 'foot_index': (0.16, 0.13, 0.02),
}
_MIDDLE = {'nose': (0.11, 0.0, 1.6), 'head': (0.02, 0.0, 1.78), 'neck': (0.0, 0.0, 1.5),
           'hip': (0.0, 0.0, 0.92), 'mouth_left': (0.1, 0.025, 1.55),
           'mouth_right': (0.1, -0.025, 1.55)}


def _local(name):
    if name in _MIDDLE:
        return _MIDDLE[name]
    side, _, joint = name.partition('_')
    forward, left, up = _LEFT[joint]
    return forward, left if side == 'left' else -left, up


def _person(skeleton):
    """Return (J, 3) world positions of a person facing +x, standing at STANDING_AT."""
    return STANDING_AT + np.array([_local(name) for name in skeleton.joint_names])


@pytest.mark.parametrize('skeleton', [HALPE26, BLAZEPOSE33], ids=lambda s: s.name)
def test_keypoints_of_another_joint_set_come_out_in_it(data_root, skeleton):
    calibration = data_root / 'pose2sim-0.4.15' / 'Pose2Sim' / 'Demo' / 'calibration' / \
        'Calib_qualisys.toml'
    cameras = {camera.name: camera for camera in load_calibration(calibration)}
    truth = _person(skeleton)
    views = {}
    for name, camera in cameras.items():
        assert (camera.world_to_camera(truth)[:, 2] > 0).all()
        pixels = camera.project(truth)
        assert ((pixels >= 0) & (pixels < [camera.width, camera.height])).all(), name
        views[name] = np.concatenate([pixels, np.full((len(truth), 1), 0.9)], axis=1)[None]
    overrides = {'calibration_file': str(calibration), 'detector': 'keypoints_topic',
                 'image_qos': 'reliable', 'device': 'cpu', 'max_wait': 5.0,
                 'skeleton': skeleton.name,
                 'frame_style': 'skelsplat'}  # one frame per joint, named after it
    with RosContext() as ros:
        node = create_node(default_params_file(), overrides, context=ros.context)
        ros.executor.add_node(node)
        ros.nodes.append(node)
        probe = Probe(ros.node('probe'), dict.fromkeys(CAMERAS, 'keypoints'))
        calibrate(ros, probe, cameras)
        for index in range(NUM_GROUPS):
            for name in CAMERAS:
                probe.inputs[name].publish(keypoints_msg(
                    views[name], skeleton.name, stamp_of(index), f'{name}_optical_frame'))
            assert spin_until(ros.executor, lambda: probe.count('/human_pose_3d') > index,
                              timeout_s=OUTPUT_TIMEOUT_S), f'no output for group {index}'
        assert spin_until(ros.executor, lambda: probe.count('/tf') >= NUM_GROUPS
                          and probe.count('/human_pose_3d/markers') >= NUM_GROUPS)
        poses = probe.messages('/human_pose_3d')
        markers = probe.messages('/human_pose_3d/markers')[-1].markers
        frames = {t.child_frame_id for t in probe.messages('/tf')[-1].transforms}

    person = poses[-1].people[0]
    assert person.skeleton_format == skeleton.name
    assert tuple(person.joint_names) == skeleton.joint_names
    positions = np.array([[p.x, p.y, p.z] for p in person.positions])
    assert positions.shape == (skeleton.num_joints, 3)
    # Exact projections from four views: every joint at its true place.
    np.testing.assert_allclose(positions, truth, atol=0.01)
    assert list(person.num_views) == [4] * skeleton.num_joints
    assert len(person.covariance) == 9 * skeleton.num_joints
    bones = [m for m in markers if m.ns == 'skelsplat/bones' and m.id == person.id][0]
    ends = np.array([[p.x, p.y, p.z] for p in bones.points]).reshape(-1, 2, 3)
    np.testing.assert_allclose(ends, positions[skeleton.bones], atol=1e-6)
    joint_frames = {f'{joint}_{person.id}' for joint in skeleton.joint_names}
    assert frames == {f'body_{person.id}'} | joint_frames
