# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Joint sets, bones and the mappings between keypoint formats.

A :class:`Skeleton` is a joint set the solver fits (:data:`COCO17`, the default everywhere,
:data:`HALPE26` with head, neck, pelvis and feet, :data:`BLAZEPOSE33` with hands and feet).
Keypoints of any format are brought into a skeleton by joint *name* with
:meth:`Skeleton.from_keypoints`, so each format only lists its joint names in its native
order (:data:`BODY25B_JOINTS`, ...); a joint the source lacks gets confidence 0.
:func:`to_coco17` is the COCO-17 special case, :func:`coco17_to_h36m17` derives the
Human3.6M 17-joint layout, and :func:`trc_correspondence` matches .trc markers to joints.
"""

from dataclasses import dataclass

import numpy as np

COCO17_JOINTS = (
    'nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear',
    'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist',
    'left_hip', 'right_hip', 'left_knee', 'right_knee', 'left_ankle', 'right_ankle',
)

# A tree over the body plus the shoulder and hip lines; each bone is (parent, child).
COCO17_BONES = (
    (0, 1), (0, 2), (1, 3), (2, 4),          # face: nose-eyes, eyes-ears
    (5, 6), (11, 12),                        # shoulder line, hip line
    (5, 11), (6, 12),                        # torso sides
    (5, 7), (7, 9), (6, 8), (8, 10),         # arms
    (11, 13), (13, 15), (12, 14), (14, 16),  # legs
)


def _mirror_name(name):
    if name.startswith('left_'):
        return 'right_' + name[len('left_'):]
    if name.startswith('right_'):
        return 'left_' + name[len('right_'):]
    if name.endswith('_left'):
        return name[:-len('_left')] + '_right'
    if name.endswith('_right'):
        return name[:-len('_right')] + '_left'
    return name


def _symmetric_bone_pairs(bones, flip, joint_names):
    bone_index = {bone: i for i, bone in enumerate(bones)}
    pairs = []
    for i, (parent, child) in enumerate(bones):
        mirrored = bone_index.get((int(flip[parent]), int(flip[child])))
        if mirrored is not None and joint_names[child].startswith('left_'):
            pairs.append((i, mirrored))
    return tuple(pairs)


H36M17_JOINTS = (
    'pelvis', 'right_hip', 'right_knee', 'right_ankle', 'left_hip', 'left_knee', 'left_ankle',
    'spine', 'thorax', 'neck_nose', 'head',
    'left_shoulder', 'left_elbow', 'left_wrist', 'right_shoulder', 'right_elbow', 'right_wrist',
)


@dataclass(frozen=True, eq=False)
class SkeletonFormat:
    """A keypoint layout and where each COCO-17 joint sits in it.

    ``coco17_index`` has shape (17,): ``coco17_index[j]`` is the index, in this format, of
    COCO-17 joint ``j``.
    """

    name: str
    joint_names: tuple
    coco17_index: np.ndarray

    @property
    def num_joints(self):
        """Number of joints K of this format."""
        return len(self.joint_names)


BLAZEPOSE33_JOINTS = (
    'nose', 'left_eye_inner', 'left_eye', 'left_eye_outer',
    'right_eye_inner', 'right_eye', 'right_eye_outer', 'left_ear', 'right_ear',
    'mouth_left', 'mouth_right', 'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow',
    'left_wrist', 'right_wrist', 'left_pinky', 'right_pinky', 'left_index', 'right_index',
    'left_thumb', 'right_thumb', 'left_hip', 'right_hip', 'left_knee', 'right_knee',
    'left_ankle', 'right_ankle', 'left_heel', 'right_heel', 'left_foot_index', 'right_foot_index',
)

# OpenPose BODY_25 (Nose, Neck, RShoulder, ..., RHeel) in snake case.
BODY25_JOINTS = (
    'nose', 'neck', 'right_shoulder', 'right_elbow', 'right_wrist',
    'left_shoulder', 'left_elbow', 'left_wrist', 'mid_hip',
    'right_hip', 'right_knee', 'right_ankle', 'left_hip', 'left_knee', 'left_ankle',
    'right_eye', 'left_eye', 'right_ear', 'left_ear',
    'left_big_toe', 'left_small_toe', 'left_heel', 'right_big_toe', 'right_small_toe',
    'right_heel',
)

# OpenPose BODY_25B (the layout pose2sim's demo uses): COCO-17 first, then neck, head and feet.
BODY25B_JOINTS = COCO17_JOINTS + (
    'neck', 'head', 'left_big_toe', 'left_small_toe', 'left_heel',
    'right_big_toe', 'right_small_toe', 'right_heel',
)

# HALPE-26 (AlphaPose, RTMPose body7/halpe): COCO-17 first, then head, neck, hip and feet.
HALPE26_JOINTS = COCO17_JOINTS + (
    'head', 'neck', 'hip', 'left_big_toe', 'right_big_toe',
    'left_small_toe', 'right_small_toe', 'left_heel', 'right_heel',
)


def _make_format(name, joint_names):
    index = np.array([joint_names.index(joint) for joint in COCO17_JOINTS], dtype=np.intp)
    index.setflags(write=False)
    return SkeletonFormat(name=name, joint_names=tuple(joint_names), coco17_index=index)


_FORMATS = {
    fmt.name: fmt for fmt in (
        _make_format('coco17', COCO17_JOINTS),
        _make_format('blazepose33', BLAZEPOSE33_JOINTS),
        _make_format('body25', BODY25_JOINTS),
        _make_format('body25b', BODY25B_JOINTS),
        _make_format('halpe26', HALPE26_JOINTS),
    )
}

FORMAT_NAMES = tuple(_FORMATS)


def get_format(name):
    """Return the :class:`SkeletonFormat` called ``name`` (one of :data:`FORMAT_NAMES`)."""
    key = name.lower().replace('-', '').replace('_', '')
    if key not in _FORMATS:
        raise ValueError(f'unknown keypoint format {name!r}; known: {", ".join(FORMAT_NAMES)}')
    return _FORMATS[key]


def to_coco17(keypoints, fmt_name):
    """Select the COCO-17 joints from keypoints in format ``fmt_name``.

    ``keypoints`` has shape (..., K, C) with K the format's joint count; returns (..., 17, C).
    """
    fmt = get_format(fmt_name)
    keypoints = np.asarray(keypoints)
    if keypoints.ndim < 2 or keypoints.shape[-2] != fmt.num_joints:
        raise ValueError(f'{fmt.name} keypoints need shape (..., {fmt.num_joints}, C), '
                         f'got {keypoints.shape}')
    return keypoints[..., fmt.coco17_index, :]


def coco17_to_h36m17(positions):
    """Derive the Human3.6M 17-joint layout (:data:`H36M17_JOINTS`) from COCO-17 joints.

    ``positions`` has shape (..., 17, 3); returns (..., 17, 3).  Limb joints are copied.  The
    derived joints follow the common COCO-to-H36M conversion: pelvis = hip midpoint, thorax =
    shoulder midpoint, spine = midpoint of pelvis and thorax, neck_nose = nose, and head = ear
    midpoint (COCO has no head top, so the H36M head sits at the head centre).  A NaN input
    joint gives NaN in every joint derived from it.
    """
    coco = np.asarray(positions, dtype=float)
    if coco.ndim < 2 or coco.shape[-2] != 17:
        raise ValueError(f'COCO-17 positions need shape (..., 17, C), got {coco.shape}')
    pelvis = 0.5 * (coco[..., 11, :] + coco[..., 12, :])
    thorax = 0.5 * (coco[..., 5, :] + coco[..., 6, :])
    joints = [
        pelvis, coco[..., 12, :], coco[..., 14, :], coco[..., 16, :],
        coco[..., 11, :], coco[..., 13, :], coco[..., 15, :],
        0.5 * (pelvis + thorax), thorax, coco[..., 0, :],
        0.5 * (coco[..., 3, :] + coco[..., 4, :]),
        coco[..., 5, :], coco[..., 7, :], coco[..., 9, :],
        coco[..., 6, :], coco[..., 8, :], coco[..., 10, :],
    ]
    return np.stack(joints, axis=-2)


# Another format's name for the same body point, for mapping between formats.
JOINT_ALIASES = {'left_foot_index': 'left_big_toe', 'right_foot_index': 'right_big_toe',
                 'mid_hip': 'hip'}
# Both directions: a source may use either name, and so may a skeleton.
_ALIAS_OF = {**JOINT_ALIASES, **{other: name for name, other in JOINT_ALIASES.items()}}


@dataclass(frozen=True, eq=False)
class Skeleton:
    """A joint set the solver fits: names, bones and the left/right mirror.

    Attributes:
        name: a :data:`SKELETON_NAMES` entry.
        joint_names: (J,) names, snake case, ``left_``/``right_`` prefixes for sides.
        bones: (B, 2) joint index pairs (parent, child).
        flip: (J,) the joint each joint becomes in a mirrored image.
        symmetric_bones: (S, 2) pairs of indices into ``bones`` (left, right).
    """

    name: str
    joint_names: tuple
    bones: np.ndarray
    flip: np.ndarray
    symmetric_bones: np.ndarray

    @property
    def num_joints(self) -> int:
        """Number of joints J."""
        return len(self.joint_names)

    def index_in(self, joint_names) -> np.ndarray:
        """(J,) index of each of this skeleton's joints in ``joint_names``, -1 where absent."""
        names = list(joint_names)
        lookup = {name: i for i, name in enumerate(names)}
        lookup.update({_ALIAS_OF[name]: i for i, name in enumerate(names)
                       if name in _ALIAS_OF and _ALIAS_OF[name] not in lookup})
        return np.array([lookup.get(name, -1) for name in self.joint_names], dtype=np.intp)

    def from_keypoints(self, keypoints, joint_names) -> np.ndarray:
        """Keypoints (..., K, 3) named ``joint_names`` as (..., J, 3) of this skeleton.

        A joint the source lacks gets position 0 and confidence 0 (not detected).
        """
        keypoints = np.asarray(keypoints, dtype=float)
        if keypoints.ndim < 2 or keypoints.shape[-2] != len(joint_names):
            raise ValueError(f'keypoints of {len(joint_names)} joints need shape '
                             f'(..., {len(joint_names)}, C), got {keypoints.shape}')
        index = self.index_in(joint_names)
        out = np.zeros(keypoints.shape[:-2] + (self.num_joints, keypoints.shape[-1]))
        present = index >= 0
        out[..., present, :] = keypoints[..., index[present], :]
        return out


