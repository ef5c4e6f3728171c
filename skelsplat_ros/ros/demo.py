# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``skelsplat demo``: the pose2sim trial through the live node over DDS, recorded and drawn.

The demo is a camera driver and a recorder around the real node:

1. it starts ``skelsplat_node`` as its own process (``python -m skelsplat_ros.ros.runner``
   with ``config/multiview.yaml``, the trial's calibration file, MediaPipe and reliable image
   QoS), exactly as ``ros2 launch`` would, and waits until the node has discovered it and
   accepted every CameraInfo;
2. it publishes the four ``Demo_SinglePerson`` videos frame by frame as ``sensor_msgs/Image``
   (bgr8) plus ``CameraInfo``, stamped at 60 Hz from the wall time the replay started;
3. it records the node's outputs (:data:`skelsplat_ros.ros.outputs.OUTPUT_TOPICS`) and
   ``/diagnostics`` into a rosbag2 MCAP, each message at its receive time, as
   ``ros2 bag record`` would.

Both processes use ``config/fastdds.xml`` (unless ``FASTRTPS_DEFAULT_PROFILES_FILE`` is set):
with Fast DDS's default 3 s heartbeat, one lost fragment of a 6 MB image stalls the reliable
image topic for seconds.

Pacing is lockstep: the next frame group is published when the node's output for the previous
one arrived (or after :data:`OUTPUT_TIMEOUT_S`).  A live node drops groups that come while it
is busy, which is right for a robot but would leave holes in a demo on a slow CPU, so the
replay runs as fast as the node fuses rather than at 60 Hz.  Latency is measured on the wall
clock, from publishing a group's images to receiving its ``/human_pose_3d``.

The node does not publish its 2D detections, so the demo runs MediaPipe itself on the same
frames, in the same order and mode (the node tests check that both agree), for the pictures:
``demo.png`` (camera overlays and a 3D view for four frames spread across the trial),
``demo.gif`` (every sixth frame) and ``rviz.png`` (what RViz shows, from the recording).

