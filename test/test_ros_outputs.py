# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The output policy (:class:`skelsplat_ros.ros.outputs.Outputs`) on known people."""

import types

import numpy as np
import pytest
from skelsplat_ros.body_frames import body_id
from skelsplat_ros.live import PersonPose
from skelsplat_ros.ros import hri, outputs
from skelsplat_ros.ros.bag import OUTPUT_TYPES
from skelsplat_ros.skeletons import COCO17, HALPE26
from skelsplat_ros.sync import stamp_ns

STAMP_NS = 100_000_000_000


def _config(**changes):
    values = {'world_frame': 'world', 'publish_markers': True, 'publish_points': True,
              'publish_tf': True, 'publish_covariance_ellipsoids': False,
              'marker_lifetime': 0.5, 'frame_style': 'skelsplat', 'model_frames_by': 'node',
              'publish_hri': True}
    values.update(changes)
    return types.SimpleNamespace(**values)


def _person(person_id, skeleton=COCO17, offset=0.0, unknown=()):
    """Return a person of ``skeleton``, joint j at (offset + j / 10, j / 20, 1 + j / 30) m."""
    j = np.arange(skeleton.num_joints, dtype=float)
    positions = np.stack([offset + j / 10, j / 20, 1 + j / 30], axis=1)
    known = np.ones(skeleton.num_joints, bool)
    known[list(unknown)] = False
    return PersonPose(person_id=person_id, positions=positions, known=known,
                      confidence=np.where(known, 0.8, 0.0),
                      covariance=np.tile(np.eye(3) * 1e-4, (skeleton.num_joints, 1, 1)),
                      num_views=np.where(known, 3, 0).astype(np.uint8),
                      mean_reprojection_error=1.5)


def _by_topic(pairs):
    topics = [topic for topic, _ in pairs]
    assert len(set(topics)) == len(topics)
    return dict(pairs)


def test_one_group_gives_every_enabled_output_in_order():
    policy = outputs.Outputs()
    people = [_person(1), _person(2, offset=2.0, unknown=(3,))]
    pairs = policy.messages(people, STAMP_NS, _config())
    static = len(outputs.OUTPUT_TOPICS)
    assert [topic for topic, _ in pairs][:static] == list(outputs.OUTPUT_TOPICS)
    for topic, msg in pairs[:static]:
        assert isinstance(msg, outputs.OUTPUT_TOPICS[topic])
    # Then the per-body ROS4HRI topics (their names hold the body id).
    assert {topic.rsplit('/', 2)[1] for topic, _ in pairs[static:]} == {
        body_id(1), body_id(2)}
    got = _by_topic(pairs)
    poses = got[outputs.POSES]
    assert stamp_ns(poses.header.stamp) == STAMP_NS and poses.header.frame_id == 'world'
    assert [person.id for person in poses.people] == [1, 2]
    assert tuple(poses.people[0].joint_names) == COCO17.joint_names
    assert poses.people[0].skeleton_format == 'coco17'
    np.testing.assert_allclose([[p.x, p.y, p.z] for p in poses.people[1].positions],
                               people[1].positions)
    # Markers: joints, bones, label per person; bones only between located joints.
    markers = got[outputs.MARKERS].markers
    assert sorted((m.ns, m.id) for m in markers) == sorted(
        (ns, pid) for ns in ('skelsplat/joints', 'skelsplat/bones', 'skelsplat/id')
        for pid in (1, 2))
    bones = {m.id: m for m in markers if m.ns == 'skelsplat/bones'}
    assert len(bones[1].points) == 2 * len(COCO17.bones)
    assert len(bones[2].points) == 2 * sum(3 not in bone for bone in COCO17.bones.tolist())
    # Points: every located joint, tagged with joint index and person id.
    cloud = np.frombuffer(bytes(got[outputs.POINTS].data), outputs.conversions.POINT_DTYPE)
    assert len(cloud) == 17 + 16 and set(cloud['person']) == {1, 2}
    assert 3 not in cloud['joint'][cloud['person'] == 2]
    # TF: body_<id> in the world, one frame per located joint below it.
    children = {t.child_frame_id for t in got[outputs.TF].transforms}
    assert {'body_1', 'body_2', 'nose_1', 'left_shoulder_2'} <= children
    assert 'left_ear_2' not in children and len(children) == 2 + 17 + 16
    # The bag writes the same topics (absolute names), the camera frames, its diagnostics.
    assert list(OUTPUT_TYPES) == ['/human_pose_3d', '/human_pose_3d/markers',
                                  '/human_pose_3d/points', '/tf', '/humans/bodies/tracked',
                                  '/tf_static', '/diagnostics']
    assert OUTPUT_TYPES['/humans/bodies/tracked'] == 'hri_msgs/msg/IdsList'
    assert OUTPUT_TYPES['/tf'] == 'tf2_msgs/msg/TFMessage'


