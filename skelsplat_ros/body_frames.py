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
"""

import numpy as np

from skelsplat_ros.skeletons import COCO17

__all__ = ['body_frame', 'body_centre', 'joints_in_body_frame', 'quaternion_from_matrix']

_MIN_LENGTH = 1e-6  # metres; shorter axes are degenerate


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
    norm = np.linalg.norm(vector)
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
    forward = np.cross(left, up)
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
    """Return the unit quaternion ``(x, y, z, w)`` (ROS order, w >= 0) of a (3, 3) rotation."""
    m = np.asarray(rotation, dtype=float)
    trace = np.trace(m)
    if trace > 0:
        s = 2.0 * np.sqrt(trace + 1.0)
        q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s]
    else:
        i = int(np.argmax(np.diag(m)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * np.sqrt(max(1.0 + m[i, i] - m[j, j] - m[k, k], 1e-300))
        q = [0.0, 0.0, 0.0, (m[k, j] - m[j, k]) / s]
        q[i] = 0.25 * s
        q[j] = (m[j, i] + m[i, j]) / s
        q[k] = (m[k, i] + m[i, k]) / s
    q = np.asarray(q)
    q /= np.linalg.norm(q)
    return q if q[3] >= 0 else -q
