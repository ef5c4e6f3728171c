# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Body and joint frames of a 3D skeleton, as REP-155 (ROS4HRI) names them in TF.

Per person the node publishes a frame ``body_<id>`` and one frame ``<joint>_<id>`` per located
joint, a child of ``body_<id>``.  This module does the geometry, without ROS:

- origin: the hip midpoint; without both hips, the mean of the located joints;
- axes (REP-103 for a body: x forward, y left, z up), right-handed:

  - y (left) points from the right hip to the left hip (the shoulders when a hip is missing);
  - z (up) points from the hip midpoint to the shoulder midpoint, made orthogonal to y (the
    world's up axis when the torso is not known);
  - x (forward) is y cross z, so it leaves the chest;

  with no left/right pair at all, the body frame takes the world's orientation;
- joint frames: the joint position in the body frame, no rotation (the skeleton gives no
  joint orientation).

That is the ``skelsplat`` frame style.  The ``ros4hri`` style (:func:`model_frames`) names the
frames as the ROS4HRI human model (``human_description``) names its links, under the body id
of :func:`body_id` (five characters, e.g. ``body_kq3zt``), each oriented from the skeleton:

- ``body_<id>`` (REP-103, the model's root): at the hip midpoint, z the world's up, y from the
  right hip to the left one (the shoulders without hips) made horizontal, x = y cross z
  (forward); the world's orientation when no left/right pair is located;
- ``waist_<id>`` (in ``body_``, same origin) and ``torso_<id>`` (in ``waist_``, at the
  shoulder midpoint): z along the spine (hip midpoint to shoulder midpoint), y from the right
  hip (waist) or shoulder (torso) to the left one, made orthogonal to z;
- ``head_<id>`` (in ``torso_``): at the ears' midpoint (else the eyes', else the nose), x from
  there to the nose, y from the right ear (else eye) to the left one, z up the head;
- the limb links, as in the model: ``l_shoulder_<id>`` (in ``torso_``) at the shoulder, its
  -z along the upper arm and x towards where the forearm bends; ``l_elbow_<id>`` (in
  ``l_shoulder_``) at the elbow, -z along the forearm, y the elbow's hinge;
  ``l_wrist_<id>`` (in ``l_elbow_``) at the wrist, oriented as the elbow; ``l_hip_<id>``
  (in ``body_``), ``l_knee_<id>`` and ``l_ankle_<id>`` likewise, with x away from where the
  shin bends (knees bend backwards); ``r_`` for the right side.  A straight limb's x is the
  torso's (arms) or the body's (legs) forward axis.

A link frame is published only when the joints that orient it are located; a frame whose
parent is missing hangs from the nearest ancestor that is there.
"""

import functools
import math

import numpy as np

from skelsplat_ros.skeletons import COCO17

__all__ = ['body_frame', 'body_centre', 'body_id', 'joints_in_body_frame', 'model_frames',
           'quaternion_from_matrix', 'SkeletonGeometry']

_MIN_LENGTH = 1e-6  # metres; shorter axes are degenerate
_STRAIGHT = np.sin(np.radians(10.0))  # a limb bent less than this has no bend direction

# Body ids: the tracker's counter (never reused in a node's life) mapped one-to-one onto five
# characters, a letter first (REP-155: valid identifiers), scattered so that consecutive
# bodies do not look alike.
_LETTERS = 'abcdefghijklmnopqrstuvwxyz'
_ALPHANUMERIC = _LETTERS + '0123456789'
_ID_SPACE = 26 * 36 ** 4
_ID_STEP = 7654321  # coprime with _ID_SPACE: the map is a bijection
_ID_OFFSET = 1234567


def body_centre(positions, known):
    """Return the (3,) mean of the located joints, or zeros when none is located.

    Args:
        positions: (J, 3) joint positions, metres.
        known: (J,) bool, which joints are located.
    """
    known = np.asarray(known, dtype=bool)
    if not known.any():
        return np.zeros(3)
    return np.asarray(positions, dtype=float)[known].mean(axis=0)


def _pair(positions, known, index, part):
    """(left, right) positions of ``part`` ('hip', 'shoulder'), or None unless both located."""
    left, right = index.get(f'left_{part}'), index.get(f'right_{part}')
    if left is None or right is None or not (known[left] and known[right]):
        return None
    return positions[left], positions[right]


def _midpoint(pair):
    return None if pair is None else 0.5 * (pair[0] + pair[1])


def _unit(vector):
    # np.linalg.norm's own sum for a 3-vector, without its checks (it runs ~100 times a body).
    norm = math.sqrt(np.dot(vector, vector))
    return vector / norm if norm > _MIN_LENGTH else None


def body_frame(positions, known, joint_names=COCO17.joint_names, world_up=(0.0, 0.0, 1.0)):
    """Return the pose of a person's body frame in the world (see the module docstring).

    Args:
        positions: (J, 3) joint positions in the world frame, metres (unknown rows ignored).
        known: (J,) bool, which joints are located.
        joint_names: the J joint names of any skeleton; the frame is built from the joints
            named ``left_hip``, ``right_hip``, ``left_shoulder`` and ``right_shoulder``.
        world_up: (3,) the world's up direction, used when the torso is unknown.

    Returns:
        ``(origin (3,), rotation (3, 3))``: the frame's origin in metres and its axes as the
        rotation's columns (x forward, y left, z up) in world coordinates, so that
        ``world = origin + rotation @ body``.
    """
    positions = np.asarray(positions, dtype=float)
    known = np.asarray(known, dtype=bool) & np.isfinite(positions).all(axis=1)
    index = {name: i for i, name in enumerate(joint_names)}
    pairs = [_pair(positions, known, index, part) for part in ('hip', 'shoulder')]
    hips, shoulders = (_midpoint(pair) for pair in pairs)
    origin = hips if hips is not None else body_centre(positions, known)

    left = None
    for pair in pairs:
        if pair is not None:
            left = _unit(pair[0] - pair[1])
            if left is not None:
                break
    if left is None:
        return origin, np.eye(3)

    up = None
    candidates = [] if hips is None or shoulders is None else [shoulders - hips]
    for direction in candidates + [np.asarray(world_up, dtype=float)]:
        up = _unit(direction - np.dot(direction, left) * left)
        if up is not None:
            break
    if up is None:  # left is parallel to world up and no torso: any up orthogonal to left
        axis = np.eye(3)[int(np.argmin(np.abs(left)))]
        up = _unit(axis - np.dot(axis, left) * left)
    forward = _cross(left, up)
    return origin, np.column_stack([forward, left, up])


def joints_in_body_frame(positions, origin, rotation):
    """Express world positions (J, 3) in a body frame; returns (J, 3) metres.

    Args:
        positions: (J, 3) world positions, metres.
        origin: (3,) body frame origin, from :func:`body_frame`.
        rotation: (3, 3) body axes as columns, from :func:`body_frame`.
    """
    return (np.asarray(positions, dtype=float) - origin) @ np.asarray(rotation, dtype=float)


def quaternion_from_matrix(rotation):
    """Return the unit quaternions (..., 4) ``(x, y, z, w)`` of rotations (..., 3, 3).

    ROS order, w >= 0.

    From the matrix's symmetric 4 x 4 form ``K[a, b] = 4 q_a q_b``, read along the row of the
    largest component, the most accurate one (Shepperd's method, without branches: one call
    for every frame of a body).
    """
    m = np.asarray(rotation, dtype=float)
    diagonal = np.diagonal(m, axis1=-2, axis2=-1)
    trace = diagonal.sum(-1)
    xy, xz, yz = (m[..., a, b] + m[..., b, a] for a, b in ((0, 1), (0, 2), (1, 2)))
    xw, yw, zw = (m[..., a, b] - m[..., b, a] for a, b in ((2, 1), (0, 2), (1, 0)))
    squares = 1.0 + 2.0 * diagonal - trace[..., None]
    products = np.stack([
        np.stack([squares[..., 0], xy, xz, xw], -1), np.stack([xy, squares[..., 1], yz, yw], -1),
        np.stack([xz, yz, squares[..., 2], zw], -1), np.stack([xw, yw, zw, 1.0 + trace], -1)], -2)
    largest = np.argmax(np.diagonal(products, axis1=-2, axis2=-1), axis=-1)
    row = np.take_along_axis(products, largest[..., None, None], axis=-2)[..., 0, :]
    q = row / np.linalg.norm(row, axis=-1, keepdims=True)
    return np.where(q[..., 3:] < 0, -q, q)


def body_id(track_id: int) -> str:
    """Return the five-character REP-155 body id of tracker id ``track_id``.

    Distinct tracker ids below 26 * 36^4 (43.6 million) give distinct body ids.
    """
    value = (int(track_id) * _ID_STEP + _ID_OFFSET) % _ID_SPACE
    characters = []
    for _ in range(4):
        value, digit = divmod(value, 36)
        characters.append(_ALPHANUMERIC[digit])
    characters.append(_LETTERS[value])
    return ''.join(reversed(characters))


def _cross(a, b):
    """Cross product of two 3-vectors (numpy's is slow for single vectors)."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2],
                     a[0] * b[1] - a[1] * b[0]])