def test_camera_frames_are_sent_again_only_when_they_change():
    out = outputs.Outputs()
    R, t = np.diag([1.0, -1.0, -1.0]), np.array([0.0, 0.0, 2.0])
    frames = {'cam_b': ('b_optical', R, t), 'cam_a': ('a_optical', np.eye(3), np.zeros(3))}
    (topic, msg), = out.camera_frames(frames, 5, 'world')
    assert topic == outputs.TF_STATIC == '/tf_static'
    assert [tf.child_frame_id for tf in msg.transforms] == ['a_optical', 'b_optical']
    b = msg.transforms[1].transform
    # The camera centre -R^T t, and its optical axis (z) pointing down the world's -z.
    assert (b.translation.x, b.translation.y, b.translation.z) == (0.0, 0.0, 2.0)
    assert (b.rotation.x, b.rotation.y, b.rotation.z, b.rotation.w) == (1.0, 0.0, 0.0, 0.0)
    assert out.camera_frames(dict(frames), 6, 'world') == []
    assert out.camera_frames({'cam_a': frames['cam_a']}, 7, 'world')[0][1].transforms[0] \
        .child_frame_id == 'a_optical'
    assert out.camera_frames({}, 8, 'world') == []
    # tf2_ros StaticTransformBroadcaster's QoS, so that late subscribers get the frames.
    qos = outputs.TF_STATIC_QOS
    assert (qos.depth, qos.durability.name, qos.reliability.name, qos.history.name) == (
        1, 'TRANSIENT_LOCAL', 'RELIABLE', 'KEEP_LAST')


def test_markers_of_people_who_left_are_deleted():
    policy = outputs.Outputs()
    config = _config(publish_covariance_ellipsoids=True)
    policy.messages([_person(1), _person(2, offset=2.0)], STAMP_NS, config)
    pairs = policy.messages([_person(1, unknown=(4,))], STAMP_NS + 1, config)
    markers = _by_topic(pairs)[outputs.MARKERS].markers
    deleted = {(m.ns, m.id) for m in markers if m.action == m.DELETE}
    # Person 2's markers and ellipsoids, and person 1's ellipsoid of joint 4 (now unknown).
    assert deleted == {('skelsplat/joints', 2), ('skelsplat/bones', 2), ('skelsplat/id', 2),
                       *{('skelsplat/covariance', 200 + j) for j in range(17)},
                       ('skelsplat/covariance', 104)}
    # Nobody: person 1's markers go too, and then nothing is left to delete.
    pairs = policy.messages([], STAMP_NS + 2, config)
    gone = _by_topic(pairs)[outputs.MARKERS].markers
    assert all(m.action == m.DELETE for m in gone) and ('skelsplat/id', 1) in {
        (m.ns, m.id) for m in gone}
    assert outputs.MARKERS not in _by_topic(policy.messages([], STAMP_NS + 3, config))