``--trial multi`` replays pose2sim 0.10.49's ``Demo_MultiPerson`` videos instead (the same
rig: the participant, a second, computer-rendered person and a bystander).  It has no ground
truth: the demo reports people per frame, id switches, each person's median reprojection
error per camera and the frames where a camera's detection lay over two people
(:mod:`skelsplat_ros.track_report`, also written as ``demo_multi.json``), and draws
``demo_multi.png``: the views of four frames with each person's id in its own colour.
"""

import array
import contextlib
import dataclasses
import json
import os
import pathlib
import queue
import resource
import signal
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import TwistStamped
from hri_msgs.msg import IdsList
import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, QoSReliabilityPolicy
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import CameraInfo, Image, JointState
from skelsplat_ros.cameras import load_calibration, make_camera
from skelsplat_ros.fileio.mcap_io import McapBagWriter
from skelsplat_ros.fileio.trc import read_trc
from skelsplat_ros.msg import HumanPose3DArray
from skelsplat_ros.ros import hri, outputs
from skelsplat_ros.ros.bag import load_config
from skelsplat_ros.ros.conversions import camera_info_msg
from skelsplat_ros.ros.runner import default_params_file
from skelsplat_ros.skeletons import trc_correspondence
from skelsplat_ros.sync import stamp_ns
from std_msgs.msg import Header

__all__ = ['DemoError', 'DemoResult', 'MULTI_TRIAL', 'OUTPUT_TOPICS', 'TRIAL', 'TRIALS',
           'default_data_root', 'people_by_id', 'pose_arrays', 'run_demo']

# The trial, relative to the data cache (scripts/setup.sh downloads it).
TRIAL = {
    'calibration': 'pose2sim-0.4.15/Pose2Sim/Demo/calibration/Calib_qualisys.toml',
    'videos': [f'pose2sim-0.10.49/Pose2Sim/Demo_SinglePerson/videos/cam0{v}.mp4'
               for v in range(1, 5)],
    'reference': 'pose2sim-0.4.15/Pose2Sim/Demo/opensim/Balancing_for_IK.trc',
}
# Several people in the same rig (its Calib.qca.txt is Demo_SinglePerson's); no reference.
MULTI_TRIAL = {
    'calibration': TRIAL['calibration'],
    'videos': [f'pose2sim-0.10.49/Pose2Sim/Demo_MultiPerson/videos/cam0{v}.mp4'
               for v in range(1, 5)],
    'reference': None,
}
TRIALS = {'single': TRIAL, 'multi': MULTI_TRIAL}
RATE_HZ = 60.0
# Recorded topic -> (type name, type): the node's outputs (no namespace) and diagnostics.
OUTPUT_TOPICS = {
    **{'/' + topic.lstrip('/'): (outputs.type_name(kind), kind)
       for topic, kind in outputs.OUTPUT_TOPICS.items()},
    '/diagnostics': ('diagnostic_msgs/msg/DiagnosticArray', DiagnosticArray),
}
NODE_START_TIMEOUT_S = 120.0   # importing torch and MediaPipe on a loaded CI machine
OUTPUT_TIMEOUT_S = 30.0        # one frame group; ~1 s is usual on a 2-core CPU
MAX_WAIT_S = 5.0               # the node's wait for a group's missing images
GIF_STRIDE = 6                 # 60 Hz trial -> 10 fps animation
SUMMARY_FRAMES = 4
PEOPLE_ROW_PX = 360     # height of a view in demo_multi.png (the README shows it)
PNG_DPI = 90
# A video at most this much smaller than its calibrated size (fraction of a side) was cropped
# by the encoder at the right and bottom (cam01/02: 1080 px for a 1088 px calibration).
SIZE_TOLERANCE = 0.02
RELIABLE = QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE)
IMAGE_QOS = QoSProfile(depth=2, reliability=QoSReliabilityPolicy.RELIABLE)


class DemoError(RuntimeError):
    """Something that stops the demo, described in one line."""


@dataclasses.dataclass
class DemoResult:
    """What the demo measured and wrote.

    Attributes:
        frames_in: frame groups published (4 images each).
        frames_out: ``/human_pose_3d`` messages received.
        frames_with_person: of those, the ones with a person.
        output_rate_hz: outputs per second of wall time, first publish to last output.
        latency_median_s: median wall time from publishing a group to receiving its output.
        reprojection_median_px: median of the outputs' mean reprojection error, pixels.
        mpjpe_mm: mean per-joint position error against the trial's .trc, millimetres.
        mpjpe_joints: number of joints compared per frame.
        counts: messages recorded per topic.
        node_stats: the node's last ``/diagnostics`` fusion values (name -> text).
        files: what was written, name -> path.
        wall_s: seconds the demo took, start to end.
        node_cpu_s: CPU seconds the node process used.
        demo_cpu_s: CPU seconds the demo process used.
        people: the multi-person report (:func:`skelsplat_ros.track_report.summarize`), or
            None for the single-person trial.
    """

    frames_in: int
    frames_out: int
    frames_with_person: int
    output_rate_hz: float
    latency_median_s: float
    reprojection_median_px: float
    mpjpe_mm: float
    mpjpe_joints: int
    counts: Dict[str, int]
    node_stats: Dict[str, str]
    files: Dict[str, pathlib.Path]
    wall_s: float
    node_cpu_s: float
    demo_cpu_s: float
    people: Optional[dict] = None

    def summary_lines(self) -> List[str]:
        """Return the demo's printed summary, line by line."""
        busy = self.node_stats.get('groups_dropped_busy', '?')
        incomplete = self.node_stats.get('groups_dropped_incomplete', '?')
        if self.people is not None:
            return self._people_lines(busy, incomplete)
        return [
            f'frames in: {self.frames_in} groups of 4 images; frames out: {self.frames_out} '
            f'({self.frames_with_person} with a person; the node dropped {busy} groups when '
            f'busy, {incomplete} incomplete)',
            f'output rate: {self.output_rate_hz:.2f} Hz (lockstep replay, the node paces it; '
            f'solver on {self.node_stats.get("solver_device", "?")})',
            f'median latency: {1000 * self.latency_median_s:.0f} ms (wall time, images '
            'published -> /human_pose_3d received)',
            f'median reprojection error: {self.reprojection_median_px:.1f} px',
            f'MPJPE: {self.mpjpe_mm:.1f} mm over {self.mpjpe_joints} joints against '
            "Balancing_for_IK.trc (caveat: that is pose2sim's own triangulation of OpenPose "
            'keypoints, not motion capture)',
        ] + [f'{name}: {path}' for name, path in self.files.items()] + [
            f'took {self.wall_s:.0f} s (CPU time: node {self.node_cpu_s:.0f} s, demo '
            f'{self.demo_cpu_s:.0f} s)']

    def _people_lines(self, busy, incomplete):
        people = self.people
        counts = ', '.join(f'{n} people: {frames} frames'
                           for n, frames in people['frames_with_n_people'].items())
        lines = [
            f'frames in: {self.frames_in} groups of 4 images; frames out: {self.frames_out} '
            f'(the node dropped {busy} groups when busy, {incomplete} incomplete)',
            f'people per frame: {counts}',
            f"ids: {', '.join(f'{i} ({n} frames)' for i, n in people['ids'].items())}; "
            f"id switches: {len(people['id_switches'])}",
        ]
        for person_id, by_camera in people.get('reprojection_median_px', {}).items():
            values = ', '.join(f'{name} {"-" if px is None else f"{px:.1f}"}'
                               for name, px in by_camera.items())
            lines.append(f'id {person_id}: median reprojection error per camera, px: {values}')
        merged = {name: frames for name, frames in people.get('merged_frames', {}).items()
                  if frames}
        lines.append('frames where a camera merged two people: ' + (
            '; '.join(f'{name}: {len(frames)} ({frames[0]}..{frames[-1]})'
                      for name, frames in merged.items()) or 'none'))
        lines += [
            f'output rate: {self.output_rate_hz:.2f} Hz (lockstep replay; solver on '
            f'{self.node_stats.get("solver_device", "?")}), median latency '
            f'{1000 * self.latency_median_s:.0f} ms']
        lines += [f'{name}: {path}' for name, path in self.files.items()]
        return lines + [f'took {self.wall_s:.0f} s (CPU time: node {self.node_cpu_s:.0f} s, '
                        f'demo {self.demo_cpu_s:.0f} s)']


