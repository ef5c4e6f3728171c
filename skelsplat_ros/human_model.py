# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The ROS4HRI human kinematic model (REP-155, ``human_description``) without ROS.

The model is the one of ``ros4hri/human_description`` (``urdf/human-tpl.xacro``): links and
joints suffixed with the body id, proportions in units of ``height / 7.5``, one waist pitch,
head roll-yaw-pitch, shoulders yaw-pitch-roll and a one-axis elbow, hips yaw-pitch-roll and a
one-axis knee.  Its joint table (:data:`JOINTS`) is written here once and gives:

- :func:`urdf`: the URDF text of one body, for ``robot_state_publisher``;
- :func:`forward_kinematics`: every link's pose in ``body_<id>`` for given joint angles;
- :func:`inverse_kinematics`: the joint angles that point the model's limbs, torso and head
  like a fused skeleton's (:class:`Solution`), within the joint limits; a pose the limits
  forbid is clamped and its error reported in degrees;
- :func:`measured_height`: the model height that best fits a skeleton's segment lengths.

The skeleton's geometry (which way a bone, the torso and the head point) comes from
:mod:`skelsplat_ros.body_frames`, which also names and places the TF link frames.
"""

import dataclasses
import functools
from typing import Dict, List, Optional, Tuple

import numpy as np
from skelsplat_ros import body_frames

__all__ = ['DEFAULT_HEIGHT', 'forward_kinematics', 'inverse_kinematics', 'JOINTS', 'Joint',
           'JOINTS_BY_NAME', 'LINKS', 'MOVING', 'measured_height', 'Solution', 'solve_bodies',
           'urdf']

DEFAULT_HEIGHT = 1.65  # metres, the model's default
HEIGHT_RANGE = (1.0, 2.3)  # metres: a measured height is clamped to a human one
ITERATIONS_FROM_OTHER_BRANCH = 5
TOLERANCE_DEG = 3.0  # a limb pointed worse than this after IK is reported as clamped

# Proportions of human-tpl.xacro, in units of height / 7.5.
_UNITS = {'head_radius': 0.5, 'neck': 0.25, 'neck_shoulder': 0.8, 'upperarm': 1.6,
          'forearm': 1.0, 'torso': 2.75, 'waist': 1.2, 'thigh': 1.5, 'tibia': 2.0}


@dataclasses.dataclass(frozen=True)
class Joint:
    """One joint of the model; names without the ``_<id>`` suffix.

    Attributes:
        name: joint name (the model names a fixed joint after its child link).
        parent: parent link.
        child: child link.
        origin: (x, y, z) of the child in the parent at zero angle, in height units
            (:data:`_UNITS` names or numbers times ``height / 7.5``).
        axis: rotation axis in the child frame, None for a fixed joint.
        limits: (lower, upper) radians, None for a fixed joint.
    """

    name: str
    parent: str
    child: str
    origin: Tuple[tuple, tuple, tuple]
    axis: Optional[Tuple[float, float, float]] = None
    limits: Optional[Tuple[float, float]] = None


def _side_joints(side, reflect):
    k = reflect
    s = side
    return [
        Joint(f'{s}_y_shoulder', 'torso', f'{s}_y_shoulder', (0, (k, 'neck_shoulder'), 0),
              (0, 0, -k), (-1.1, 1.9)),
        Joint(f'{s}_p_shoulder', f'{s}_y_shoulder', f'{s}_p_shoulder', (0, 0, 0), (k, 0, 0),
              (-0.4, 3.3)),
        Joint(f'{s}_r_shoulder', f'{s}_p_shoulder', f'{s}_shoulder', (0, 0, 0), (0, 0, k),
              (-1.7, 1.5)),
        Joint(f'{s}_elbow', f'{s}_shoulder', f'{s}_elbow', (0, 0, (-1, 'upperarm')),
              (0, -1, 0), (0.0, 2.5)),
        Joint(f'{s}_wrist', f'{s}_elbow', f'{s}_wrist', (0, 0, (-1, 'forearm'))),
        Joint(f'{s}_y_hip', 'body', f'{s}_y_hip', (0, (k / 2, 'waist'), 0), (0, 0, -1),
              (-0.1, 0.6)),
        Joint(f'{s}_p_hip', f'{s}_y_hip', f'{s}_p_hip', (0, 0, 0), (k, 0, 0), (-0.4, 3.3)),
        Joint(f'{s}_r_hip', f'{s}_p_hip', f'{s}_hip', (0, 0, 0), (0, -1, 0), (-0.4, 0.7)),
        Joint(f'{s}_knee', f'{s}_hip', f'{s}_knee', (0, 0, (-1, 'thigh')), (0, -1, 0),
              (-2.5, 0.0)),
        Joint(f'{s}_ankle', f'{s}_knee', f'{s}_ankle', (0, 0, (-1, 'tibia'))),
    ]


# Parents before children, as human-tpl.xacro declares them.
JOINTS: Tuple[Joint, ...] = tuple([
    Joint('waist', 'body', 'waist', (0, 0, 0), (0, 1, 0), (-0.2, 1.0)),
    Joint('torso', 'waist', 'torso', (0, 0, (1, 'torso'))),
    Joint('r_head', 'torso', 'r_head', (0, 0, (1, 'neck')), (1, 0, 0), (-1.0, 1.0)),
    Joint('y_head', 'r_head', 'y_head', (0, 0, 0), (0, 0, 1), (-1.4, 1.4)),
    Joint('p_head', 'y_head', 'p_head', (0, 0, 0), (0, -1, 0), (-1.5, 1.5)),
    Joint('head', 'p_head', 'head', ((0.5, 'head_radius'), 0, (1, 'head_radius'))),
] + _side_joints('l', 1) + _side_joints('r', -1))
LINKS: Tuple[str, ...] = ('body',) + tuple(joint.child for joint in JOINTS)
MOVING = tuple(joint.name for joint in JOINTS if joint.axis is not None)
JOINTS_BY_NAME = {joint.name: joint for joint in JOINTS}
# Joints each part of the skeleton drives, in the chain's order.
ARM = ('y_shoulder', 'p_shoulder', 'r_shoulder', 'elbow')
LEG = ('y_hip', 'p_hip', 'r_hip', 'knee')
HEAD = ('r_head', 'y_head', 'p_head')


def _length(value, unit):
    if isinstance(value, tuple):
        factor, name = value
        return factor * _UNITS[name] * unit
    return float(value)


def joint_origin(joint: Joint, height: float) -> np.ndarray:
    """Return the (3,) offset of ``joint``'s child in its parent at zero angle, metres."""
    unit = height / 7.5
    return np.array([_length(value, unit) for value in joint.origin])