def _make_skeleton(name, joint_names, bones):
    flip = np.array([joint_names.index(_mirror_name(j)) if _mirror_name(j) in joint_names
                     else i for i, j in enumerate(joint_names)], dtype=np.int64)
    bones = tuple(tuple(b) for b in bones)
    symmetric = _symmetric_bone_pairs(bones, flip, joint_names)
    arrays = [np.asarray(bones, dtype=np.int64).reshape(-1, 2), flip,
              np.asarray(symmetric, dtype=np.int64).reshape(-1, 2)]
    for array in arrays:
        array.setflags(write=False)
    return Skeleton(name, tuple(joint_names), *arrays)


def _bones(joint_names, pairs):
    return tuple((joint_names.index(a), joint_names.index(b)) for a, b in pairs)


def _sided(pairs):
    """Both sides of ``(parent, child)`` pairs written with a ``{s}`` for the side."""
    return [(a.format(s=side), b.format(s=side)) for side in ('left', 'right') for a, b in pairs]


COCO17 = _make_skeleton('coco17', COCO17_JOINTS, COCO17_BONES)
# COCO-17 plus head top, neck, pelvis and the feet: what BODY_25(B) and HALPE detectors add.
HALPE26 = _make_skeleton('halpe26', HALPE26_JOINTS, COCO17_BONES + _bones(HALPE26_JOINTS, [
    ('neck', 'head'), ('neck', 'left_shoulder'), ('neck', 'right_shoulder'), ('neck', 'hip'),
    ('hip', 'left_hip'), ('hip', 'right_hip'),
    *_sided([('{s}_ankle', '{s}_heel'), ('{s}_ankle', '{s}_big_toe'),
             ('{s}_big_toe', '{s}_small_toe')])]))
