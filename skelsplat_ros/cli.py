# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The ``skelsplat`` command: offline multi-view 3D poses without ROS.

``skelsplat solve`` fuses per-camera OpenPose JSON keypoints with a calibration, frame by frame
and causally, exactly as the live node would.  ``skelsplat videos`` does the same from
synchronised videos, detecting people with MediaPipe, and draws the result.  Both locate the
joints of ``--skeleton`` (COCO-17 by default; HALPE-26 adds feet, neck and head top,
BlazePose-33 hands and feet): the input keypoints are matched to it by joint name, and the
output files name its joints.  ``skelsplat bag`` runs the node's pipeline over a recorded
rosbag2 MCAP, and ``skelsplat demo`` replays the pose2sim trial through the live node over
DDS; these two need rclpy.  Heavy modules are
imported inside the commands, so ``skelsplat --help`` answers at once.
"""

import argparse
import pathlib
import sys

OUTPUT_SUFFIXES = ('.npz', '.csv', '.trc')
# A video at most this far (fraction of each side) from its calibrated size is taken as the
# same sensor with a few rows or columns cut or added at the right and bottom edges (codec
# macro-block alignment: e.g. 1080 px wide video for a 1088 px calibration).
SIZE_TOLERANCE = 0.02
SMOOTH_HELP = ('offline: after the causal pass, revise every frame with the frames after it '
               '(Rauch-Tung-Striebel smoother); confidence and covariance are the smoothed ones')


class CliError(Exception):
    """A problem with the user's input: printed as one line, exit status 2."""


def _progress(label):
    """Return a callback printing 'label: done/total' to stderr about every 5%."""
    state = {'last': -1}

    def report(done, total):
        percent = 100 * done // max(total, 1)
        if percent // 5 != state['last'] // 5 or done == total:
            state['last'] = percent
            print(f'\r{label}: {done}/{total} frames ({percent}%)', end='', file=sys.stderr,
                  flush=True)
            if done == total:
                print(file=sys.stderr)
    return report


def load_keypoint_frames(directories, keypoint_format, skeleton=None):
    """Read OpenPose JSON directories (one per camera) into frames.

    The keypoints, in the layout ``keypoint_format`` names, are brought into ``skeleton``
    (default COCO-17) by joint name; a joint the format lacks has confidence 0.  Returns a
    list of F frames, each a list of V arrays (P_v, J, 3) in the skeleton's joint order.
    """
    from skelsplat_ros.fileio.openpose import KeypointFileError, list_openpose_files
    from skelsplat_ros.fileio.openpose import read_openpose_json
    from skelsplat_ros.skeletons import COCO17, get_format

    skeleton = skeleton or COCO17

    try:
        fmt = get_format(keypoint_format)
    except ValueError as error:
        raise CliError(str(error)) from None
    per_camera = []
    for directory in directories:
        try:
            files = list_openpose_files(directory)
        except FileNotFoundError as error:
            raise CliError(str(error)) from None
        if not files:
            raise CliError(f'{directory}: no *.json keypoint files')
        per_camera.append(files)
    counts = {len(files) for files in per_camera}
    if len(counts) != 1:
        detail = ', '.join(f'{d}: {len(f)}' for d, f in zip(directories, per_camera))
        raise CliError(f'unequal frame counts across cameras ({detail})')
    frames = []
    for frame_files in zip(*per_camera):
        views = []
        for path in frame_files:
            try:
                people = read_openpose_json(path, fmt.num_joints)
            except KeypointFileError as error:
                raise CliError(str(error)) from None
            views.append(skeleton.from_keypoints(people, fmt.joint_names))
        frames.append(views)
    return frames