def _orthogonal_unit(vector, axis):
    """``vector`` without its component along the unit ``axis``, normalised (None if ~0)."""
    if vector is None:
        return None
    return _unit(vector - np.dot(vector, axis) * axis)


def _remembered(method):
    """Keep a :class:`SkeletonGeometry` method's result per arguments.

    The link frames, the inverse kinematics and the velocity of a body ask for the same
    directions.
    """
    @functools.wraps(method)
    def remembered(self, *args):
        key = (method.__name__,) + args
        if key not in self._results:
            self._results[key] = method(self, *args)
        return self._results[key]
    return remembered


class SkeletonGeometry:
    """Directions a fused skeleton defines: heading, spine, face, limbs (world frame).

    Each direction is computed once per skeleton; the arrays returned are shared, not to be
    changed in place.

    Args:
        positions: (J, 3) world positions, metres.
        known: (J,) bool, which joints are located.
        joint_names: the J joint names (``left_elbow`` ...).
        world_up: (3,) the world's up direction.
    """

    def __init__(self, positions, known, joint_names=COCO17.joint_names,
                 world_up=(0.0, 0.0, 1.0)):
        self.positions = np.asarray(positions, dtype=float)
        self.known = np.asarray(known, dtype=bool) & np.isfinite(self.positions).all(axis=1)
        self.index = {name: i for i, name in enumerate(joint_names)}
        self.up = _unit(np.asarray(world_up, dtype=float))
        self._results = {}

    def point(self, name):
        """Return the position of joint ``name``, or None when it is not located."""
        i = self.index.get(name)
        return self.positions[i] if i is not None and self.known[i] else None

    @_remembered
    def pair(self, part):
        """Return the (left, right) positions of ``part`` (hip, shoulder, ear, eye), or None."""
        return _pair(self.positions, self.known, self.index, part)

    @_remembered
    def origin(self):
        """Return the body origin: the hip midpoint, else the mean of the located joints."""
        hips = _midpoint(self.pair('hip'))
        return hips if hips is not None else body_centre(self.positions, self.known)

    @_remembered
    def _left(self, parts):
        for part in parts:
            pair = self.pair(part)
            if pair is not None and _unit(pair[0] - pair[1]) is not None:
                return _unit(pair[0] - pair[1])
        return None

    @_remembered
    def body_rotation(self):
        """Return ``body_<id>``'s axes as columns (x forward, y left, z up), or None."""
        left = _orthogonal_unit(self._left(('hip', 'shoulder')), self.up)
        if left is None:
            return None
        return np.column_stack([_cross(left, self.up), left, self.up])

    @_remembered
    def spine(self):
        """Return the unit vector from the hip midpoint to the shoulders', or None."""
        hips, shoulders = _midpoint(self.pair('hip')), _midpoint(self.pair('shoulder'))
        return None if hips is None or shoulders is None else _unit(shoulders - hips)

    @_remembered
    def torso_rotation(self, part):
        """Return the axes of the waist (hip) or torso (shoulder) link (z spine, y left)."""
        up = self.spine()
        left = None if up is None else _orthogonal_unit(self._left((part,)), up)
        return None if left is None else np.column_stack([_cross(left, up), left, up])

    @_remembered
    def face_origin(self):
        """Return the ears' midpoint, else the eyes', else the nose; None without any."""
        for part in ('ear', 'eye'):
            middle = _midpoint(self.pair(part))
            if middle is not None:
                return middle
        return self.point('nose')

    @_remembered
    def face_rotation(self):
        """Return head axes (x to the nose, y to the left ear or eye, z up the head), or None."""
        nose, origin = self.point('nose'), self.face_origin()
        left = self._left(('ear', 'eye'))
        if nose is None or origin is None or left is None:
            return None
        forward = _orthogonal_unit(nose - origin, left)
        return None if forward is None else np.column_stack(
            [forward, left, _cross(forward, left)])

    @_remembered
    def limb(self, side, kind):
        """Return the unit directions (upper segment, lower segment) of a limb, or None.

        Args:
            side: 'l' or 'r'.
            kind: 'arm' (shoulder, elbow, wrist) or 'leg' (hip, knee, ankle).
        """
        prefix = 'left' if side == 'l' else 'right'
        parts = ('shoulder', 'elbow', 'wrist') if kind == 'arm' else ('hip', 'knee', 'ankle')
        points = [self.point(f'{prefix}_{part}') for part in parts]
        if any(point is None for point in points):
            return None
        upper, lower = _unit(points[1] - points[0]), _unit(points[2] - points[1])
        return None if upper is None or lower is None else (upper, lower)


