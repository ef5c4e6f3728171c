# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Tests for the MediaPipe detector on the Pose2Sim demo videos.

Against OpenPose's JSON, against MediaPipe's legacy single-person API on the same frames, and
on the multi-person demo's videos.
"""

import json
import subprocess
import sys
import zipfile

import cv2
import numpy as np
import pytest

pytest.importorskip('mediapipe')

from skelsplat_ros.detect import create_detector, detect_people  # noqa: E402
from skelsplat_ros.detect.mediapipe_detector import check_model, doubtful_people  # noqa: E402
from skelsplat_ros.detect.mediapipe_detector import MAX_NUM_POSES  # noqa: E402
from skelsplat_ros.detect.mediapipe_detector import MediaPipeDetector, ModelError  # noqa: E402
from skelsplat_ros.detect.pose_bundle import BUNDLE_DETECTOR  # noqa: E402
from skelsplat_ros.detect.pose_bundle import BUNDLE_LANDMARKS  # noqa: E402
from skelsplat_ros.detect.pose_bundle import default_model_path  # noqa: E402
from skelsplat_ros.skeletons import BLAZEPOSE33, BLAZEPOSE33_JOINTS  # noqa: E402
from skelsplat_ros.skeletons import COCO17_JOINTS, HALPE26, to_coco17  # noqa: E402

SHOULDERS_HIPS = [COCO17_JOINTS.index(name) for name in
                  ('left_shoulder', 'right_shoulder', 'left_hip', 'right_hip')]
HIPS = SHOULDERS_HIPS[2:]
NOSE = COCO17_JOINTS.index('nose')


def _video(data_root, camera, trial='SinglePerson'):
    return data_root / f'pose2sim-0.10.49/Pose2Sim/Demo_{trial}/videos/cam0{camera}.mp4'


def _frames(data_root, camera, count, trial='SinglePerson', start=0):
    """Read ``count`` frames of a camera's video from frame ``start``, BGR."""
    capture = cv2.VideoCapture(str(_video(data_root, camera, trial)))
    capture.set(cv2.CAP_PROP_POS_FRAMES, start)
    frames = []
    for _ in range(count):
        ok, frame = capture.read()
        assert ok, f'could not read {_video(data_root, camera, trial)}'
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
    with MediaPipeDetector(static_image_mode=True, num_poses=1) as detector:
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
    with MediaPipeDetector(static_image_mode=True, num_poses=1) as full, \
            MediaPipeDetector(static_image_mode=True, num_poses=1, max_side=640) as small:
        full_keypoints, small_keypoints = full.detect(frame), small.detect(frame)
    assert small_keypoints.shape == (1, 17, 3)
    # Coordinates are in the original 1080x1920 pixels, not the 360x640 inference image.
    assert small_keypoints[0, :, 1].max() > 640
    difference = np.linalg.norm(full_keypoints[0, :, :2] - small_keypoints[0, :, :2], axis=1)
    assert np.median(difference) < 15


def test_tracking_mode_follows_consecutive_frames(data_root):
    detector = create_detector('mediapipe', num_poses=1)
    previous = None
    for index, frame in enumerate(_frames(data_root, 2, 6)):
        keypoints = detector.detect(frame, stamp=100.0 + index / 60)
        assert keypoints.shape == (1, 17, 3)
        if previous is not None:  # 60 fps: joints move a few pixels between frames
            step = np.linalg.norm(keypoints[0, :, :2] - previous[0, :, :2], axis=1)
            assert np.median(step) < 15
        previous = keypoints
    assert detector.restarts == 0
    detector.close()


def test_stamp_going_back_restarts_tracking(data_root):
    """A bag loop: the stream starts over, is detected afresh, and nothing crashes."""
    frames = _frames(data_root, 1, 3)
    with MediaPipeDetector(num_poses=1) as tracking, \
            MediaPipeDetector(num_poses=1, static_image_mode=True) as single:
        tracking.detect(np.zeros((64, 64, 3), np.uint8))   # the node's warm-up, no stamp
        for stamp, frame in zip((5.0, 5.0 + 1 / 60, 5.0 + 1 / 60), frames):
            tracking.detect(frame, stamp)   # an equal stamp is another frame, not a restart
        assert tracking.restarts == 0
        again = tracking.detect(frames[0], stamp=1.0)
        assert tracking.restarts == 1
        # Detected afresh, as a one-off image is, not carried over from the third frame.
        np.testing.assert_allclose(again, single.detect(frames[0]), atol=1e-3)
        assert tracking.detect(frames[1]).shape == (1, 17, 3)   # no stamp: a frame later
        assert tracking.restarts == 1


def test_bundle_agrees_with_the_legacy_api(data_root):
    """The set-up's bundle gives the legacy single-person API's landmarks, to about a pixel."""
    solutions_pose = pytest.importorskip('mediapipe.python.solutions.pose')  # 0.10.x only
    errors = []
    with MediaPipeDetector(static_image_mode=True, num_poses=1, skeleton=BLAZEPOSE33) as tasks, \
            solutions_pose.Pose(static_image_mode=True, model_complexity=1) as legacy:
        for camera in (1, 2, 3, 4):
            frame = _frames(data_root, camera, 1)[0]
            height, width = frame.shape[:2]
            landmarks = legacy.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)).pose_landmarks
            expected = np.array([(mark.x * width, mark.y * height)
                                 for mark in landmarks.landmark])
            found = tasks.detect(frame)
            assert found.shape == (1, 33, 3)
            errors.append(np.linalg.norm(found[0, :, :2] - expected, axis=1))
    errors = np.concatenate(errors)
    assert np.median(errors) < 1.0, errors
    assert np.percentile(errors, 90) < 4.0, errors
    assert errors.max() < 12.0, errors