# BlazePose-33 (MediaPipe): the face, three points on each hand, heel and toe on each foot.
BLAZEPOSE33 = _make_skeleton('blazepose33', BLAZEPOSE33_JOINTS, _bones(BLAZEPOSE33_JOINTS, [
    ('nose', 'left_eye_inner'), ('nose', 'right_eye_inner'), ('mouth_left', 'mouth_right'),
    ('left_shoulder', 'right_shoulder'), ('left_hip', 'right_hip'),
    *_sided([('{s}_eye_inner', '{s}_eye'), ('{s}_eye', '{s}_eye_outer'),
             ('{s}_eye_outer', '{s}_ear'), ('{s}_shoulder', '{s}_hip'),
             ('{s}_shoulder', '{s}_elbow'), ('{s}_elbow', '{s}_wrist'),
             ('{s}_wrist', '{s}_pinky'), ('{s}_wrist', '{s}_index'), ('{s}_wrist', '{s}_thumb'),
             ('{s}_hip', '{s}_knee'), ('{s}_knee', '{s}_ankle'), ('{s}_ankle', '{s}_heel'),
             ('{s}_heel', '{s}_foot_index'), ('{s}_ankle', '{s}_foot_index')])]))

_SKELETONS = {skeleton.name: skeleton for skeleton in (COCO17, HALPE26, BLAZEPOSE33)}
SKELETON_NAMES = tuple(_SKELETONS)


