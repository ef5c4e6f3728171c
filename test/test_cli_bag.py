# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``skelsplat bag`` on a small rosbag2 MCAP of the pose2sim videos, and its input errors.

The input bag holds the first frames of the four videos with their CameraInfo: cam_01 as a
raw ``sensor_msgs/Image``, the others as jpeg ``CompressedImage``, in the interleaved order a
recording has.  CameraInfo states each video's real size (cam01/02: 1080 px wide, for a
1088 px calibration cropped at the right) with the calibration's K.
"""

from builtin_interfaces.msg import Time
import cv2
import numpy as np
import pytest
from rclpy.serialization import serialize_message
from sensor_msgs.msg import CompressedImage, Image
from skelsplat_ros.cameras import load_calibration, make_camera
from skelsplat_ros.cli import main
from skelsplat_ros.fileio.mcap_io import McapBagWriter, read_messages, read_summary
from skelsplat_ros.fileio.trc import read_trc
from skelsplat_ros.imaging import bgr_to_image_fields, encode_compressed
from skelsplat_ros.ros.conversions import camera_info_msg
from skelsplat_ros.skeletons import trc_correspondence
from std_msgs.msg import Header
import yaml

pytestmark = pytest.mark.ros

NUM_FRAMES = 4
CAMERAS = ('cam_01', 'cam_02', 'cam_03', 'cam_04')
RAW = 'cam_01'
START_NS = 1_700_000_000 * 1_000_000_000


def _stamp(frame):
    ns = START_NS + round(frame * 1e9 / 60)
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def _image_topic(name):
    return f'/{name}/image_raw' + ('' if name == RAW else '/compressed')


@pytest.fixture(scope='module')
def trial(data_root):
    demo = data_root / 'pose2sim-0.4.15/Pose2Sim/Demo'
    return {'calibration': demo / 'calibration/Calib_qualisys.toml',
            'videos': data_root / 'pose2sim-0.10.49/Pose2Sim/Demo_SinglePerson/videos',
            'trc': demo / 'opensim/Balancing_for_IK.trc'}


def _write_config(path, calibration, names=CAMERAS, topic=_image_topic):
    cameras = {name: {'image_topic': topic(name), 'camera_info_topic': f'/{name}/camera_info'}
               for name in names}
    path.write_text(yaml.safe_dump({'/**/skelsplat_node': {'ros__parameters': {
        'camera_names': list(names), 'cameras': cameras, 'detector': 'mediapipe',
        'device': 'cpu', 'calibration_file': str(calibration)}}}))
    return path


@pytest.fixture(scope='module')
def bag(trial, tmp_path_factory):
    """Write the input bag and the config; return their paths."""
    folder = tmp_path_factory.mktemp('bag')
    calibrated = {camera.name: camera for camera in load_calibration(trial['calibration'])}
    captures = [cv2.VideoCapture(str(trial['videos'] / f'cam0{v}.mp4')) for v in range(1, 5)]
    path = folder / 'input.mcap'
    with McapBagWriter(path) as writer:
        for name in CAMERAS:
            writer.add_topic(f'/{name}/camera_info', 'sensor_msgs/msg/CameraInfo')
            writer.add_topic(_image_topic(name), 'sensor_msgs/msg/Image' if name == RAW
                             else 'sensor_msgs/msg/CompressedImage')
        for frame in range(NUM_FRAMES):
            log_ns = START_NS + round(frame * 1e9 / 60) + 5_000_000
            for v, (name, capture) in enumerate(zip(CAMERAS, captures)):
                bgr = capture.read()[1]
                header = Header(stamp=_stamp(frame), frame_id=f'{name}_optical_frame')
                base = calibrated[name]
                camera = make_camera(name, base.K, base.dist, base.distortion_model,
                                     bgr.shape[1], bgr.shape[0])
                writer.write_serialized(f'/{name}/camera_info', serialize_message(
                    camera_info_msg(camera, header.stamp, header.frame_id)), log_ns + 10 * v)
                if name == RAW:
                    encoding, width, height, step, data = bgr_to_image_fields(bgr, 'bgr8')
                    msg = Image(header=header, encoding=encoding, width=width, height=height,
                                step=step, data=data)
                else:
                    fmt, data = encode_compressed(bgr, 'jpeg', quality=90)
                    msg = CompressedImage(header=header, format=fmt, data=data)
                writer.write_serialized(_image_topic(name), serialize_message(msg),
                                        log_ns + 10 * v + 1)
    for capture in captures:
        capture.release()
    return path, _write_config(folder / 'config.yaml', trial['calibration'])


def _run(bag, output, config=None, *extra):
    path, default_config = bag
    return main(['bag', str(path), '--config', str(config or default_config), '--output',
                 str(output), *extra])


def test_bag_is_processed_into_the_outputs(bag, trial, tmp_path, capsys):
    output = tmp_path / 'out.mcap'
    assert _run(bag, output) == 0
    assert 'bag: 4/4 frames (100%)' in capsys.readouterr().err
    summary = read_summary(output)
    assert summary['profile'] == 'ros2'
    counts = {topic: info['count'] for topic, info in summary['topics'].items()}
    assert counts['/human_pose_3d'] == counts['/human_pose_3d/markers'] == NUM_FRAMES
    assert counts['/tf'] == NUM_FRAMES and counts['/diagnostics'] >= 1
    assert summary['topics']['/human_pose_3d']['type'] == 'skelsplat_ros/msg/HumanPose3DArray'
    # The calibration's camera frames, written again as each camera's frame_id became known.
    static = [msg for _, _, msg in read_messages(output, ['/tf_static'])]
    assert 1 <= len(static) <= 4
    assert {t.child_frame_id for t in static[-1].transforms} == {
        f'cam_0{v}_optical_frame' for v in range(1, 5)}
    assert {t.header.frame_id for t in static[-1].transforms} == {'world'}

    poses = [msg for _, _, msg in read_messages(output, ['/human_pose_3d'])]
    stamps = [(msg.header.stamp.sec, msg.header.stamp.nanosec) for msg in poses]
    assert stamps == [(_stamp(i).sec, _stamp(i).nanosec) for i in range(NUM_FRAMES)]
    assert all(len(msg.people) == 1 for msg in poses)
    person = poses[-1].people[0]
    assert max(person.num_views) == 4   # all four cameras, raw and compressed, were used
    positions = np.array([[[p.x, p.y, p.z] for p in msg.people[0].positions] for msg in poses])
    names, markers, _ = read_trc(trial['trc'])
    marker_index, coco_index = trc_correspondence(names)
    truth = markers[:NUM_FRAMES, marker_index][..., [2, 0, 1]]
    error = np.linalg.norm(positions[:, coco_index] - truth, axis=-1)
    assert 1000 * error.mean() < 150
    # The node's solver: solver_objective auto is the analytic objective on a CPU.
    diagnostics = [msg for _, _, msg in read_messages(output, ['/diagnostics'])]
    fusion = [status for status in diagnostics[-1].status if status.name.endswith('fusion')]
    assert {value.key: value.value for value in fusion[0].values}['solver_objective'] \
        == 'analytic'


def _fails(capsys, status, message):
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith('skelsplat bag: error:') and message in err, err


def test_unreadable_file(bag, tmp_path, capsys):
    _, config = bag
    junk = tmp_path / 'junk.mcap'
    junk.write_text('not an mcap file\n')
    _fails(capsys, _run((junk, config), tmp_path / 'o.mcap'), 'not a readable MCAP file')
    _fails(capsys, _run((tmp_path / 'absent.mcap', config), tmp_path / 'o.mcap'),
           'no such file')


def test_missing_topic(bag, trial, tmp_path, capsys):
    config = _write_config(tmp_path / 'raw.yaml', trial['calibration'],
                           topic=lambda name: f'/{name}/image_raw')
    _fails(capsys, _run(bag, tmp_path / 'o.mcap', config),
           'cam_02: topic /cam_02/image_raw (sensor_msgs/msg/Image) is not in the bag')


def test_camera_count_mismatch(bag, trial, tmp_path, capsys):
    config = _write_config(tmp_path / 'five.yaml', trial['calibration'],
                           names=CAMERAS + ('cam_05',))
    _fails(capsys, _run(bag, tmp_path / 'o.mcap', config),
           'the config lists 5 cameras but the calibration file has 4')
    # --calibration replaces the config's file, and is checked the same way.
    _fails(capsys, _run(bag, tmp_path / 'o.mcap', None, '--calibration',
                        str(tmp_path / 'absent.toml')), 'absent.toml does not exist')


def test_bad_config(bag, tmp_path, capsys):
    _fails(capsys, _run(bag, tmp_path / 'o.mcap', tmp_path / 'none.yaml'),
           'cannot read the parameter file')


def _poses(output):
    poses = [msg for _, _, msg in read_messages(output, ['/human_pose_3d'])]
    stamps = [(msg.header.stamp.sec, msg.header.stamp.nanosec) for msg in poses]
    positions = np.array([[[p.x, p.y, p.z] for p in msg.people[0].positions] for msg in poses])
    lag = [{value.key: value.value for value in status.values}['smoothing_lag']
           for _, _, msg in read_messages(output, ['/diagnostics'])
           for status in msg.status if status.name.endswith('fusion')]
    return stamps, positions, lag


@pytest.mark.parametrize('people', ['one', 'several'])
@pytest.mark.parametrize('how', ['--smooth', 'smoothing_lag'])
def test_smoothed_poses_keep_their_stamps(bag, trial, tmp_path, how, people):
    path, _ = bag
    config = yaml.safe_load(_write_config(tmp_path / 'config.yaml',
                                          trial['calibration']).read_text())
    extra = ['--smooth'] if how == '--smooth' else []
    parameters = config['/**/skelsplat_node']['ros__parameters']
    parameters['multi_person'] = people == 'several'   # each person along its track
    if how == 'smoothing_lag':
        parameters['smoothing_lag'] = 2
    (tmp_path / 'config.yaml').write_text(yaml.safe_dump(config))
    causal_config = yaml.safe_load(yaml.safe_dump(config))
    causal_config['/**/skelsplat_node']['ros__parameters'].pop('smoothing_lag', None)
    (tmp_path / 'causal.yaml').write_text(yaml.safe_dump(causal_config))
    assert _run(bag, tmp_path / 'causal.mcap', tmp_path / 'causal.yaml', '--quiet') == 0
    assert _run(bag, tmp_path / 'smooth.mcap', tmp_path / 'config.yaml', '--quiet',
                *extra) == 0
    stamps, positions, lag = _poses(tmp_path / 'smooth.mcap')
    causal_stamps, causal, causal_lag = _poses(tmp_path / 'causal.mcap')
    # Every group once, in order, with its own stamp; revised by millimetres.
    assert stamps == causal_stamps == [(_stamp(i).sec, _stamp(i).nanosec)
                                       for i in range(NUM_FRAMES)]
    moved = np.linalg.norm(positions - causal, axis=-1)
    assert 1e-5 < np.median(moved) < 0.02
    assert set(causal_lag) == {'0'} and set(lag) == {'all' if how == '--smooth' else '2'}