def default_data_root() -> pathlib.Path:
    """Return the data cache: ``$SKELSPLAT_DATA`` or ``~/.cache/skelsplat_ros/data``."""
    default = pathlib.Path.home() / '.cache' / 'skelsplat_ros' / 'data'
    return pathlib.Path(os.environ.get('SKELSPLAT_DATA', default))


def pose_arrays(messages, num_joints):
    """Stack ``HumanPose3DArray`` messages (first person of each) into arrays.

    Args:
        messages: F messages (rclpy or decoded from MCAP: only attributes are used).
        num_joints: J.

    Returns:
        ``(positions (F, J, 3) m, NaN where unknown or no person; confidence (F, J);
        reprojection error (F,) px, NaN without a person)``.
    """
    positions = np.full((len(messages), num_joints, 3), np.nan)
    confidence = np.zeros((len(messages), num_joints))
    reprojection = np.full(len(messages), np.nan)
    for index, msg in enumerate(messages):
        if not msg.people:
            continue
        person = msg.people[0]
        known = np.array(list(person.num_views)) > 0   # list(): MCAP decodes uint8[] as bytes
        xyz = np.array([[p.x, p.y, p.z] for p in person.positions])
        positions[index] = np.where(known[:, None], xyz, np.nan)
        confidence[index] = np.where(known, person.confidence, 0.0)
        reprojection[index] = person.mean_reprojection_error
    return positions, confidence, reprojection


def people_by_id(messages, num_joints, min_views=1):
    """Return every person of ``HumanPose3DArray`` messages: per message, id -> (J, 3).

    NaN where a joint is unknown or located by fewer than ``min_views`` views.
    """
    frames = []
    for msg in messages:
        persons = {}
        for person in msg.people:
            known = np.array(list(person.num_views)) >= min_views
            xyz = np.array([[p.x, p.y, p.z] for p in person.positions]).reshape(num_joints, 3)
            persons[int(person.id)] = np.where(known[:, None], xyz, np.nan)
        frames.append(persons)
    return frames


def reference_positions(path, num_frames, skeleton):
    """Read the trial's .trc as ``skeleton``'s joints in the calibration world (Z up).

    Returns ``(positions (F, J, 3) metres, NaN for the joints the .trc lacks; the joint
    indexes it has (M,))``.  World = (trc Z, trc X, trc Y).
    """
    names, markers, _ = read_trc(path)
    marker_index, joint_index = trc_correspondence(names, skeleton)
    positions = np.full((num_frames, skeleton.num_joints, 3), np.nan)
    count = min(num_frames, len(markers))
    positions[:count, joint_index] = markers[:count, marker_index][..., [2, 0, 1]]
    return positions, joint_index


def _mpjpe_mm(positions, reference, joints):
    """Mean error in mm over the frames and ``joints`` where both are known."""
    error = np.linalg.norm(positions[:, joints] - reference[:, joints], axis=-1)
    return 1000 * float(np.nanmean(error)) if np.isfinite(error).any() else float('nan')