def write_outputs(path, positions, confidence, joint_names, rate_hz):
    """Write (F, J, 3) positions and (F, J) confidence as .npz, .csv or .trc by suffix."""
    import numpy as np

    from skelsplat_ros.fileio.tabular import write_csv
    from skelsplat_ros.fileio.trc import write_trc

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == '.npz':
        np.savez(path, positions=positions, confidence=confidence,
                 joint_names=np.array(joint_names))
    elif path.suffix == '.csv':
        write_csv(path, positions, joint_names, confidence=confidence)
    elif path.suffix == '.trc':
        write_trc(path, positions, joint_names, rate_hz)
    else:
        raise CliError(f'{path}: output must end in one of {", ".join(OUTPUT_SUFFIXES)}')


def _solver_config(args, **options):
    """Return the :class:`SolverConfig` of ``--device`` and ``--objective``, checked."""
    from skelsplat_ros.solver import SolverConfig

    if args.device == 'cuda':
        import torch
        if not torch.cuda.is_available():
            raise CliError('--device cuda: this torch build has no CUDA device')
    try:
        return SolverConfig(device=args.device, objective=args.objective, **options)
    except ValueError as error:  # an unknown --objective
        raise CliError(str(error)) from None


def command_solve(args):
    """Run ``skelsplat solve``."""
    import numpy as np

    from skelsplat_ros.cameras import CalibrationError, load_calibration
    if pathlib.Path(args.output).suffix not in OUTPUT_SUFFIXES:
        raise CliError(f'{args.output}: output must end in one of {", ".join(OUTPUT_SUFFIXES)}')
    try:
        cameras = load_calibration(args.calibration)
    except (CalibrationError, OSError) as error:
        raise CliError(f'{args.calibration}: {error}') from None
    if len(args.keypoints) != len(cameras):
        raise CliError(f'{len(args.keypoints)} keypoint directories given, but the calibration '
                       f'has {len(cameras)} cameras ({", ".join(c.name for c in cameras)})')
    skeleton = _skeleton(args.skeleton)
    frames = load_keypoint_frames(args.keypoints, args.keypoint_format, skeleton)
    if args.frames:
        frames = frames[:args.frames]
    config = _solver_config(args, temporal=not args.per_frame, frame_rate=args.rate)
    if args.multi_person:
        return _solve_people(args, cameras, frames, config, skeleton)
    estimate = _estimator(args, cameras, config, skeleton)
    progress = _progress(f'{args.method}') if not args.quiet else None
    positions = np.full((len(frames), skeleton.num_joints, 3), np.nan)
    confidence = np.zeros((len(frames), skeleton.num_joints))
    for index, frame in enumerate(frames):
        positions[index], confidence[index] = estimate(frame)
        if progress:
            progress(index + 1, len(frames))
    if args.smooth:
        positions, confidence = estimate.smoothed()
    write_outputs(args.output, positions, confidence, skeleton.joint_names, args.rate)
    if not args.quiet:
        solved = np.isfinite(positions).all(axis=2).mean()
        print(f'wrote {args.output}: {len(frames)} frames, {100 * solved:.0f}% of joints located',
              file=sys.stderr)
    return 0


def _estimator(args, cameras, config, skeleton):
    """Return the estimator of ``--method``; it keeps its estimates for ``--smooth``."""
    from skelsplat_ros.estimators import make_estimator

    if args.smooth and (args.method != 'skelsplat' or not config.temporal):
        raise CliError('--smooth needs --method skelsplat and its motion filter (not '
                       '--per-frame or --multi-person)')
    return make_estimator(args.method, cameras, config, skeleton=skeleton, smooth=args.smooth)


def _solve_people(args, cameras, frames, config, skeleton):
    """Track every person; write positions (F, T, J, 3), confidence (F, T, J), track_ids."""
    from skelsplat_ros.tracking import MultiPersonTracker

    if pathlib.Path(args.output).suffix != '.npz' or args.method != 'skelsplat':
        raise CliError('--multi-person writes .npz output with --method skelsplat')
    if args.smooth:
        raise CliError('--smooth needs --method skelsplat and its motion filter (not '
                       '--per-frame or --multi-person)')
    tracker = MultiPersonTracker(cameras, config, skeleton=skeleton)
    progress = _progress('skelsplat, several people') if not args.quiet else None
    per_frame = []
    for index, frame in enumerate(frames):
        per_frame.append(tracker.update(frame))
        if progress:
            progress(index + 1, len(frames))
    track_ids = _write_tracks(args.output, per_frame, skeleton)
    if not args.quiet:
        print(f'wrote {args.output}: {len(frames)} frames, {len(track_ids)} people',
              file=sys.stderr)
    return 0