_IDENTITY = np.eye(3)


@functools.lru_cache(maxsize=None)
def _skew(axis):
    """(K, K @ K) of a unit axis given as a tuple (the model has a dozen axes)."""
    x, y, z = axis
    skew = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return skew, skew @ skew


def _rodrigues(skew, square, angles):
    """Return the rotations (..., 3, 3) by ``angles`` (...) radians about unit axes.

    The axes are given by their cross-product matrices: ``skew`` K and ``square`` K @ K.
    """
    angles = np.asarray(angles)[..., None, None]
    return _IDENTITY + np.sin(angles) * skew + (1.0 - np.cos(angles)) * square


def _rotation(axis, angle):
    """Return the (3, 3) rotation of ``angle`` radians about the unit ``axis``."""
    return _rodrigues(*_skew(tuple(axis)), angle)


def forward_kinematics(angles: Dict[str, float], height: float = DEFAULT_HEIGHT
                       ) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
    """Return every link's ``(origin (3,), rotation (3, 3))`` in ``body_<id>``.

    Args:
        angles: joint name -> radians; a moving joint not given is at zero.
        height: the model's height, metres.
    """
    poses = {'body': (np.zeros(3), np.eye(3))}
    for joint in JOINTS:
        origin, rotation = poses[joint.parent]
        child_origin = origin + rotation @ joint_origin(joint, height)
        if joint.axis is not None:
            rotation = rotation @ _rotation(joint.axis, angles.get(joint.name, 0.0))
        poses[joint.child] = (child_origin, rotation)
    return poses