class _Trial:
    """The four videos, their cameras at the videos' real image sizes, read ahead in a thread.

    Args:
        data_root: the data cache.
        frames: how many frame groups to read (at most the videos' length).
    """

    def __init__(self, data_root, frames, spec=TRIAL):
        import cv2

        self.calibration = data_root / spec['calibration']
        self.reference = data_root / spec['reference'] if spec['reference'] else None
        paths = [data_root / video for video in spec['videos']]
        needed = [self.calibration, *paths] + ([self.reference] if self.reference else [])
        missing = [p for p in needed if not p.is_file()]
        if missing:
            raise DemoError(f'{missing[0]}: missing; run `make setup` (scripts/setup.sh) to '
                            'download the pose2sim demo data')
        calibrated = load_calibration(self.calibration)
        self._captures = [cv2.VideoCapture(str(path)) for path in paths]
        self.cameras = []
        self._first = []
        counts = []
        for path, capture, camera in zip(paths, self._captures, calibrated):
            ok, image = capture.read()
            if not ok:
                raise DemoError(f'{path}: cannot decode the video')
            height, width = image.shape[:2]
            too_big = width > camera.width or height > camera.height
            if too_big or max(1 - width / camera.width, 1 - height / camera.height) \
                    > SIZE_TOLERANCE:
                raise DemoError(f'{path}: {width}x{height} video for {camera.name} calibrated '
                                f'at {camera.width}x{camera.height}')
            # Cropped at the right or bottom: the same K, stated with the real size.
            self.cameras.append(make_camera(camera.name, camera.K, camera.dist,
                                            camera.distortion_model, width, height,
                                            camera.R, camera.t))
            self._first.append(image)
            counts.append(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or frames)
        self.frames = min([frames] + counts)
        self._queue = queue.Queue(maxsize=2)
        self._thread = threading.Thread(target=self._read_ahead, daemon=True)
        self._thread.start()

    def _read_ahead(self):
        for index in range(self.frames):
            if index == 0:
                images = self._first
            else:
                images = [capture.read()[1] for capture in self._captures]
            if any(image is None for image in images):
                break
            self._queue.put(images)
        self._queue.put(None)

    def __iter__(self):
        """Yield the frame groups: lists of V BGR images (H, W, 3) uint8."""
        while True:
            images = self._queue.get()
            if images is None:
                return
            yield images

    def close(self):
        """Release the videos."""
        for capture in self._captures:
            capture.release()


class _NodeProcess:
    """``skelsplat_node`` in its own process, its output in a log file."""

    def __init__(self, params_file, overrides, log_path, cwd):
        self.log_path = pathlib.Path(log_path)
        command = [sys.executable, '-m', 'skelsplat_ros.ros.runner', '--params-file',
                   str(params_file)]
        for name, value in overrides.items():
            command += ['-p', f'{name}:={value}']
        env = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST', PYTHONUNBUFFERED='1')
        self._log = self.log_path.open('w')
        # cwd: never the source tree, whose skelsplat_ros (without .msg) would shadow the
        # installed package.
        self.process = subprocess.Popen(command, cwd=cwd, env=env, stdout=self._log,
                                        stderr=subprocess.STDOUT)

    def check(self):
        """Raise :class:`DemoError` if the node has exited."""
        if self.process.poll() is not None:
            self._log.flush()
            tail = self.log_path.read_text(errors='replace').strip().splitlines()[-5:]
            raise DemoError(f'skelsplat_node exited with status {self.process.returncode}: '
                            + ' | '.join(tail) + f' (log: {self.log_path})')

    def stop(self):
        """Stop the node with Ctrl-C (then harder), and close the log."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


class _Recorder:
    """Subscribes to the node's outputs, writes them to the MCAP, and keeps the poses."""

    def __init__(self, node, bag):
        self._node = node
        self._bag = bag
        self._bodies = set()  # body ids whose ROS4HRI topics are recorded
        self._condition = threading.Condition()
        self.poses: Dict[int, tuple] = {}     # stamp ns -> (receive wall ns, message)
        self.counts = dict.fromkeys(OUTPUT_TOPICS, 0)
        self.diagnostics: Optional[DiagnosticArray] = None
        self.diagnostics_received = 0
        for topic, (type_name, kind) in OUTPUT_TOPICS.items():
            bag.add_topic(topic, type_name)
            qos = QoSProfile(depth=100, reliability=QoSReliabilityPolicy.RELIABLE) \
                if topic == '/tf' else RELIABLE
            node.create_subscription(kind, topic, lambda data, t=topic: self._keep(t, data),
                                     qos, raw=True)

    def _keep(self, topic, data):
        now = time.time_ns()
        with self._condition:
            self._bag.write_serialized(topic, data, now)
            self.counts[topic] += 1
            if topic == outputs.TRACKED:
                self._follow(deserialize_message(data, IdsList).ids)
            elif topic == '/human_pose_3d':
                msg = deserialize_message(data, HumanPose3DArray)
                self.poses[stamp_ns(msg.header.stamp)] = (now, msg)
            elif topic == '/diagnostics':
                self.diagnostics = deserialize_message(data, DiagnosticArray)
                self.diagnostics_received += 1
            self._condition.notify_all()

    def _follow(self, body_ids):
        """Record the per-body joint states and velocity of bodies seen for the first time."""
        for body_id in set(body_ids) - self._bodies:
            self._bodies.add(body_id)
            for leaf, kind in ((hri.JOINT_STATES, JointState), (hri.VELOCITY, TwistStamped)):
                topic = hri.body_topic(body_id, leaf)
                self._bag.add_topic(topic, outputs.type_name(kind))
                self.counts[topic] = 0
                self._node.create_subscription(
                    kind, topic, lambda data, t=topic: self._keep(t, data), RELIABLE, raw=True)

    def wait(self, predicate, timeout_s, check=None):
        """Wait until ``predicate()`` (called under the lock) holds; return whether it did."""
        deadline = time.monotonic() + timeout_s
        with self._condition:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._condition.wait(min(left, 0.5))
                if check is not None:
                    check()
        return True

    def status_values(self, suffix):
        """Return the newest ``/diagnostics`` status whose name ends in ``suffix``, as a dict."""
        with self._condition:
            statuses = self.diagnostics.status if self.diagnostics is not None else []
        for status in statuses:
            if status.name.endswith(suffix):
                return {kv.key: kv.value for kv in status.values}
        return {}


