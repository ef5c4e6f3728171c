# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Faulty inputs injected into the running node over real DDS: it keeps fusing the good views.

cam_01 and cam_02 send good frames of the pose2sim demo throughout (MediaPipe on half-size
images, CameraInfo scaled to match); cam_03 (CompressedImage) and cam_04 (Image, CameraInfo)
send one fault after another.  For each fault the node must log a line saying what is wrong,
report it on that camera's ``/diagnostics`` status, and still publish the person from the
good cameras.  A second test runs the node with ``use_sim_time`` on a ``/clock`` that stops
and jumps back, as when a bag is replayed in a loop.
"""

import math

from builtin_interfaces.msg import Time
import cv2
from diagnostic_msgs.msg import DiagnosticStatus
from node_helpers import CAMERAS, Probe, stamp_ns, stamp_of
import numpy as np
import pytest
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
from ros_helpers import RosContext, spin_until
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image
from skelsplat_ros.cameras import load_calibration, make_camera
from skelsplat_ros.ros.conversions import camera_info_msg, keypoints_msg
from skelsplat_ros.ros.runner import create_node
from test_node_keypoints import _node_overrides, demo, OUTPUT_TIMEOUT_S, PARAMS  # noqa: F401
from test_node_video import _compressed, _image

pytestmark = pytest.mark.ros

KINDS = {'cam_01': 'image', 'cam_02': 'image', 'cam_03': 'compressed', 'cam_04': 'image'}
RATE_HZ = 30.0


@pytest.fixture(scope='module')
def half_size(data_root):
    """Return (cameras scaled to half-size images, first frame of each camera at half size)."""
    calibration = data_root / 'pose2sim-0.4.15/Pose2Sim/Demo/calibration/Calib_qualisys.toml'
    videos = data_root / 'pose2sim-0.10.49/Pose2Sim/Demo_SinglePerson/videos'
    cameras, frames = {}, {}
    for v, camera in enumerate(load_calibration(calibration), start=1):
        capture = cv2.VideoCapture(str(videos / f'cam0{v}.mp4'))
        frame = capture.read()[1]
        capture.release()
        height, width = frame.shape[0] // 2, frame.shape[1] // 2
        frames[camera.name] = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
        K = camera.K.copy()
        K[:2] *= 0.5  # pixel centres: x' = (x + 0.5) / 2 - 0.5
        K[:2, 2] -= 0.25
        cameras[camera.name] = make_camera(camera.name, K, camera.dist, camera.distortion_model,
                                           width, height, camera.R, camera.t)
    return calibration, cameras, frames


def _level_of(probe, camera, text):
    """Return the level of ``camera``'s newest /diagnostics status mentioning ``text``."""
    for array in reversed(probe.messages('/diagnostics')):
        for status in array.status:
            if status.name.endswith(f'camera {camera}') and text in status.message:
                return status.level
    return None