def _write_tracks(path, per_frame, skeleton):
    """Write tracked people as .npz: positions (F, T, J, 3), confidence (F, T, J), track_ids.

    Args:
        path: the .npz file.
        per_frame: per frame, the tracker's ``(track id, estimate)`` list.
        skeleton: the joint layout.

    Returns:
        The track ids (T,), increasing.
    """
    import numpy as np

    track_ids = sorted({track_id for results in per_frame for track_id, _ in results})
    column = {track_id: t for t, track_id in enumerate(track_ids)}
    positions = np.full((len(per_frame), len(track_ids), skeleton.num_joints, 3), np.nan)
    confidence = np.zeros((len(per_frame), len(track_ids), skeleton.num_joints))
    for index, results in enumerate(per_frame):
        for track_id, estimate in results:
            positions[index, column[track_id]] = estimate.positions
            confidence[index, column[track_id]] = estimate.confidence
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, positions=positions, confidence=confidence,
             track_ids=np.array(track_ids, dtype=np.int64),
             joint_names=np.array(skeleton.joint_names))
    return track_ids


class _VideoSource:
    """One camera's video, brought to its calibrated image size frame by frame."""

    def __init__(self, path, camera):
        import cv2

        self.path = pathlib.Path(path)
        if not self.path.is_file():
            raise CliError(f'{self.path}: no such video file')
        self.capture = cv2.VideoCapture(str(self.path))
        ok, first = self.capture.read() if self.capture.isOpened() else (False, None)
        if not ok:
            raise CliError(f'{self.path}: cannot read video frames (not a video OpenCV can '
                           'decode?)')
        self.fps = self.capture.get(cv2.CAP_PROP_FPS) or 0.0
        self.frame_count = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self._pending = first
        height, width = first.shape[:2]
        self.size = (width, height)
        self.target = (camera.width, camera.height)
        ratio = (camera.width / width, camera.height / height)
        if self.size == self.target:
            self.mode = 'same'
        elif max(abs(r - 1) for r in ratio) <= SIZE_TOLERANCE:
            self.mode = 'pad'
        elif abs(ratio[0] - ratio[1]) <= 0.01 * ratio[0]:
            self.mode = 'resize'
        else:
            raise CliError(f'{self.path}: {width}x{height} video for a camera calibrated at '
                           f'{camera.width}x{camera.height} ({camera.name}): neither the same '
                           'sensor nor a uniform scaling of it')

    def describe_size(self):
        """Say how the video is brought to the calibrated size (None when nothing is done)."""
        if self.mode == 'same':
            return None
        how = ('padded/cropped at the right and bottom edges, calibration used as is'
               if self.mode == 'pad' else 'resized to it')
        return (f'{self.path.name}: {self.size[0]}x{self.size[1]} video, calibrated at '
                f'{self.target[0]}x{self.target[1]}: {how}')

    def read(self):
        """Return the next frame (H, W, 3) uint8 at the calibrated size, or None at the end."""
        import cv2

        if self._pending is not None:
            frame, self._pending = self._pending, None
        else:
            ok, frame = self.capture.read()
            if not ok:
                return None
        if self.mode == 'resize':
            return cv2.resize(frame, self.target, interpolation=cv2.INTER_AREA)
        if self.mode == 'pad':
            frame = frame[:self.target[1], :self.target[0]]
            bottom, right = self.target[1] - frame.shape[0], self.target[0] - frame.shape[1]
            return cv2.copyMakeBorder(frame, 0, bottom, 0, right, cv2.BORDER_CONSTANT, value=0)
        return frame

    def close(self):
        """Release the video."""
        self.capture.release()