def test_tf_is_never_sent_twice_for_a_stamp():
    policy = outputs.Outputs()
    config = _config()
    people = [_person(1)]
    assert outputs.TF in _by_topic(policy.messages(people, STAMP_NS, config))
    assert outputs.TF not in _by_topic(policy.messages(people, STAMP_NS, config))
    assert outputs.TF not in _by_topic(policy.messages(people, STAMP_NS - 1, config))
    assert outputs.TF not in _by_topic(policy.messages([], STAMP_NS + 1, config))
    assert outputs.TF in _by_topic(policy.messages(people, STAMP_NS + 1, config))
    # After the clock jumped back, TF starts over.
    policy.restart()
    assert outputs.TF in _by_topic(policy.messages(people, STAMP_NS - 5, config))


@pytest.mark.parametrize('switch, topic', [('publish_markers', outputs.MARKERS),
                                           ('publish_points', outputs.POINTS),
                                           ('publish_tf', outputs.TF),
                                           ('publish_hri', outputs.TRACKED)])
def test_publish_parameters_switch_their_output(switch, topic):
    pairs = outputs.Outputs().messages([_person(1)], STAMP_NS, _config(**{switch: False}))
    assert topic not in _by_topic(pairs) and outputs.POSES in _by_topic(pairs)
    assert len([t for t, _ in pairs if t in outputs.OUTPUT_TOPICS]) == len(
        outputs.OUTPUT_TOPICS) - 1


def test_the_skeleton_names_joints_bones_and_frames():
    policy = outputs.Outputs(HALPE26)
    got = _by_topic(policy.messages([_person(3, HALPE26)], STAMP_NS, _config()))
    person = got[outputs.POSES].people[0]
    assert person.skeleton_format == 'halpe26'
    assert tuple(person.joint_names) == HALPE26.joint_names and len(person.positions) == 26
    assert len(person.covariance) == 9 * 26
    bones = [m for m in got[outputs.MARKERS].markers if m.ns == 'skelsplat/bones'][0]
    assert len(bones.points) == 2 * len(HALPE26.bones)
    neck, head = HALPE26.joint_names.index('neck'), HALPE26.joint_names.index('head')
    pairs = [(bones.points[i], bones.points[i + 1]) for i in range(0, len(bones.points), 2)]
    expected = _person(3, HALPE26).positions
    assert any(np.allclose([a.x, a.y, a.z], expected[neck])
               and np.allclose([b.x, b.y, b.z], expected[head]) for a, b in pairs)
    children = {t.child_frame_id for t in got[outputs.TF].transforms}
    assert children == {'body_3'} | {f'{name}_3' for name in HALPE26.joint_names}


def _standing(person_id, velocities=None):
    """Return a standing person (COCO-17, metres), arms bent, every joint located."""
    positions = np.array([
        [0.10, 0.0, 1.65], [0.08, 0.03, 1.68], [0.08, -0.03, 1.68], [0.0, 0.07, 1.66],
        [0.0, -0.07, 1.66], [0.0, 0.19, 1.45], [0.0, -0.19, 1.45], [0.0, 0.22, 1.15],
        [0.0, -0.22, 1.15], [0.25, 0.22, 1.10], [0.25, -0.22, 1.10], [0.0, 0.13, 0.95],
        [0.0, -0.13, 0.95], [0.03, 0.13, 0.52], [0.03, -0.13, 0.52], [-0.02, 0.13, 0.08],
        [-0.02, -0.13, 0.08]])
    person = _person(person_id)
    person.positions = positions
    if velocities is not None:
        person.velocities = velocities
        person.velocity_covariance = np.tile(np.eye(3) * 1e-3, (17, 1, 1))
    return person