@contextlib.contextmanager
def _native_stderr_silenced(active=True):
    """Discard what native libraries write to stderr (MediaPipe's start-up warnings)."""
    if not active:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, 'w') as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _stamp(ns):
    from builtin_interfaces.msg import Time
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def _image_msg(bgr, stamp, frame_id):
    height, width = bgr.shape[:2]
    data = array.array('B')
    data.frombytes(np.ascontiguousarray(bgr).tobytes())  # array.array: no per-byte checks
    return Image(header=Header(stamp=stamp, frame_id=frame_id), height=height, width=width,
                 encoding='bgr8', is_bigendian=0, step=3 * width, data=data)


class _Progress:
    """One status line on stderr, rewritten in place on a terminal."""

    def __init__(self, enabled):
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self._last_line = 0.0

    def step(self, text, final=False):
        """Show ``text`` (at most every few seconds when not on a terminal)."""
        if not self.enabled:
            return
        now = time.monotonic()
        if self.tty:
            print(f'\r{text}\033[K', end='\n' if final else '', file=sys.stderr, flush=True)
        elif final or now - self._last_line >= 5.0:
            print(text, file=sys.stderr, flush=True)
            self._last_line = now

    def note(self, text):
        """Print one line of its own."""
        if self.enabled:
            print(text, file=sys.stderr, flush=True)


