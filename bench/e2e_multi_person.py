# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""End to end with several people: 4 cameras of 1080p, the node's worker path, on the CPU.

    python bench/e2e_multi_person.py --output bench/results [--groups 60]

Drives :class:`skelsplat_ros.live.FusionEngine` as the node's worker thread does (as
``bench/speed.py --end-to-end``: ``fuse_group`` with the node's ``sensor_msgs/Image`` -> BGR
conversion, one detection thread per camera, the fast solver, the output messages built but
not sent) on the first groups of pose2sim 0.10.49's ``Demo_MultiPerson`` videos (1080 x 1920,
the participant, a second person and a bystander), in two modes that take turns group by
group, so that other load on the machine weighs on both alike:

- ``single_person_before``: the default before several people were (``multi_person`` off,
  MediaPipe finding one person per image: one solver fits the person the cameras agree on);
- ``several_people_default``: today's default (``multi_person`` on, MediaPipe's
  ``PoseLandmarker`` finding up to ``detector_num_poses`` people: every person tracked).

Per mode: groups per second (one group after the other, as fast as it fuses: the rate a live
node reaches when frames come faster), median and p95 latency of a group, people per group,
and where the time goes (conversion and detection, summed over the views and as wall time
with the views in parallel; fusion: association, triangulation, fits; message building).
The machine's load average is recorded: timings taken while other processes run are
distorted.  Writes ``e2e_multi_person.json`` (also printed) and ``e2e_multi_person.png``.
"""

import argparse
import os
import pathlib
import platform
import sys
import time

import numpy as np
from report import default_data_root, log, source_sha1, write_report
from skelsplat_ros import live
from skelsplat_ros.cameras import load_calibration, make_camera
from skelsplat_ros.solver import SolverConfig

CALIBRATION = 'pose2sim-0.4.15/Pose2Sim/Demo/calibration/Calib_qualisys.toml'
VIDEOS = 'pose2sim-0.10.49/Pose2Sim/Demo_MultiPerson/videos'
CAMERA_NAMES = ('cam_01', 'cam_02', 'cam_03', 'cam_04')
# Mode -> (multi_person, MediaPipe options): the node's defaults before and now.
MODES = {'single_person_before': (False, {'num_poses': 1}),
         'several_people_default': (True, {})}
TARGET_HZ = 12.0


def build_parser():
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--output', default='bench/results', help='output directory')
    parser.add_argument('--groups', type=int, default=60, help='frame groups (at most 100)')
    parser.add_argument('--data-root', type=pathlib.Path, default=None,
                        help='the real data (default $SKELSPLAT_DATA or ~/.cache/...)')
    parser.add_argument('--no-plot', action='store_true', help='skip the PNG')
    return parser


def load(data_root, count):
    """Return the cameras at the videos' sizes and ``count`` groups {camera: BGR image}."""
    import cv2

    calibrated = load_calibration(data_root / CALIBRATION)
    captures = [cv2.VideoCapture(str(data_root / VIDEOS / f'cam0{v}.mp4')) for v in range(1, 5)]
    groups = []
    for _ in range(count):
        frames = [capture.read()[1] for capture in captures]
        if any(frame is None for frame in frames):
            break
        groups.append(dict(zip(CAMERA_NAMES, frames)))
    for capture in captures:
        capture.release()
    # cam01/02 are encoded 1080 px wide for a 1088 px calibration: the same K, the real size.
    cameras = [make_camera(camera.name, camera.K, camera.dist, camera.distortion_model,
                           groups[0][name].shape[1], groups[0][name].shape[0], camera.R,
                           camera.t) for camera, name in zip(calibrated, CAMERA_NAMES)]
    return cameras, groups


class _Mode:
    """One configuration's engine and what its groups cost (seconds)."""

    def __init__(self, name, multi_person, options, cameras):
        self.name = name
        self.engine = live.FusionEngine(
            CAMERA_NAMES, detector='mediapipe', detector_options=options, device='cpu',
            notify=lambda line: None,
            solver_config=SolverConfig(objective='analytic', device='cpu'),
            multi_person=multi_person)
        for name_, camera in zip(CAMERA_NAMES, cameras):
            self.engine.set_camera(name_, camera)
        self.engine.prepare()
        self.samples = {key: [] for key in ('latency', 'conversion', 'detection', 'views_wall',
                                            'fusion', 'messages', 'people')}


