# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""MediaPipe's legacy single-person API against the Tasks API PoseLandmarker, side by side.

    python bench/detector.py --output bench/results [--frames N]

On the same frames (the first ``--frames`` of each of pose2sim 0.10.49's four
``Demo_SinglePerson`` videos, 1080 x 1920), in IMAGE mode (each image afresh) and VIDEO mode
(tracking, one detector per camera, in frame order):

- ``legacy``: ``mp.solutions.pose`` (model_complexity 1, the full landmark model);
- ``tasks_1`` and ``tasks_3``: :class:`skelsplat_ros.detect.mediapipe_detector.MediaPipeDetector`
  with the set-up's ``.task`` bundle (the same models) and ``num_poses`` 1 and 3.

The configurations take turns image by image, so that the machine's other load falls on all
of them alike.  For each: ms per image (median, p95; the conversion to keypoints included)
and the landmark agreement with the legacy API of the same mode, in pixels over all 33
landmarks (the Tasks person nearest the legacy one).  Then:

- ``multi_person``: the four ``Demo_MultiPerson`` videos (the participant, a rendered second
  person, a bystander) with ``num_poses`` 3, IMAGE against VIDEO: people found per frame and
  the frames flagged doubtful.  VIDEO mode keeps following a track; when that track takes in
  a second, overlapping person, the new person's detections are associated with it and
  dropped, so VIDEO mode can lose people that IMAGE mode finds.
- ``seeded``: whether knowing where the people are (the fused 3D skeleton projected into the
  view) could replace the person detector.  The Tasks API takes no region of interest for
  the pose landmarker (``roi_allowed=False``), so a seed can only crop the image; each crop
  then still runs the person detector.  Measured: the landmarker on a crop around each
  person found (the ideal seed) against the whole image, full size and shrunk to 640 px
  (``detector_max_side``), and the person detector's share (IMAGE minus VIDEO mode of
  ``tasks_1``, where tracking skips the detector).
- ``crowd``: a 5 x 4 grid of the participant (20 people in one 1080 x 1920 view): ms and
  people found with ``num_poses`` 3 and 10.

Timings are wall-clock on this machine, under whatever else runs on it (``load_average``).
Writes ``detector.json`` (also printed on stdout) and ``detector.png``; progress on stderr.
"""

import argparse
import os
import pathlib
import platform
import sys
import time

import cv2
import numpy as np
from report import default_data_root, log, write_report
from skelsplat_ros.detect.mediapipe_detector import MediaPipeDetector
from skelsplat_ros.detect.pose_bundle import default_model_path
from skelsplat_ros.skeletons import BLAZEPOSE33

VIDEOS = 'pose2sim-0.10.49/Pose2Sim/Demo_{trial}/videos/cam0{camera}.mp4'
CAMERAS = (1, 2, 3, 4)
MODES = ('image', 'video')
FPS = 60.0


def _load():
    return [round(value, 2) for value in os.getloadavg()]


def read_frames(data_root, trial, count):
    """``{camera: [BGR frames]}``, the first ``count`` frames of each camera."""
    frames = {}
    for camera in CAMERAS:
        path = data_root / VIDEOS.format(trial=trial, camera=camera)
        capture = cv2.VideoCapture(str(path))
        frames[camera] = []
        while len(frames[camera]) < count:
            ok, frame = capture.read()
            if not ok:
                break
            frames[camera].append(frame)
        capture.release()
    return frames


class Legacy:
    """The legacy API with the detector's interface (BlazePose-33 pixels, one person)."""

    def __init__(self, static_image_mode):
        from mediapipe.python.solutions import pose
        self._pose = pose.Pose(static_image_mode=static_image_mode, model_complexity=1,
                               enable_segmentation=False)

    def detect(self, bgr, stamp=None):
        height, width = bgr.shape[:2]
        result = self._pose.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        if result.pose_landmarks is None:
            return np.zeros((0, 33, 3))
        return np.array([[(mark.x * width, mark.y * height, mark.visibility)
                          for mark in result.pose_landmarks.landmark]])

    def close(self):
        self._pose.close()


def make(kind, mode):
    """Return a fresh detector of ``kind`` ('legacy', 'tasks_1', 'tasks_3') in ``mode``."""
    if kind == 'legacy':
        return Legacy(static_image_mode=mode == 'image')
    return MediaPipeDetector(num_poses=int(kind.split('_')[1]), skeleton=BLAZEPOSE33,
                             static_image_mode=mode == 'image')


