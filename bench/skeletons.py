# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What the extra joints of larger skeletons cost in time, and how accurate they are.

    python bench/skeletons.py --output bench/results [--frames N] [--video-frames N]

Two parts, each solving the same detections in COCO-17 and in a larger skeleton:

- ``openpose``: pose2sim 0.4.15's real OpenPose BODY_25B 2D (4 views) solved as ``coco17`` and
  as ``halpe26`` (which adds BODY_25B's neck, head top, heels, big and small toes), with the
  analytic and the rendered objective, scored against the demo's .trc per joint group: the 13
  COCO joints the .trc marks (``body``), the six foot points (``feet``) and the neck and head
  top (``head_neck``).  HALPE's pelvis point has no BODY_25B keypoint and stays unknown.
- ``mediapipe``: MediaPipe Pose (legacy API, tracking mode, as ``skelsplat videos`` runs it) on
  pose2sim 0.10.49's four videos of the same trial, solved as ``coco17`` and ``blazepose33``
  (analytic).  The detection is the same for both (one model; COCO-17 is a subset of its 33
  landmarks), so it is timed once.  The hands (pinky, index, thumb) have no 3D reference: for
  them the report gives how often they are located and their reprojection error, in pixels,
  against MediaPipe's confident (visibility >= 0.5) detections, next to the body's.

Solver times are wall-clock per frame on this machine after one untimed warm-up solve, each
frame's the fastest of ``--repeats`` passes over the trial, since other load on the machine
inflates them (``load_average``); the detection is timed in one pass.  Writes
``skeletons.json`` (also printed on stdout) and ``skeletons.png`` into the output directory;
progress goes to stderr.
"""

import argparse
import os
import pathlib
import platform
import sys
import time

import cv2
import metrics
import numpy as np
import protocols
from report import default_data_root, log, write_report
from skelsplat_ros.cameras import load_calibration
from skelsplat_ros.cli import load_keypoint_frames
from skelsplat_ros.detect import create_detector
from skelsplat_ros.fileio.trc import read_trc
from skelsplat_ros.skeletons import BLAZEPOSE33, BLAZEPOSE33_JOINTS, COCO17, HALPE26
from skelsplat_ros.skeletons import trc_correspondence
from skelsplat_ros.solver import SkelSplatSolver, SolverConfig
import torch

VIDEOS = 'pose2sim-0.10.49/Pose2Sim/Demo_SinglePerson/videos'
OBJECTIVES = ('analytic', 'rendered')
HAND_POINTS = ('pinky', 'index', 'thumb')
# A detection this confident counts as a place the hand was seen (MediaPipe visibility).
SEEN_VISIBILITY = 0.5
# A seen detection this close (px) to the reprojected 3D joint agrees with the other views.
AGREE_PX = 25.0


def joint_group(name):
    """Return the group a joint is reported in: body (COCO-17), feet, head_neck, hands, other."""
    if name.endswith(('_heel', '_toe', '_foot_index')):
        return 'feet'
    if name in ('neck', 'head'):
        return 'head_neck'
    if name.endswith(HAND_POINTS):
        return 'hands'
    return 'body' if name in COCO17.joint_names else 'other'


def load_truth(trc_path, skeleton, num_frames):
    """Return the .trc markers in ``skeleton``'s layout: world (F, J, 3) m, NaN if unmarked."""
    names, markers, _ = read_trc(trc_path)
    marker_index, joint_index = trc_correspondence(names, skeleton)
    truth = np.full((len(markers), skeleton.num_joints, 3), np.nan)
    truth[:, joint_index] = markers[:, marker_index][..., [2, 0, 1]]   # OpenSim Y-up -> Z-up
    return truth[:num_frames]


def solve(cameras, frames, skeleton, objective, repeats):
    """Solve ``frames`` causally ``repeats`` times; returns positions (F, J, 3) and ms (F,).

    Each frame's time is the fastest of the passes: other load on the machine only adds time.
    """
    config = SolverConfig(device='cpu', objective=objective, frame_rate=protocols.RATE_HZ)
    SkelSplatSolver(cameras, config, skeleton=skeleton).solve(frames[0])   # warm-up
    positions = np.full((len(frames), skeleton.num_joints, 3), np.nan)
    times = np.full((repeats, len(frames)), np.inf)
    for attempt in range(repeats):
        solver = SkelSplatSolver(cameras, config, skeleton=skeleton)
        for index, frame in enumerate(frames):
            start = time.perf_counter()
            estimate = solver.solve(frame)
            times[attempt, index] = 1000 * (time.perf_counter() - start)
            if estimate is not None:
                positions[index] = estimate.positions
    return positions, times.min(axis=0)


def time_summary(milliseconds):
    """Median, 95th percentile and mean of per-frame milliseconds."""
    return {'median_ms': float(np.median(milliseconds)),
            'p95_ms': float(np.percentile(milliseconds, 95)),
            'mean_ms': float(np.mean(milliseconds))}


def accuracy_by_group(positions, truth, skeleton):
    """:func:`metrics.mpjpe_summary` of each joint group the truth marks."""
    groups = {}
    for j, name in enumerate(skeleton.joint_names):
        if np.isfinite(truth[:, j]).all(axis=-1).any():
            groups.setdefault(joint_group(name), []).append(j)
    return {group: metrics.mpjpe_summary(positions[:, joints], truth[:, joints],
                                         [skeleton.joint_names[j] for j in joints])
            for group, joints in groups.items()}


def section_openpose(data_root, num_frames, repeats):
    """COCO-17 and HALPE-26 from the same BODY_25B JSON, both objectives."""
    paths = protocols.demo_paths(data_root)
    cameras = load_calibration(paths['calibration'])
    result = {}
    for skeleton in (COCO17, HALPE26):
        frames = load_keypoint_frames(paths['keypoints'], 'body25b', skeleton)[:num_frames]
        truth = load_truth(paths['trc'], skeleton, len(frames))
        result[skeleton.name] = {}
        for objective in OBJECTIVES:
            log(f'openpose: {skeleton.name}, {objective} objective, {len(frames)} frames')
            positions, times = solve(cameras, frames, skeleton, objective, repeats)
            result[skeleton.name][objective] = {
                **time_summary(times), 'groups': accuracy_by_group(positions, truth, skeleton)}
    for objective in OBJECTIVES:
        result[f'halpe26_over_coco17_{objective}_time'] = (
            result['halpe26'][objective]['median_ms'] / result['coco17'][objective]['median_ms'])
    return result


def detect_videos(data_root, cameras, num_frames):
    """Detect BlazePose-33 with MediaPipe in the first frames of the four videos.

    Returns per frame the 4 views' keypoints (P, 33, 3), and per-frame detection milliseconds
    (the four views together).
    """
    captures = [cv2.VideoCapture(str(data_root / VIDEOS / f'cam0{i}.mp4')) for i in range(1, 5)]
    detectors = [create_detector('mediapipe', skeleton=BLAZEPOSE33) for _ in captures]
    frames, times = [], []
    for index in range(num_frames):
        images = []
        for capture, camera in zip(captures, cameras):
            ok, image = capture.read()
            if not ok:
                break
            # The videos are 1080 px wide for a 1088 px calibration: pad, as `videos` does.
            images.append(cv2.copyMakeBorder(image[:camera.height, :camera.width], 0,
                                             camera.height - min(image.shape[0], camera.height),
                                             0, camera.width - min(image.shape[1], camera.width),
                                             cv2.BORDER_CONSTANT, value=0))
        if len(images) < len(captures):
            break
        start = time.perf_counter()
        frames.append([detector.detect(image) for detector, image in zip(detectors, images)])
        times.append(1000 * (time.perf_counter() - start))
        if (index + 1) % 20 == 0:
            log(f'mediapipe: detected {index + 1}/{num_frames} frame groups')
    for detector, capture in zip(detectors, captures):
        detector.close()
        capture.release()
    return frames, np.array(times)


def reprojection(cameras, positions, frames, joints):
    """How often ``joints`` are seen (2D) and located (3D), and their reprojection error (px).

    ``seen_fraction`` is over every (view, frame, joint) detection; the error is measured where
    the detection is seen and the joint located, with the fraction of those within
    :data:`AGREE_PX` (the rest are detections the other views outvote).
    """
    located = np.isfinite(positions[:, joints]).all(axis=-1)
    errors, seen_count = [], 0
    for view, camera in enumerate(cameras):
        for index, frame in enumerate(frames):
            if not len(frame[view]):
                continue
            detection = frame[view][0, joints]
            seen_count += int((detection[:, 2] >= SEEN_VISIBILITY).sum())
            seen = (detection[:, 2] >= SEEN_VISIBILITY) & located[index]
            if seen.any():
                pixels = camera.project(positions[index, joints][seen])
                errors.extend(np.linalg.norm(pixels - detection[seen, :2], axis=-1))
    errors = np.array(errors)
    return {'located': float(located.mean()),
            'seen_fraction': seen_count / (len(cameras) * len(frames) * len(joints)),
            'reprojection_median_px': float(np.median(errors)) if errors.size else None,
            'reprojection_p95_px': float(np.percentile(errors, 95)) if errors.size else None,
            f'within_{AGREE_PX:g}px': float((errors < AGREE_PX).mean()) if errors.size else None}


def section_mediapipe(data_root, num_frames, repeats):
    """COCO-17 and BlazePose-33 from the same MediaPipe detections."""
    paths = protocols.demo_paths(data_root)
    cameras = load_calibration(paths['calibration'])
    blazepose, detect_ms = detect_videos(data_root, cameras, num_frames)
    log(f'mediapipe: {len(blazepose)} frame groups, {np.median(detect_ms):.0f} ms per group')
    result = {'frames': len(blazepose), 'detection': time_summary(detect_ms)}
    for skeleton in (COCO17, BLAZEPOSE33):
        frames = [[skeleton.from_keypoints(view, BLAZEPOSE33_JOINTS) for view in frame]
                  for frame in blazepose]
        log(f'mediapipe: {skeleton.name}, analytic objective')
        positions, times = solve(cameras, frames, skeleton, 'analytic', repeats)
        truth = load_truth(paths['trc'], skeleton, len(frames))
        names = skeleton.joint_names
        body = [j for j, name in enumerate(names) if joint_group(name) == 'body']
        entry = {'solver': time_summary(times),
                 'detection_plus_solver_median_ms': float(np.median(detect_ms + times)),
                 'groups': accuracy_by_group(positions, truth, skeleton),
                 'body_reprojection': reprojection(cameras, positions, frames, body)}
        hands = [j for j, name in enumerate(names) if joint_group(name) == 'hands']
        if hands:
            entry['hands'] = reprojection(cameras, positions, frames, hands)
            entry['hands_per_joint'] = {names[j]: reprojection(cameras, positions, frames, [j])
                                        for j in hands}
        result[skeleton.name] = entry
    result['blazepose33_over_coco17_solver_time'] = (
        result['blazepose33']['solver']['median_ms'] / result['coco17']['solver']['median_ms'])
    return result


def plot(report, path):
    """Plot the per-joint MPJPE of COCO-17 and HALPE-26, and the time per frame."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    openpose = report['openpose']
    figure, axes = plt.subplots(1, 2, figsize=(16, 5), gridspec_kw={'width_ratios': [3, 1]})
    ax = axes[0]
    joints = {}
    for group in ('body', 'head_neck', 'feet'):
        joints.update(openpose['halpe26']['analytic']['groups'][group]['per_joint_mean_mm'])
    names = list(joints)
    runs = [(skeleton, objective) for skeleton in ('coco17', 'halpe26')
            for objective in OBJECTIVES]
    for k, (skeleton, objective) in enumerate(runs):
        groups = openpose[skeleton][objective]['groups']
        per_joint = {}
        for group in groups.values():
            per_joint.update(group['per_joint_mean_mm'])
        values = [np.nan if per_joint.get(n) is None else per_joint[n] for n in names]
        ax.bar(np.arange(len(names)) + (k - 1.5) * 0.2, values, 0.2,
               label=f'{skeleton}, {objective}')
    ax.set_xticks(np.arange(len(names)), names, rotation=60, ha='right', fontsize=8)
    ax.set_ylabel('mean error vs .trc (mm)')
    ax.set_title(f'pose2sim OpenPose BODY_25B, {report["config"]["frames"]} frames')
    ax.legend(fontsize=8)
    ax = axes[1]
    mediapipe = report['mediapipe']
    labels = [f'{s}\n{o}' for s in ('coco17', 'halpe26') for o in OBJECTIVES]
    times = [openpose[s][o]['median_ms'] for s in ('coco17', 'halpe26') for o in OBJECTIVES]
    labels += ['MediaPipe +\ncoco17', 'MediaPipe +\nblazepose33']
    times += [mediapipe[s]['detection_plus_solver_median_ms'] for s in ('coco17', 'blazepose33')]
    ax.bar(range(len(times)), times, color=['tab:blue'] * 4 + ['tab:orange'] * 2)
    ax.set_xticks(range(len(times)), labels, fontsize=7, rotation=30)
    ax.set_yscale('log')
    ax.set_ylabel('median ms per frame (4 views, CPU)')
    ax.set_title('time per frame')
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def _load():
    return [round(value, 2) for value in os.getloadavg()]


def build_parser():
    """Build the command line of the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--output', default='bench/results', help='directory for the results')
    parser.add_argument('--frames', type=int, default=100,
                        help='OpenPose frames to solve (default 100, the whole trial)')
    parser.add_argument('--video-frames', type=int, default=100,
                        help='video frame groups to detect and solve (default 100)')
    parser.add_argument('--repeats', type=int, default=3,
                        help='solver passes; each frame is timed by its fastest (default 3)')
    parser.add_argument('--data-root', type=pathlib.Path, default=default_data_root(),
                        help='the data directory (default: $SKELSPLAT_DATA or the cache)')
    return parser


def main(argv=None):
    """Run the benchmark; returns the exit status."""
    args = build_parser().parse_args(argv)
    if protocols.load_demo_or_explain('skeletons', args.data_root) is None:
        return 2
    report = {'config': {
        'frames': args.frames, 'video_frames': args.video_frames, 'repeats': args.repeats,
        'device': 'cpu',
        'objectives': list(OBJECTIVES), 'seen_visibility': SEEN_VISIBILITY,
        'machine': {'cpus': os.cpu_count(), 'platform': platform.platform(),
                    'python': platform.python_version(), 'torch': torch.__version__},
        'load_average': {'start': _load()},
    }}
    started = time.perf_counter()
    report['openpose'] = section_openpose(args.data_root, args.frames, args.repeats)
    report['config']['load_average']['after_openpose'] = _load()
    report['mediapipe'] = section_mediapipe(args.data_root, args.video_frames, args.repeats)
    report['config']['load_average']['after_mediapipe'] = _load()
    report['config']['elapsed_s'] = time.perf_counter() - started
    write_report(report, args.output, 'skeletons', plot)
    return 0


if __name__ == '__main__':
    sys.exit(main())
