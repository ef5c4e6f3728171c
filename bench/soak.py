# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Load and soak benchmark of the live node: 4 cameras of 1080p frames at 30 Hz, on loopback.

    python bench/soak.py [--duration 60] [--rate 30] [--output bench/results]

The node runs in a subprocess (``python -m skelsplat_ros.ros.runner``, MediaPipe detector,
CameraInfo intrinsics, calibration-file extrinsics) exactly as deployed.  This process plays
four cameras: frames of the pose2sim demo videos (1080 x 1920 portrait ``bgr8``, as the
videos are; decoded and turned into messages once, before the clock starts) published with
``sensor_data`` QoS, stamped with the time of publication, plus their CameraInfo at 1 Hz.
It records every ``/human_pose_3d`` (receipt time), the node's ``/diagnostics``, and the node
process's CPU time and resident memory from ``/proc``.

Reports (``soak.json``, also printed, and ``soak.png``): output rate, groups published and
dropped, end-to-end latency (camera stamp to receipt of ``/human_pose_3d``) p50/p95/p99/max,
CPU of the node (100 % = one core), resident memory over time, and the requirements:

- ``node_stays_up``: the node process is alive at the end and exits cleanly on SIGINT;
- ``memory_flat``: resident memory grows by less than 50 MB after the warm-up: the median of
  the last third of the samples until the end of the run against that of the first third (a
  steady leak fails once it reaches 75 MB over the window);
- ``latency_bounded``: the node drops, never queues.  With a one-slot, newest-wins hand-over
  a group reaches the worker after the fusion before its own output started, so output i
  (received at ``t_i``) is at most ``t_i - t_(i-2) + max_wait + 0.5 s`` old (0.5 s for
  transport).  Every output after the warm-up must meet its bound; a node that queued
  would fall further behind with every group and break it;
- ``output_stamps_monotonic``: output stamps strictly increase.

