# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The split rig measured: the detector node alone, and the whole pipeline against one node.

    python bench/distributed.py --output bench/results [--duration 20] [--rate 30]
                                [--skip-pipeline] [--detection-period 0.125]

1. **The detector node alone**, one 1080 x 1920 camera (the demo's cam01 video) sent as raw
   ``bgr8`` images at ``--rate`` over real DDS on loopback to ``skelsplat_detector_node`` in a
   subprocess pinned to one core (``python -m skelsplat_ros.ros.runner --distributed
   --start-fusion false --cameras cam_01``): keypoints per second, latency (image stamp, the
   time of publication, to receipt of its ``Keypoints2D``) median and p95, frames dropped
   while the detector was busy (its ``/diagnostics``), its CPU.
2. **The whole pipeline**, four demo videos at ``--rate``: today's single node (MediaPipe in
   the node) against the split rig (a process of four detector nodes and a process of the
   fusion node in ``keypoints_topic`` mode, as ``distributed.launch.py`` starts them on one
   host): ``/human_pose_3d`` rate and latency side by side.  Not pinned: both use the machine.
   With ``--detection-period P``, the pair again with ``detection_period: P`` in the one
   parameter file of both (``with_detection_period`` in the JSON): every detector node then
   detects the same stamps.

The load average is recorded: the figures of a shared machine are slowed by the others.
"""

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import threading
import time

os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
os.environ.setdefault('ROS_DOMAIN_ID', '65')

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from report import default_data_root, log, write_report  # noqa: E402
from soak import Pacer, ProcessMonitor, Spinner, stop_process  # noqa: E402
import yaml  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
CAMERAS = ('cam_01', 'cam_02', 'cam_03', 'cam_04')
CALIBRATION = 'pose2sim-0.4.15/Pose2Sim/Demo/calibration/Calib_qualisys.toml'
VIDEOS = 'pose2sim-0.10.49/Pose2Sim/Demo_SinglePerson/videos'
FRAMES = 12           # distinct frames per camera, played back and forth (6 MB each)
WARMUP_S = 5.0
DETECTOR_CORE = 1


def _load(data_root, names):
    """Return (cameras with the videos' real sizes, per camera FRAMES BGR images)."""
    from skelsplat_ros.cameras import load_calibration, make_camera
    frames = {}
    for index, name in enumerate(names, start=1):
        capture = cv2.VideoCapture(str(data_root / VIDEOS / f'cam0{index}.mp4'))
        frames[name] = [capture.read()[1] for _ in range(FRAMES)]
        capture.release()
    cameras = {}
    for camera in load_calibration(data_root / CALIBRATION):
        if camera.name in frames:
            height, width = frames[camera.name][0].shape[:2]
            cameras[camera.name] = make_camera(camera.name, camera.K, camera.dist,
                                               camera.distortion_model, width, height,
                                               camera.R, camera.t)
    return cameras, frames


def _params(workdir, data_root, detection_period=0.0):
    """Write the demo's parameter file for the runs (CPU, the calibration file, reliable)."""
    from skelsplat_ros.ros.launch_arguments import node_parameters
    parameters = node_parameters(ROOT / 'config' / 'multiview.yaml')
    parameters.update(calibration_file=str(data_root / CALIBRATION), device='cpu',
                      image_qos='reliable', diagnostics_period=1.0, max_wait=0.5,
                      publish_markers=False, publish_points=False,
                      detection_period=detection_period)
    path = workdir / f'params_{detection_period:g}.yaml'
    path.write_text(yaml.safe_dump({'/**/skelsplat_node': {'ros__parameters': parameters}}))
    return path


def _start(arguments, workdir, name, core=None):
    """Start ``python -m skelsplat_ros.ros.runner ARGUMENTS``; (Popen, log path)."""
    log_path = workdir / f'{name}.log'
    with open(log_path, 'w') as log_file:
        pin = (lambda: os.sched_setaffinity(0, {core})) if core is not None else None
        # Not from the source tree: there `skelsplat_ros` would shadow the install space.
        process = subprocess.Popen([sys.executable, '-m', 'skelsplat_ros.ros.runner',
                                    *arguments], cwd=workdir, stdout=log_file,
                                   stderr=subprocess.STDOUT, preexec_fn=pin,
                                   env=dict(os.environ, OMP_NUM_THREADS='1'))
    return process, log_path


def run(processes, cameras, frames, output_topic, output_kind, duration_s, rate_hz):
    """Play ``frames`` to the started ``processes``; return the figures of ``output_topic``."""
    from builtin_interfaces.msg import Time
    from diagnostic_msgs.msg import DiagnosticArray
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, QoSReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image
    from skelsplat_ros.imaging import bgr_to_image_fields
    from skelsplat_ros.ros.conversions import camera_info_msg

    names = list(frames)
    messages = {}
    for name in names:
        messages[name] = []
        for bgr in frames[name]:
            encoding, width, height, step, data = bgr_to_image_fields(bgr, 'bgr8')
            msg = Image(encoding=encoding, width=width, height=height, step=step, data=data)
            msg.header.frame_id = f'{name}_optical_frame'
            messages[name].append(msg)
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node('skelsplat_distributed_bench', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    reliable = QoSProfile(depth=2, reliability=QoSReliabilityPolicy.RELIABLE)
    images = {name: node.create_publisher(Image, f'/{name}/image_raw', reliable)
              for name in names}
    infos = {name: node.create_publisher(CameraInfo, f'/{name}/camera_info', reliable)
             for name in names}
    lock = threading.Lock()
    outputs, diagnostics = [], {}
    playing = threading.Event()  # the nodes' reports of the steady run only

    def on_output(msg):
        stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
        with lock:
            outputs.append((time.monotonic(), (time.time_ns() - stamp) * 1e-9))

    def on_diagnostics(msg):
        with lock:
            for status in msg.status:
                if not playing.is_set() and status.name in diagnostics:
                    continue
                diagnostics[status.name] = {kv.key: kv.value for kv in status.values}

    node.create_subscription(output_kind, output_topic, on_output, reliable)
    node.create_subscription(DiagnosticArray, '/diagnostics', on_diagnostics, reliable)
    spinner = Spinner(executor)

    def publish_info():
        for name in names:
            infos[name].publish(camera_info_msg(cameras[name], Time(), f'{name}_optical_frame'))

    deadline = time.monotonic() + 180.0
    while time.monotonic() < deadline and all(p.poll() is None for p, _ in processes):
        publish_info()
        with lock:
            ready = len(diagnostics) >= len(names)
        if ready and all(pub.get_subscription_count() for pub in images.values()):
            break
        time.sleep(0.5)
    else:
        raise RuntimeError('the nodes did not start: ' + ' | '.join(
            path.read_text()[-1500:] for _, path in processes))
    time.sleep(2.0)  # the CameraInfo reached every node
    load_before = os.getloadavg()
    start = time.monotonic()
    monitors = [ProcessMonitor(process.pid, start) for process, _ in processes]
    playing.set()
    sent = 0
    for tick in Pacer(start, rate_hz, duration_s):
        stamp_ns = time.time_ns()
        stamp = Time(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9)
        phase = tick % (2 * FRAMES - 2)
        index = phase if phase < FRAMES else 2 * FRAMES - 2 - phase
        for name in names:
            msg = messages[name][index]
            msg.header.stamp = stamp
            images[name].publish(msg)
        if tick % int(rate_hz) == 0:
            publish_info()
        sent += int(start + WARMUP_S <= time.monotonic())
    playing.clear()
    time.sleep(2.0)
    load_after = os.getloadavg()
    for monitor in monitors:
        monitor.stop()
    spinner.stop()
    executor.shutdown()
    node.destroy_node()
    rclpy.shutdown(context=context)
    with lock:
        records, counters = list(outputs), dict(diagnostics)
    steady = [latency for t, latency in records if t - start >= WARMUP_S]
    cpu = []
    for monitor in monitors:
        samples = [s for s in monitor.samples if s[0] >= WARMUP_S]
        cpu.append(round(100.0 * (samples[-1][1] - samples[0][1])
                         / max(samples[-1][0] - samples[0][0], 1e-9), 1)
                   if len(samples) > 1 else None)
    steady_s = duration_s - WARMUP_S
    return {
        'frames_sent_per_camera': sent, 'input_rate_hz': round(sent / steady_s, 2),
        'output_rate_hz': round(len(steady) / steady_s, 2),
        'latency_ms': {'median': round(float(np.median(steady)) * 1e3, 1) if steady else None,
                       'p95': round(float(np.percentile(steady, 95)) * 1e3, 1)
                       if steady else None},
        'cpu_percent_per_process': cpu,
        'diagnostics': {name: {key: values.get(key) for key in (
            'input_rate_hz', 'output_rate_hz', 'frames_dropped_busy', 'detection_median_ms',
            'latency_median_ms', 'groups_dropped_busy', 'groups_dropped_incomplete')
            if key in values} for name, values in counters.items()
            if 'camera' in name or 'fusion' in name},
        'loadavg_before': [round(v, 2) for v in load_before],
        'loadavg_after': [round(v, 2) for v in load_after],
    }


def detector_alone(workdir, params, cameras, frames, duration_s, rate_hz):
    """Run the detector node on one camera, pinned to one core; its figures."""
    from skelsplat_ros.msg import Keypoints2D
    core = DETECTOR_CORE if DETECTOR_CORE < os.cpu_count() else 0
    processes = [_start(['--distributed', '--params-file', str(params), '--start-fusion',
                         'false', '--cameras', 'cam_01'], workdir, 'detector', core)]
    try:
        return run(processes, cameras, {'cam_01': frames['cam_01']}, '/cam_01/keypoints',
                   Keypoints2D, duration_s, rate_hz)
    finally:
        for process, _ in processes:
            stop_process(process)


def pipeline(workdir, params, cameras, frames, duration_s, rate_hz, split):
    """Four cameras to the single node, or to four detector nodes and the fusion node."""
    from skelsplat_ros.msg import HumanPose3DArray
    if split:
        arguments = [['--distributed', '--params-file', str(params), '--start-fusion',
                      'false'],
                     ['--distributed', '--params-file', str(params), '--start-detectors',
                      'false']]
    else:
        arguments = [['--params-file', str(params)]]
    processes = [_start(args, workdir, f"{'split' if split else 'single'}_{index}")
                 for index, args in enumerate(arguments)]
    try:
        return run(processes, cameras, frames, '/human_pose_3d', HumanPose3DArray,
                   duration_s, rate_hz)
    finally:
        for process, _ in processes:
            stop_process(process)


def plot(report, path):
    """Plot the rate and latency of each run as bars."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    runs = {label: report[key] for label, key in (
        ('detector node\n1 camera, 1 core', 'detector_alone'),
        ('single node\n4 cameras', 'single_node'), ('split rig\n4 detect. + fusion', 'split'))
        if report.get(key)}
    gridded = report.get('with_detection_period')
    if gridded:
        period = f"{gridded['detection_period']:g} s"
        runs[f'single node\nperiod {period}'] = gridded['single_node']
        runs[f'split rig\nperiod {period}'] = gridded['split']
    fig, axes = plt.subplots(1, 2, figsize=(16, 4))
    labels = list(runs)
    axes[0].bar(labels, [run['output_rate_hz'] for run in runs.values()], color='#0072B2')
    axes[0].set_ylabel('output rate (Hz)')
    medians = [run['latency_ms']['median'] or 0 for run in runs.values()]
    p95 = [run['latency_ms']['p95'] or 0 for run in runs.values()]
    x = np.arange(len(labels))
    axes[1].bar(x - 0.2, medians, 0.4, label='median', color='#009E73')
    axes[1].bar(x + 0.2, p95, 0.4, label='p95', color='#E69F00')
    axes[1].set_xticks(x, labels)
    axes[1].set_ylabel('latency, stamp to receipt (ms)')
    axes[1].legend()
    fig.suptitle(f'split rig at {report["config"]["rate_hz"]:g} Hz input, loadavg '
                 f'{report["config"]["loadavg_start"][0]:.1f} on {os.cpu_count()} cores')
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None):
    """Run the benchmark and write distributed.json and distributed.png."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--output', default=str(ROOT / 'bench' / 'results'))
    parser.add_argument('--duration', type=float, default=20.0)
    parser.add_argument('--rate', type=float, default=30.0)
    parser.add_argument('--skip-pipeline', action='store_true')
    parser.add_argument('--detection-period', type=float, default=0.0,
                        help='also run the pipeline pair with this detection_period, seconds')
    args = parser.parse_args(argv)
    data_root = default_data_root()
    workdir = pathlib.Path(tempfile.mkdtemp(prefix='skelsplat_distributed_'))
    params = _params(workdir, data_root)
    loadavg_start = os.getloadavg()
    cameras, frames = _load(data_root, CAMERAS if not args.skip_pipeline else CAMERAS[:1])
    report = {'config': {'rate_hz': args.rate, 'duration_s': args.duration,
                         'warmup_s': WARMUP_S, 'cpus': os.cpu_count(),
                         'loadavg_start': [round(v, 2) for v in loadavg_start],
                         'note': 'taken on a shared machine under the load that loadavg '
                                 'records'}}
    log('detector node alone, one 1080 x 1920 camera, one core')
    report['detector_alone'] = detector_alone(workdir, params, cameras, frames, args.duration,
                                              args.rate)
    if not args.skip_pipeline:
        log('single node, four cameras')
        report['single_node'] = pipeline(workdir, params, cameras, frames, args.duration,
                                         args.rate, split=False)
        log('split rig: four detector nodes and the fusion node')
        report['split'] = pipeline(workdir, params, cameras, frames, args.duration,
                                   args.rate, split=True)
        if args.detection_period > 0:
            gridded = _params(workdir, data_root, args.detection_period)
            log(f'both again with detection_period {args.detection_period:g} s')
            report['with_detection_period'] = {
                'detection_period': args.detection_period,
                'single_node': pipeline(workdir, gridded, cameras, frames, args.duration,
                                        args.rate, split=False),
                'split': pipeline(workdir, gridded, cameras, frames, args.duration,
                                  args.rate, split=True)}
    report['config']['loadavg_end'] = [round(v, 2) for v in os.getloadavg()]
    write_report(report, args.output, 'distributed', plot)
    return 0


if __name__ == '__main__':
    sys.exit(main())