def run_demo(output_dir, frames: int = 100, data_root=None, params_file=None,
             progress: bool = True, pictures: bool = True, trial: str = 'single') -> DemoResult:
    """Replay the trial through the node and write ``demo.mcap``, ``demo.png``, ``demo.gif``.

    With ``trial='multi'``: the multi-person videos, ``demo_multi.json`` and ``demo_multi.png``
    (see the module's description).

    Args:
        output_dir: directory for the outputs (made if needed).
        frames: frame groups to replay (the trial has 100).
        data_root: the data cache (default :func:`default_data_root`).
        params_file: the node's parameter file (default: the installed multiview.yaml).
        progress: show progress on stderr.
        pictures: also write the PNG, GIF and RViz-style pictures.
        trial: ``single`` (Demo_SinglePerson, scored against its .trc) or ``multi``
            (Demo_MultiPerson, several people, no reference).

    Returns:
        The :class:`DemoResult`.

    Raises:
        DemoError: missing data, a node that does not start or dies, no output at all.
    """
    started = time.monotonic()
    children_before, self_before = _cpu_s(resource.RUSAGE_CHILDREN), _cpu_s(resource.RUSAGE_SELF)
    output = pathlib.Path(output_dir).resolve()
    output.mkdir(parents=True, exist_ok=True)
    data_root = pathlib.Path(data_root) if data_root is not None else default_data_root()
    params_file = params_file or default_params_file()
    show = _Progress(progress)
    if trial not in TRIALS:
        raise DemoError(f"unknown trial {trial!r}: one of {', '.join(TRIALS)}")
    multi = trial == 'multi'
    trial = _Trial(data_root, frames, TRIALS['multi' if multi else 'single'])
    # Reliable images and a long max_wait: every frame reaches the node even when a loaded CPU
    # delivers a group's four 6 MB images further apart than a live rig's 0.1 s.
    overrides = {'calibration_file': str(trial.calibration), 'detector': 'mediapipe',
                 'image_qos': 'reliable', 'max_wait': MAX_WAIT_S}
    skeleton = load_config(params_file, overrides).skeleton
    show.note(f'demo: starting skelsplat_node ({params_file}, MediaPipe, {trial.frames} '
              f'frames); node log: {output / "node.log"}')
    summary = set(np.linspace(0, trial.frames - 1, SUMMARY_FRAMES).round().astype(int).tolist())
    bag = McapBagWriter(output / 'demo.mcap')
    try:
        with _fastdds_profile(pathlib.Path(params_file).parent / 'fastdds.xml'):
            node_process = _NodeProcess(params_file, overrides, output / 'node.log', output)
            try:
                recorder, replay = _with_ros(bag, node_process, trial, summary, show, skeleton)
            finally:
                node_process.stop()
    finally:
        bag.close()
        trial.close()
    node_cpu_s = _cpu_s(resource.RUSAGE_CHILDREN) - children_before
    published, detections, keep, latencies = replay
    stamps = sorted(recorder.poses)
    messages = [recorder.poses[stamp][1] for stamp in stamps]
    index_of = {stamp: index for index, stamp in enumerate(published)}
    frame_index = np.array([index_of[stamp] for stamp in stamps if stamp in index_of])
    if not len(frame_index):
        raise DemoError(f'the node published no /human_pose_3d (log: {output / "node.log"})')
    if multi:
        return _multi_result(output, trial, skeleton, published, recorder, stamps, messages,
                             frame_index, detections, keep, latencies, pictures, started,
                             node_cpu_s, _cpu_s(resource.RUSAGE_SELF) - self_before)
    positions, confidence, reprojection = pose_arrays(
        [m for s, m in zip(stamps, messages) if s in index_of], skeleton.num_joints)
    reference, joints = reference_positions(trial.reference, trial.frames, skeleton)
    mpjpe = _mpjpe_mm(positions, reference[frame_index], joints)
    first_publish = min(t for t in published.values())
    last_output = max(recorder.poses[s][0] for s in stamps) * 1e-9
    files = {'recording': output / 'demo.mcap'}
    if pictures:
        show.note('demo: drawing the pictures')
        drawing = time.monotonic()
        files.update(_pictures(output, trial.cameras, frame_index, positions, confidence,
                               reference, detections, keep, sorted(summary), skeleton))
        show.note(f'demo: pictures drawn in {time.monotonic() - drawing:.1f} s')
    files['node log'] = output / 'node.log'
    return DemoResult(
        frames_in=len(published), frames_out=len(messages),
        frames_with_person=int(sum(bool(m.people) for m in messages)),
        output_rate_hz=len(messages) / max(last_output - first_publish, 1e-9),
        latency_median_s=float(np.median(latencies)) if latencies else float('nan'),
        reprojection_median_px=float(np.nanmedian(reprojection))
        if np.isfinite(reprojection).any() else float('nan'),
        mpjpe_mm=mpjpe, mpjpe_joints=len(joints), counts=dict(recorder.counts),
        node_stats=recorder.status_values(': fusion'), files=files,
        wall_s=time.monotonic() - started, node_cpu_s=node_cpu_s,
        demo_cpu_s=_cpu_s(resource.RUSAGE_SELF) - self_before)


@contextlib.contextmanager
def _fastdds_profile(path):
    """Let the DDS participants created meanwhile use config/fastdds.xml (see that file).

    Without its short heartbeat, a lost fragment of a 6 MB image stalls a reliable topic for
    up to 3 s.  A profile the user chose is kept.
    """
    key = 'FASTRTPS_DEFAULT_PROFILES_FILE'
    if key in os.environ or not path.is_file():
        yield
        return
    os.environ[key] = str(path)
    try:
        yield
    finally:
        del os.environ[key]


def _cpu_s(who):
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _with_ros(bag, node_process, trial, summary, show, skeleton):
    """Set up the demo's own ROS node and recorder, replay the trial, tear them down.

    Returns ``(recorder, what _replay returns)``.
    """
    context = rclpy.Context()
    rclpy.init(context=context, args=[])
    executor = SingleThreadedExecutor(context=context)
    node = rclpy.create_node('skelsplat_demo', context=context)
    try:
        executor.add_node(node)
        recorder = _Recorder(node, bag)
        spinner = threading.Thread(target=executor.spin, daemon=True)
        spinner.start()
        try:
            return recorder, _replay(node, recorder, node_process, trial, summary, show, skeleton)
        finally:
            executor.shutdown()
            spinner.join(timeout=5)
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=context)