def run(cameras, groups):
    """Fuse every group in both modes, taking turns; return the modes."""
    import builtin_interfaces.msg
    from sensor_msgs.msg import Image
    from skelsplat_ros.ros import conversions

    def image_msg(bgr):
        msg = Image(height=bgr.shape[0], width=bgr.shape[1], encoding='bgr8',
                    step=3 * bgr.shape[1])
        msg.data = bgr.tobytes()
        return msg

    modes = [_Mode(name, multi, options, cameras) for name, (multi, options) in MODES.items()]
    for g, group in enumerate(groups):
        messages = {name: image_msg(frame) for name, frame in group.items()}
        for k in range(len(modes)):
            mode = modes[(g + k) % len(modes)]
            spans = []

            def to_keypoints(name, msg, mode=mode, spans=spans):
                start = time.perf_counter()
                bgr = conversions.image_msg_to_bgr(msg)
                middle = time.perf_counter()
                found = mode.engine.detect(name, bgr)
                end = time.perf_counter()
                mode.samples['conversion'].append(middle - start)
                mode.samples['detection'].append(end - middle)
                spans.append((start, end))
                return found

            start = time.perf_counter()
            result = live.fuse_group(mode.engine, messages, to_keypoints, stamp=g / 60.0)
            fused = time.perf_counter()
            stamp = builtin_interfaces.msg.Time(sec=g)
            conversions.pose_array_msg(result.people, stamp, 'world')
            for person in result.people:
                conversions.person_markers(person, stamp, 'world', 0.2, True)
                conversions.person_transforms(person, stamp, 'world')
            conversions.points_msg(result.people, stamp, 'world')
            end = time.perf_counter()
            views_end = max(stop for _, stop in spans) if spans else start
            samples = mode.samples
            samples['latency'].append(end - start)
            samples['views_wall'].append(views_end - start)
            samples['fusion'].append(fused - views_end)
            samples['messages'].append(end - fused)
            samples['people'].append(len(result.people))
        if (g + 1) % 10 == 0:
            log(f'  {g + 1}/{len(groups)} groups')
    for mode in modes:
        mode.engine.close()
    return modes


def _ms(values):
    ms = 1000.0 * np.asarray(values, dtype=float)
    return {'median_ms': round(float(np.median(ms)), 1),
            'p95_ms': round(float(np.percentile(ms, 95)), 1),
            'mean_ms': round(float(ms.mean()), 1)}


def summarize(mode, skip=3):
    """Rate, latency, people and the stage profile of one mode, after its first groups."""
    samples = {key: np.asarray(values, dtype=float) for key, values in mode.samples.items()}
    views = len(CAMERA_NAMES)
    latency = samples['latency'][skip:]
    people = samples['people'][skip:]
    return {
        'groups_per_s': round(float(1.0 / latency.mean()), 2),
        'latency': _ms(latency),
        'people_per_group': {str(int(n)): int((people == n).sum()) for n in np.unique(people)},
        'profile_ms_per_group': {
            'conversion_sum_over_views':
                round(1000.0 * samples['conversion'][skip * views:].sum()
                      / max(len(latency), 1), 1),
            'detection_sum_over_views':
                round(1000.0 * samples['detection'][skip * views:].sum()
                      / max(len(latency), 1), 1),
            'conversion_and_detection_wall': _ms(samples['views_wall'][skip:])['mean_ms'],
            'fusion': _ms(samples['fusion'][skip:])['mean_ms'],
            'message_building': _ms(samples['messages'][skip:])['mean_ms'],
        },
    }


def plot(report, path):
    """Stacked bars: where each mode's time per group goes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 3.6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    names = list(report['modes'])
    parts = [('conversion_and_detection_wall', 'conversion + detection (views in parallel)'),
             ('fusion', 'fusion (association, fits)'), ('message_building', 'messages')]
    left = np.zeros(len(names))
    for key, label in parts:
        values = np.array([report['modes'][n]['profile_ms_per_group'][key] for n in names])
        axes.barh(names, values, left=left, label=label)
        left += values
    for row, name in enumerate(names):
        entry = report['modes'][name]
        axes.text(left[row] + 2, row, f"{entry['groups_per_s']:.1f} groups/s, median "
                  f"{entry['latency']['median_ms']:.0f} ms", va='center', fontsize=8)
    axes.set_xlim(0, left.max() * 1.6)
    axes.set_xlabel('ms per group (mean)')
    axes.set_title(f"Demo_MultiPerson, 4 x 1080p, {report['machine']['cpus']} CPUs, load "
                   f"{report['machine']['loadavg_start'][0]:.1f} at start", fontsize=9)
    axes.legend(fontsize=7, loc='lower right')
    figure.tight_layout()
    figure.savefig(path)


def main(argv=None):
    """Run the benchmark; return the exit status."""
    args = build_parser().parse_args(argv)
    data_root = args.data_root or default_data_root()
    if not (data_root / VIDEOS).is_dir():
        log(f'{data_root / VIDEOS}: missing; run scripts/setup.sh')
        return 1
    cameras, groups = load(data_root, args.groups)
    loadavg_start = os.getloadavg()
    log(f'e2e_multi_person: {len(groups)} groups of 4 x {groups[0]["cam_01"].shape[:2]}, '
        f'load average {loadavg_start[0]:.1f}')
    modes = run(cameras, groups)
    report = {
        'benchmark': 'e2e_multi_person',
        'source_sha1': source_sha1(sys.modules[__name__]),
        'groups': len(groups),
        'image_size': list(groups[0]['cam_01'].shape[:2]),
        'machine': {'cpus': os.cpu_count(), 'platform': platform.platform(),
                    'loadavg_start': [round(v, 2) for v in loadavg_start],
                    'loadavg_end': [round(v, 2) for v in os.getloadavg()]},
        'caveat': 'wall-clock timings on a shared machine: the load average says how much '
                  'else ran; the modes take turns group by group to share that load',
        'target_groups_per_s': TARGET_HZ,
        'modes': {mode.name: summarize(mode) for mode in modes},
    }
    write_report(report, args.output, 'e2e_multi_person', None if args.no_plot else plot)
    return 0


if __name__ == '__main__':
    sys.exit(main())
