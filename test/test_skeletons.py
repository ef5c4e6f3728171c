# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Joint sets, format mappings, bones and the H36M conversion."""

import numpy as np
import pytest

from skelsplat_ros import skeletons
from skelsplat_ros.fileio.trc import read_trc


def test_blazepose_mapping_matches_the_published_indices():
    index = skeletons.get_format('blazepose33').coco17_index
    assert index.tolist() == [0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]


def test_body25_mapping_follows_openpose_order():
    index = skeletons.get_format('body25').coco17_index
    coco = skeletons.COCO17_JOINTS
    # OpenPose BODY_25: 0 Nose, 2 RShoulder, 5 LShoulder, 9 RHip, 12 LHip, 15 REye, 18 LEar.
    assert index[coco.index('nose')] == 0
    assert index[coco.index('right_shoulder')] == 2
    assert index[coco.index('left_shoulder')] == 5
    assert index[coco.index('right_hip')] == 9
    assert index[coco.index('left_hip')] == 12
    assert index[coco.index('right_eye')] == 15
    assert index[coco.index('left_ear')] == 18
    assert sorted(index.tolist()) == sorted(set(index.tolist()))


@pytest.mark.parametrize('name, count', [('body25b', 25), ('halpe26', 26), ('coco17', 17)])
def test_coco_prefixed_formats_keep_the_first_17(name, count):
    fmt = skeletons.get_format(name)
    assert fmt.num_joints == count
    assert fmt.coco17_index.tolist() == list(range(17))


def test_to_coco17_selects_joints_with_leading_dims():
    fmt = skeletons.get_format('BODY_25')
    keypoints = np.arange(2 * 3 * 25 * 3, dtype=float).reshape(2, 3, 25, 3)
    coco = skeletons.to_coco17(keypoints, 'body25')
    assert coco.shape == (2, 3, 17, 3)
    for j, source in enumerate(fmt.coco17_index):
        np.testing.assert_array_equal(coco[..., j, :], keypoints[..., source, :])


def test_to_coco17_rejects_wrong_count_and_unknown_format():
    with pytest.raises(ValueError, match='33'):
        skeletons.to_coco17(np.zeros((25, 3)), 'blazepose33')
    with pytest.raises(ValueError, match='unknown keypoint format'):
        skeletons.get_format('mpii')


def _mirror_symmetric_pose():
    rng = np.random.default_rng(3)
    pose = rng.normal(size=(17, 3))
    flip = skeletons.COCO17.flip
    # Make joint j the mirror (x -> -x) of its partner; central joints get x = 0.
    for j in range(17):
        if flip[j] == j:
            pose[j, 0] = 0.0
        elif flip[j] > j:
            pose[flip[j]] = pose[j] * [-1, 1, 1]
    return pose


def test_symmetric_bones_pair_left_and_right_limbs_of_equal_length():
    pose = _mirror_symmetric_pose()
    bones = np.array(skeletons.COCO17_BONES)
    lengths = np.linalg.norm(pose[bones[:, 0]] - pose[bones[:, 1]], axis=1)
    pairs = skeletons.COCO17.symmetric_bones
    assert len(pairs) == 7  # two face, one torso side, two arm and two leg segments
    for left, right in pairs:
        assert skeletons.COCO17_JOINTS[bones[left, 1]].startswith('left_')
        assert skeletons.COCO17_JOINTS[bones[right, 1]].startswith('right_')
        assert lengths[left] == pytest.approx(lengths[right])
    assert bones.max() < 17 and len(set(map(tuple, bones))) == len(bones)


def test_h36m_conversion_derives_the_central_joints():
    rng = np.random.default_rng(0)
    coco = rng.normal(size=(4, 17, 3))
    h36m = skeletons.coco17_to_h36m17(coco)
    names = skeletons.H36M17_JOINTS
    assert h36m.shape == (4, 17, 3) and len(names) == 17

    def joint(name):
        return h36m[:, names.index(name)]

    def coco_joint(name):
        return coco[:, skeletons.COCO17_JOINTS.index(name)]

    pelvis = (coco_joint('left_hip') + coco_joint('right_hip')) / 2
    thorax = (coco_joint('left_shoulder') + coco_joint('right_shoulder')) / 2
    np.testing.assert_allclose(joint('pelvis'), pelvis)
    np.testing.assert_allclose(joint('thorax'), thorax)
    np.testing.assert_allclose(joint('spine'), (pelvis + thorax) / 2)
    np.testing.assert_allclose(joint('neck_nose'), coco_joint('nose'))
    np.testing.assert_allclose(joint('head'),
                               (coco_joint('left_ear') + coco_joint('right_ear')) / 2)
    for name in ('right_knee', 'left_ankle', 'left_wrist', 'right_elbow'):
        np.testing.assert_array_equal(joint(name), coco_joint(name))


