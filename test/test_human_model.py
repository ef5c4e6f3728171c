# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The ROS4HRI human model: link names, URDF, IK -> FK, frames, heights, body ids, velocity.

Known skeletons are made by the model itself (forward kinematics of known joint angles,
placed in the world at a known heading), so that every direction the inverse kinematics
should reproduce is known exactly.
"""

import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest
from scipy.optimize import least_squares
from skelsplat_ros import body_frames, human_model
from skelsplat_ros.hri_bodies import body_twist, HriBodies
from skelsplat_ros.live import PersonPose
from skelsplat_ros.skeletons import COCO17

NAMES = COCO17.joint_names

# Link names of ros4hri/human_description urdf/human-tpl.xacro (main branch, commit a0fcf79),
# without the _${id} suffix, with their parent link (read once from the file; test data).
UPSTREAM_LINK_PARENTS = {
    'body': None, 'waist': 'body', 'torso': 'waist',
    'r_head': 'torso', 'y_head': 'r_head', 'p_head': 'y_head', 'head': 'p_head',
    **{f'{s}_{link}': f'{s}_{parent}' if parent != 'torso' else 'torso'
       for s in 'lr' for link, parent in (
           ('y_shoulder', 'torso'), ('p_shoulder', 'y_shoulder'), ('shoulder', 'p_shoulder'),
           ('elbow', 'shoulder'), ('wrist', 'elbow'))},
    **{f'{s}_{link}': f'{s}_{parent}' if parent != 'body' else 'body'
       for s in 'lr' for link, parent in (
           ('y_hip', 'body'), ('p_hip', 'y_hip'), ('hip', 'p_hip'), ('knee', 'hip'),
           ('ankle', 'knee'))},
}
# Frames the skeleton places (issue 18): every one must be an upstream link.
PLACED = ['body', 'waist', 'torso', 'head'] + [
    f'{s}_{part}' for s in 'lr'
    for part in ('shoulder', 'elbow', 'wrist', 'hip', 'knee', 'ankle')]
SEGMENTS = [('left_shoulder', 'left_elbow'), ('left_elbow', 'left_wrist'),
            ('right_shoulder', 'right_elbow'), ('right_elbow', 'right_wrist'),
            ('left_hip', 'left_knee'), ('left_knee', 'left_ankle'),
            ('right_hip', 'right_knee'), ('right_knee', 'right_ankle')]


def _world(yaw, shift):
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]), np.asarray(shift, float)


def _skeleton(angles, height, yaw=0.4, shift=(1.0, -2.0, 0.95)):
    """COCO-17 positions (world) of the model posed at ``angles``; and the link world poses."""
    rotation, shift = _world(yaw, shift)
    links = {name: (shift + rotation @ origin, rotation @ axes)
             for name, (origin, axes) in human_model.forward_kinematics(angles, height).items()}
    points = {}
    for side, prefix in (('l', 'left'), ('r', 'right')):
        for part in ('shoulder', 'elbow', 'wrist', 'hip', 'knee', 'ankle'):
            points[f'{prefix}_{part}'] = links[f'{side}_{part}'][0]
    head, axes = links['head']
    offsets = {'nose': (0.1, 0.0, 0.0), 'left_ear': (0.0, 0.07, 0.0),
               'right_ear': (0.0, -0.07, 0.0), 'left_eye': (0.08, 0.03, 0.03),
               'right_eye': (0.08, -0.03, 0.03)}
    for name, offset in offsets.items():
        points[name] = head + axes @ np.array(offset)
    return np.array([points[name] for name in NAMES]), links


def _random_angles(rng, margin=0.15):
    angles = {}
    for joint in human_model.JOINTS:
        if joint.limits is not None:
            lower, upper = joint.limits
            span = upper - lower
            angles[joint.name] = rng.uniform(lower + margin * span, upper - margin * span)
    return angles


def _angle_deg(a, b):
    cos = np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def _segment_errors(positions, other):
    index = {name: i for i, name in enumerate(NAMES)}
    return [_angle_deg(positions[index[b]] - positions[index[a]],
                       other[index[b]] - other[index[a]]) for a, b in SEGMENTS]


def test_the_model_has_human_descriptions_links_and_tree():
    parents = {joint.child: joint.parent for joint in human_model.JOINTS}
    parents['body'] = None
    assert parents == UPSTREAM_LINK_PARENTS
    assert set(human_model.LINKS) == set(UPSTREAM_LINK_PARENTS)
    # The frames the node publishes are model links, parented below a model ancestor.
    positions, _ = _skeleton(_random_angles(np.random.default_rng(1)), 1.7)
    frames = body_frames.model_frames(body_frames.SkeletonGeometry(positions, np.ones(17, bool)))
    assert [link for link, *_ in frames] == PLACED
    for link, parent, _, _ in frames[1:]:
        ancestor = UPSTREAM_LINK_PARENTS[link]
        while ancestor != parent:
            assert ancestor is not None, f'{parent} is not an ancestor of {link}'
            ancestor = UPSTREAM_LINK_PARENTS[ancestor]


def test_urdf_names_every_link_and_joint_with_the_body_id_and_scales_with_height():
    root = ElementTree.fromstring(human_model.urdf('kq3zt', height=1.875))
    assert {link.get('name') for link in root.iter('link')} == {
        f'{name}_kq3zt' for name in UPSTREAM_LINK_PARENTS}
    joints = {joint.get('name'): joint for joint in root.iter('joint')}
    assert len(joints) == len(UPSTREAM_LINK_PARENTS) - 1
    elbow = joints['l_elbow_kq3zt']
    assert elbow.get('type') == 'revolute'
    assert elbow.find('limit').get('lower') == '0.0' and elbow.find('limit').get('upper') == '2.5'
    # Upper arm: 1.6 units of height / 7.5 -> 0.4 m at 1.875 m.
    assert elbow.find('origin').get('xyz') == '0.0000 0.0000 -0.4000'
    assert joints['torso_kq3zt'].get('type') == 'fixed'


@pytest.mark.parametrize('height', [1.5, 1.9])
def test_ik_then_fk_reproduces_poses_the_limits_allow(height):
    rng = np.random.default_rng(7)
    for _ in range(40):
        angles = _random_angles(rng)
        positions, links = _skeleton(angles, height)
        known = np.ones(len(NAMES), bool)
        assert human_model.measured_height(positions, known, NAMES) == pytest.approx(height)
        solution = human_model.inverse_kinematics(positions, known, NAMES)
        assert solution.unsupported == [] and solution.clamped == []
        for name, value in solution.angles.items():
            lower, upper = human_model.JOINTS_BY_NAME[name].limits
            assert lower <= value <= upper
        again, relinks = _skeleton(solution.angles, height)
        assert max(_segment_errors(positions, again)) < 3.0
        # The torso and head turn as the skeleton's do.
        for link in ('torso', 'head'):
            assert _angle_deg(links[link][1][:, 2], relinks[link][1][:, 2]) < 3.0
            assert _angle_deg(links[link][1][:, 0], relinks[link][1][:, 0]) < 3.0


def test_a_pose_the_limits_forbid_is_clamped_and_its_error_reported():
    # Sitting: thighs forward and level, shins down.  The model's hip flexion stops at 0.7 rad.
    positions, _ = _skeleton({}, 1.7, yaw=0.0, shift=(0.0, 0.0, 0.0))
    index = {name: i for i, name in enumerate(NAMES)}
    for side in ('left', 'right'):
        hip = positions[index[f'{side}_hip']]
        positions[index[f'{side}_knee']] = hip + [0.45, 0.0, 0.0]
        positions[index[f'{side}_ankle']] = hip + [0.45, 0.0, -0.45]
    solution = human_model.inverse_kinematics(positions, np.ones(17, bool), NAMES)
    assert set(solution.clamped) == {'l_leg', 'r_leg'}
    assert solution.errors_deg['l_leg'] > 3.0
    for name, value in solution.angles.items():
        lower, upper = human_model.JOINTS_BY_NAME[name].limits
        assert lower <= value <= upper
    assert solution.angles['l_r_hip'] == pytest.approx(0.7)  # as far forward as allowed
    # The reported error is the one of the clamped pose's own FK.
    again, _ = _skeleton(solution.angles, 1.7, yaw=0.0, shift=(0.0, 0.0, 0.0))
    thigh = _segment_errors(positions, again)[4]
    assert thigh <= solution.errors_deg['l_leg'] + 1e-6
    assert max(_segment_errors(positions, again)[:4]) < 3.0  # the arms are unaffected


@pytest.mark.parametrize('limb', [human_model.ARM, human_model.LEG])
def test_the_limb_jacobian_is_the_derivative_of_its_directions(limb):
    # The clamped IK's refinement takes this Jacobian: central differences must agree.
    rng = np.random.default_rng(3)
    for side in ('l', 'r'):
        axes, skews, squares, _, _ = human_model._chain(tuple(f'{side}_{name}' for name in limb))
        terms = (axes[None], skews[None], squares[None])
        values = rng.uniform(-1.5, 1.5, (1, 4))
        step = 1e-6
        numeric = np.stack([
            np.concatenate(human_model._chain_directions(*terms, values + step * e), axis=1)
            - np.concatenate(human_model._chain_directions(*terms, values - step * e), axis=1)
            for e in np.eye(4)], axis=2) / (2 * step)
        _, jacobian = human_model._chain_residuals(*terms, values, np.zeros((1, 6)))
        np.testing.assert_allclose(jacobian, numeric, atol=1e-8)


@pytest.mark.parametrize('limb', [human_model.ARM, human_model.LEG])
def test_a_clamped_limb_is_refined_as_far_as_scipys_bounded_least_squares_gets(limb):
    # Limbs posed a little past their limits (the elbow or knee bent as a joint can bend: the
    # analytic candidates never hyperextend), started where the IK starts, at the clamped
    # angles: the batched refinement must reach SciPy's trust-region solver's cost at tight
    # tolerances, from the same start, within the limits.
    rng = np.random.default_rng(5)
    for side in ('l', 'r'):
        chain = human_model._chain(tuple(f'{side}_{name}' for name in limb))
        lower, upper = chain[3], chain[4]
        count = 100
        margin = 0.1 * (upper - lower)
        truth = rng.uniform(lower - margin, upper + margin, (count, 4))
        truth[:, 3] = rng.uniform(lower[3], upper[3], count)
        batch = tuple(np.repeat(term[None], count, axis=0) for term in chain)
        targets = np.concatenate(human_model._chain_directions(*batch[:3], truth), axis=1)
        start = np.clip(truth, lower, upper)
        refined = human_model._refine_within_limits(batch, start, targets)
        assert ((refined >= lower) & (refined <= upper)).all()
        residuals, _ = human_model._chain_residuals(*batch[:3], refined, targets)
        assert ((residuals ** 2).sum(-1) > 1e-4).sum() > count / 3  # most are clamped
        for i in range(count):
            def residual(values, i=i):
                return human_model._chain_residuals(*(term[i:i + 1] for term in batch[:3]),
                                                    values[None], targets[i:i + 1])[0][0]
            reference = least_squares(residual, np.clip(start[i], lower + 1e-9, upper - 1e-9),
                                      bounds=(lower, upper), ftol=1e-12, xtol=1e-12)
            assert (residuals[i] ** 2).sum() <= (reference.fun ** 2).sum() + 1e-4


def test_bodies_solved_together_get_the_angles_each_gets_alone():
    rng = np.random.default_rng(9)
    geometries, alone = [], []
    for trial in range(6):
        positions, _ = _skeleton(_random_angles(rng, margin=-0.3), 1.7)  # some out of limits
        known = rng.random(17) > 0.15
        geometries.append(body_frames.SkeletonGeometry(positions, known, NAMES))
        alone.append(human_model.inverse_kinematics(positions, known, NAMES))
    together = human_model.solve_bodies(geometries)
    assert any(solution.clamped for solution in alone)
    for mine, reference in zip(together, alone):
        assert mine.angles.keys() == reference.angles.keys()
        assert mine.unsupported == reference.unsupported
        for name, value in reference.angles.items():
            assert mine.angles[name] == pytest.approx(value, abs=1e-9)
        for part, error in reference.errors_deg.items():
            assert mine.errors_deg[part] == pytest.approx(error, abs=1e-7)


def test_limbs_not_located_get_no_joint_angles():
    positions, _ = _skeleton(_random_angles(np.random.default_rng(3)), 1.7)
    known = np.ones(17, bool)
    known[NAMES.index('left_wrist')] = False
    known[NAMES.index('nose')] = False
    solution = human_model.inverse_kinematics(positions, known, NAMES)
    assert set(solution.unsupported) == {'l_y_shoulder', 'l_p_shoulder', 'l_r_shoulder',
                                         'l_elbow', 'r_head', 'y_head', 'p_head'}
    assert 'r_elbow' in solution.angles and 'l_knee' in solution.angles
    # One hip only: no body heading, nothing but the right arm... nothing at all.
    known[NAMES.index('right_hip')] = False
    known[NAMES.index('right_shoulder')] = False
    assert human_model.inverse_kinematics(positions, known, NAMES).angles == {}


def test_frames_from_the_skeleton_are_the_models_links():
    """Each placed frame has the pose FK gives its link: bones along -z, hinges along y."""
    for seed in range(10):
        angles = _random_angles(np.random.default_rng(seed))
        positions, links = _skeleton(angles, 1.7)
        frames = body_frames.model_frames(body_frames.SkeletonGeometry(positions,
                                                                       np.ones(17, bool)))
        world = {}
        for link, parent, origin, rotation in frames:
            if parent is None:
                world[link] = (origin, rotation)
            else:
                base, axes = world[parent]
                world[link] = (base + axes @ origin, axes @ rotation)
        for link, (origin, rotation) in world.items():
            np.testing.assert_allclose(origin, links[link][0], atol=1e-9, err_msg=link)
            np.testing.assert_allclose(rotation, links[link][1], atol=1e-9, err_msg=link)
            assert not np.allclose(rotation, np.eye(3)), link


def test_body_ids_are_short_unique_identifiers():
    ids = [body_frames.body_id(n) for n in range(200_000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 5 and i[0].isalpha() and i.isalnum() and i.islower() for i in ids)


def test_body_velocity_of_a_turning_walk():
    positions, _ = _skeleton({}, 1.7, yaw=0.0, shift=(0.0, 0.0, 0.9))
    known = np.ones(17, bool)
    geometry = body_frames.SkeletonGeometry(positions, known)
    # Walking forward (+x) at 1.2 m/s while turning left at 0.5 rad/s about the hip midpoint.
    centre = geometry.origin()
    omega = np.array([0.0, 0.0, 0.5])
    velocities = np.array([[1.2, 0.0, 0.0] + np.cross(omega, p - centre) for p in positions])
    linear, angular = body_twist(geometry, velocities)
    np.testing.assert_allclose(linear, [1.2, 0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(angular, [0.0, 0.0, 0.5], atol=1e-9)
    velocities[NAMES.index('left_hip')] = np.nan  # no claim: no velocity at all
    assert body_twist(geometry, velocities) is None


def test_urdf_is_sent_for_a_new_body_and_again_when_its_height_moves():
    positions, _ = _skeleton({}, 1.7)
    person = PersonPose(person_id=4, positions=positions, known=np.ones(17, bool),
                        confidence=np.ones(17), covariance=np.tile(np.eye(3), (17, 1, 1)),
                        num_views=np.full(17, 3), mean_reprojection_error=1.0)
    bodies = HriBodies()
    first, = bodies.update([person], NAMES)
    assert first.body_id == body_frames.body_id(4) and first.urdf_due
    assert first.height == pytest.approx(1.7) and first.twist is None
    assert not bodies.update([person], NAMES)[0].urdf_due
    taller, _ = _skeleton({}, 1.9)
    grown = PersonPose(**{**person.__dict__, 'positions': taller})
    assert bodies.update([grown], NAMES)[0].urdf_due  # mean 1.77 m: moved by 7 cm
    assert bodies.update([], NAMES) == []
    assert bodies.update([person], NAMES)[0].urdf_due  # seen again after being lost


def test_any_skeleton_gives_finite_frames_and_angles_within_the_limits():
    """Random, partial and degenerate skeletons (joints on top of each other): no NaN, no error."""
    rng = np.random.default_rng(11)
    bodies = HriBodies()
    for trial in range(300):
        positions = rng.normal(0.0, 0.5, (17, 3))
        if trial % 3 == 0:
            positions[rng.integers(0, 17, 8)] = positions[0]  # coincident joints
        num_views = rng.integers(0, 5, 17)
        velocities = np.where(rng.random((17, 1)) < 0.8, rng.normal(0, 1, (17, 3)), np.nan)
        person = PersonPose(person_id=trial, positions=positions, known=num_views > 0,
                            confidence=np.ones(17), covariance=np.tile(np.eye(3), (17, 1, 1)),
                            num_views=num_views, mean_reprojection_error=1.0,
                            velocities=velocities,
                            velocity_covariance=np.tile(np.eye(3), (17, 1, 1)))
        body, = bodies.update([person], NAMES)
        for _, _, origin, rotation in body.frames:
            assert np.isfinite(origin).all() and np.isfinite(rotation).all()
            np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-9)
            assert np.linalg.det(rotation) == pytest.approx(1.0)
        for name, value in body.solution.angles.items():
            lower, upper = human_model.JOINTS_BY_NAME[name].limits
            assert np.isfinite(value) and lower <= value <= upper
        assert all(np.isfinite(error) for error in body.solution.errors_deg.values())
        assert body.twist is None or all(np.isfinite(part).all() for part in body.twist)
        assert human_model.HEIGHT_RANGE[0] <= body.height <= human_model.HEIGHT_RANGE[1]


def test_a_leg_just_past_its_knee_limit_keeps_its_pose_and_a_degenerate_one_is_left_out():
    # The knee 0.008 rad past straight: the hip's other branch turned by 2 pi starts far off,
    # the wrapped one near; the nearer start must win (0.23 degrees, not clamped).
    angles = {'l_y_hip': 0.537, 'l_p_hip': 0.551, 'l_r_hip': 0.624, 'l_knee': 0.008}
    positions, _ = _skeleton(angles, 1.7)
    solution = human_model.inverse_kinematics(positions, np.ones(17, bool), NAMES)
    assert solution.errors_deg['l_leg'] < 1.0 and 'l_leg' not in solution.clamped
    # A straight leg along the body's left axis has no knee hinge: no NaN angle is given.
    index = {name: i for i, name in enumerate(NAMES)}
    hips = positions[[index['left_hip'], index['right_hip']]]
    left = hips[0] - hips[1]
    left[2] = 0.0
    left /= np.linalg.norm(left)
    positions[index['left_knee']] = hips[0] + 0.4 * left
    positions[index['left_ankle']] = hips[0] + 0.8 * left
    solution = human_model.inverse_kinematics(positions, np.ones(17, bool), NAMES)
    assert all(np.isfinite(value) for value in solution.angles.values())
    assert all(np.isfinite(error) for error in solution.errors_deg.values())