def test_faulty_inputs_cost_only_their_camera(half_size):
    calibration, cameras, frames = half_size
    overrides = {'calibration_file': str(calibration), 'detector': 'mediapipe',
                 'image_qos': 'reliable', 'device': 'cpu', 'diagnostics_period': 0.2,
                 'max_wait': 0.3, 'slop': 0.008,
                 'cameras.cam_03.image_topic': '/cam_03/image_raw/compressed'}
    with RosContext() as ros:
        node = create_node(PARAMS, overrides, context=ros.context)
        ros.executor.add_node(node)
        ros.nodes.append(node)
        probe = Probe(ros.node('probe'), KINDS)
        assert spin_until(ros.executor, probe.connected)

        def info(name, **change):
            msg = camera_info_msg(cameras[name], stamp_of(0), f'{name}_optical_frame')
            for field, value in change.items():
                setattr(msg, field, value)
            probe.info[name].publish(msg)

        # CameraInfo that never arrives: cam_04 is reported unusable until it does.
        for name in CAMERAS[:3]:
            info(name)
        assert spin_until(ros.executor, lambda: probe.calibrated(CAMERAS[:3]))
        assert _level_of(probe, 'cam_04', 'waiting for CameraInfo') == DiagnosticStatus.ERROR
        info('cam_04')
        assert spin_until(ros.executor, lambda: probe.calibrated(CAMERAS))

        index = [0]

        def good(name, stamp):
            if KINDS[name] == 'compressed':
                return _compressed(frames[name], stamp, f'{name}_optical_frame')
            return _image(frames[name], 'bgr8', stamp, f'{name}_optical_frame')

        def send_group(faulty, wait_for_output=True):
            """Publish one group: good frames, with ``faulty`` camera -> message(s) instead."""
            index[0] += 1
            stamp = stamp_of(index[0], rate_hz=RATE_HZ)
            for name in CAMERAS:
                messages = faulty.get(name, good(name, stamp))
                for msg in messages if isinstance(messages, list) else [messages]:
                    probe.inputs[name].publish(msg)
            if wait_for_output:
                assert spin_until(ros.executor, lambda: any(
                    stamp_ns(msg.header.stamp) == stamp_ns(stamp)
                    for msg in probe.messages('/human_pose_3d')), timeout_s=OUTPUT_TIMEOUT_S)
            return stamp

        def next_stamp(offset_s=0.0):
            ns = stamp_ns(stamp_of(index[0] + 1, rate_hz=RATE_HZ)) + round(offset_s * 1e9)
            return Time(sec=ns // 10**9, nanosec=ns % 10**9)

        def expect(camera, text, log=None):
            """Wait until /diagnostics reports ``text`` for ``camera``; check the log line."""
            assert spin_until(ros.executor, lambda: _level_of(probe, camera, text) is not None,
                              timeout_s=5.0), f'{camera}: no diagnostics mentioning {text!r}'
            assert _level_of(probe, camera, text) in (DiagnosticStatus.WARN,
                                                      DiagnosticStatus.ERROR)
            # /rosout is a topic of its own: the log line may arrive after the diagnostics.
            assert spin_until(ros.executor, lambda: any(
                f'{camera}: ' in line and (log or text) in line for line in probe.logs()),
                timeout_s=5.0), f'no log line for {camera}: {log or text}'

        send_group({})
        # A second publisher on cam_04's images offering best effort to the node's reliable
        # subscription: nothing of it can arrive, and the node says so under cam_04.
        probe.node.create_publisher(Image, '/cam_04/image_raw', QoSProfile(
            depth=1, reliability=QoSReliabilityPolicy.BEST_EFFORT))
        expect('cam_04', 'offers a QoS this node cannot take', 'RELIABILITY')
        # Image faults on cam_04 (raw) and cam_03 (compressed), one per group.
        image = good('cam_04', next_stamp())
        bogus = good('cam_04', next_stamp())
        bogus.encoding = 'bogus16'
        send_group({'cam_04': bogus})
        expect('cam_04', "unsupported image encoding 'bogus16'")
        wrong_step = good('cam_04', next_stamp())
        wrong_step.step = image.step - 1
        send_group({'cam_04': wrong_step})
        expect('cam_04', 'is less than width*bytes_per_pixel')
        truncated = good('cam_04', next_stamp())
        truncated.data = bytes(truncated.data[:len(truncated.data) // 2])
        send_group({'cam_04': truncated})
        expect('cam_04', 'truncated bgr8 image')
        empty = good('cam_04', next_stamp())
        empty.width = empty.height = empty.step = 0
        empty.data = b''
        send_group({'cam_04': empty})
        expect('cam_04', 'empty bgr8 image: 0x0 pixels')
        resized = _image(cv2.resize(frames['cam_04'], (100, 200)), 'bgr8', next_stamp(),
                         'cam_04_optical_frame')
        send_group({'cam_04': resized})
        expect('cam_04', 'differs from CameraInfo')
        broken = _compressed(frames['cam_03'], next_stamp(), 'cam_03_optical_frame')
        broken.data = bytes(np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8))
        send_group({'cam_03': broken})
        expect('cam_03', 'could not decode 2000 bytes')

        # Timing faults on cam_04: a duplicate stamp, a clock far behind, a clock ahead.
        stamp = next_stamp()
        send_group({'cam_04': [good('cam_04', stamp), good('cam_04', stamp)]})
        expect('cam_04', 'repeats one this camera already sent')
        send_group({'cam_04': good('cam_04', next_stamp(-30.0))})
        expect('cam_04', 'far behind the fused timeline')

        def drift_reported():
            send_group({'cam_04': good('cam_04', next_stamp(+0.05))})
            return _level_of(probe, 'cam_04', 'joined a group') is not None

        assert spin_until(ros.executor, drift_reported, timeout_s=OUTPUT_TIMEOUT_S)
        expect_offset = [status for array in probe.messages('/diagnostics')
                         for status in array.status
                         if status.name.endswith('camera cam_04') and 'joined' in status.message]
        assert 's off those of the other cameras' in expect_offset[-1].message

        # CameraInfo faults on cam_04: each takes the camera out, reported, until fixed.
        good_k = list(camera_info_msg(cameras['cam_04'], stamp_of(0), '').k)
        for change, text in (({'k': [math.nan] + good_k[1:]}, 'K has non-finite values'),
                             ({'d': [0.0, math.inf, 0.0, 0.0]}, 'coefficients has non-finite'),
                             ({'distortion_model': 'kannala_brandt'},
                              "unsupported distortion model 'kannala_brandt'"),
                             ({'k': [0.0] * 9}, 'K is all zeros')):
            info('cam_04', **change)
            expect('cam_04', text)
            assert _level_of(probe, 'cam_04', text) == DiagnosticStatus.ERROR
            send_group({})  # cam_04's frames are refused, the others fuse
        info('cam_04')
        assert spin_until(ros.executor, lambda: probe.calibrated(CAMERAS))
        send_group({})  # cam_04 counts as stalled until this frame of it arrives
        last = send_group({})
        logs = '\n'.join(probe.logs())
        outputs = probe.messages('/human_pose_3d')

    # Every group was fused from the good cameras: a person with two or more views.
    assert len(outputs) >= index[0] - 2
    for msg in outputs:
        assert len(msg.people) == 1, f'no person at {stamp_ns(msg.header.stamp)}'
        person = msg.people[0]
        assert max(person.num_views) >= 2
        assert np.isfinite(person.covariance).all()
        assert all(np.isfinite([p.x, p.y, p.z]).all() for p in person.positions)
    assert max(outputs[-1].people[0].num_views) == 4 and outputs[-1].header.stamp == last
    assert 'Traceback' not in logs


def test_use_sim_time_replay_with_clock_stops_and_loops(demo):  # noqa: F811
    """use_sim_time: /clock stops, then the 'bag' loops back; the node follows both."""
    calibration, _, frames = demo
    cameras = {camera.name: camera for camera in load_calibration(calibration)}
    overrides = _node_overrides(calibration, use_sim_time=True, max_wait=0.2)
    with RosContext() as ros:
        node = create_node(PARAMS, overrides, context=ros.context)
        ros.executor.add_node(node)
        ros.nodes.append(node)
        probe_node = ros.node('probe')
        probe = Probe(probe_node, dict.fromkeys(CAMERAS, 'keypoints'))
        clock = probe_node.create_publisher(Clock, '/clock', QoSProfile(
            depth=1, reliability=QoSReliabilityPolicy.RELIABLE,
            durability=QoSDurabilityPolicy.VOLATILE))
        assert spin_until(ros.executor, lambda: probe.connected()
                          and clock.get_subscription_count() > 0)
        clock.publish(Clock(clock=stamp_of(0)))
        for name in CAMERAS:
            probe.info[name].publish(camera_info_msg(cameras[name], stamp_of(0),
                                                     f'{name}_optical_frame'))
        # /clock now stops: diagnostics (on the steady clock) still come.
        assert spin_until(ros.executor, lambda: probe.calibrated(CAMERAS), timeout_s=10.0)

        def play(indices, fused):
            for index in indices:
                stamp = stamp_of(index)
                clock.publish(Clock(clock=stamp))
                for name in CAMERAS:
                    probe.inputs[name].publish(keypoints_msg(
                        frames[index % len(frames)][CAMERAS.index(name)], 'body25b', stamp,
                        f'{name}_optical_frame'))
                if index in fused:
                    assert spin_until(ros.executor, lambda: any(
                        stamp_ns(m.header.stamp) == stamp_ns(stamp)
                        for m in probe.messages('/human_pose_3d')), timeout_s=OUTPUT_TIMEOUT_S)
                else:
                    spin_until(ros.executor, lambda: False, timeout_s=0.3)

        play(range(200, 204), fused=range(200, 204))  # the bag, 200 frames in
        # It loops back to its start: the synchroniser drops the first frames as stale until
        # three frames of two cameras confirm the jump, then starts over.
        play(range(0, 6), fused=range(2, 6))
        # Cameras stamp a group 1 s ahead of /clock: published, but its "latency" would be
        # negative, so it is not counted as one, and the log and /diagnostics say so.
        ahead = stamp_of(66)
        for name in CAMERAS:
            probe.inputs[name].publish(keypoints_msg(frames[0][CAMERAS.index(name)], 'body25b',
                                                     ahead, f'{name}_optical_frame'))
        assert spin_until(ros.executor, lambda: any(
            stamp_ns(m.header.stamp) == stamp_ns(ahead)
            for m in probe.messages('/human_pose_3d')), timeout_s=OUTPUT_TIMEOUT_S)
        outputs = probe.messages('/human_pose_3d')[:-1]

        def fusion():
            return {kv.key: kv.value for array in probe.messages('/diagnostics')[-1:]
                    for status in array.status if status.name.endswith('fusion')
                    for kv in status.values}

        assert spin_until(ros.executor, lambda: int(fusion().get('outputs_ahead_of_clock', 0))
                          >= 1, timeout_s=5.0)
        assert fusion()['latency_clock'] == 'sim time (/clock)'
        # /rosout is a topic of its own: the log line may arrive after the outputs.
        spin_until(ros.executor, lambda: 'time jumped back' in '\n'.join(probe.logs())
                   and 'ahead of the node clock' in '\n'.join(probe.logs()), timeout_s=5.0)
        logs = '\n'.join(probe.logs())
        diagnostics = probe.messages('/diagnostics')
    assert 'ahead of the node clock (/clock, use_sim_time)' in logs
    latencies = [float(kv.value) for array in diagnostics for status in array.status
                 for kv in status.values
                 if kv.key.startswith('latency_') and kv.key.endswith('_s')]
    assert latencies and min(latencies) >= 0.0
    stamps = [stamp_ns(msg.header.stamp) for msg in outputs]
    assert stamps == [stamp_ns(stamp_of(i)) for i in [*range(200, 204), *range(2, 6)]]
    assert all(len(msg.people) == 1 for msg in outputs)
    assert 'time jumped back' in logs
    # Diagnostics are stamped with the node's (simulated) clock.
    assert any(stamp_ns(stamp_of(0)) <= stamp_ns(msg.header.stamp) <= stamp_ns(stamp_of(203))
               for msg in diagnostics)