def run_interleaved(configurations, frames):
    """Detect every camera's frames in order with each configuration, taking turns per image.

    Taking turns spreads the machine's other load evenly over the configurations.

    Returns:
        ``{configuration: {camera: [(P, 33, 3)]}}`` and ``{configuration: ms array}``.
    """
    found = {config: {} for config in configurations}
    times = {config: [] for config in configurations}
    for camera, images in frames.items():
        detectors = {config: make(*config) for config in configurations}
        for config, detector in detectors.items():
            detector.detect(images[0], stamp=-1.0)   # warm-up, untimed (before frame 0)
            found[config][camera] = []
        for index, image in enumerate(images):
            for config, detector in detectors.items():
                start = time.perf_counter()
                found[config][camera].append(detector.detect(image, stamp=index / FPS))
                times[config].append((time.perf_counter() - start) * 1e3)
        for detector in detectors.values():
            detector.close()
    return found, {config: np.array(values) for config, values in times.items()}


def agreement(found, reference):
    """Pixel distances of all landmarks to the reference person, frames both detect."""
    errors = []
    for camera, frames in reference.items():
        for mine, theirs in zip(found[camera], frames):
            if len(mine) == 0 or len(theirs) != 1:
                continue
            distances = np.linalg.norm(mine[:, :, :2] - theirs[:, :, :2], axis=2)
            errors.append(distances[np.argmin(np.median(distances, axis=1))])
    return np.concatenate(errors) if errors else np.zeros(0)


def summary(times):
    return {'median_ms': round(float(np.median(times)), 1),
            'p95_ms': round(float(np.percentile(times, 95)), 1), 'images': int(times.size)}


def section_speed(frames):
    configurations = [(kind, mode) for mode in MODES for kind in ('legacy', 'tasks_1', 'tasks_3')]
    log(f'{len(configurations)} configurations, taking turns on '
        f'{sum(map(len, frames.values()))} images each')
    found, times = run_interleaved(configurations, frames)
    report = {}
    for kind, mode in configurations:
        report[f'{kind}_{mode}'] = summary(times[kind, mode])
        report[f'{kind}_{mode}']['people_per_image'] = round(float(np.mean(
            [len(p) for camera in found[kind, mode].values() for p in camera])), 2)
        if kind != 'legacy':
            errors = agreement(found[kind, mode], found['legacy', mode])
            report[f'{kind}_{mode}'].update({
                'agreement_with_legacy_median_px': round(float(np.median(errors)), 2),
                'agreement_with_legacy_p95_px': round(float(np.percentile(errors, 95)), 2),
                'agreement_landmarks': int(errors.size)})
    return report, found


def section_multi_person(frames):
    report = {}
    counts = {mode: [] for mode in MODES}
    doubtful = dict.fromkeys(MODES, 0)
    times = {mode: [] for mode in MODES}
    for camera, images in frames.items():
        detectors = {mode: MediaPipeDetector(num_poses=3, static_image_mode=mode == 'image')
                     for mode in MODES}
        per_camera = {mode: [] for mode in MODES}
        for index, image in enumerate(images):
            for mode, detector in detectors.items():   # taking turns, as in section_speed
                start = time.perf_counter()
                detections = detector.detect_people(image, stamp=index / FPS)
                times[mode].append((time.perf_counter() - start) * 1e3)
                per_camera[mode].append(len(detections.keypoints))
                doubtful[mode] += int(detections.doubtful.any())
        for mode, detector in detectors.items():
            detector.close()
            counts[mode].append(per_camera[mode])
            log(f'multi-person, {mode} mode, cam0{camera}: '
                f'{np.bincount(per_camera[mode]).tolist()} frames with 0, 1, 2... people')
    for mode in MODES:
        found = np.array(counts[mode])
        report[mode] = {**summary(np.array(times[mode])),
                        'people_per_frame_by_camera': found.tolist(),
                        'mean_people_per_image': round(float(found.mean()), 3),
                        'images_with_2_or_more': int((found >= 2).sum()),
                        'images_with_a_doubtful_person': doubtful[mode]}
    return report


