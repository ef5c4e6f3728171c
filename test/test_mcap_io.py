# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""rosbag2 MCAP writing and reading without ROS: round trips, summary and schema layout."""

from mcap.reader import make_reader
from mcap.records import Chunk, DataEnd, Footer, Header, Metadata, Statistics
from mcap.stream_reader import StreamReader
import pytest
from skelsplat_ros.fileio.mcap_io import full_message_definition, McapBagWriter
from skelsplat_ros.fileio.mcap_io import MessageDefinitionError, read_messages, read_summary
from skelsplat_ros.skeletons import COCO17_JOINTS

TOPICS = {
    '/human_pose_3d': 'skelsplat_ros/msg/HumanPose3DArray',
    '/human_pose_3d/markers': 'visualization_msgs/msg/MarkerArray',
    '/tf': 'tf2_msgs/msg/TFMessage',
    '/diagnostics': 'diagnostic_msgs/msg/DiagnosticArray',
}
NUM_FRAMES = 5
START_NS = 1_700_000_000_000_000_000
PERIOD_NS = 16_666_667


def _header(frame):
    stamp = START_NS + frame * PERIOD_NS
    return {'stamp': {'sec': stamp // 10**9, 'nanosec': stamp % 10**9}, 'frame_id': 'world'}


def _pose_array(frame):
    joints = len(COCO17_JOINTS)
    return {'header': _header(frame), 'people': [{
        'id': 7, 'skeleton_format': 'coco17', 'joint_names': list(COCO17_JOINTS),
        'positions': [{'x': 0.1 * j, 'y': float(frame), 'z': 1.0} for j in range(joints)],
        'confidence': [0.5] * joints, 'covariance': [0.0] * (9 * joints),
        'num_views': [4] * joints, 'mean_reprojection_error': 3.25}]}


def _markers(frame):
    marker = {'header': _header(frame), 'ns': 'body_7', 'id': 0, 'type': 7, 'action': 0,
              'pose': {'orientation': {'w': 1.0}}, 'scale': {'x': 0.05, 'y': 0.05, 'z': 0.05},
              'color': {'r': 1.0, 'a': 1.0},
              'points': [{'x': 0.0, 'y': 0.0, 'z': float(frame)}]}
    return {'markers': [marker]}


def _tf(frame):
    return {'transforms': [{'header': _header(frame), 'child_frame_id': 'body_7',
                            'transform': {'translation': {'x': 1.0, 'y': 2.0, 'z': 0.5 * frame},
                                          'rotation': {'w': 1.0}}}]}


def _diagnostics(frame):
    return {'header': _header(frame), 'status': [{
        'level': 1, 'name': 'skelsplat_ros: solver', 'message': 'ok', 'hardware_id': '',
        'values': [{'key': 'frames', 'value': str(frame)}]}]}


@pytest.fixture
def bag(tmp_path):
    """Write NUM_FRAMES of each topic; return the file's path."""
    path = tmp_path / 'out' / 'demo.mcap'
    makers = {'/human_pose_3d': _pose_array, '/human_pose_3d/markers': _markers,
              '/tf': _tf, '/diagnostics': _diagnostics}
    with McapBagWriter(path) as writer:
        for topic, msg_type in TOPICS.items():
            writer.add_topic(topic, msg_type)
        for frame in range(NUM_FRAMES):
            for topic, make in makers.items():
                if topic == '/diagnostics' and frame % 2:
                    continue
                writer.write(topic, make(frame), START_NS + frame * PERIOD_NS + 1000)
    return path


def test_summary_follows_the_rosbag2_profile(bag):
    summary = read_summary(bag)
    assert summary['profile'] == 'ros2'
    assert summary['metadata']['rosbag2']['ROS_DISTRO'] == 'jazzy'
    assert set(summary['topics']) == set(TOPICS)
    for topic, info in summary['topics'].items():
        assert info['type'] == TOPICS[topic]
        assert info['message_encoding'] == 'cdr'
        assert info['schema_encoding'] == 'ros2msg'
        assert info['offered_qos_profiles'] == ''
    counts = {topic: info['count'] for topic, info in summary['topics'].items()}
    assert counts == {'/human_pose_3d': 5, '/human_pose_3d/markers': 5, '/tf': 5,
                      '/diagnostics': 3}
    assert summary['message_count'] == 18
    assert summary['start_ns'] == START_NS + 1000
    assert summary['end_ns'] == START_NS + 4 * PERIOD_NS + 1000


def test_file_structure_and_checksums_are_valid(bag):
    # A linear scan that checks every CRC, as `mcap doctor` does.
    records = list(StreamReader(str(bag), validate_crcs=True, emit_chunks=True).records)
    kinds = [type(record) for record in records]
    assert kinds[0] is Header and kinds[-1] is Footer
    assert DataEnd in kinds and Statistics in kinds
    assert any(kind is Chunk and record.compression == 'zstd'
               for kind, record in zip(kinds, records))
    rosbag2 = [r for r in records if isinstance(r, Metadata) and r.name == 'rosbag2']
    assert rosbag2 and kinds.index(Metadata) < kinds.index(DataEnd)


def test_messages_read_back_with_their_values(bag):
    messages = list(read_messages(bag))
    assert len(messages) == 18
    times = [log_time for _, log_time, _ in messages]
    assert times == sorted(times)
    poses = [msg for topic, _, msg in messages if topic == '/human_pose_3d']
    assert [p.people[0].positions[0].y for p in poses] == [0.0, 1.0, 2.0, 3.0, 4.0]
    person = poses[3].people[0]
    assert list(person.joint_names) == list(COCO17_JOINTS)
    assert person.positions[16].x == pytest.approx(1.6)
    assert person.mean_reprojection_error == pytest.approx(3.25)
    assert len(person.covariance) == 9 * 17 and list(person.num_views) == [4] * 17
    assert poses[3].header.frame_id == 'world'
    assert poses[3].header.stamp.nanosec == (START_NS + 3 * PERIOD_NS) % 10**9

    tf = [msg for topic, _, msg in read_messages(bag, topics=['/tf'])]
    assert len(tf) == 5
    assert tf[4].transforms[0].child_frame_id == 'body_7'
    assert tf[4].transforms[0].transform.translation.z == pytest.approx(2.0)
    assert tf[4].transforms[0].transform.rotation.w == 1.0

    markers = [msg for topic, _, msg in read_messages(bag, ['/human_pose_3d/markers'])]
    assert markers[2].markers[0].ns == 'body_7' and markers[2].markers[0].points[0].z == 2.0
    diagnostics = [msg for _, _, msg in read_messages(bag, ['/diagnostics'])]
    assert [d.status[0].values[0].value for d in diagnostics] == ['0', '2', '4']
    assert diagnostics[0].status[0].level == 1


def test_schemas_hold_rosbag2_concatenated_definitions(bag):
    with open(bag, 'rb') as stream:
        summary = make_reader(stream).get_summary()
    schemas = {schema.name: schema.data.decode() for schema in summary.schemas.values()}
    assert set(schemas) == set(TOPICS.values())
    pose_text = schemas['skelsplat_ros/msg/HumanPose3DArray']
    sections = pose_text.split('=' * 80 + '\n')
    assert sections[0].rstrip().endswith('HumanPose3D[] people')
    names = [section.splitlines()[0] for section in sections[1:]]
    # Each dependency once, depth first in sorted order (rosbag2's MessageDefinitionCache).
    assert names == ['MSG: skelsplat_ros/HumanPose3D', 'MSG: geometry_msgs/Point',
                     'MSG: geometry_msgs/Vector3', 'MSG: std_msgs/Header',
                     'MSG: builtin_interfaces/Time']
    tf_text = schemas['tf2_msgs/msg/TFMessage']
    assert 'MSG: geometry_msgs/TransformStamped\n' in tf_text
    assert tf_text.count('MSG: std_msgs/Header\n') == 1


def test_channels_are_not_written_twice_and_types_are_checked(tmp_path):
    with McapBagWriter(tmp_path / 'a.mcap', compression='none') as writer:
        writer.add_topic('/tf', 'tf2_msgs/msg/TFMessage')
        writer.add_topic('/tf', 'tf2_msgs/TFMessage')
        with pytest.raises(ValueError, match='already has type'):
            writer.add_topic('/tf', 'diagnostic_msgs/msg/DiagnosticArray')
        with pytest.raises(KeyError, match='add_topic'):
            writer.write('/other', {})
        writer.write('/tf', _tf(1), log_time_ns=5)
    summary = read_summary(tmp_path / 'a.mcap')
    assert list(summary['topics']) == ['/tf'] and summary['message_count'] == 1


def test_serialized_bytes_are_written_verbatim(tmp_path, bag):
    raw = [message for message in _raw_messages(bag) if message[0] == '/tf']
    with McapBagWriter(tmp_path / 'copy.mcap') as writer:
        writer.add_topic('/tf', 'tf2_msgs/msg/TFMessage')
        for _, log_time, data in raw:
            writer.write_serialized('/tf', data, log_time)
    copied = list(read_messages(tmp_path / 'copy.mcap'))
    assert [m.transforms[0].transform.translation.z for _, _, m in copied] == \
        [0.0, 0.5, 1.0, 1.5, 2.0]


def _raw_messages(path):
    with open(path, 'rb') as stream:
        for _, channel, message in make_reader(stream).iter_messages():
            yield channel.topic, message.log_time, message.data


def test_missing_definitions_are_reported(tmp_path):
    with pytest.raises(MessageDefinitionError, match='no definition of nonexistent_msgs'):
        full_message_definition('nonexistent_msgs/msg/Thing')
    with pytest.raises(MessageDefinitionError, match='not a message type name'):
        full_message_definition('Thing')
    with pytest.raises(MessageDefinitionError, match='AMENT_PREFIX_PATH is empty'):
        full_message_definition('std_msgs/msg/Header', search_paths=[])
