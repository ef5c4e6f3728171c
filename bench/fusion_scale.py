# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Scale of the fusion node alone: 4 to 16 cameras of keypoints at 30 Hz, 1 and 5 people.

    python bench/fusion_scale.py --output bench/results [--cameras 4 8 16] [--people 1 5]
                                 [--duration 20] [--rate 30] [--message flat] [--quick]

The node runs in a subprocess (``python -m skelsplat_ros.ros.runner``, ``detector:=
keypoints_topic``, ``multi_person:=true``, the analytic objective on the CPU, intrinsics and
extrinsics from a calibration file written for the run), pinned to one core, exactly as
deployed.  This process, on the other cores, plays V virtual cameras over real DDS on
loopback: a ring of cameras with the intrinsics of pose2sim's first camera, 3.2 m around the
demo's motion, each publishing ``Keypoints2D`` (flat arrays by default) at ``--rate``, stamped
with the time of publication.  The keypoints are those of :mod:`scenes`: N copies of the demo's
``.trc`` motion projected into every virtual camera, with occlusion between people, confusions,
2.5 px noise, shuffled detections.

Reports (``fusion_scale.json``, also printed, and ``fusion_scale.png``), per cameras x people:
output rate after the warm-up, end-to-end latency (stamp to receipt of ``/human_pose_3d``)
median and p95, the fusion process's CPU (100 % = one core), groups dropped (published and
never output) and the node's own drop counters, the fraction of outputs with everyone.  And,
to say where the time goes, the same work in this process without DDS, in CPU time per group
(one torch thread): reading the V messages (rclpy deserialisation, then conversion to numpy;
flat and per-joint messages both), the tracker's update, split into association, RANSAC,
fit and the rest by cProfile's shares, and the outputs the node builds from it
(``/human_pose_3d``, TF, the ROS4HRI bodies with their inverse kinematics).  The machine's
load average is recorded: other processes on a shared machine slow everything down.
"""

import argparse
import cProfile
import dataclasses
import os
import pathlib
import pstats
import subprocess
import sys
import tempfile
import threading
import time

os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
os.environ.setdefault('ROS_DOMAIN_ID', '64')

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import protocols  # noqa: E402
from report import default_data_root, log, reference_loop_ms, write_report  # noqa: E402
import scenes  # noqa: E402
from skelsplat_ros.cameras import make_camera  # noqa: E402
from soak import Pacer, ProcessMonitor, Spinner, stop_process  # noqa: E402
import yaml  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_CAMERAS = (4, 8, 16)
DEFAULT_PEOPLE = (1, 5)
QUICK_CAMERAS = (4, 16)
QUICK_DURATION_S = 8.0
WARMUP_S = 3.0
RING_RADIUS_M = 3.2          # about the demo cameras' distance from the motion
RING_HEIGHT_M = 1.9
LOOK_AT_HEIGHT_M = 1.0
SCENE_FRAMES = 100           # distinct frame groups, played back and forth
PROFILE_GROUPS = 40
NODE_CORE = 1                # the core the node is pinned to ("on one core")


def ring_cameras(template, count, centre):
    """``count`` cameras with ``template``'s intrinsics on a ring around ``centre`` (3,)."""
    cameras = []
    for v, angle in enumerate(np.linspace(0, 2 * np.pi, count, endpoint=False)):
        position = np.array([centre[0] + RING_RADIUS_M * np.cos(angle),
                             centre[1] + RING_RADIUS_M * np.sin(angle), RING_HEIGHT_M])
        forward = np.array([centre[0], centre[1], LOOK_AT_HEIGHT_M]) - position
        forward /= np.linalg.norm(forward)
        right = np.cross(forward, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        R = np.stack([right, np.cross(forward, right), forward])
        cameras.append(make_camera(f'vcam_{v:02d}', template.K, [], 'none', template.width,
                                   template.height, R=R, t=-R @ position))
    return cameras


def write_calibration(cameras, path):
    """Write the cameras as a pose2sim TOML calibration (Rodrigues rotation)."""
    lines = []
    for camera in cameras:
        rotation = cv2.Rodrigues(np.asarray(camera.R, dtype=float))[0].ravel()
        lines += [f'[{camera.name}]', f'name = "{camera.name}"',
                  f'size = [{float(camera.width)}, {float(camera.height)}]',
                  f'matrix = {np.asarray(camera.K, dtype=float).tolist()}',
                  'distortions = [0.0, 0.0, 0.0, 0.0]',
                  f'rotation = {rotation.tolist()}',
                  f'translation = {np.asarray(camera.t, dtype=float).tolist()}',
                  'fisheye = false', '']
    path.write_text('\n'.join(lines))


def write_params(names, path):
    """Write config/multiview.yaml with the cameras ``names`` (keypoints topics) instead."""
    document = yaml.safe_load((ROOT / 'config' / 'multiview.yaml').read_text())
    params = next(iter(document.values()))['ros__parameters']
    params['camera_names'] = list(names)
    params['cameras'] = {name: {'keypoints_topic': f'/{name}/keypoints',
                                'image_topic': f'/{name}/image_raw'} for name in names}
    path.write_text(yaml.safe_dump(document))


def make_frames(cameras, truth, motion, num_people, seed):
    """Return the scene's frame groups: per group, per camera, (P_v, 17, 3) keypoints."""
    rng = np.random.default_rng([seed, num_people, len(cameras)])
    scene = scenes.random_scene(cameras, truth, motion, num_people, SCENE_FRAMES, rng,
                                leaving=0)
    return [scene.frame(f, rng).views for f in range(SCENE_FRAMES)]


def playback_index(tick):
    """Return the frame group of tick ``tick``: back and forth, so that nobody jumps."""
    period = 2 * (SCENE_FRAMES - 1)
    phase = tick % period
    return phase if phase < SCENE_FRAMES else period - phase


# The node's parameters besides its parameter file, in the subprocess and in the profile.
NODE_OVERRIDES = {'detector': 'keypoints_topic', 'intrinsics_source': 'calibration_file',
                  'multi_person': True, 'solver_objective': 'analytic', 'device': 'cpu',
                  'diagnostics_period': 1.0, 'publish_markers': False, 'publish_points': False}


def write_case(cameras):
    """Write the case's calibration and parameter file; returns (workdir, params, calibration)."""
    workdir = pathlib.Path(tempfile.mkdtemp(prefix='skelsplat_scale_'))
    write_calibration(cameras, workdir / 'calibration.toml')
    write_params([camera.name for camera in cameras], workdir / 'params.yaml')
    return workdir, workdir / 'params.yaml', workdir / 'calibration.toml'


def start_node(workdir, params, calibration, log_file):
    """Start the node pinned to :data:`NODE_CORE` (one torch thread); returns the Popen."""
    command = [sys.executable, '-m', 'skelsplat_ros.ros.runner', '--params-file', str(params),
               '-p', f'calibration_file:={calibration}']
    for name, value in NODE_OVERRIDES.items():
        command += ['-p', f'{name}:={str(value).lower() if isinstance(value, bool) else value}']
    core = NODE_CORE if NODE_CORE < os.cpu_count() else 0
    env = dict(os.environ, OMP_NUM_THREADS='1')
    # Not from the source tree: there `skelsplat_ros` would shadow the install space.
    return subprocess.Popen(command, cwd=workdir, stdout=log_file, stderr=subprocess.STDOUT,
                            env=env, preexec_fn=lambda: os.sched_setaffinity(0, {core}))


def run_case(case, cameras, frames, num_people, duration_s, rate_hz, flat):
    """Play the frames to a fresh node of ``case`` (:func:`write_case`); return its figures."""
    from builtin_interfaces.msg import Time
    from diagnostic_msgs.msg import DiagnosticArray
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, QoSReliabilityPolicy
    from skelsplat_ros.msg import HumanPose3DArray, Keypoints2D
    from skelsplat_ros.ros.conversions import keypoints_msg

    names = [camera.name for camera in cameras]
    workdir, params, calibration = case
    messages = [[keypoints_msg(views[v], 'coco17', Time(), f'{name}_optical_frame', flat=flat)
                 for v, name in enumerate(names)] for views in frames]

    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node('skelsplat_scale', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    reliable = QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE)
    publishers = [node.create_publisher(Keypoints2D, f'/{name}/keypoints', reliable)
                  for name in names]
    lock = threading.Lock()
    outputs = []        # (receipt monotonic s, latency s, people)
    diagnostics = {}

    def on_pose(msg):
        stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
        with lock:
            outputs.append((time.monotonic(), (time.time_ns() - stamp) * 1e-9,
                            len(msg.people)))

    def on_diagnostics(msg):
        for status in msg.status:
            if status.name.endswith('fusion'):
                with lock:
                    diagnostics.update({kv.key: kv.value for kv in status.values})

    node.create_subscription(HumanPose3DArray, '/human_pose_3d', on_pose, reliable)
    node.create_subscription(DiagnosticArray, '/diagnostics', on_diagnostics, reliable)
    log_path = workdir / 'node.log'
    with open(log_path, 'w') as log_file:
        process = start_node(workdir, params, calibration, log_file)
    spinner = Spinner(executor)
    deadline = time.monotonic() + 120.0
    while time.monotonic() < deadline and process.poll() is None:
        with lock:
            ready = bool(diagnostics)
        if ready and all(pub.get_subscription_count() for pub in publishers):
            break
        time.sleep(0.5)
    if process.poll() is not None or time.monotonic() >= deadline:
        process.kill()
        raise RuntimeError(f'the node did not start: {log_path.read_text()[-2000:]}')

    load_before = os.getloadavg()
    start = time.monotonic()
    monitor = ProcessMonitor(process.pid, start)
    pacer = Pacer(start, rate_hz, duration_s)
    published = []
    for tick in pacer:
        stamped_at = time.monotonic() - start
        stamp_ns = time.time_ns()
        stamp = Time(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9)
        for publisher, msg in zip(publishers, messages[playback_index(tick)]):
            msg.header.stamp = stamp
            publisher.publish(msg)
        published.append(stamped_at)
    time.sleep(1.5)      # the last groups
    monitor.stop()
    load_after = os.getloadavg()
    stop_process(process)
    spinner.stop()
    executor.shutdown()
    node.destroy_node()
    rclpy.shutdown(context=context)

    with lock:
        records = list(outputs)
        counters = dict(diagnostics)
    times = np.array([t - start for t, _, _ in records])
    latency = np.array([lat for _, lat, _ in records])
    people = np.array([p for _, _, p in records])
    # Each output is counted by when its group was stamped (its receipt less its latency), as
    # the sent groups are: a group stamped just before the warm-up's end is in neither count.
    steady = times - latency >= WARMUP_S
    samples = np.array(monitor.samples) if monitor.samples else np.zeros((0, 3))
    busy = samples[samples[:, 0] >= WARMUP_S]
    cpu = (100.0 * (busy[-1, 1] - busy[0, 1]) / max(busy[-1, 0] - busy[0, 0], 1e-9)
           if len(busy) > 1 else None)
    sent_steady = sum(1 for t in published if t >= WARMUP_S)
    steady_s = max(duration_s - WARMUP_S, 1e-9)
    lat = latency[steady]
    return {
        'groups_published': len(published), 'publisher_missed_ticks': pacer.missed,
        'output_rate_hz': round(float(steady.sum()) / steady_s, 2),
        'latency_ms': {'median': round(float(np.median(lat)) * 1e3, 1) if lat.size else None,
                       'p95': round(float(np.percentile(lat, 95)) * 1e3, 1)
                       if lat.size else None},
        'fusion_cpu_percent': None if cpu is None else round(cpu, 1),
        'groups_dropped': int(sent_steady - steady.sum()),
        'groups_dropped_fraction': round(1.0 - float(steady.sum()) / max(sent_steady, 1), 3),
        'outputs_with_everyone': round(float((people[steady] == num_people).mean()), 3)
        if steady.any() else 0.0,
        'node_counters': {key: counters.get(key) for key in (
            'groups_emitted', 'groups_fused', 'groups_dropped_busy',
            'groups_dropped_incomplete', 'frames_dropped_stale', 'fusion_errors')},
        'loadavg_before': [round(v, 2) for v in load_before],
        'loadavg_after': [round(v, 2) for v in load_after],
        'node_log_tail': log_path.read_text()[-1200:].splitlines()[-5:],
    }


def profile_case(case, cameras, frames, flat):
    """Time the node's work per group in this process, without DDS: ms per group by stage."""
    from builtin_interfaces.msg import Time
    from rclpy.serialization import deserialize_message, serialize_message
    from skelsplat_ros.live import tracked_people
    from skelsplat_ros.msg import Keypoints2D
    from skelsplat_ros.ros.bag import load_config
    from skelsplat_ros.ros.conversions import keypoints_msg, keypoints_msg_to_skeleton
    from skelsplat_ros.ros.outputs import Outputs
    from skelsplat_ros.solver import SolverConfig
    from skelsplat_ros.tracking import MultiPersonTracker
    import torch

    # CPU time of this process (one torch thread, as the node): less distorted by the other
    # processes of a loaded machine than wall-clock time.
    torch.set_num_threads(1)
    reading = {}
    for form in ('flat', 'per_joint'):
        groups = [[serialize_message(keypoints_msg(views[v], 'coco17', Time(sec=1), 'cam',
                                                   flat=form == 'flat'))
                   for v in range(len(cameras))] for views in frames[:PROFILE_GROUPS]]
        started = time.process_time()
        received = [[deserialize_message(data, Keypoints2D) for data in group]
                    for group in groups]
        deserialise = time.process_time() - started
        started = time.process_time()
        views = [[keypoints_msg_to_skeleton(msg) for msg in group] for group in received]
        convert = time.process_time() - started
        reading[form] = {'message_bytes': len(groups[0][0]),
                         'deserialise_ms': round(deserialise * 1e3 / len(groups), 2),
                         'convert_ms': round(convert * 1e3 / len(groups), 2)}
    read = reading['flat' if flat else 'per_joint']
    config = SolverConfig(objective='analytic', device='cpu', frame_rate=protocols.RATE_HZ)
    tracker = MultiPersonTracker(cameras, config)
    tracker.update(views[0])                 # warm-up: first torch calls
    _, params, calibration = case
    node_config = load_config(params, dict(NODE_OVERRIDES, calibration_file=str(calibration)))
    outputs = Outputs(node_config.skeleton)
    names = [camera.name for camera in cameras]
    update = publishing = 0.0
    for g, group in enumerate(views[1:]):
        started = time.process_time()
        tracked = tracker.update(group)
        middle = time.process_time()
        # What the node publishes of them: /human_pose_3d, TF, the ROS4HRI bodies (their
        # joint states by inverse kinematics); the messages are built, not sent.
        outputs.messages(tracked_people(dict(tracked), names), (g + 1) * 33_333_333,
                         node_config)
        update += middle - started
        publishing += time.process_time() - middle
    tracker = MultiPersonTracker(cameras, config)
    tracker.update(views[0])
    profiler = cProfile.Profile()
    profiler.enable()
    for group in views[1:]:
        tracker.update(group)
    profiler.disable()
    stats = pstats.Stats(profiler)

    def cumulative(module, function):
        return sum(entry[3] for (path, _, name), entry in stats.stats.items()
                   if name == function and path.endswith(module))

    count = len(views) - 1
    association = cumulative('association.py', 'associate_detections')
    ransac = cumulative('triangulation.py', 'triangulate_ransac')
    fit = cumulative('analytic.py', 'fit')
    # The profiler's shares of the unprofiled CPU time.
    scale = 1e3 / count * update / cumulative('tracking.py', 'update')
    total = cumulative('tracking.py', 'update')
    return {
        'message_bytes': read['message_bytes'],
        'deserialise_ms': read['deserialise_ms'],
        'convert_ms': read['convert_ms'],
        'reading_by_form': reading,
        'tracker_update_cpu_ms': round(update * 1e3 / count, 2),
        'outputs_cpu_ms': round(publishing * 1e3 / count, 2),
        'profiled_ms': {'association': round(association * scale, 2),
                        'ransac': round(ransac * scale, 2),
                        'fit': round(fit * scale, 2),
                        'rest': round((total - association - ransac - fit) * scale, 2)},
    }


def plot(report, path):
    """Output rate, latency, CPU and the time per group by stage, per case."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    cases = report['cases']
    labels = [f'{c["cameras"]}x{c["people"]}' for c in cases]
    x = np.arange(len(cases))
    fig, axes = plt.subplots(1, 4, figsize=(18, 4.2))
    axes[0].bar(x, [c['live']['output_rate_hz'] for c in cases], color='#0072b2')
    axes[0].axhline(report['config']['rate_hz'], color='k', ls='--', lw=1, label='input rate')
    axes[0].set_title('output rate (Hz)')
    axes[0].legend()
    median = [c['live']['latency_ms']['median'] or 0 for c in cases]
    p95 = [c['live']['latency_ms']['p95'] or 0 for c in cases]
    axes[1].bar(x - 0.2, median, 0.4, label='median', color='#009e73')
    axes[1].bar(x + 0.2, p95, 0.4, label='p95', color='#e69f00')
    axes[1].set_title('latency, stamp to receipt (ms)')
    axes[1].legend()
    axes[2].bar(x, [c['live']['fusion_cpu_percent'] or 0 for c in cases], color='#cc79a7')
    axes[2].axhline(100, color='k', ls='--', lw=1, label='one core')
    axes[2].set_title('fusion process CPU (%)')
    axes[2].legend()
    bottom = np.zeros(len(cases))
    stages = [('deserialise', lambda p: p['deserialise_ms']),
              ('convert', lambda p: p['convert_ms'])] + [
        (name, lambda p, name=name: p['profiled_ms'][name])
        for name in ('association', 'ransac', 'fit', 'rest')] + [
        ('outputs', lambda p: p['outputs_cpu_ms'])]
    for (name, value), colour in zip(stages, ('#999999', '#56b4e9', '#e69f00', '#d55e00',
                                              '#009e73', '#0072b2', '#cc79a7')):
        heights = np.array([value(c['profile']) for c in cases])
        axes[3].bar(x, heights, bottom=bottom, label=name, color=colour)
        bottom += heights
    axes[3].axhline(1e3 / report['config']['rate_hz'], color='k', ls='--', lw=1,
                    label='one period')
    axes[3].set_title('CPU per group, in-process (ms; stages by cProfile)')
    axes[3].legend(fontsize=7)
    for ax in axes:
        ax.set_xticks(x)
        ax.set_xticklabels(labels)
        ax.set_xlabel('cameras x people')
    load = report['config']['loadavg_start'][0]
    fig.suptitle(f'fusion node on keypoint topics ({report["config"]["message"]} messages), '
                 f'loadavg {load:.1f} on {report["config"]["cpus"]} cores'
                 + (': figures taken under load' if load > 1.0 else ''), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def build_parser():
    """Return the command line parser."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--output', default='bench/results', help='directory for the results')
    parser.add_argument('--cameras', type=int, nargs='+', default=None,
                        help=f'camera counts (default {DEFAULT_CAMERAS})')
    parser.add_argument('--people', type=int, nargs='+', default=list(DEFAULT_PEOPLE))
    parser.add_argument('--duration', type=float, default=20.0, help='seconds per case')
    parser.add_argument('--rate', type=float, default=30.0, help='Hz per camera')
    parser.add_argument('--message', choices=('flat', 'per_joint'), default='flat',
                        help='Keypoints2D form the cameras publish')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--quick', action='store_true',
                        help=f'{QUICK_CAMERAS} cameras, {QUICK_DURATION_S:g} s per case')
    parser.add_argument('--data-root', type=pathlib.Path, default=default_data_root())
    parser.add_argument('--no-plot', action='store_true')
    return parser