def section_seeded(frames, found, speed):
    """Time the landmarker on crops around the people found, against the whole image."""
    times, people = [], 0
    detector = MediaPipeDetector(num_poses=1, static_image_mode=True)
    for camera, images in frames.items():
        for image, persons in zip(images, found['tasks_3', 'image'][camera]):
            start = time.perf_counter()
            for person in persons:
                low = person[:, :2].min(axis=0)
                high = person[:, :2].max(axis=0)
                centre, side = (low + high) / 2, (high - low).max() * 1.25
                x0, y0 = np.clip(centre - side / 2, 0, None).astype(int)
                x1, y1 = (centre + side / 2).astype(int)
                detector.detect(image[y0:y1, x0:x1])
                people += 1
            times.append((time.perf_counter() - start) * 1e3)
    detector.close()
    shrunk = []   # the whole image, shrunk to 640 px first (detector_max_side)
    detector = MediaPipeDetector(num_poses=3, static_image_mode=True, max_side=640)
    for images in frames.values():
        for image in images:
            start = time.perf_counter()
            detector.detect(image)
            shrunk.append((time.perf_counter() - start) * 1e3)
    detector.close()
    whole = speed['tasks_3_image']['median_ms']
    share = speed['tasks_1_image']['median_ms'] - speed['tasks_1_video']['median_ms']
    return {**summary(np.array(times)), 'people_seeded': people,
            'whole_image_tasks_3_median_ms': whole,
            'whole_image_max_side_640_tasks_3': summary(np.array(shrunk)),
            'person_detector_share_ms': round(share, 1),
            'roi_supported_by_pose_landmarker': False}


def section_crowd(frames):
    tile = cv2.resize(frames[1][0][:, 150:610], (216, 480))
    crowd = np.vstack([np.hstack([tile] * 5)] * 4)   # 1080 x 1920, as one camera's view
    report = {'image_shape': list(crowd.shape), 'people_in_image': 20}
    for poses in (3, 10):
        detector = MediaPipeDetector(num_poses=poses, static_image_mode=True)
        detector.detect(crowd)
        times, found = [], None
        for _ in range(5):
            start = time.perf_counter()
            found = detector.detect_people(crowd)
            times.append((time.perf_counter() - start) * 1e3)
        detector.close()
        report[f'num_poses_{poses}'] = {**summary(np.array(times)),
                                        'people_found': len(found.keypoints),
                                        'capped': bool(found.capped)}
    return report


def plot(report, path):
    """Bar chart: ms per image (median, p95) per detector and mode, agreement annotated."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    speed = report['speed']
    names = [f'{kind}_{mode}' for mode in MODES for kind in ('legacy', 'tasks_1', 'tasks_3')]
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 4.5))
    x = np.arange(len(names))
    left.bar(x - 0.2, [speed[n]['median_ms'] for n in names], 0.4, label='median')
    left.bar(x + 0.2, [speed[n]['p95_ms'] for n in names], 0.4, label='p95')
    for index, name in enumerate(names):
        if 'agreement_with_legacy_median_px' in speed[name]:
            left.annotate(f"{speed[name]['agreement_with_legacy_median_px']} px",
                          (index, speed[name]['p95_ms']), ha='center', va='bottom')
    left.set_xticks(x, [n.replace('_', '\n', 1) for n in names])
    left.set_ylabel('ms per 1080 x 1920 image')
    left.set_title('Demo_SinglePerson, 4 cameras, load average '
                   f"{report['config']['load_average']['start'][0]}")
    left.legend()
    multi = report['multi_person']
    for offset, mode in ((-0.2, 'image'), (0.2, 'video')):
        counts = np.array(multi[mode]['people_per_frame_by_camera'])
        right.bar(np.arange(len(CAMERAS)) + offset, counts.mean(axis=1), 0.4,
                  label=f"{mode}: {multi[mode]['median_ms']} ms median")
    right.set_xticks(np.arange(len(CAMERAS)), [f'cam0{c}' for c in CAMERAS])
    right.set_ylabel('people found per frame (mean)')
    right.set_title('Demo_MultiPerson, num_poses 3')
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--output', type=pathlib.Path, default=pathlib.Path('bench/results'))
    parser.add_argument('--data-root', type=pathlib.Path, default=default_data_root())
    parser.add_argument('--frames', type=int, default=30,
                        help='frames per camera of the single-person trial (default 30)')
    args = parser.parse_args(argv)
    import mediapipe
    report = {'config': {
        'frames_per_camera': args.frames, 'cameras': len(CAMERAS),
        'mediapipe': mediapipe.__version__, 'model': str(default_model_path().name),
        'python': platform.python_version(), 'cpus': os.cpu_count(),
        'load_average': {'start': _load()}}}
    single = read_frames(args.data_root, 'SinglePerson', args.frames)
    report['speed'], found = section_speed(single)
    report['config']['load_average']['after_speed'] = _load()
    report['multi_person'] = section_multi_person(
        read_frames(args.data_root, 'MultiPerson', 100))
    report['seeded'] = section_seeded(single, found, report['speed'])
    report['crowd'] = section_crowd(single)
    report['config']['load_average']['end'] = _load()
    write_report(report, args.output, 'detector', plot)


if __name__ == '__main__':
    sys.exit(main())