def test_ros4hri_frames_joint_states_velocity_and_urdf():
    policy = outputs.Outputs()
    velocities = np.tile([0.4, 0.1, 0.0], (17, 1))
    velocities[9] = np.nan  # the left wrist: no view supports it, no claim
    got = _by_topic(policy.messages([_standing(7, velocities)], STAMP_NS,
                                    _config(frame_style='ros4hri')))
    body = body_id(7)
    parents = {t.child_frame_id: t.header.frame_id for t in got[outputs.TF].transforms}
    assert parents == {f'{link}_{body}': (f'{parent}_{body}' if parent else 'world')
                       for link, parent in (
                           ('body', None), ('waist', 'body'), ('torso', 'waist'),
                           ('head', 'torso'), ('l_shoulder', 'torso'),
                           ('l_elbow', 'l_shoulder'), ('l_wrist', 'l_elbow'),
                           ('l_hip', 'body'), ('l_knee', 'l_hip'), ('l_ankle', 'l_knee'),
                           ('r_shoulder', 'torso'), ('r_elbow', 'r_shoulder'),
                           ('r_wrist', 'r_elbow'), ('r_hip', 'body'), ('r_knee', 'r_hip'),
                           ('r_ankle', 'r_knee'))}
    assert got[outputs.TRACKED].ids == [body]
    assert stamp_ns(got[outputs.TRACKED].header.stamp) == STAMP_NS
    states = got[f'/humans/bodies/{body}/joint_states']
    assert len(states.name) == 20 and all(n.endswith('_' + body) for n in states.name)
    # The elbow's angle is the one between the upper arm and the forearm.
    upper, forearm = np.diff(_standing(7).positions[[5, 7, 9]], axis=0)
    bend = np.arccos(upper @ forearm / np.linalg.norm(upper) / np.linalg.norm(forearm))
    assert states.position[states.name.index(f'l_elbow_{body}')] == pytest.approx(bend)
    twist = got[f'/humans/bodies/{body}/velocity']
    assert twist.header.frame_id == f'body_{body}'
    assert (twist.twist.linear.x, twist.twist.linear.y) == pytest.approx((0.4, 0.1))
    assert f'waist_{body}' in got[f'/humans/bodies/{body}/urdf'].data
    # HumanPose3D: the same body id; the wrist's velocity flagged, never NaN.
    person = got[outputs.POSES].people[0]
    assert person.body_id == body
    assert person.velocity_valid == [j != 9 for j in range(17)]
    assert (person.velocities[9].x, person.velocities[0].x) == (0.0, pytest.approx(0.4))
    assert np.isfinite(person.velocity_covariance).all()
    # The URDF only once; robot_state_publisher's links are not sent by the node.
    again = _by_topic(policy.messages([_standing(7, velocities)], STAMP_NS + 1, _config(
        frame_style='ros4hri', model_frames_by='robot_state_publisher')))
    assert f'/humans/bodies/{body}/urdf' not in again
    assert [t.child_frame_id for t in again[outputs.TF].transforms] == [f'body_{body}']
    # Lost: the next list is empty, and no per-body message is sent.
    gone = policy.messages([], STAMP_NS + 2, _config(frame_style='ros4hri'))
    assert _by_topic(gone)[outputs.TRACKED].ids == []
    assert not [topic for topic, _ in gone if topic.startswith('/humans/bodies/' + body)]


def test_joints_of_limbs_not_located_are_left_out_of_the_joint_states():
    person = _standing(2)
    person.known[9] = False  # the left wrist: not located
    person.num_views[15] = 1  # the left ankle: one view, no depth of its own
    got = _by_topic(outputs.Outputs().messages([person], STAMP_NS, _config()))
    names = got[f'/humans/bodies/{body_id(2)}/joint_states'].name
    assert len(names) == 20 - 8
    assert not [name for name in names if name.startswith(('l_elbow', 'l_knee', 'l_r_'))]
    status = hri.diagnostic_status(_bodies(person), 'node', 3)
    assert status.level == status.WARN and 'left out' in status.message
    values = {kv.key: kv.value for kv in status.values}
    assert 'l_elbow' in values[f'{body_id(2)}/joints_left_out']


def _bodies(person):
    policy = outputs.Outputs()
    policy.messages([person], STAMP_NS, _config())
    return policy.bodies