def _open_videos(paths, cameras):
    """Open one :class:`_VideoSource` per camera; nothing stays open on an error."""
    sources = []
    try:
        for path, camera in zip(paths, cameras):
            sources.append(_VideoSource(path, camera))
    except CliError:
        for source in sources:
            source.close()
        raise
    return sources


def _fuse_videos(sources, estimate, skeleton, total, animation, gif_stride, summary_indexes,
                 progress, log):
    """Detect, fuse and draw frame by frame until ``total`` frames (0: the videos' end).

    Returns ``(positions (F, J, 3), confidence (F, J), summary frames, seconds spent
    detecting, seconds spent fusing)``.
    """
    import time

    import numpy as np

    from skelsplat_ros.detect import create_detector
    from skelsplat_ros.visualize import OverlayFrame, shrink

    try:
        detectors = [create_detector('mediapipe', skeleton=skeleton) for _ in sources]
    except ImportError as error:
        raise CliError(str(error)) from None
    positions, confidence, summary_frames = [], [], []
    detect_s = solve_s = 0.0
    index = 0
    while not total or index < total:
        images = [source.read() for source in sources]
        if any(image is None for image in images):
            if total:
                ended = [s.path.name for s, image in zip(sources, images) if image is None]
                log(f'skelsplat videos: warning: {", ".join(ended)} ended after {index} '
                    'frames')
            break
        start = time.perf_counter()
        keypoints = [detector.detect(image) for detector, image in zip(detectors, images)]
        detect_s += time.perf_counter() - start
        start = time.perf_counter()
        joints, scores = estimate(keypoints)
        solve_s += time.perf_counter() - start
        positions.append(joints)
        confidence.append(scores)
        animate = animation is not None and index % gif_stride == 0
        keep = index in summary_indexes
        if animate or keep:
            # Only small copies are kept: the summary needs a few, the animation none.
            small = [shrink(image, 960 if keep else animation.height) for image in images]
            frame = OverlayFrame(index, [image for image, _ in small], keypoints, joints,
                                 scores, pixel_scale=small[0][1], skeleton=skeleton)
            if animate:
                animation.add(frame)
            if keep:
                summary_frames.append(frame)
        index += 1
        if progress:
            progress(index, max(total, index))
    for detector in detectors:
        detector.close()
    return np.array(positions), np.array(confidence), summary_frames, detect_s, solve_s


