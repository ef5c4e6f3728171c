# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Tests for the MediaPipe detector on the Pose2Sim demo videos, against OpenPose's JSON."""

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

pytest.importorskip('mediapipe')

from skelsplat_ros.detect import create_detector  # noqa: E402
from skelsplat_ros.detect.mediapipe_detector import MediaPipeDetector  # noqa: E402
from skelsplat_ros.skeletons import BLAZEPOSE33, BLAZEPOSE33_JOINTS  # noqa: E402
from skelsplat_ros.skeletons import COCO17_JOINTS, HALPE26, to_coco17  # noqa: E402

SHOULDERS_HIPS = [COCO17_JOINTS.index(name) for name in
                  ('left_shoulder', 'right_shoulder', 'left_hip', 'right_hip')]
HIPS = SHOULDERS_HIPS[2:]
NOSE = COCO17_JOINTS.index('nose')


def _video(data_root, camera):
    return data_root / f'pose2sim-0.10.49/Pose2Sim/Demo_SinglePerson/videos/cam0{camera}.mp4'


def _frames(data_root, camera, count):
    """Read the first ``count`` frames of a camera's video, BGR."""
    capture = cv2.VideoCapture(str(_video(data_root, camera)))
    frames = []
    for _ in range(count):
        ok, frame = capture.read()
        assert ok, f'could not read {_video(data_root, camera)}'
        frames.append(frame)
    capture.release()
    return frames


def _openpose_people(data_root, camera, frame=0):
    """COCO-17 part of every OpenPose person in a frame's JSON: ``(P, 17, 3)``."""
    path = (data_root / 'pose2sim-0.4.15/Pose2Sim/Demo/pose' / f'cam{camera}_json' /
            f'cam0{camera}.{frame:04d}.json')
    people = json.loads(path.read_text())['people']
    return np.array([np.reshape(person['pose_keypoints_2d'], (-1, 3))[:17]
                     for person in people])


@pytest.mark.parametrize('camera', [1, 2, 3, 4])
def test_first_frame_matches_openpose(data_root, camera):
    frame = _frames(data_root, camera, 1)[0]
    height, width = frame.shape[:2]
    with MediaPipeDetector(static_image_mode=True) as detector:
        keypoints = detector.detect(frame)
    assert keypoints.shape == (1, 17, 3)
    person = keypoints[0]
    assert np.all((person[:, 0] >= 0) & (person[:, 0] < width))
    assert np.all((person[:, 1] >= 0) & (person[:, 1] < height))
    assert np.all((person[:, 2] >= 0) & (person[:, 2] <= 1))
    assert np.all(person[SHOULDERS_HIPS, 2] > 0.9)
    assert person[NOSE, 1] < person[HIPS, 1].min()  # standing upright

    # The same frame's OpenPose detections; camera 1 and 2 also see a bystander, so compare
    # with the OpenPose person nearest to MediaPipe's.
    openpose = _openpose_people(data_root, camera)
    distances = np.linalg.norm(openpose[:, :, :2] - person[:, :2], axis=2)
    nearest = int(np.argmin(np.median(distances, axis=1)))
    well_detected = (openpose[nearest, :, 2] > 0.3) & (person[:, 2] > 0.5)
    assert well_detected.sum() >= 10
    errors = distances[nearest, well_detected]
    assert np.median(errors) < 40, errors
    assert np.percentile(errors, 90) < 60, errors


def test_downscaled_input_keeps_original_pixels(data_root):
    frame = _frames(data_root, 1, 1)[0]
    with MediaPipeDetector(static_image_mode=True) as full, \
            MediaPipeDetector(static_image_mode=True, max_side=640) as small:
        full_keypoints, small_keypoints = full.detect(frame), small.detect(frame)
    assert small_keypoints.shape == (1, 17, 3)
    # Coordinates are in the original 1080x1920 pixels, not the 360x640 inference image.
    assert small_keypoints[0, :, 1].max() > 640
    difference = np.linalg.norm(full_keypoints[0, :, :2] - small_keypoints[0, :, :2], axis=1)
    assert np.median(difference) < 15


def test_tracking_mode_follows_consecutive_frames(data_root):
    detector = create_detector('mediapipe')
    previous = None
    for frame in _frames(data_root, 2, 6):
        keypoints = detector.detect(frame)
        assert keypoints.shape == (1, 17, 3)
        if previous is not None:  # 60 fps: joints move a few pixels between frames
            step = np.linalg.norm(keypoints[0, :, :2] - previous[0, :, :2], axis=1)
            assert np.median(step) < 15
        previous = keypoints
    detector.close()


