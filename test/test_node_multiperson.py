# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The live node tracking several people (multi_person:=true), over real DDS on loopback.

The pose2sim 0.8.4 multi-participant trial's OpenPose BODY_25B keypoints go to the node as
Keypoints2D messages, one group at a time (each published after the previous output arrived),
and the node's people, ids, TF frames and markers are compared with a
:class:`skelsplat_ros.tracking.MultiPersonTracker` run in-process on the same float32-rounded
keypoints.  The ROS4HRI (REP-155) outputs are checked on the same run: ``/humans/bodies/tracked``
lists the people of each group under their body ids, and each body has its human_description
frames on ``/tf``, its ``joint_states`` and its ``velocity``.
"""

import pathlib

from geometry_msgs.msg import TwistStamped
from hri_msgs.msg import IdsList
from node_helpers import calibrate, CAMERAS, Probe, stamp_ns, stamp_of, STAMP_RATE_HZ
import numpy as np
import pytest
from ros_helpers import RosContext, spin_until
from sensor_msgs.msg import JointState
from skelsplat_ros import human_model
from skelsplat_ros.body_frames import body_id
from skelsplat_ros.cameras import load_calibration
from skelsplat_ros.cli import load_keypoint_frames
from skelsplat_ros.fileio.openpose import list_openpose_files, read_openpose_json
from skelsplat_ros.ros.conversions import camera_info_msg, keypoints_msg
from skelsplat_ros.ros.hri import body_topic, TRACKED
from skelsplat_ros.ros.runner import create_node
from skelsplat_ros.solver import SolverConfig
from skelsplat_ros.tracking import MultiPersonTracker

pytestmark = pytest.mark.ros

ROOT = pathlib.Path(__file__).resolve().parents[1]
PARAMS = ROOT / 'config' / 'multiview.yaml'
CALIBRATION = 'pose2sim-0.4.15/Pose2Sim/Demo/calibration/Calib_qualisys.toml'
TRIAL = ('pose2sim-0.8.4/Pose2Sim/S00_Demo_BatchSession/S00_P01_MultiParticipants/'
         'S00_P01_T02_Participants1-2/pose')
NUM_FRAMES = 12
OUTPUT_TIMEOUT_S = 60.0


@pytest.fixture(scope='module')
def trial(data_root):
    calibration = data_root / CALIBRATION
    dirs = [data_root / TRIAL / f'cam0{v}_json' for v in range(1, 5)]
    body25b = [[read_openpose_json(path, 25) for path in list_openpose_files(d)[:NUM_FRAMES]]
               for d in dirs]
    return calibration, dirs, [list(frame) for frame in zip(*body25b)]


def _positions(person):
    return np.array([[p.x, p.y, p.z] for p in person.positions])


def test_node_tracks_several_people_like_the_tracker(trial):
    calibration, dirs, frames = trial
    cameras = {camera.name: camera for camera in load_calibration(calibration)}
    overrides = {'calibration_file': str(calibration), 'detector': 'keypoints_topic',
                 'multi_person': True, 'image_qos': 'reliable', 'device': 'cpu',
                 'diagnostics_period': 0.2, 'max_wait': 5.0}
    with RosContext() as ros:
        node = create_node(PARAMS, overrides, context=ros.context)
        ros.executor.add_node(node)
        ros.nodes.append(node)
        probe = Probe(ros.node('probe'), dict.fromkeys(CAMERAS, 'keypoints'))
        probe.listen(TRACKED, IdsList)
        for track_id in range(8):  # body ids follow from the tracker's ids, 0, 1, ...
            probe.listen(body_topic(body_id(track_id), 'joint_states'), JointState)
            probe.listen(body_topic(body_id(track_id), 'velocity'), TwistStamped)
        calibrate(ros, probe, cameras)
        for index, views in enumerate(frames):
            stamp = stamp_of(index)
            for v, name in enumerate(CAMERAS):
                probe.info[name].publish(camera_info_msg(cameras[name], stamp,
                                                         f'{name}_optical_frame'))
                probe.inputs[name].publish(keypoints_msg(views[v], 'body25b', stamp,
                                                         f'{name}_optical_frame'))
            assert spin_until(ros.executor, lambda: probe.count('/human_pose_3d') > index,
                              timeout_s=OUTPUT_TIMEOUT_S), f'no output for group {index}'
        last = stamp_ns(stamp_of(NUM_FRAMES - 1))
        spin_until(ros.executor, lambda: any(
            stamp_ns(m.header.stamp) >= last for m in probe.messages('/human_pose_3d/markers')
            for m in m.markers))
        outputs = probe.messages('/human_pose_3d')
        markers = [m for array in probe.messages('/human_pose_3d/markers') for m in array.markers]
        spin_until(ros.executor, lambda: any(stamp_ns(m.header.stamp) >= last
                                             for m in probe.messages(TRACKED)))
        transforms = [t for msg in probe.messages('/tf') for t in msg.transforms]
        tracked = {stamp_ns(m.header.stamp): list(m.ids) for m in probe.messages(TRACKED)}
        received = dict(probe.received)
        diagnostics = probe.messages('/diagnostics')

    tracker = MultiPersonTracker(list(cameras.values()),
                                 SolverConfig(device='cpu', objective='analytic',
                                              frame_rate=STAMP_RATE_HZ))
    reference = load_keypoint_frames(dirs, 'body25b')[:NUM_FRAMES]
    ids_per_frame = []
    for index, (frame, output) in enumerate(zip(reference, outputs)):
        assert stamp_ns(output.header.stamp) == stamp_ns(stamp_of(index))
        expected = tracker.update([np.asarray(view, np.float32).astype(float)
                                   for view in frame])
        ids = [person.id for person in output.people]
        assert ids == [track_id for track_id, _ in expected]
        assert len(set(ids)) == len(ids)
        ids_per_frame.append(ids)
        for person, (_, estimate) in zip(output.people, expected):
            known = np.isfinite(estimate.positions).all(axis=1) & (estimate.num_views > 0)
            got = _positions(person)
            np.testing.assert_allclose(got[known], estimate.positions[known], atol=1e-6)
            assert np.isfinite(got).all() and np.isfinite(person.covariance).all()
    assert len(outputs) == NUM_FRAMES
    # Both participants are found once their tracks are born, under ids that do not change.
    settled = ids_per_frame[5:]
    assert all(len(ids) >= 2 for ids in settled)
    steady = set.intersection(*map(set, settled))
    assert len(steady) >= 2
    everyone = set().union(*map(set, ids_per_frame))

    # ROS4HRI: every group's bodies listed under their body ids, with the group's stamp.
    for output in outputs:
        ids = [body_id(person.id) for person in output.people]
        assert [person.body_id for person in output.people] == ids
        assert tracked[stamp_ns(output.header.stamp)] == ids
    assert len(set(map(body_id, everyone))) == len(everyone)
    statuses = [status for array in diagnostics for status in array.status
                if status.name.endswith(': ROS4HRI bodies')]
    reports = [{kv.key: kv.value for kv in status.values} for status in statuses]
    assert any(set(map(body_id, steady)) <= set(values['bodies'].split())
               for values in reports)
    # Joint velocities: finite everywhere, claimed where a view supports the joint.
    for output in outputs[3:]:
        for person in output.people:
            speeds = np.linalg.norm([[v.x, v.y, v.z] for v in person.velocities], axis=1)
            assert np.isfinite(speeds).all() and (speeds < 20.0).all()
            assert not any(valid and views == 0
                           for valid, views in zip(person.velocity_valid, person.num_views))
            assert any(person.velocity_valid)

    # human_description frames (frame_style ros4hri, the default), parented as in the model.
    parents = {t.child_frame_id: t.header.frame_id for t in transforms}
    for track_id in everyone:
        assert parents[f'body_{body_id(track_id)}'] == 'world'
    # Bodies whose shoulders and hips two views see get the torso; the two participants do.
    complete = [track_id for track_id in steady if f'torso_{body_id(track_id)}' in parents]
    assert len(complete) >= 2
    for track_id in set(steady) - set(complete):
        # A body seen by too few cameras: its joints are said to be left out, never made up.
        assert any(f'{body_id(track_id)}/joints_left_out' in values for values in reports)
    for track_id in complete:
        bid = body_id(track_id)
        assert parents[f'waist_{bid}'] == f'body_{bid}'
        assert parents[f'torso_{bid}'] == f'waist_{bid}'
        located = [side for side in 'lr' if f'{side}_wrist_{bid}' in parents]
        assert located, f'no arm frames for body {bid}'
        for side in located:
            assert parents[f'{side}_elbow_{bid}'] == f'{side}_shoulder_{bid}'
            assert parents[f'{side}_shoulder_{bid}'] == f'torso_{bid}'
        assert parents.get(f'l_knee_{bid}', f'l_hip_{bid}') == f'l_hip_{bid}'
        # Joint states of the model's joints, within its limits; velocity in body_<id>.
        states = received[body_topic(bid, 'joint_states')]
        assert states, f'no joint_states for body {bid}'
        for state in states:
            assert all(name.endswith(f'_{bid}') for name in state.name)
            for name, angle in zip(state.name, state.position):
                lower, upper = human_model.JOINTS_BY_NAME[name[:-len(bid) - 1]].limits
                assert lower - 1e-9 <= angle <= upper + 1e-9
        assert any(f'l_elbow_{bid}' in state.name or f'r_elbow_{bid}' in state.name
                   for state in states)
        velocities = received[body_topic(bid, 'velocity')]
        assert velocities, f'no velocity for body {bid}'
        for twist in velocities:
            assert twist.header.frame_id == f'body_{bid}'
            values = [twist.twist.linear.x, twist.twist.linear.y, twist.twist.linear.z,
                      twist.twist.angular.z]
            assert np.isfinite(values).all() and abs(twist.twist.linear.x) < 5.0

    # One marker set (joints, bones, id label) per person, told apart by id and label colour.
    shown = {}
    for marker in markers:
        if marker.action == marker.ADD:
            shown.setdefault(marker.ns, set()).add(marker.id)
    for ns in ('skelsplat/joints', 'skelsplat/bones', 'skelsplat/id'):
        assert shown[ns] == everyone
    labels = {m.id: (m.color.r, m.color.g, m.color.b) for m in markers
              if m.ns == 'skelsplat/id' and m.action == m.ADD}
    assert len({labels[track_id] for track_id in steady}) == len(steady)


def test_default_node_publishes_people_at_once_and_says_why_nobody(trial):
    # The default configuration tracks several people: from the first group, each person
    # under its id with its cameras named; then nobody in any view: empty outputs, no error,
    # and /diagnostics says why.
    calibration, _, frames = trial
    cameras = {camera.name: camera for camera in load_calibration(calibration)}
    overrides = {'calibration_file': str(calibration), 'detector': 'keypoints_topic',
                 'image_qos': 'reliable', 'device': 'cpu', 'diagnostics_period': 0.2,
                 'max_wait': 5.0}
    empty = [np.zeros((0, 25, 3))] * len(CAMERAS)

    def nobody_reported(probe):
        return [status for msg in probe.messages('/diagnostics') for status in msg.status
                if status.name.endswith(': fusion') and 'nobody located' in status.message]

    with RosContext() as ros:
        node = create_node(PARAMS, overrides, context=ros.context)
        ros.executor.add_node(node)
        ros.nodes.append(node)
        assert node.config.multi_person
        probe = Probe(ros.node('probe'), dict.fromkeys(CAMERAS, 'keypoints'))
        calibrate(ros, probe, cameras)
        index = 0
        # Three groups of the trial, then empty ones until a diagnostics period held only
        # those (at most 60).
        while index < 3 or (not nobody_reported(probe) and index < 63):
            views = frames[index] if index < 3 else empty
            stamp = stamp_of(index)
            for v, name in enumerate(CAMERAS):
                probe.info[name].publish(camera_info_msg(cameras[name], stamp,
                                                         f'{name}_optical_frame'))
                probe.inputs[name].publish(keypoints_msg(views[v], 'body25b', stamp,
                                                         f'{name}_optical_frame'))
            assert spin_until(ros.executor, lambda: probe.count('/human_pose_3d') > index,
                              timeout_s=OUTPUT_TIMEOUT_S), f'no output for group {index}'
            index += 1
            spin_until(ros.executor, lambda: False, timeout_s=0.02)
        outputs = probe.messages('/human_pose_3d')
        reported = nobody_reported(probe)
    # The real trial's three people are apart: no birth delay.
    assert [person.id for person in outputs[0].people] == [0, 1, 2]
    for output in outputs[:3]:
        for person in output.people:
            assert len(person.cameras) >= 2 and set(person.cameras) <= set(CAMERAS)
            assert max(person.num_views) >= 2
    assert len(outputs) > 3 and all(not output.people for output in outputs[3:])
    assert reported, 'no diagnostics period said why nobody was located'
    assert all(status.level in (0, b'\x00') for status in reported)
    assert 'nobody located: no camera sees a person' in reported[-1].message