def _track_videos(args, cameras, sources, config, skeleton, total, animation, gif_stride,
                  summary_indexes, log):
    """``skelsplat videos --multi-person``: track everyone, write tracks.npz and pictures."""
    import json
    import time

    import numpy as np

    from skelsplat_ros import track_report
    from skelsplat_ros.detect import create_detector
    from skelsplat_ros.live import id_rgb
    from skelsplat_ros.tracking import MultiPersonTracker
    from skelsplat_ros.visualize import draw_people, people_grid, project_skeleton, shrink

    if args.method != 'skelsplat':
        raise CliError('--multi-person tracks with --method skelsplat')
    output = pathlib.Path(args.output)
    tracker = MultiPersonTracker(cameras, config, skeleton=skeleton)
    try:
        detectors = [create_detector('mediapipe', skeleton=skeleton) for _ in sources]
    except ImportError as error:
        raise CliError(str(error)) from None
    progress = None if args.quiet else _progress('videos, several people')
    per_frame, people, detections, summary_rows = [], [], [], []
    detect_s = solve_s = 0.0
    height = animation.height if animation is not None else 360

    def draw(index, images, keypoints, persons, row_height):
        row = []
        for camera, image, found in zip(cameras, images, keypoints):
            small, scale = shrink(image, row_height)
            scaled = np.asarray(found, dtype=float).copy()
            scaled[..., :2] *= scale
            projected = {person_id: project_skeleton(camera, joints) * scale
                         for person_id, joints in persons.items()}
            row.append(draw_people(small, projected, {i: id_rgb(i) for i in projected},
                                   keypoints_2d=scaled, skeleton=skeleton,
                                   title=f'{camera.name} frame {index}'))
        return row

    try:
        index = 0
        while not total or index < total:
            images = [source.read() for source in sources]
            if any(image is None for image in images):
                break
            start = time.perf_counter()
            keypoints = [detector.detect(image) for detector, image in zip(detectors, images)]
            detect_s += time.perf_counter() - start
            start = time.perf_counter()
            results = tracker.update(keypoints, index / (args.rate or sources[0].fps or 30.0))
            solve_s += time.perf_counter() - start
            per_frame.append(results)
            persons = {track_id: np.where((estimate.num_views > 0)[:, None],
                                          estimate.positions, np.nan)
                       for track_id, estimate in results}
            people.append(persons)
            detections.append(keypoints)
            if animation is not None and index % gif_stride == 0:
                animation.add_image(np.hstack(draw(index, images, keypoints, persons, height)))
            if index in summary_indexes:
                summary_rows.append(draw(index, images, keypoints, persons, 480))
            index += 1
            if progress:
                progress(index, max(total, index))
    finally:
        for detector in detectors:
            detector.close()
        for source in sources:
            source.close()
        if animation is not None:
            animation.close()
    if not per_frame:
        raise CliError('no frame could be read from the videos')
    track_ids = _write_tracks(output / 'tracks.npz', per_frame, skeleton)
    report = track_report.summarize(people, cameras, detections)
    (output / 'people.json').write_text(json.dumps(report, indent=1) + '\n')
    people_grid(summary_rows, output / 'summary.png')
    log(f'{len(per_frame)} frames, {len(track_ids)} people (ids '
        f"{', '.join(map(str, track_ids))}), {len(report['id_switches'])} id switches; per "
        f'frame: detection {1000 * detect_s / len(per_frame):.0f} ms ({len(cameras)} views), '
        f'tracking {1000 * solve_s / len(per_frame):.0f} ms')
    written = [output / 'tracks.npz', output / 'people.json', output / 'summary.png']
    if animation is not None:
        written.append(animation.path)
    log('wrote ' + ', '.join(str(path) for path in written))
    return 0