def get_skeleton(name) -> Skeleton:
    """Return the :class:`Skeleton` called ``name`` (one of :data:`SKELETON_NAMES`)."""
    key = str(name).lower().replace('-', '').replace('_', '')
    if key not in _SKELETONS:
        raise ValueError(f'unknown skeleton {name!r}; known: {", ".join(SKELETON_NAMES)}')
    return _SKELETONS[key]


# Pose2Sim/OpenSim .trc marker names (OpenPose's CamelCase) of the joints they mark.
TRC_MARKER_JOINTS = {
    'Nose': 'nose', 'Neck': 'neck', 'Head': 'head', 'Hip': 'hip',
    **{f'{side[0].upper()}{marker}': f'{side}_{joint}' for side in ('left', 'right')
       for marker, joint in (
           ('Eye', 'eye'), ('Ear', 'ear'), ('Shoulder', 'shoulder'), ('Elbow', 'elbow'),
           ('Wrist', 'wrist'), ('Hip', 'hip'), ('Knee', 'knee'), ('Ankle', 'ankle'),
           ('BigToe', 'big_toe'), ('SmallToe', 'small_toe'), ('Heel', 'heel'))},
}


def trc_correspondence(marker_names, skeleton=COCO17):
    """Match .trc markers to the joints of ``skeleton`` by :data:`TRC_MARKER_JOINTS`.

    Returns ``(marker_index, joint_index)``, two integer arrays of shape (M',) sorted by joint
    index, for the markers of ``marker_names`` that name a joint of ``skeleton``.
    """
    index = skeleton.index_in([TRC_MARKER_JOINTS.get(name) for name in marker_names])
    joint_index = np.flatnonzero(index >= 0)
    return index[joint_index], joint_index.astype(np.intp)