def urdf(body_id: str, height: float = DEFAULT_HEIGHT) -> str:
    """Return the URDF text of body ``body_id`` with the model's proportions for ``height``.

    Links and joints are named as human_description names them (``l_elbow_<id>``); each limb
    segment gets a cylinder and the head a sphere, so that RViz's RobotModel draws the body.
    """
    unit = height / 7.5
    radius = 0.03
    segments = {'shoulder': 'upperarm', 'elbow': 'forearm', 'hip': 'thigh', 'knee': 'tibia'}
    lines = ['<?xml version="1.0"?>', f'<robot name="human_{body_id}">']
    for link in LINKS:
        visual = ''
        part = link.split('_', 1)[-1]
        if link[:2] in ('l_', 'r_') and part in segments:
            length = _UNITS[segments[part]] * unit
            visual = (f'<visual><origin xyz="0 0 {-length / 2:.4f}"/><geometry><cylinder '
                      f'length="{length:.4f}" radius="{radius}"/></geometry></visual>')
        elif link == 'head':
            visual = (f'<visual><origin xyz="{-0.25 * unit:.4f} 0 0"/><geometry><sphere '
                      f'radius="{0.5 * unit:.4f}"/></geometry></visual>')
        elif link == 'torso':
            length = _UNITS['torso'] * unit
            visual = (f'<visual><origin xyz="0 0 {-length / 2:.4f}"/><geometry><cylinder '
                      f'length="{length:.4f}" radius="{radius}"/></geometry></visual>')
        lines.append(f'  <link name="{link}_{body_id}">{visual}</link>')
    for joint in JOINTS:
        x, y, z = joint_origin(joint, height)
        kind = 'fixed' if joint.axis is None else 'revolute'
        lines.append(f'  <joint name="{joint.name}_{body_id}" type="{kind}">')
        lines.append(f'    <parent link="{joint.parent}_{body_id}"/>')
        lines.append(f'    <child link="{joint.child}_{body_id}"/>')
        lines.append(f'    <origin xyz="{x:.4f} {y:.4f} {z:.4f}" rpy="0 0 0"/>')
        if joint.axis is not None:
            lines.append('    <axis xyz="{} {} {}"/>'.format(*joint.axis))
            lower, upper = joint.limits
            lines.append(f'    <limit lower="{lower}" upper="{upper}" effort="1000" '
                         'velocity="0.5"/>')
        lines.append('  </joint>')
    lines.append('</robot>')
    return '\n'.join(lines) + '\n'


# --------------------------------------------------------------------------- measured height
# Skeleton segments and their length in height units (human_description's proportions).
_SEGMENTS = (('left_shoulder', 'left_elbow', 'upperarm'), ('right_shoulder', 'right_elbow',
             'upperarm'), ('left_elbow', 'left_wrist', 'forearm'),
             ('right_elbow', 'right_wrist', 'forearm'), ('left_hip', 'left_knee', 'thigh'),
             ('right_hip', 'right_knee', 'thigh'), ('left_knee', 'left_ankle', 'tibia'),
             ('right_knee', 'right_ankle', 'tibia'), ('left_hip', 'right_hip', 'waist'),
             ('left_shoulder', 'right_shoulder', 'neck_shoulder'))


def measured_height(positions, known, joint_names) -> Optional[float]:
    """Return the model height (metres) whose proportions best fit the located segments.

    The median over segments of ``7.5 * length / model units`` (shoulder width counts as two
    neck-to-shoulder lengths), clamped to :data:`HEIGHT_RANGE`; None with no segment located.
    """
    index = {name: i for i, name in enumerate(joint_names)}
    positions = np.asarray(positions, dtype=float)
    estimates = []
    for a, b, unit in _SEGMENTS:
        i, j = index.get(a), index.get(b)
        if i is None or j is None or not (known[i] and known[j]):
            continue
        units = _UNITS[unit] * (2 if unit == 'neck_shoulder' else 1)
        estimates.append(7.5 * np.linalg.norm(positions[i] - positions[j]) / units)
    if not estimates:
        return None
    return float(np.clip(np.median(estimates), *HEIGHT_RANGE))