The warm-up (excluded from the steady-state statistics) lasts ``--warmup`` seconds and at
least until the third output (first detections allocate MediaPipe's tracking state).

The DDS settings are those of a default ROS 2 install; set ROS_DOMAIN_ID to keep the bench
apart from other ROS traffic (``make bench`` style: ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST).
"""

import argparse
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import threading
import time

os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
os.environ.setdefault('ROS_DOMAIN_ID', '64')

import cv2  # noqa: E402
import numpy as np  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
CAMERAS = ('cam_01', 'cam_02', 'cam_03', 'cam_04')
CALIBRATION = 'pose2sim-0.4.15/Pose2Sim/Demo/calibration/Calib_qualisys.toml'
VIDEOS = 'pose2sim-0.10.49/Pose2Sim/Demo_SinglePerson/videos'
MAX_WAIT_S = 0.1
MEMORY_LIMIT_MB = 50.0
SAMPLE_PERIOD_S = 0.5


def _data_root():
    default = pathlib.Path.home() / '.cache' / 'skelsplat_ros' / 'data'
    return pathlib.Path(os.environ.get('SKELSPLAT_DATA', default))


def _load_frames(data_root, count):
    """Return {camera: [(H, W, 3) uint8 BGR, ...]} of the first ``count`` video frames."""
    frames = {}
    for v, name in enumerate(CAMERAS, start=1):
        capture = cv2.VideoCapture(str(data_root / VIDEOS / f'cam0{v}.mp4'))
        frames[name] = []
        for _ in range(count):
            ok, frame = capture.read()
            if not ok:
                break
            frames[name].append(frame)
        capture.release()
        if not frames[name]:
            raise RuntimeError(f'cannot read {data_root / VIDEOS}/cam0{v}.mp4')
    return frames


class Spinner:
    """Spin an executor on a background thread until :meth:`stop` (the benches' subscribers)."""

    def __init__(self, executor):
        self._running = threading.Event()
        self._running.set()
        self._thread = threading.Thread(target=self._spin, args=(executor,), daemon=True)
        self._thread.start()

    def _spin(self, executor):
        while self._running.is_set():
            executor.spin_once(timeout_sec=0.05)

    def stop(self):
        """Stop spinning and wait for the thread."""
        self._running.clear()
        self._thread.join()


class Pacer:
    """Ticks of a camera sending at ``rate_hz`` from ``start`` (monotonic s) for ``duration_s``.

    Iterating sleeps until each tick's time and yields its index.  A tick more than a period
    late is skipped with every tick it missed, counted in :attr:`missed`: a camera does not
    catch up, the frames it missed are lost.
    """

    def __init__(self, start: float, rate_hz: float, duration_s: float):
        self.start, self.period, self.duration_s = start, 1.0 / rate_hz, duration_s
        self.missed = 0

    def __iter__(self):
        tick = 0
        while tick * self.period < self.duration_s:
            target = self.start + tick * self.period
            now = time.monotonic()
            if target > now:
                time.sleep(target - now)
            elif now - target > self.period:
                skipped = int((now - target) / self.period)
                self.missed += skipped
                tick += skipped
                continue
            yield tick
            tick += 1


class ProcessMonitor:
    """Samples a process's CPU time and resident memory from /proc every SAMPLE_PERIOD_S."""

    def __init__(self, pid, start):
        self.pid, self.start = pid, start
        self.samples = []  # (seconds since start, cpu seconds, rss MB)
        self._page = os.sysconf('SC_PAGE_SIZE')
        self._tick = os.sysconf('SC_CLK_TCK')
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _read(self):
        with open(f'/proc/{self.pid}/stat') as stream:
            fields = stream.read().rsplit(')', 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / self._tick  # utime + stime
        with open(f'/proc/{self.pid}/statm') as stream:
            rss = int(stream.read().split()[1]) * self._page / 2**20
        return cpu, rss

    def _run(self):
        while not self._stop.is_set():
            try:
                cpu, rss = self._read()
            except (OSError, IndexError, ValueError):
                return  # the process is gone
            self.samples.append((time.monotonic() - self.start, cpu, rss))
            self._stop.wait(SAMPLE_PERIOD_S)

    def stop(self):
        self._stop.set()
        self._thread.join()


def stop_process(process, timeout_s=30.0):
    """Interrupt ``process`` as Ctrl-C would, kill it past ``timeout_s``; return its exit code."""
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def _start_node(workdir, log):
    params = ROOT / 'config' / 'multiview.yaml'
    calibration = _data_root() / CALIBRATION
    command = [sys.executable, '-m', 'skelsplat_ros.ros.runner', '--params-file', str(params),
               '-p', f'calibration_file:={calibration}', '-p', 'detector:=mediapipe',
               '-p', 'device:=cpu', '-p', f'max_wait:={MAX_WAIT_S}', '-p', 'slop:=0.005',
               '-p', 'diagnostics_period:=1.0']
    # Not from the source tree: there `skelsplat_ros` would shadow the install space.
    return subprocess.Popen(command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)


def run_soak(duration_s=60.0, rate_hz=30.0, output_dir=None, warmup_s=None, distinct_frames=8,
             progress=print):
    """Run the benchmark; return the report (a dict) and write soak.json and soak.png.

    Args:
        duration_s: seconds of publishing.
        rate_hz: frames per second per camera.
        output_dir: where to write the report, or None for none.
        warmup_s: seconds excluded from the steady-state statistics (default: a third of
            the duration, at most 15 s: model loading, first allocations).
        distinct_frames: video frames per camera cycled through.
        progress: called with progress lines.
    """
    from builtin_interfaces.msg import Time
    from diagnostic_msgs.msg import DiagnosticArray
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data, QoSProfile, QoSReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image
    from skelsplat_ros.cameras import load_calibration, make_camera
    from skelsplat_ros.imaging import bgr_to_image_fields
    from skelsplat_ros.msg import HumanPose3DArray
    from skelsplat_ros.ros.conversions import camera_info_msg

    warmup_s = min(duration_s / 3, 15.0) if warmup_s is None else warmup_s
    frames = _load_frames(_data_root(), distinct_frames)
    cameras = {}
    for camera in load_calibration(_data_root() / CALIBRATION):
        height, width = frames[camera.name][0].shape[:2]
        cameras[camera.name] = make_camera(camera.name, camera.K, camera.dist,
                                           camera.distortion_model, width, height,
                                           camera.R, camera.t)
    messages = {}
    for name in CAMERAS:
        messages[name] = []
        for bgr in frames[name]:
            encoding, width, height, step, data = bgr_to_image_fields(bgr, 'bgr8')
            msg = Image(encoding=encoding, width=width, height=height, step=step, data=data)
            msg.header.frame_id = f'{name}_optical_frame'
            messages[name].append(msg)
    size = messages[CAMERAS[0]][0]
    progress(f'{len(CAMERAS)} cameras x {size.width}x{size.height} bgr8 '
             f'({len(size.data) / 2**20:.1f} MB a frame) at {rate_hz} Hz for {duration_s} s')

    workdir = tempfile.mkdtemp(prefix='skelsplat_soak_')
    log_path = pathlib.Path(workdir) / 'node.log'
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node('skelsplat_soak', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    reliable = QoSProfile(depth=50, reliability=QoSReliabilityPolicy.RELIABLE)
    image_pubs = {n: node.create_publisher(Image, f'/{n}/image_raw', qos_profile_sensor_data)
                  for n in CAMERAS}
    info_pubs = {n: node.create_publisher(CameraInfo, f'/{n}/camera_info', reliable)
                 for n in CAMERAS}
    lock = threading.Lock()
    outputs = []      # (receipt monotonic s, receipt wall ns, stamp ns, people)
    diagnostics = []  # (receipt monotonic s, {key: value} of the fusion status)

    def on_pose(msg):
        now_ns = time.time_ns()
        stamp = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
        with lock:
            outputs.append((time.monotonic(), now_ns, stamp, len(msg.people)))

    def on_diagnostics(msg):
        for status in msg.status:
            if status.name.endswith('fusion'):
                with lock:
                    diagnostics.append((time.monotonic(),
                                        {kv.key: kv.value for kv in status.values}))

    node.create_subscription(HumanPose3DArray, '/human_pose_3d', on_pose, reliable)
    node.create_subscription(DiagnosticArray, '/diagnostics', on_diagnostics, reliable)

    with open(log_path, 'w') as log:
        process = _start_node(workdir, log)
    spinner = Spinner(executor)

    def publish_info():
        for name in CAMERAS:
            info_pubs[name].publish(camera_info_msg(cameras[name], Time(),
                                                    f'{name}_optical_frame'))

    # Wait until the node subscribes to every camera and reports them calibrated.
    deadline = time.monotonic() + 120.0
    while time.monotonic() < deadline and process.poll() is None:
        if all(pub.get_subscription_count() for pub in image_pubs.values()):
            publish_info()
            with lock:
                ready = bool(diagnostics)
            if ready:
                break
        time.sleep(0.5)
    if process.poll() is not None:
        raise RuntimeError(f'the node exited early: {log_path.read_text()[-2000:]}')

    start = time.monotonic()
    monitor = ProcessMonitor(process.pid, start)
    pacer = Pacer(start, rate_hz, duration_s)
    published = []  # (monotonic s since start, stamp ns)
    next_info = start
    for tick in pacer:
        stamp_ns = time.time_ns()
        stamp = Time(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9)
        for name in CAMERAS:
            msg = messages[name][tick % len(messages[name])]
            msg.header.stamp = stamp
            image_pubs[name].publish(msg)
        published.append((time.monotonic() - start, stamp_ns))
        if time.monotonic() >= next_info:
            publish_info()
            next_info += 1.0
    time.sleep(2.0)  # let the last groups through
    alive = process.poll() is None
    monitor.stop()
    exit_code = stop_process(process)
    spinner.stop()
    executor.shutdown()
    node.destroy_node()
    rclpy.shutdown(context=context)

    report = _report(duration_s, rate_hz, warmup_s, start, published, pacer.missed, outputs,
                     diagnostics, monitor.samples, alive, exit_code, size)
    report['node_log_tail'] = log_path.read_text()[-1500:].splitlines()[-8:]
    if output_dir is not None:
        output_dir = pathlib.Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / 'soak.json').write_text(json.dumps(report, indent=2) + '\n')
        _plot(report, output_dir / 'soak.png')
    return report


def _report(duration_s, rate_hz, warmup_s, start, published, missed_ticks, outputs,
            diagnostics, samples, alive, exit_code, size):
    """Build the report dict from the raw records."""
    out_time = np.array([t - start for t, _, _, _ in outputs])
    latency = np.array([(wall - stamp) * 1e-9 for _, wall, stamp, _ in outputs])
    stamps = np.array([stamp for _, _, stamp, _ in outputs], dtype=np.int64)
    people = np.array([p for _, _, _, p in outputs])
    if len(out_time) >= 3:
        warmup_s = max(warmup_s, float(out_time[2]))
    steady = (out_time >= warmup_s) & (out_time <= duration_s + 2.0)
    steady_s = max(duration_s - warmup_s, 1e-9)
    last_diag = diagnostics[-1][1] if diagnostics else {}
    sample = np.array(samples) if samples else np.zeros((0, 3))
    after = sample[(sample[:, 0] >= warmup_s) & (sample[:, 0] <= duration_s)] \
        if len(sample) else sample
    # Medians of the first and last third: resident memory swings by tens of MB from one
    # sample to the next (frames in flight), and a single sample at each end let one swing
    # read as growth.  A steady leak shows as two thirds of its growth over the window.
    third = max(1, len(after) // 3)
    growth = float(np.median(after[-third:, 2]) - np.median(after[:third, 2])) \
        if len(after) else None
    cpu = float(100 * (sample[-1, 1] - sample[0, 1]) / max(sample[-1, 0] - sample[0, 0], 1e-9)) \
        if len(sample) > 1 else None
    # Per output: t_i - t_(i-2) + max_wait + transport (see the module docstring).
    bounds = np.full(len(out_time), np.inf)
    bounds[2:] = out_time[2:] - out_time[:-2] + MAX_WAIT_S + 0.5
    lat = latency[steady]
    within = bool(lat.size) and bool((lat <= bounds[steady]).all())
    bound = float(bounds[steady].max()) if lat.size else None
    percentiles = dict(zip(('p50', 'p95', 'p99'), np.percentile(lat, [50, 95, 99]).tolist())) \
        if lat.size else {}
    sent_steady = sum(1 for t, _ in published if t >= warmup_s)
    report = {
        'setup': {'cameras': len(CAMERAS), 'image': f'{size.width}x{size.height} bgr8',
                  'frame_mb': round(len(size.data) / 2**20, 2), 'rate_hz': rate_hz,
                  'duration_s': duration_s, 'warmup_s': round(warmup_s, 2),
                  'detector': 'mediapipe',
                  'device': 'cpu', 'max_wait_s': MAX_WAIT_S, 'cpu_cores': os.cpu_count()},
        'input': {'groups_published': len(published), 'publisher_missed_ticks': missed_ticks,
                  'publish_rate_hz': round(len(published) / duration_s, 2)},
        'output': {
            'messages': len(outputs),
            'rate_hz_steady': round(float(steady.sum()) / steady_s, 2),
            'with_person_fraction': round(float((people > 0).mean()), 3) if len(people) else 0,
            'groups_dropped': len(published) - len(outputs),
            'groups_dropped_steady': sent_steady - int(steady.sum()),
            'node_counters': {k: last_diag.get(k) for k in (
                'groups_emitted', 'groups_fused', 'groups_dropped_busy',
                'groups_dropped_incomplete', 'frames_dropped_stale', 'fusion_errors')},
        },
        'latency_s': {**{k: round(v, 4) for k, v in percentiles.items()},
                      'max': round(float(lat.max()), 4) if lat.size else None,
                      'largest_bound': None if bound is None else round(bound, 3),
                      'outputs_over_bound': int((lat > bounds[steady]).sum())},
        'node_process': {
            'cpu_percent_mean': round(cpu, 1) if cpu is not None else None,
            'rss_mb_start': round(float(after[0, 2]), 1) if len(after) else None,
            'rss_mb_end': round(float(after[-1, 2]), 1) if len(after) else None,
            'rss_mb_max': round(float(sample[:, 2].max()), 1) if len(sample) else None,
            'rss_growth_after_warmup_mb': round(growth, 1) if growth is not None else None,
        },
        'requirements': {
            'node_stays_up': bool(alive and exit_code == 0),
            'memory_flat': growth is not None and growth < MEMORY_LIMIT_MB,
            'latency_bounded': within,
            'output_stamps_monotonic': bool((np.diff(stamps) > 0).all()),
            'outputs_after_warmup': int(steady.sum()) > 0,
        },
        'series': {
            'output_time_s': np.round(out_time, 3).tolist(),
            'latency_s': np.round(latency, 4).tolist(),
            'latency_bound_s': np.round(np.minimum(bounds, 1e6), 4).tolist(),
            'sample_time_s': np.round(sample[:, 0], 2).tolist(),
            'cpu_s': np.round(sample[:, 1], 2).tolist(),
            'rss_mb': np.round(sample[:, 2], 1).tolist(),
        },
    }
    return report


def _plot(report, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    series = report['series']
    out_time = np.asarray(series['output_time_s'])
    duration = report['setup']['duration_s']
    warmup = report['setup']['warmup_s']
    figure, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    bins = np.arange(0, np.ceil(duration) + 3)
    counts, _ = np.histogram(out_time, bins)
    axes[0].step(bins[:-1], counts, where='post')
    axes[0].axhline(report['setup']['rate_hz'], color='grey', ls=':', label='input rate')
    axes[0].set_ylabel('outputs / s')
    axes[0].legend(loc='upper right')
    axes[1].plot(out_time, series['latency_s'], '.', ms=3, label='latency')
    bound = np.asarray(series['latency_bound_s'])
    axes[1].plot(out_time[2:], bound[2:], color='red', lw=0.7, ls='--',
                 label='bound (drops, never queues)')
    axes[1].set_ylim(0, max(series['latency_s'] + [1.0]) * 1.2)
    axes[1].set_ylabel('latency (s)')
    axes[1].legend(loc='upper right')
    sample_time = np.asarray(series['sample_time_s'])
    axes[2].plot(sample_time, series['rss_mb'], color='C2')
    axes[2].set_ylabel('node RSS (MB)', color='C2')
    cpu = np.asarray(series['cpu_s'])
    if len(cpu) > 1:
        twin = axes[2].twinx()
        twin.plot(sample_time[1:], 100 * np.diff(cpu) / np.diff(sample_time), color='C3',
                  lw=0.8)
        twin.set_ylabel('node CPU (%)', color='C3')
    for axis in axes:
        axis.axvspan(0, warmup, color='0.9', zorder=0)
    axes[2].set_xlabel('time since the first frame (s); grey: warm-up')
    latency = report['latency_s']
    figure.suptitle(f'skelsplat_node soak: 4 x {report["setup"]["image"]} at '
                    f'{report["setup"]["rate_hz"]:g} Hz, {report["output"]["rate_hz_steady"]} '
                    f'Hz out, latency p50 {latency.get("p50")} s, p99 {latency.get("p99")} s')
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main(argv=None):
    """Run the benchmark from the command line; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--duration', type=float, default=60.0, help='seconds of publishing')
    parser.add_argument('--rate', type=float, default=30.0, help='frames per second per camera')
    parser.add_argument('--warmup', type=float, default=None,
                        help='seconds excluded from steady-state statistics')
    parser.add_argument('--output', default=str(ROOT / 'bench' / 'results'),
                        help='directory for soak.json and soak.png')
    args = parser.parse_args(argv)
    report = run_soak(args.duration, args.rate, args.output, args.warmup,
                      progress=lambda line: print(line, file=sys.stderr))
    summary = {key: value for key, value in report.items() if key != 'series'}
    print(json.dumps(summary, indent=2))
    return 0 if all(report['requirements'].values()) else 1


if __name__ == '__main__':
    sys.exit(main())
