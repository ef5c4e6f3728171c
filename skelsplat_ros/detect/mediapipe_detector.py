# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Single-person 2D keypoints from MediaPipe Pose (legacy ``mp.solutions.pose`` API).

MediaPipe's BlazePose gives 33 landmarks normalised to the image (:data:`BLAZEPOSE33_JOINTS`:
face, shoulders to hands, hips to heels and toes); they are scaled to pixels and brought into
the detector's skeleton by joint name with :meth:`Skeleton.from_keypoints`: ``blazepose33``
keeps all of them, ``halpe26`` gets the heels and big toes (the foot index landmarks), and a
joint BlazePose lacks (HALPE's head top, neck, pelvis and small toes) has confidence 0.  The
confidence of a keypoint is the landmark's *visibility* (the legacy API leaves *presence*
unset).  Landmarks the model places outside the image are kept as they are (usually with low
visibility).

Only ``model_complexity=1`` ('full') is usable offline: its model ships in the wheel, while
0 ('lite') and 2 ('heavy') are downloaded on first use.

A ``Pose`` object tracks the person between frames and is not thread-safe: use one
:class:`MediaPipeDetector` per camera stream (``create_detector('mediapipe')`` makes a new
one each call).
"""

import cv2
import numpy as np

from skelsplat_ros import imaging
from skelsplat_ros.skeletons import BLAZEPOSE33_JOINTS, COCO17

__all__ = ['MediaPipeDetector']


class MediaPipeDetector:
    """Keypoints of the one person MediaPipe Pose finds in each image.

    Args:
        static_image_mode: detect the person afresh in every image instead of tracking it
            from the previous one (slower, but frames need not be consecutive).
        model_complexity: must be 1 (see the module docstring).
        min_detection_confidence: MediaPipe's person-detection threshold, in [0, 1].
        min_tracking_confidence: MediaPipe's threshold for keeping a track, in [0, 1].
        smooth_landmarks: let MediaPipe filter landmarks over time (tracking mode only).
        max_side: if set, images whose longer side exceeds it are shrunk to it before
            inference (faster); keypoints are still returned in the original pixels.
        skeleton: the :class:`~skelsplat_ros.skeletons.Skeleton` whose joints ``detect``
            returns.
    """

    def __init__(self, static_image_mode=False, model_complexity=1,
                 min_detection_confidence=0.5, min_tracking_confidence=0.5,
                 smooth_landmarks=True, max_side=None, skeleton=COCO17):
        if model_complexity != 1:
            raise ValueError(
                f'model_complexity={model_complexity} needs a model MediaPipe downloads at run '
                'time; only 1 (full, shipped in the mediapipe wheel) works offline')
        if max_side is not None and max_side < 32:
            raise ValueError(f'max_side must be at least 32 pixels, got {max_side}')
        try:
            from mediapipe.python.solutions import pose as mp_pose
        except ImportError as error:
            raise ImportError('the mediapipe detector needs the mediapipe package '
                              '(pip install mediapipe)') from error
        self.skeleton = skeleton
        self._max_side = max_side
        self._pose = mp_pose.Pose(
            static_image_mode=static_image_mode, model_complexity=1,
            smooth_landmarks=smooth_landmarks, enable_segmentation=False,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence)

    def detect(self, bgr):
        """Return ``(P, J, 3)`` keypoints of the skeleton (x px, y px, visibility), P = 0 or 1.

        Args:
            bgr: ``(H, W, 3) uint8`` BGR image.

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
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        result = self._pose.process(rgb)
        if result.pose_landmarks is None:
            return np.zeros((0, self.skeleton.num_joints, 3))
        # Normalised coordinates do not depend on the resize: scale by the original size.
        blazepose = np.array([(mark.x * width, mark.y * height, mark.visibility)
                              for mark in result.pose_landmarks.landmark])
        keypoints = self.skeleton.from_keypoints(blazepose[None], BLAZEPOSE33_JOINTS)
        keypoints[..., 2] = np.clip(keypoints[..., 2], 0.0, 1.0)
        return keypoints

    def close(self):
        """Release MediaPipe's graph."""
        self._pose.close()

    def __enter__(self):
        """Return self, for ``with``."""
        return self

    def __exit__(self, *exc_info):
        """Close on leaving a ``with`` block."""
        self.close()