def _limb_rotations(upper, lower, forward, bend):
    """Axes of a limb's two links: -z along each segment, y the hinge, x to ``bend`` side."""
    z = -upper
    x = lower - np.dot(lower, upper) * upper
    if np.linalg.norm(x) < _STRAIGHT:
        x = _orthogonal_unit(forward, z)
        if x is None:  # forward along the bone: any axis across it
            x = _orthogonal_unit(np.eye(3)[int(np.argmin(np.abs(z)))], z)
    else:
        x = bend * _unit(x)
    y = _cross(z, x)
    first = np.column_stack([x, y, z])
    z2 = -lower
    y2 = _orthogonal_unit(y, z2)
    if y2 is None:
        y2 = _orthogonal_unit(np.eye(3)[int(np.argmin(np.abs(z2)))], z2)
    return first, np.column_stack([_cross(y2, z2), y2, z2])


def model_frames(geometry: SkeletonGeometry):
    """World poses of the human_description links a skeleton places (ros4hri frame style).

    Args:
        geometry: the skeleton's :class:`SkeletonGeometry`.

    Returns:
        ``[(link, parent, origin (3,), rotation (3, 3))]``: link names without the id
        suffix, parents first, ``body`` (parent None) first, each pose relative to its parent
        (``body``'s: in the world), as in :func:`body_frame`'s convention.
    """
    world = {}
    fallback_parent = {'waist': 'body', 'torso': 'waist'}
    body = geometry.body_rotation()
    world['body'] = (geometry.origin(), np.eye(3) if body is None else body, None)
    for link, part, parent in (('waist', 'hip', 'body'), ('torso', 'shoulder', 'waist')):
        rotation = geometry.torso_rotation(part)
        if rotation is not None:
            origin = (world['body'][0] if link == 'waist'
                      else _midpoint(geometry.pair('shoulder')))
            world[link] = (origin, rotation, parent)
    torso = 'torso' if 'torso' in world else 'body'
    face = geometry.face_rotation()
    if face is not None:
        world['head'] = (geometry.face_origin(), face, torso)
    for side in ('l', 'r'):
        prefix = 'left' if side == 'l' else 'right'
        for kind, parts, root, bend in (('arm', ('shoulder', 'elbow', 'wrist'), torso, 1.0),
                                        ('leg', ('hip', 'knee', 'ankle'), 'body', -1.0)):
            bones = geometry.limb(side, kind)
            if bones is None:
                continue
            forward = world[root][1][:, 0]
            first, second = _limb_rotations(*bones, forward, bend)
            points = [geometry.point(f'{prefix}_{part}') for part in parts]
            links = [f'{side}_{part}' for part in parts]
            world[links[0]] = (points[0], first, root)
            world[links[1]] = (points[1], second, links[0])
            world[links[2]] = (points[2], second, links[1])
    frames = []
    for link, (origin, rotation, parent) in world.items():
        if parent is None:
            frames.append((link, None, origin, rotation))
            continue
        while parent not in world:  # e.g. no waist (hips along the spine): the torso's is body
            parent = fallback_parent[parent]
        parent_origin, parent_rotation, _ = world[parent]
        frames.append((link, parent, parent_rotation.T @ (origin - parent_origin),
                       parent_rotation.T @ rotation))
    return frames
