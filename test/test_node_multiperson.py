# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The live node tracking several people (multi_person:=true), over real DDS on loopback.

The pose2sim 0.8.4 multi-participant trial's OpenPose BODY_25B keypoints go to the node as
Keypoints2D messages, one group at a time (each published after the previous output arrived),
and the node's people, ids, TF frames and markers are compared with a
:class:`skelsplat_ros.tracking.MultiPersonTracker` run in-process on the same float32-rounded
keypoints.
"""

import pathlib

from node_helpers import calibrate, CAMERAS, Probe, stamp_ns, stamp_of, STAMP_RATE_HZ
import numpy as np
import pytest
from ros_helpers import RosContext, spin_until
from skelsplat_ros.cameras import load_calibration
from skelsplat_ros.cli import load_keypoint_frames
from skelsplat_ros.fileio.openpose import list_openpose_files, read_openpose_json
from skelsplat_ros.ros.conversions import camera_info_msg, keypoints_msg
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
        transforms = [t for msg in probe.messages('/tf') for t in msg.transforms]

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

    tf_children = {t.child_frame_id for t in transforms}
    for track_id in everyone:
        assert f'body_{track_id}' in tf_children
        assert f'nose_{track_id}' in tf_children or f'left_hip_{track_id}' in tf_children
    assert {t.header.frame_id for t in transforms if t.child_frame_id.startswith('body_')} \
        == {'world'}

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
    assert 'no camera detects a person' in reported[-1].message