def _replay(node, recorder, node_process, trial, summary, show, skeleton):
    """Publish the trial in lockstep with the node's outputs.

    Small copies of the images are kept for the frames in ``summary`` and every
    :data:`GIF_STRIDE`-th frame.

    Returns ``(published: stamp ns -> wall s, detections: frame -> V arrays (P, J, 3),
    kept images: frame -> (V small BGR images, scale), latencies s)``.
    """
    from skelsplat_ros.detect import create_detector
    from skelsplat_ros.visualize import shrink

    names = [camera.name for camera in trial.cameras]
    frame_ids = {name: f'{name}_optical_frame' for name in names}
    info_pubs = {n: node.create_publisher(CameraInfo, f'/{n}/camera_info', RELIABLE)
                 for n in names}
    image_pubs = {n: node.create_publisher(Image, f'/{n}/image_raw', IMAGE_QOS) for n in names}
    with _native_stderr_silenced():
        detectors = [create_detector('mediapipe', skeleton=skeleton) for _ in names]

    def connected():
        node_process.check()
        publishers = list(info_pubs.values()) + list(image_pubs.values())
        return all(pub.get_subscription_count() > 0 for pub in publishers) and all(
            node.count_publishers(topic) > 0 for topic in ('/human_pose_3d', '/diagnostics'))

    deadline = time.monotonic() + NODE_START_TIMEOUT_S
    while not connected():
        if time.monotonic() > deadline:
            raise DemoError(f'skelsplat_node did not come up in {NODE_START_TIMEOUT_S:.0f} s '
                            f'(log: {node_process.log_path})')
        time.sleep(0.1)
    base_ns = time.time_ns()
    infos = {camera.name: camera_info_msg(camera, _stamp(base_ns), frame_ids[camera.name])
             for camera in trial.cameras}

    def calibrated():
        return all(recorder.status_values(f'camera {name}').get('calibrated') == 'True'
                   for name in names)

    # The node must hold every CameraInfo before the first image, or it drops that image.
    while not calibrated():
        for name in names:
            info_pubs[name].publish(infos[name])
        if time.monotonic() > deadline:
            raise DemoError('skelsplat_node did not accept the CameraInfo messages in time '
                            f'(log: {node_process.log_path})')
        recorder.wait(calibrated, 0.5, node_process.check)
    show.note(f'demo: node ready after {time.monotonic() - deadline + NODE_START_TIMEOUT_S:.1f}'
              ' s; replaying in lockstep (each frame group once the previous one is fused)')

    published, detections, keep, latencies = {}, {}, {}, []
    for index, images in enumerate(trial):
        stamp_ns = base_ns + round(index * 1e9 / RATE_HZ)
        stamp = _stamp(stamp_ns)
        published[stamp_ns] = time.time_ns() * 1e-9
        for camera, image in zip(trial.cameras, images):
            infos[camera.name].header.stamp = stamp
            info_pubs[camera.name].publish(infos[camera.name])
            image_pubs[camera.name].publish(_image_msg(image, stamp, frame_ids[camera.name]))
        # While the node works: the same detections for the pictures, and small copies.
        with _native_stderr_silenced(index < 2):  # MediaPipe warns on its first frames
            detections[index] = [detector.detect(image)
                                 for detector, image in zip(detectors, images)]
        if index in summary or index % GIF_STRIDE == 0:
            height = 960 if index in summary else 360
            small = [shrink(image, height) for image in images]
            keep[index] = ([image for image, _ in small], small[0][1])
        arrived = recorder.wait(lambda: stamp_ns in recorder.poses, OUTPUT_TIMEOUT_S,
                                node_process.check)
        if arrived:
            latencies.append(recorder.poses[stamp_ns][0] * 1e-9 - published[stamp_ns])
        else:
            show.note(f'demo: warning: no output for frame {index} after {OUTPUT_TIMEOUT_S:.0f} '
                      's, going on')
        done = index + 1
        rate = len(recorder.poses) / max(time.time_ns() * 1e-9 - min(published.values()), 1e-9)
        latency = f', latency {1000 * np.median(latencies):.0f} ms' if latencies else ''
        show.step(f'demo: {done}/{trial.frames} frames fused ({rate:.1f} Hz{latency})',
                  final=done == trial.frames)
    for detector in detectors:
        detector.close()
    # The markers and TF follow each pose; /diagnostics comes every period.
    seen = recorder.diagnostics_received
    recorder.wait(lambda: recorder.diagnostics_received > seen + 1, 5.0)
    return published, detections, keep, latencies


