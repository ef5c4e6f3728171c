# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The live node and ``skelsplat bag`` give the same output messages for the same input.

The pose2sim demo's BODY_25B keypoints go to the node as Keypoints2D over real DDS (one group
at a time, lockstep), and into a rosbag2 MCAP for ``skelsplat bag``.  Both run the one output
policy (:class:`skelsplat_ros.ros.outputs.Outputs`): every pose array, marker array, point
cloud and TF message must be the same, field by field and to the last bit of every number
(the serialised bytes differ only in CDR padding).
"""

from mcap.reader import make_reader
from node_helpers import calibrate, CAMERAS, Probe, stamp_of
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from ros_helpers import RosContext, spin_until
from skelsplat_ros.cameras import load_calibration
from skelsplat_ros.fileio.mcap_io import McapBagWriter
from skelsplat_ros.fileio.openpose import list_openpose_files, read_openpose_json
from skelsplat_ros.ros import outputs
from skelsplat_ros.ros.bag import load_config, process_bag
from skelsplat_ros.ros.conversions import camera_info_msg, keypoints_msg
from skelsplat_ros.ros.runner import create_node, default_params_file
from skelsplat_ros.sync import stamp_ns

pytestmark = pytest.mark.ros

NUM_FRAMES = 4
OUTPUT_TIMEOUT_S = 60.0


@pytest.fixture(scope='module')
def demo(data_root):
    demo = data_root / 'pose2sim-0.4.15' / 'Pose2Sim' / 'Demo'
    calibration = demo / 'calibration' / 'Calib_qualisys.toml'
    dirs = [demo / 'pose' / f'cam{v}_json' for v in range(1, 5)]
    body25b = [[read_openpose_json(path, 25) for path in list_openpose_files(d)[:NUM_FRAMES]]
               for d in dirs]
    cameras = {camera.name: camera for camera in load_calibration(calibration)}
    return calibration, cameras, [list(frame) for frame in zip(*body25b)]


def _inputs(cameras, index, views):
    """Yield the (topic, message) pairs of group ``index``: CameraInfo then keypoints."""
    stamp = stamp_of(index)
    for v, name in enumerate(CAMERAS):
        frame_id = f'{name}_optical_frame'
        yield f'/{name}/camera_info', camera_info_msg(cameras[name], stamp, frame_id)
        yield f'/{name}/keypoints', keypoints_msg(views[v], 'body25b', stamp, frame_id)


def _bag_outputs(path):
    """Return topic -> the messages of the output bag, decoded by rclpy."""
    types = {'/' + topic.lstrip('/'): kind for topic, kind in outputs.OUTPUT_TOPICS.items()}
    with open(path, 'rb') as stream:
        found = {}
        for _, channel, message in make_reader(stream).iter_messages():
            if channel.topic in types:
                found.setdefault(channel.topic, []).append(
                    deserialize_message(bytes(message.data), types[channel.topic]))
    return found


def test_node_and_bag_write_the_same_messages(demo, tmp_path):
    calibration, cameras, frames = demo
    # Ellipsoids too, so that every kind of marker is compared.
    overrides = {'calibration_file': str(calibration), 'detector': 'keypoints_topic',
                 'device': 'cpu', 'max_wait': 5.0, 'publish_covariance_ellipsoids': True}

    recording = tmp_path / 'keypoints.mcap'
    with McapBagWriter(recording) as writer:
        for name in CAMERAS:
            writer.add_topic(f'/{name}/camera_info', 'sensor_msgs/msg/CameraInfo')
            writer.add_topic(f'/{name}/keypoints', 'skelsplat_ros/msg/Keypoints2D')
        for index, views in enumerate(frames):
            for offset, (topic, msg) in enumerate(_inputs(cameras, index, views)):
                log_ns = stamp_ns(stamp_of(index)) + 1000 * offset
                writer.write_serialized(topic, serialize_message(msg), log_ns)
    written = tmp_path / 'outputs.mcap'
    config = load_config(default_params_file(), overrides)
    stats = process_bag(recording, config, written, log=lambda line: None)
    assert stats.groups == stats.groups_with_person == NUM_FRAMES
    from_bag = _bag_outputs(written)

    with RosContext() as ros:
        node = create_node(default_params_file(), {**overrides, 'image_qos': 'reliable'},
                           context=ros.context)
        ros.executor.add_node(node)
        ros.nodes.append(node)
        probe = Probe(ros.node('probe'), dict.fromkeys(CAMERAS, 'keypoints'))
        probe.listen(outputs.TRACKED, outputs.OUTPUT_TOPICS[outputs.TRACKED])
        calibrate(ros, probe, cameras)
        for index, views in enumerate(frames):
            for topic, msg in _inputs(cameras, index, views):
                name = topic.split('/')[1]
                (probe.info if topic.endswith('camera_info') else probe.inputs)[name].publish(msg)
            assert spin_until(ros.executor, lambda: probe.count('/human_pose_3d') > index,
                              timeout_s=OUTPUT_TIMEOUT_S), f'no output for group {index}'
        topics = ['/' + topic.lstrip('/') for topic in outputs.OUTPUT_TOPICS]
        assert spin_until(ros.executor, lambda: all(
            probe.count(topic) >= len(from_bag[topic]) for topic in topics))
        from_node = {topic: probe.messages(topic) for topic in topics}

    assert len(from_bag['/human_pose_3d']) == NUM_FRAMES
    assert len(from_bag['/tf']) == len(from_bag['/human_pose_3d/points']) == NUM_FRAMES
    for topic in topics:
        assert len(from_node[topic]) == len(from_bag[topic]), topic
        for index, (live, offline) in enumerate(zip(from_node[topic], from_bag[topic])):
            assert live == offline, f'{topic} message {index} differs'