# ------------------------------------------------------------------------ inverse kinematics
@dataclasses.dataclass
class Solution:
    """Joint angles of one body and how well they reproduce its skeleton.

    Attributes:
        angles: joint name (no id) -> radians, only for joints the skeleton supports; always
            within the model's limits.
        errors_deg: part ('waist', 'head', 'l_arm', 'r_arm', 'l_leg', 'r_leg') -> the largest
            angle in degrees between a measured direction and the model's after IK.
        unsupported: moving joints left out: their limbs are not located.
    """

    angles: Dict[str, float]
    errors_deg: Dict[str, float]
    unsupported: List[str]

    @property
    def clamped(self) -> List[str]:
        """Parts whose pose the joint limits forbid (error above :data:`TOLERANCE_DEG`)."""
        return [part for part, error in self.errors_deg.items() if error > TOLERANCE_DEG]


def _wrap(angle):
    return (angle + np.pi) % (2 * np.pi) - np.pi


def _into_limits(values, lower, upper):
    """Return the angles, each turned by a multiple of 2 pi into its limits (or nearest), clipped.

    Some limits span more than pi (shoulder pitch -0.4 to 3.3): an angle wrapped into
    [-pi, pi) can lie outside them while the same angle plus 2 pi lies inside.
    """
    turns = _wrap(np.asarray(values))[..., None] + 2 * np.pi * np.array([0.0, -1.0, 1.0])
    outside = np.maximum(lower[..., None] - turns, turns - upper[..., None]).clip(min=0.0)
    chosen = np.take_along_axis(turns, np.argmin(outside, axis=-1)[..., None], axis=-1)
    return np.clip(chosen[..., 0], lower, upper)


def _limits(names):
    lower = np.array([JOINTS_BY_NAME[name].limits[0] for name in names])
    upper = np.array([JOINTS_BY_NAME[name].limits[1] for name in names])
    return lower, upper


@functools.lru_cache(maxsize=None)
def _chain(names):
    """Return a limb's four joints as arrays: axes (4, 3), (K, K @ K) (4, 3, 3) each, limits."""
    axes = np.array([JOINTS_BY_NAME[name].axis for name in names], dtype=float)
    skews, squares = zip(*(_skew(tuple(axis)) for axis in axes))
    lower, upper = _limits(names)
    return axes, np.array(skews), np.array(squares), lower, upper


def _chain_directions(axes, skews, squares, values, with_axes=False):
    """Directions of limbs' two segments in their roots' frames (arm: torso, leg: body).

    Args:
        axes, skews, squares: (N, 4, ...) the limbs' joint axes and their Rodrigues terms
            (:func:`_chain`).
        values: (N, 4) joint angles.
        with_axes: also return the joints' axes in the root frame, (N, 4, 3).

    Returns:
        ``(first (N, 3), second (N, 3))``, then the axes if ``with_axes``.
    """
    turns = _rodrigues(skews, squares, values)
    chain = [turns[:, 0]]
    for i in range(1, 4):
        chain.append(chain[-1] @ turns[:, i])
    # The segments hang down their links' -z at zero angles.
    first, second = -chain[2][..., 2], -chain[3][..., 2]
    if not with_axes:
        return first, second
    root_axes = np.stack([axes[:, 0]] + [np.einsum('nij,nj->ni', chain[i], axes[:, i + 1])
                                         for i in range(3)], axis=1)
    return first, second, root_axes


def _cross(a, b):
    """Cross products along the last axis (``np.cross`` costs more on small arrays)."""
    return np.stack([a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1],
                     a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
                     a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]], axis=-1)