def test_h36m_conversion_propagates_missing_joints():
    coco = np.ones((17, 3))
    coco[11] = np.nan  # left hip
    h36m = skeletons.coco17_to_h36m17(coco)
    missing = {skeletons.H36M17_JOINTS[j] for j in np.flatnonzero(np.isnan(h36m).any(axis=1))}
    assert missing == {'pelvis', 'spine', 'left_hip'}


def test_trc_markers_map_to_the_same_coco_joints(data_root):
    trc = data_root / 'pose2sim-0.4.15/Pose2Sim/Demo/opensim/Balancing_for_IK.trc'
    names, _, _ = read_trc(trc)
    marker_index, coco_index = skeletons.trc_correspondence(names)
    assert len(coco_index) == 13
    assert not set(coco_index.tolist()) & {1, 2, 3, 4}  # the trc has no eyes or ears
    for marker, coco in zip(marker_index, coco_index):
        name = names[marker]
        side = {'L': 'left_', 'R': 'right_'}.get(name[0]) if name != 'Nose' else ''
        assert skeletons.COCO17_JOINTS[coco] == side + name.lstrip('LR').lower()


def test_trc_markers_map_to_any_skeleton_by_name(data_root):
    trc = data_root / 'pose2sim-0.4.15/Pose2Sim/Demo/opensim/Balancing_for_IK.trc'
    names, _, _ = read_trc(trc)
    marker_index, joint_index = skeletons.trc_correspondence(names, skeletons.HALPE26)
    matched = {names[m]: skeletons.HALPE26.joint_names[j]
               for m, j in zip(marker_index, joint_index)}
    # Every marker of the demo is a HALPE-26 joint: the 13 COCO ones, neck, head and feet.
    assert len(matched) == len(names) == 21
    assert matched['LBigToe'] == 'left_big_toe' and matched['RHeel'] == 'right_heel'
    assert matched['RSmallToe'] == 'right_small_toe' and matched['Neck'] == 'neck'
    assert matched['Head'] == 'head' and matched['Nose'] == 'nose'
    assert list(joint_index) == sorted(joint_index)
    # BlazePose has heels, and its foot index is the big toe; it has no neck or head top.
    marker_index, joint_index = skeletons.trc_correspondence(names, skeletons.BLAZEPOSE33)
    matched = {names[m]: skeletons.BLAZEPOSE33.joint_names[j]
               for m, j in zip(marker_index, joint_index)}
    assert len(matched) == 17 and matched['LBigToe'] == 'left_foot_index'
    assert matched['RHeel'] == 'right_heel' and 'Neck' not in matched


def test_aliases_map_either_way():
    body25 = np.arange(25 * 3, dtype=float).reshape(25, 3) + 1
    row = {name: body25[i] for i, name in enumerate(skeletons.BODY25_JOINTS)}
    halpe = skeletons.HALPE26.from_keypoints(body25, skeletons.BODY25_JOINTS)
    np.testing.assert_array_equal(halpe[skeletons.HALPE26.joint_names.index('hip')],
                                  row['mid_hip'])
    blazepose = skeletons.BLAZEPOSE33.from_keypoints(body25, skeletons.BODY25_JOINTS)
    names = skeletons.BLAZEPOSE33.joint_names
    np.testing.assert_array_equal(blazepose[names.index('left_foot_index')],
                                  row['left_big_toe'])
    np.testing.assert_array_equal(blazepose[names.index('right_heel')], row['right_heel'])
    assert blazepose[names.index('left_thumb'), 2] == 0.0   # BODY_25 has no hands