def test_empty_image_has_no_person():
    with MediaPipeDetector(static_image_mode=True) as detector:
        keypoints = detector.detect(np.zeros((480, 640, 3), np.uint8))
    assert keypoints.shape == (0, 17, 3)


def test_extreme_sizes_are_refused_before_mediapipe():
    """Sides that abort MediaPipe's OpenCV remap are refused before it runs.

    A side of 32767 px aborts the process (SIGABRT, which no except catches).  The detector
    runs in a child process, so that a regression fails this test instead of killing the suite.
    """
    script = (
        'import numpy as np\n'
        'from skelsplat_ros.detect.mediapipe_detector import MediaPipeDetector\n'
        'from skelsplat_ros.imaging import ImageConversionError\n'
        'detector = MediaPipeDetector(static_image_mode=True)\n'
        'for shape in ((1, 100000, 3), (32767, 1, 3), (1, 32767, 3)):\n'
        '    try:\n'
        '        detector.detect(np.zeros(shape, np.uint8))\n'
        '    except ImageConversionError as error:\n'
        '        print("refused:", error)\n'
        'print("thin:", detector.detect(np.zeros((1, 4000, 3), np.uint8)).shape)\n')
    result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count('too large') == 3, result.stdout
    assert 'thin: (0, 17, 3)' in result.stdout


def test_invalid_options():
    for complexity in (0, 2):
        with pytest.raises(ValueError, match='offline'):
            MediaPipeDetector(model_complexity=complexity)
    with pytest.raises(ValueError, match='max_side'):
        MediaPipeDetector(max_side=8)
    with MediaPipeDetector() as detector, pytest.raises(ValueError, match='uint8'):
        detector.detect(np.zeros((4, 4, 3), np.float32))


def test_blazepose33_keeps_hands_and_feet_and_coco17_is_its_subset(data_root):
    """One detection in three skeletons: BlazePose's own 33, COCO-17 and HALPE-26."""
    frame = _frames(data_root, 1, 1)[0]
    detections = {}
    for skeleton in (BLAZEPOSE33, HALPE26, None):
        options = {} if skeleton is None else {'skeleton': skeleton}
        with MediaPipeDetector(static_image_mode=True, **options) as detector:
            detections[skeleton] = detector.detect(frame)
    blazepose = detections[BLAZEPOSE33]
    assert blazepose.shape == (1, 33, 3)
    # The default is COCO-17, exactly the published BlazePose-to-COCO selection.
    np.testing.assert_array_equal(detections[None], to_coco17(blazepose, 'blazepose33'))

    joint = {name: blazepose[0, i] for i, name in enumerate(BLAZEPOSE33_JOINTS)}
    for side in ('left', 'right'):
        wrist, elbow = joint[f'{side}_wrist'], joint[f'{side}_elbow']
        forearm = np.linalg.norm(wrist[:2] - elbow[:2])
        assert forearm > 50
        for finger in ('pinky', 'index', 'thumb'):
            hand = joint[f'{side}_{finger}']
            assert hand[2] > 0.8    # the subject's hands are in plain view in camera 1
            assert np.linalg.norm(hand[:2] - wrist[:2]) < 0.6 * forearm
        ankle = joint[f'{side}_ankle']
        assert joint[f'{side}_heel'][1] > ankle[1] and joint[f'{side}_foot_index'][1] > ankle[1]

    halpe = detections[HALPE26][0]
    assert halpe.shape == (26, 3)
    by_name = dict(zip(HALPE26.joint_names, halpe))
    for side in ('left', 'right'):
        np.testing.assert_array_equal(by_name[f'{side}_big_toe'], joint[f'{side}_foot_index'])
        np.testing.assert_array_equal(by_name[f'{side}_heel'], joint[f'{side}_heel'])
    for absent in ('head', 'neck', 'hip', 'left_small_toe', 'right_small_toe'):
        assert by_name[absent][2] == 0.0
    empty = MediaPipeDetector(static_image_mode=True, skeleton=BLAZEPOSE33)
    assert empty.detect(np.zeros((480, 640, 3), np.uint8)).shape == (0, 33, 3)
    empty.close()