def main(argv=None):
    """Run the benchmark; returns the exit status."""
    args = build_parser().parse_args(argv)
    camera_counts = args.cameras or (QUICK_CAMERAS if args.quick else DEFAULT_CAMERAS)
    duration = QUICK_DURATION_S if args.quick else args.duration
    demo = protocols.load_demo_or_explain('fusion_scale', args.data_root)
    if demo is None:
        return 2
    real, truth, motion = demo
    centre = np.nanmean(motion.reshape(-1, 3), axis=0)
    loadavg_start = os.getloadavg()
    flat = args.message == 'flat'
    cases = []
    started = time.perf_counter()
    for count in camera_counts:
        cameras = ring_cameras(real[0], count, centre)
        for num_people in args.people:
            frames = make_frames(cameras, truth, motion, num_people, args.seed)
            case = write_case(cameras)
            reference = reference_loop_ms()
            profile = profile_case(case, cameras, frames, flat)
            live = run_case(case, cameras, frames, num_people, duration, args.rate, flat)
            cases.append({'cameras': count, 'people': num_people, 'live': live,
                          'profile': profile,
                          'reference_loop_ms': [reference, reference_loop_ms()]})
            log(f'[{time.perf_counter() - started:6.1f} s] {count:2d} cameras x {num_people} '
                f'people: {live["output_rate_hz"]:5.1f} Hz, latency '
                f'{live["latency_ms"]["median"]} / {live["latency_ms"]["p95"]} ms, CPU '
                f'{live["fusion_cpu_percent"]} %, dropped {live["groups_dropped"]}; '
                f'in-process {profile["tracker_update_cpu_ms"]} + '
                f'{profile["outputs_cpu_ms"]} ms/group '
                f'({profile["profiled_ms"]}), read {profile["deserialise_ms"]} + '
                f'{profile["convert_ms"]} ms; loadavg {live["loadavg_after"][0]}, reference '
                f'loop {cases[-1]["reference_loop_ms"]} ms')
    from skelsplat_ros.tracking import TrackerConfig
    report = {
        'config': {'cameras': list(camera_counts), 'people': args.people,
                   'duration_s': duration, 'warmup_s': WARMUP_S, 'rate_hz': args.rate,
                   'message': args.message, 'seed': args.seed, 'objective': 'analytic',
                   'node_core': NODE_CORE, 'cpus': os.cpu_count(),
                   'ring': {'radius_m': RING_RADIUS_M, 'height_m': RING_HEIGHT_M,
                            'intrinsics_of': real[0].name},
                   'tracker': dataclasses.asdict(TrackerConfig()),
                   'loadavg_start': [round(v, 2) for v in loadavg_start],
                   'loadavg_end': [round(v, 2) for v in os.getloadavg()],
                   'note': 'taken on a shared machine under the load that loadavg records; '
                           "each case's reference_loop_ms (report.reference_loop_ms, before "
                           'and after it) says how fast the machine was then',
                   'elapsed_s': round(time.perf_counter() - started, 1)},
        'cases': cases,
    }
    write_report(report, args.output, 'fusion_scale', None if args.no_plot else plot)
    return 0


if __name__ == '__main__':
    sys.exit(main())