def command_videos(args):
    """Run ``skelsplat videos``."""
    import numpy as np

    from skelsplat_ros.cameras import CalibrationError, load_calibration
    from skelsplat_ros.visualize import AnimationWriter, render_summary_png

    if args.smooth and args.multi_person:
        raise CliError('--smooth needs --method skelsplat and its motion filter (not '
                       '--per-frame or --multi-person)')
    try:
        cameras = load_calibration(args.calibration)
    except (CalibrationError, OSError) as error:
        raise CliError(f'{args.calibration}: {error}') from None
    if len(args.videos) != len(cameras):
        raise CliError(f'{len(args.videos)} videos given, but the calibration has '
                       f'{len(cameras)} cameras ({", ".join(c.name for c in cameras)})')
    skeleton = _skeleton(args.skeleton)
    config = _solver_config(args)
    log = (lambda text: None) if args.quiet else (lambda text: print(text, file=sys.stderr))
    sources = _open_videos(args.videos, cameras)
    for source in sources:
        if source.describe_size():
            log(f'skelsplat videos: warning: {source.describe_size()}')
    if len({round(source.fps, 2) for source in sources}) > 1:
        rates = ', '.join(f'{s.path.name}: {s.fps:g}' for s in sources)
        log(f'skelsplat videos: warning: the videos have different frame rates ({rates}); '
            'frames are paired by index')
    rate = args.rate or sources[0].fps or 30.0
    counts = [source.frame_count for source in sources if source.frame_count > 0]
    total = min(counts) if counts else 0
    if args.frames:
        total = min(total, args.frames) if total else args.frames
    summary_indexes = set(np.linspace(0, max(total - 1, 0), 4).round().astype(int).tolist())

    output = pathlib.Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    animation = None
    if args.video_format != 'none':
        animation = AnimationWriter(output / f'annotated.{args.video_format}', cameras,
                                    fps=rate if args.video_format == 'mp4' else min(rate, 10.0),
                                    height=args.video_height,
                                    with_3d=not args.multi_person)
    gif_stride = max(1, round(rate / 10.0)) if args.video_format == 'gif' else 1
    if args.multi_person:
        return _track_videos(args, cameras, sources, config, skeleton, total, animation,
                             gif_stride, summary_indexes, log)
    try:
        estimate = _estimator(args, cameras, config, skeleton)
        positions, confidence, summary_frames, detect_s, solve_s = _fuse_videos(
            sources, estimate, skeleton, total, animation, gif_stride, summary_indexes,
            None if args.quiet else _progress('videos'), log)
        if args.smooth and len(positions):
            # The drawings show the causal output; the written poses are smoothed.
            positions, confidence = estimate.smoothed()
    finally:
        for source in sources:
            source.close()
        if animation is not None:
            animation.close()
    if not len(positions):
        raise CliError('no frame could be read from the videos')
    for suffix in OUTPUT_SUFFIXES:
        write_outputs(output / f'poses{suffix}', positions, confidence, skeleton.joint_names,
                      rate)
    render_summary_png(output / 'summary.png', summary_frames, cameras,
                       title=f'skelsplat videos ({args.method}, {skeleton.name}): '
                             f'{len(positions)} frames')
    solved = np.isfinite(positions).all(axis=2).mean()
    log(f'{len(positions)} frames, {100 * solved:.0f}% of joints located; per frame: detection '
        f'{1000 * detect_s / len(positions):.0f} ms ({len(cameras)} views), '
        f'{args.method} {1000 * solve_s / len(positions):.0f} ms')
    written = [output / f'poses{suffix}' for suffix in OUTPUT_SUFFIXES] + [output / 'summary.png']
    if animation is not None:
        written.append(animation.path)
    log('wrote ' + ', '.join(str(path) for path in written))
    return 0


def _ros_module(command, name):
    """Import ``skelsplat_ros.ros.<name>``, or raise :class:`CliError` saying what is missing."""
    import importlib

    try:
        return importlib.import_module(f'skelsplat_ros.ros.{name}')
    except ImportError as error:
        raise CliError(f'{command} needs ROS 2 Python (rclpy) and the built skelsplat_ros '
                       f'messages ({error}): run `make setup`, then `source scripts/env.sh`'
                       ) from None


def command_demo(args):
    """Run ``skelsplat demo``."""
    if args.frames < 1:
        raise CliError(f'--frames must be at least 1, got {args.frames}')
    demo = _ros_module('skelsplat demo', 'demo')
    try:
        output = args.output or ('out/demo' if args.trial == 'single' else 'out/demo_multi')
        result = demo.run_demo(output, frames=args.frames, progress=not args.quiet,
                               trial=args.trial)
    except demo.DemoError as error:
        raise CliError(str(error)) from None
    print('\n'.join(result.summary_lines()))
    return 0


def command_bag(args):
    """Run ``skelsplat bag``."""
    bag = _ros_module('skelsplat bag', 'bag')
    from skelsplat_ros.ros.params import ParameterError

    overrides = {}
    if args.calibration:
        overrides['calibration_file'] = str(args.calibration)
    log = (lambda text: None) if args.quiet else (
        lambda text: print(f'skelsplat bag: {text}', file=sys.stderr))
    try:
        config = bag.load_config(args.config, overrides, warn=log)
    except ParameterError as error:
        raise CliError(f'{args.config}: {error}') from None
    try:
        stats = bag.process_bag(args.input, config, args.output,
                                progress=None if args.quiet else _progress('bag'), log=log,
                                smooth=args.smooth)
    except bag.BagError as error:
        raise CliError(str(error)) from None
    frames = sum(stats.frames_in.values())
    dropped = sum(stats.frames_dropped.values())
    log(f'{frames} camera frames ({dropped} dropped) -> {stats.groups} frame groups fused, '
        f'{stats.groups_with_person} with a person; '
        f'{stats.sync.get("dropped_incomplete", 0)} groups had too few views')
    log(f'wrote {args.output}: ' + ', '.join(f'{topic} {count}'
                                             for topic, count in stats.written.items()))
    return 0