def _chain_residuals(axes, skews, squares, values, targets):
    """(N, 6) segment directions minus ``targets`` (N, 6) and their (N, 6, 4) Jacobian."""
    first, second, root_axes = _chain_directions(axes, skews, squares, values, with_axes=True)
    # Turning joint i moves a direction d after it by (its axis) x d; the first segment hangs
    # before the last joint.
    upper_rows = _cross(root_axes, first[:, None, :])
    upper_rows[:, 3] = 0.0
    jacobian = np.concatenate([upper_rows, _cross(root_axes, second[:, None, :])], axis=2)
    return np.concatenate([first, second], axis=1) - targets, np.swapaxes(jacobian, 1, 2)


def _angles_deg(a, b):
    """Angles in degrees between the vectors (..., 3) of ``a`` and ``b`` (the last axis)."""
    cos = (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def _chain_errors(chain, values, targets):
    """(N,) the larger angle (degrees) between a limb's segments and their targets."""
    first, second = _chain_directions(*chain, values)
    return np.maximum(_angles_deg(first, targets[:, :3]), _angles_deg(second, targets[:, 3:]))


def _bounded_step(jacobian, residuals, values, lower, upper, damping):
    """Return the angles (N, 4) after a damped Gauss-Newton step within the limits.

    A joint on a limit that the gradient pushes further out is held there (projected Newton's
    active set); a joint the step would carry past a limit is held on that limit and the
    others re-solved for it, so that the step is the best one of the box, not a clipped one.
    Also returns (N,) whether the start is already stationary: no allowed move lowers the
    cost to first order.
    """
    gradient = np.einsum('nki,nk->ni', jacobian, residuals)
    normal = np.einsum('nki,nkj->nij', jacobian, jacobian)
    held = ((values <= lower) & (gradient > 0)) | ((values >= upper) & (gradient < 0))
    stationary = np.abs(np.where(held, 0.0, gradient)).max(-1) < 1e-7
    fixed = np.zeros_like(values)  # the steps of the held joints
    for _ in range(values.shape[1]):
        free = ~held
        system = normal * (free[:, :, None] & free[:, None, :])
        diagonal = np.einsum('nii->ni', system)
        diagonal += np.where(free, damping[:, None] * (1.0 + diagonal), 1.0)
        # The linear model with the held joints' steps: J' (r + J fixed) = g + J'J fixed.
        right = -(gradient + np.einsum('nij,nj->ni', normal, fixed)) * free
        step = np.linalg.solve(system, right[..., None])[..., 0] + fixed
        proposed = values + step
        out = free & ((proposed < lower) | (proposed > upper))
        if not out.any():
            break
        fixed = np.where(out, np.clip(proposed, lower, upper) - values, fixed)
        held |= out
    moved = np.clip(values + step, lower, upper)
    # Exactly on a limit, not a rounding error inside it: a joint there must count as held.
    moved = np.where(np.abs(moved - lower) < 1e-12, lower, moved)
    return np.where(np.abs(moved - upper) < 1e-12, upper, moved), stationary


def _refine_within_limits(chain, values, targets, iterations=40):
    """Return the angles nearest the targets that the limits allow, for many limbs at once.

    A bounded Levenberg-Marquardt (:func:`_bounded_step`) on the squared direction residuals
    of every limb, from ``values`` (N, 4); a step is taken only when it lowers that limb's
    cost, and each limb takes at most its ``iterations`` (one for all, or (N,)).  One batched
    solve for all limbs of a group: a solver call per limb (SciPy's ``least_squares``) cost
    more than all the rest of the inverse kinematics.
    """
    iterations = np.broadcast_to(iterations, len(values))
    *terms, lower, upper = chain
    values = values.copy()
    residuals, jacobian = _chain_residuals(*terms, values, targets)
    cost = (residuals ** 2).sum(-1)
    damping = np.full(len(values), 1e-3)  # at least 1e-9 times (1 + diag): never singular
    running = np.ones(len(values), bool)
    for iteration in range(int(iterations.max(initial=0))):
        running &= iterations > iteration
        idx = np.flatnonzero(running)
        if not idx.size:
            break
        trial, stationary = _bounded_step(jacobian[idx], residuals[idx], values[idx],
                                          lower[idx], upper[idx], damping[idx])
        trial_residuals, trial_jacobian = _chain_residuals(
            *(term[idx] for term in terms), trial, targets[idx])
        trial_cost = (trial_residuals ** 2).sum(-1)
        better = trial_cost < cost[idx]
        took = idx[better]
        # Settled: a nearly undamped (Gauss-Newton) step that hardly lowered the cost.
        settled = (((cost[took] - trial_cost[better]) <= 1e-6 * (1.0 + cost[took]))
                   & (damping[took] <= 1e-2))
        values[took] = trial[better]
        residuals[took], jacobian[took] = trial_residuals[better], trial_jacobian[better]
        cost[took] = trial_cost[better]
        # A step the active set got wrong (no decrease) is retried more damped: a gradient
        # step on the joints free to move, which never leaves the limits.
        damping[idx] = np.where(better, np.maximum(damping[idx] / 3.0, 1e-9),
                                damping[idx] * 4.0)
        running[took[settled]] = False
        running[idx[stationary]] = False
        running[idx[damping[idx] > 1e8]] = False
    return values


def _solve_limbs(limbs):
    """Return the joint angles of limbs and their errors.

    Each limb takes the best of its analytic candidates, clamped to the limits; refined
    within them when clamping hurt (:func:`_refine_within_limits`, from each candidate).

    Args:
        limbs: ``(names (4,), candidates (C, 4), upper (3,), lower segment (3,))`` each.

    Returns:
        ``(values (L, 4), errors in degrees (L,))``.
    """
    if not limbs:
        return np.zeros((0, 4)), np.zeros(0)
    names, candidates, uppers, lowers = zip(*limbs)
    chains = [_chain(tuple(n)) for n in names]
    chain = tuple(np.stack(part) for part in zip(*chains))
    # Each candidate wrapped into [-pi, pi) and turned into the limits, both clamped: where a
    # range spans more than pi, either can be the nearer start.
    candidates = np.asarray(candidates, dtype=float)                        # (L, C, 4)
    lower, upper = chain[3][:, None], chain[4][:, None]
    tried = np.concatenate([np.clip(_wrap(candidates), lower, upper),
                            _into_limits(candidates, lower, upper)], axis=1)
    count = tried.shape[1]
    tried = tried.reshape(-1, 4)
    targets = np.concatenate([np.stack(uppers), np.stack(lowers)], axis=1)
    repeated = tuple(np.repeat(part, count, axis=0) for part in chain)
    repeated_targets = np.repeat(targets, count, axis=0)
    tried_errors = _chain_errors(repeated[:3], tried, repeated_targets)
    tried_errors = tried_errors.reshape(-1, count)
    best = np.argmin(np.where(np.isnan(tried_errors), np.inf, tried_errors), axis=1)
    rows = np.arange(len(limbs))
    values = tried.reshape(-1, count, 4)[rows, best]
    errors = tried_errors[rows, best]
    # The limits forbid the pose: the nearest pose they allow, in direction error, refined
    # from the best candidate; and, in the same batch, briefly from the others (a joint held
    # on a limit can miss a far better pose on the other branch).
    clamped = np.flatnonzero(errors > TOLERANCE_DEG / 3)
    if clamped.size:
        starts = (clamped[:, None] * count + np.arange(count)).ravel()
        from_best = starts == np.repeat(clamped * count + best[clamped], count)
        part = tuple(term[starts] for term in repeated)
        refined = _refine_within_limits(part, tried[starts], repeated_targets[starts],
                                        np.where(from_best, 40, ITERATIONS_FROM_OTHER_BRANCH))
        refined_errors = _chain_errors(part[:3], refined, repeated_targets[starts])
        for limb, value, error in zip(starts // count, refined, refined_errors):
            if error < errors[limb]:  # NaN never
                values[limb], errors[limb] = value, error
    return values, errors


def _rotations(axes, angles):
    """(..., 3, 3) rotations of ``angles`` (...) about unit ``axes`` (..., 3), one per angle."""
    x, y, z = np.moveaxis(np.broadcast_to(axes, angles.shape + (3,)), -1, 0)
    zero = np.zeros_like(x)
    skew = np.stack([np.stack([zero, -z, y], -1), np.stack([z, zero, -x], -1),
                     np.stack([-y, x, zero], -1)], -2)
    return _rodrigues(skew, skew @ skew, angles)


def _in_frames(rotations, vectors):
    """``rotations.T @ vector`` for (N, 2, 3, 3) rotations and (N, 3) vectors: (N, 2, 3)."""
    return np.einsum('nbji,nj->nbi', rotations, vectors)


def _arm_candidates(reflect, upper, forearm):
    """(N, 2, 4) (y, p, r, elbow) candidates pointing N arms along ``upper`` then ``forearm``.

    ``reflect`` (N,): +1 left, -1 right (k); ``upper``, ``forearm`` (N, 3) in the torso frame.
    There the upper arm is ``(sin p sin y, k sin p cos y, -cos p)``; the same direction with
    ``-p, y + pi``.  The forearm, in the frame after yaw and pitch, is
    ``(sin e cos kr, sin e sin kr, -cos e)``.
    """
    k = reflect[:, None]
    pitch = np.arccos(np.clip(-upper[:, 2], -1.0, 1.0))
    yaw = np.where(np.sin(pitch) > 1e-9, np.arctan2(upper[:, 0], reflect * upper[:, 1]), 0.0)
    yaws, pitches = np.stack([yaw, yaw + np.pi], 1), np.stack([pitch, -pitch], 1)
    zero = np.zeros_like(k)
    rotation = (_rotations(np.stack([zero, zero, -k], -1), yaws)
                @ _rotations(np.stack([k, zero, zero], -1), pitches))
    local = _in_frames(rotation, forearm)
    elbow = np.arccos(np.clip(-local[..., 2], -1.0, 1.0))
    roll = np.where(np.sin(elbow) > 1e-9, k * np.arctan2(local[..., 1], local[..., 0]), 0.0)
    return np.stack([yaws, pitches, roll, elbow], -1)


def _leg_candidates(reflect, thigh, shin):
    """(N, 2, 4) (y, p, r, knee) candidates pointing N legs along ``thigh`` then ``shin``.

    ``reflect`` (N,): +1 left, -1 right (k); ``thigh``, ``shin`` (N, 3) in the body frame.
    Hip roll and knee turn about the same axis, the knee's hinge: ``thigh x shin`` for a bent
    knee (it bends backwards), the body's left axis made orthogonal to the thigh for a straight
    one.  Hip yaw and pitch turn the hinge: ``(cos p sin y, cos p cos y, k sin p)``.
    """
    k = reflect[:, None]
    hinge = _cross(thigh, shin)
    left = np.array([0.0, 1.0, 0.0])
    straight = np.linalg.norm(hinge, axis=-1) < 1e-3
    hinge = np.where(straight[:, None], left - thigh[:, 1:2] * thigh, hinge)
    hinge = hinge / np.linalg.norm(hinge, axis=-1, keepdims=True)
    pitch = reflect * np.arcsin(np.clip(hinge[:, 2], -1.0, 1.0))
    yaw = np.arctan2(hinge[:, 0], hinge[:, 1])
    yaws, pitches = np.stack([yaw, yaw + np.pi], 1), np.stack([pitch, np.pi - pitch], 1)
    zero = np.zeros_like(k)
    rotation = (_rotations(np.array([0.0, 0.0, -1.0]), yaws)
                @ _rotations(np.stack([k, zero, zero], -1), pitches))
    t, s = _in_frames(rotation, thigh), _in_frames(rotation, shin)
    roll = np.arctan2(t[..., 0], -t[..., 2])
    knee = _wrap(np.arctan2(s[..., 0], -s[..., 2]) - roll)
    return np.stack([yaws, pitches, roll, knee], -1)


def _head_angles(relative):
    """(r, y, p) with ``relative = Rx(r) Rz(y) Ry(-p)``, each clamped; and the error."""
    roll = np.arctan2(relative[2, 1], relative[1, 1])
    yaw = np.arcsin(np.clip(-relative[0, 1], -1.0, 1.0))
    pitch = -np.arctan2(relative[0, 2], relative[0, 0])
    values = np.clip([roll, yaw, pitch], *_limits(['r_head', 'y_head', 'p_head']))
    model = (_rotation((1, 0, 0), values[0]) @ _rotation((0, 0, 1), values[1])
             @ _rotation((0, -1, 0), values[2]))
    residual = model.T @ relative
    error = np.degrees(np.arccos(np.clip((np.trace(residual) - 1) / 2, -1.0, 1.0)))
    return values, float(error)


def inverse_kinematics(positions, known, joint_names, world_up=(0.0, 0.0, 1.0)) -> Solution:
    """Joint angles of the human_description model for a fused skeleton (see :class:`Solution`).

    Directions only: the angles do not depend on the body's size.  The waist pitches the torso
    (hip midpoint to shoulder midpoint) forward or back in ``body_<id>``; the head turns from
    the torso to the face's frame; arms and legs point their two segments along the bones.

    Args:
        positions: (J, 3) world positions, metres.
        known: (J,) bool, which joints are located.
        joint_names: the J joint names (``left_elbow`` ...).
        world_up: (3,) the world's up direction.
    """
    geometry = body_frames.SkeletonGeometry(positions, known, joint_names, world_up)
    return solve_bodies([geometry])[0]


def solve_bodies(geometries: List[body_frames.SkeletonGeometry]) -> List[Solution]:
    """:func:`inverse_kinematics` of several skeletons, their limbs solved together."""
    solutions = []
    found = {'arm': [], 'leg': []}  # (solution, side, reflect, upper, lower segment)
    for geometry in geometries:
        angles, errors = {}, {}
        solutions.append(Solution(angles=angles, errors_deg=errors, unsupported=[]))
        body = geometry.body_rotation()
        spine = geometry.spine()
        if body is not None and spine is not None:
            local = body.T @ spine
            waist = float(np.clip(np.arctan2(local[0], local[2]),
                                  *JOINTS_BY_NAME['waist'].limits))
            angles['waist'] = waist
            modelled = np.array([np.sin(waist), 0.0, np.cos(waist)])
            errors['waist'] = float(_angles_deg(local, modelled))
            torso = body @ _rotation((0, 1, 0), waist)
            face = geometry.face_rotation()
            if face is not None:
                values, errors['head'] = _head_angles(torso.T @ face)
                angles.update(zip(HEAD, (float(v) for v in values)))
        # Arms hang from the torso, legs from the body.
        for kind, root in (('arm', torso if body is not None and spine is not None else None),
                           ('leg', body)):
            for side, reflect in (('l', 1.0), ('r', -1.0)):
                bones = None if root is None else geometry.limb(side, kind)
                if bones is not None:
                    found[kind].append((solutions[-1], side, reflect,
                                        *(root.T @ bone for bone in bones)))
    limbs, owners = [], []
    for kind, joints, candidates in (('arm', ARM, _arm_candidates),
                                     ('leg', LEG, _leg_candidates)):
        if not found[kind]:
            continue
        owned, sides, reflects, uppers, lowers = zip(*found[kind])
        tried = candidates(np.array(reflects), np.array(uppers), np.array(lowers))
        for solution, side, upper, lower, rows in zip(owned, sides, uppers, lowers, tried):
            limbs.append((tuple(f'{side}_{name}' for name in joints), rows, upper, lower))
            owners.append((solution, f'{side}_{kind}'))
    values, errors = _solve_limbs(limbs)
    for (solution, part), limb, limb_values, error in zip(owners, limbs, values, errors):
        if not (np.isfinite(error) and np.isfinite(limb_values).all()):
            continue  # degenerate bones (no hinge): the limb is left out, as if not located
        solution.angles.update(zip(limb[0], (float(v) for v in limb_values)))
        solution.errors_deg[part] = float(error)
    for solution in solutions:
        solution.unsupported = [name for name in MOVING if name not in solution.angles]
    return solutions