def _multi_result(output, trial, skeleton, published, recorder, stamps, messages, frame_index,
                  detections, keep, latencies, pictures, started, node_cpu_s, demo_cpu_s):
    """Build the multi-person trial's :class:`DemoResult`; write its JSON and picture."""
    from skelsplat_ros import track_report

    index_of = {stamp: index for index, stamp in enumerate(published)}
    replayed = [m for s, m in zip(stamps, messages) if s in index_of]
    by_frame = [{} for _ in range(len(published))]
    triangulated = [{} for _ in range(len(published))]
    for frame, persons, located in zip(frame_index,
                                       people_by_id(replayed, skeleton.num_joints),
                                       people_by_id(replayed, skeleton.num_joints, 2)):
        by_frame[frame], triangulated[frame] = persons, located
    report = track_report.summarize(by_frame, trial.cameras,
                                    [detections[frame] for frame in range(len(by_frame))],
                                    triangulated=triangulated)
    files = {'recording': output / 'demo.mcap', 'report': output / 'demo_multi.json'}
    files['report'].write_text(json.dumps(report, indent=1) + '\n')
    if pictures:
        files['picture'] = _people_picture(output / 'demo_multi.png', trial.cameras, by_frame,
                                           detections, keep, skeleton)
    files['node log'] = output / 'node.log'
    first_publish = min(published.values())
    last_output = max(recorder.poses[s][0] for s in stamps) * 1e-9
    return DemoResult(
        frames_in=len(published), frames_out=len(messages),
        frames_with_person=int(sum(bool(m.people) for m in messages)),
        output_rate_hz=len(messages) / max(last_output - first_publish, 1e-9),
        latency_median_s=float(np.median(latencies)) if latencies else float('nan'),
        reprojection_median_px=float('nan'), mpjpe_mm=float('nan'), mpjpe_joints=0,
        counts=dict(recorder.counts), node_stats=recorder.status_values(': fusion'),
        files=files, wall_s=time.monotonic() - started, node_cpu_s=node_cpu_s,
        demo_cpu_s=demo_cpu_s, people=report)


def _people_picture(path, cameras, by_frame, detections, keep, skeleton):
    """Draw the views of the summary frames, each person in its id's colour; return path."""
    from skelsplat_ros.live import id_rgb
    from skelsplat_ros.visualize import draw_people, people_grid, project_skeleton, shrink

    rows = []
    frames = [frame for frame in sorted(keep) if keep[frame][0][0].shape[0] > 400]
    for frame in frames:
        images, scale = keep[frame]
        row = []
        for camera, image, people in zip(cameras, images, detections[frame]):
            projected = {person_id: project_skeleton(camera, positions) * scale
                         for person_id, positions in by_frame[frame].items()}
            small = np.asarray(people, dtype=float).copy()
            small[..., :2] *= scale
            row.append(draw_people(image, projected,
                                   {person_id: id_rgb(person_id) for person_id in projected},
                                   keypoints_2d=small, skeleton=skeleton,
                                   title=f'{camera.name} frame {frame}'))
        rows.append([shrink(image, PEOPLE_ROW_PX)[0] for image in row])
    people_grid(rows, path)
    return _palette_png(path)


def _palette_png(path):
    """Rewrite a PNG with a 256-colour palette: a third of the size, fit for a README."""
    from PIL import Image

    with Image.open(path) as image:
        palette = image.convert('RGB').quantize(256, method=Image.Quantize.FASTOCTREE)
    palette.save(path, optimize=True)
    return path


def _pictures(output, cameras, frame_index, positions, confidence, reference, detections, keep,
              summary, skeleton):
    """Write demo.png, demo.gif and rviz.png; return name -> path."""
    from skelsplat_ros.visualize import AnimationWriter, OverlayFrame, render_summary_png

    row_of = {int(frame): row for row, frame in enumerate(frame_index)}
    scored = np.flatnonzero(np.isfinite(reference[0]).all(axis=1))

    def overlay(frame):
        row = row_of.get(frame)
        pos = positions[row] if row is not None else None
        conf = confidence[row] if row is not None else None
        images, scale = keep[frame]
        error = None
        if pos is not None:
            error = _mpjpe_mm(pos[None], reference[frame][None], scored)
        return OverlayFrame(frame, images, detections[frame], pos, conf, scale, error,
                            reference[frame], skeleton=skeleton)

    files = {}
    files['picture'] = _palette_png(render_summary_png(
        output / 'demo.png', [overlay(frame) for frame in summary], cameras, dpi=PNG_DPI,
        title='skelsplat_node on the pose2sim trial (MediaPipe, 4 cameras); dashed: .trc'))
    with AnimationWriter(output / 'demo.gif', cameras, fps=RATE_HZ / GIF_STRIDE,
                         height=240) as animation:
        for frame in sorted(keep):
            if frame % GIF_STRIDE == 0:
                animation.add(overlay(frame))
    files['animation'] = animation.path
    from skelsplat_ros.rviz_render import render_rviz_png
    files['rviz rendering'] = render_rviz_png(output / 'demo.mcap', output / 'rviz.png')
    # README's ROS4HRI picture: one body's frames, every frame named.
    files['ROS4HRI frames'] = render_rviz_png(output / 'demo.mcap', output / 'ros4hri.png',
                                              fraction=0.6, size=(8.5, 7.5), label_all=True,
                                              zoom=1.6)
    return files