def _skeleton(name):
    from skelsplat_ros.skeletons import get_skeleton
    try:
        return get_skeleton(name)
    except ValueError as error:
        raise CliError(str(error)) from None


def _add_solver_options(parser):
    """``--skeleton`` and ``--objective``, shared by ``solve`` and ``videos``."""
    # No choices=: listing them would import numpy just to print --help.
    parser.add_argument('--skeleton', default='coco17',
                        help='the joints to locate: coco17 (default), halpe26 (adds neck, head '
                             'top and feet) or blazepose33 (adds hands and feet); keypoints are '
                             'matched to them by name, and a joint the input lacks stays unknown')
    parser.add_argument('--objective', default='auto',
                        help="skelsplat's objective: auto (default: rendered with --device "
                             'cuda, analytic on the CPU, as the node does), rendered or '
                             'analytic')


def build_parser():
    """Build the argument parser of ``skelsplat``."""
    parser = argparse.ArgumentParser(
        prog='skelsplat', description='Multi-view 3D human poses with SkelSplat, without ROS.')
    commands = parser.add_subparsers(dest='command', required=True)

    solve = commands.add_parser(
        'solve', help='fuse per-camera OpenPose JSON keypoints into 3D poses',
        description='Fuse per-camera 2D keypoints (OpenPose JSON, one file per frame, sorted '
                    'by name) into 3D poses of a skeleton, frame by frame and causally.')
    solve.add_argument('--calibration', required=True,
                       help='anipose/pose2sim TOML or OpenCV/ROS camera YAML')
    solve.add_argument('--keypoints', required=True, nargs='+', metavar='DIR',
                       help='one directory per camera, in the calibration file order')
    solve.add_argument('--keypoint-format', default='body25b',
                       help='the layout of the JSON keypoints: coco17, body25, body25b, halpe26 '
                            'or blazepose33 (default body25b)')
    solve.add_argument('--output', required=True, help='OUT.npz, OUT.csv or OUT.trc')
    solve.add_argument('--method', default='skelsplat',
                       choices=['skelsplat', 'dlt', 'weighted_dlt', 'ransac'])
    solve.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    solve.add_argument('--per-frame', action='store_true',
                       help='no warm start or motion prior between frames')
    solve.add_argument('--multi-person', action='store_true',
                       help='track every person; .npz output with positions (F, T, J, 3), '
                       'confidence (F, T, J) and track_ids (T,)')
    _add_solver_options(solve)
    solve.add_argument('--smooth', action='store_true', help=SMOOTH_HELP)
    solve.add_argument('--frames', type=int, default=0, help='only the first N frames')
    solve.add_argument('--rate', type=float, default=60.0,
                       help="the keypoints' frame rate: the motion model's time step and the "
                            '.trc rate')
    solve.add_argument('--quiet', action='store_true', help='no progress output')
    solve.set_defaults(run=command_solve)

    videos = commands.add_parser(
        'videos', help='3D poses from synchronised videos of a calibrated camera rig',
        description='Detect people with MediaPipe in synchronised videos (the i-th video is the '
                    "calibration's i-th camera), fuse them into 3D poses causally, and "
                    'write OUTPUT/poses.{npz,csv,trc}, OUTPUT/summary.png and an annotated '
                    'video.')
    videos.add_argument('--calibration', required=True,
                        help='anipose/pose2sim TOML or OpenCV/ROS camera YAML')
    videos.add_argument('videos', nargs='+', metavar='VIDEO',
                        help='one video per camera, in the calibration file order')
    videos.add_argument('--output', required=True, metavar='DIR', help='output directory')
    videos.add_argument('--method', default='skelsplat',
                        choices=['skelsplat', 'dlt', 'weighted_dlt', 'ransac'])
    videos.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    videos.add_argument('--multi-person', action='store_true',
                        help='track every person: OUTPUT/tracks.npz as `skelsplat solve '
                        '--multi-person` writes it, people.json (people per frame, ids, '
                        'reprojection errors), and pictures with each id in its colour')
    _add_solver_options(videos)
    videos.add_argument('--smooth', action='store_true', help=SMOOTH_HELP)
    videos.add_argument('--frames', type=int, default=0, help='only the first N frames')
    videos.add_argument('--rate', type=float, default=0.0,
                        help='frame rate for .trc output (default: the video frame rate)')
    videos.add_argument('--video-format', default='mp4', choices=['mp4', 'gif', 'none'],
                        help='annotated video: mp4 (every frame), gif (about 10 fps) or none')
    videos.add_argument('--video-height', type=int, default=360,
                        help='height in pixels of the annotated video')
    videos.add_argument('--quiet', action='store_true', help='no progress output')
    videos.set_defaults(run=command_videos)

    demo = commands.add_parser(
        'demo', help='the pose2sim trial through the live ROS 2 node, recorded and drawn',
        description='Start skelsplat_node, publish the pose2sim Demo_SinglePerson videos to it '
                    'over DDS on loopback (in lockstep with its outputs), record its outputs '
                    'to OUTPUT/demo.mcap, draw OUTPUT/demo.png, demo.gif and rviz.png, and '
                    'print a summary.  --trial multi: the Demo_MultiPerson videos (several '
                    'people, no reference): people per frame, id switches, reprojection '
                    'errors per person and camera in OUTPUT/demo_multi.json, each person '
                    'in its colour in OUTPUT/demo_multi.png.')
    demo.add_argument('--trial', default='single', choices=['single', 'multi'],
                      help='single: Demo_SinglePerson against its .trc (default); multi: '
                           'Demo_MultiPerson')
    demo.add_argument('--output', default=None, metavar='DIR',
                      help='output directory (default out/demo, out/demo_multi with '
                           '--trial multi)')
    demo.add_argument('--frames', type=int, default=100,
                      help='frame groups to replay (default 100, the whole trial)')
    demo.add_argument('--quiet', action='store_true', help='no progress output')
    demo.set_defaults(run=command_demo)

    bag = commands.add_parser(
        'bag', help='run the node pipeline over a recorded rosbag2 MCAP, at full speed',
        description='Read the camera topics named in the node parameter file (images or '
                    'compressed images, or Keypoints2D, plus CameraInfo) from a rosbag2 MCAP, '
                    'fuse every frame group as skelsplat_node would, without dropping any, '
                    'and write /human_pose_3d, /human_pose_3d/markers, /tf and /diagnostics '
                    'to a new MCAP.')
    bag.add_argument('input', metavar='IN.mcap', help='rosbag2 MCAP file')
    bag.add_argument('--config', required=True,
                     help='node parameter file, e.g. config/multiview.yaml')
    bag.add_argument('--calibration', default=None,
                     help="calibration file, instead of the config's calibration_file")
    bag.add_argument('--output', required=True, metavar='OUT.mcap', help='MCAP file to write')
    bag.add_argument('--smooth', action='store_true', help=SMOOTH_HELP + " (the config's "
                     'smoothing_lag otherwise)')
    bag.add_argument('--quiet', action='store_true', help='no progress output')
    bag.set_defaults(run=command_bag)
    return parser


def main(argv=None):
    """Entry point of ``skelsplat``; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except CliError as error:
        print(f'skelsplat {args.command}: error: {error}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