def test_two_people_in_a_multi_person_frame(data_root):
    """Camera 4 of Demo_MultiPerson, frame 0: the participant and the rendered person."""
    frame = _frames(data_root, 4, 1, trial='MultiPerson')[0]
    with MediaPipeDetector(static_image_mode=True, num_poses=3) as detector:
        found = detect_people(detector, frame)
    assert found.keypoints.shape == (2, 17, 3)
    assert not found.doubtful.any() and not found.capped
    hips = found.keypoints[:, HIPS, :2].mean(axis=1)
    shoulders = found.keypoints[:, SHOULDERS_HIPS[:2], :2].mean(axis=1)
    torso = np.linalg.norm(hips - shoulders, axis=1)
    assert np.all(torso > 80)                                   # each a whole person...
    assert np.linalg.norm(hips[0] - hips[1]) > 1.5 * torso.max()  # ...apart from the other
    with MediaPipeDetector(static_image_mode=True, num_poses=1) as detector:
        assert detector.detect_people(frame).capped


def test_people_beyond_num_poses_are_capped(data_root):
    """More people than num_poses: that many are reported, and the cap is said."""
    frame = _frames(data_root, 1, 1)[0]
    pair = np.hstack([frame, frame])     # the participant twice, a frame apart
    with MediaPipeDetector(static_image_mode=True, num_poses=3) as detector:
        found = detector.detect_people(pair)
    assert found.keypoints.shape == (2, 17, 3) and not found.capped
    with MediaPipeDetector(static_image_mode=True, num_poses=1) as detector:
        found = detector.detect_people(pair)
    assert found.keypoints.shape == (1, 17, 3) and found.capped


def test_twenty_people_stay_within_the_cap(data_root):
    """20 people in one view cost at most num_poses landmark passes.

    MediaPipe's person detector sees the image at 224 px and suppresses boxes that overlap,
    so it resolves only a few of 20 people side by side; what it reports stays within the cap.
    """
    crop = _frames(data_root, 1, 1)[0][:, 150:610]
    crowd = np.vstack([np.hstack([crop] * 5)] * 4)
    with MediaPipeDetector(static_image_mode=True, num_poses=2) as detector:
        found = detector.detect_people(crowd)
    assert len(found.keypoints) <= 2 and found.capped == (len(found.keypoints) == 2)


def test_doubtful_people_geometry():
    """Overlapping boxes, a box that swallows two tracked people, and a merge followed."""
    apart = np.array([[0, 0, 100, 200], [300, 0, 400, 200]], float)
    assert not doubtful_people(apart).any()
    overlapping = np.array([[0, 0, 100, 200], [10, 10, 110, 210]], float)
    assert doubtful_people(overlapping).all()
    merged = np.array([[0, 0, 400, 200]], float)
    assert doubtful_people(merged, apart, np.zeros(2, bool)).all()
    assert not doubtful_people(apart[:1], apart, np.zeros(2, bool)).any()  # one left view
    moved = merged + [5, 0, 5, 0]
    assert doubtful_people(moved, merged, np.array([True])).all()
    assert not doubtful_people(moved, merged, np.array([False])).any()


def test_model_path_default_and_bad_files(tmp_path):
    """A missing or corrupt model fails in one line naming the file and how to get one."""
    assert check_model(default_model_path()) == str(default_model_path())
    missing = tmp_path / 'nowhere.task'
    with pytest.raises(ModelError, match='scripts/setup.sh') as error:
        MediaPipeDetector(model_path=missing)
    assert str(missing) in str(error.value) and '\n' not in str(error.value)
    truncated = tmp_path / 'truncated.task'
    truncated.write_bytes(default_model_path().read_bytes()[:100000])
    with pytest.raises(ModelError, match='not a MediaPipe .task bundle') as error:
        MediaPipeDetector(model_path=truncated)
    assert str(truncated) in str(error.value)
    wrong = tmp_path / 'wrong.task'
    with zipfile.ZipFile(wrong, 'w') as bundle:
        bundle.writestr('hand_detector.tflite', b'')
    with pytest.raises(ModelError, match='lacks pose_detector.tflite'):
        MediaPipeDetector(model_path=wrong)


def test_corrupt_model_inside_a_good_zip_is_a_clear_error(tmp_path):
    """Models that MediaPipe refuses: still one ModelError, in a process that lives."""
    corrupt = tmp_path / 'corrupt.task'
    with zipfile.ZipFile(corrupt, 'w') as bundle:
        bundle.writestr(BUNDLE_DETECTOR, b'not a flatbuffer' * 100)
        bundle.writestr(BUNDLE_LANDMARKS, b'not a flatbuffer' * 100)
    script = (
        'from skelsplat_ros.detect.mediapipe_detector import MediaPipeDetector, ModelError\n'
        'try:\n'
        f'    MediaPipeDetector(model_path={str(corrupt)!r})\n'
        'except ModelError as error:\n'
        '    print("refused:", error)\n')
    result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith('refused: MediaPipe cannot load the pose model'), \
        result.stdout
    assert str(corrupt) in result.stdout and 'scripts/setup.sh' in result.stdout


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
    for poses in (0, MAX_NUM_POSES + 1):
        with pytest.raises(ValueError, match='num_poses'):
            MediaPipeDetector(num_poses=poses)
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
        with MediaPipeDetector(static_image_mode=True, num_poses=1, **options) as detector:
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
