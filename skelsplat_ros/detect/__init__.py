# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""2D human keypoint detectors behind one small interface.

Every detector turns a ``(H, W, 3) uint8`` BGR image into ``(P, J, 3)`` keypoints in the
joint layout of the :class:`~skelsplat_ros.skeletons.Skeleton` it was made for: ``x, y`` in
pixels of that image and a confidence in [0, 1], for the ``P`` people found (``P`` may be 0).
Each model has its own layout (MediaPipe: BlazePose-33); its joints are matched to the
skeleton's by name, and a joint the model lacks has confidence 0.  Detectors keep per-stream
state (MediaPipe tracks between frames), so create one per camera with
:func:`create_detector`.

:func:`detect_people` gives the same keypoints with what a detector knows about them
(:class:`Detections`): which people may be two merged into one (``doubtful``) and whether the
detector's people limit was reached (``capped``), and passes the frame's capture stamp to
detectors that track (MediaPipe's VIDEO mode).

The ROS layer has a third source, keypoints arriving on a topic, which needs no detector.
"""

import dataclasses
from typing import Callable, Dict, Optional, Protocol

import numpy as np
from skelsplat_ros.skeletons import COCO17, Skeleton

__all__ = ['DETECTORS', 'Detections', 'Detector', 'create_detector', 'detect_people']


@dataclasses.dataclass
class Detections:
    """The people a detector found in one image.

    Attributes:
        keypoints: ``(P, J, 3)`` x px, y px, confidence.
        doubtful: ``(P,)`` bool: person ``p``'s detection may hold two people (MediaPipe merges
            overlapping people into one; see
            :mod:`skelsplat_ros.detect.mediapipe_detector`).  Its view should not decide who
            that person is: leave it to the other views.
        capped: as many people were found as the detector may report (MediaPipe's
            ``num_poses``): more may be in view.
    """

    keypoints: np.ndarray
    doubtful: np.ndarray
    capped: bool = False


class Detector(Protocol):
    """Anything with a ``detect`` method of this shape."""

    def detect(self, bgr: np.ndarray) -> np.ndarray:
        """Return ``(P, J, 3)`` keypoints (x px, y px, confidence) of a BGR image."""


def detect_people(detector: Detector, bgr: np.ndarray,
                  stamp: Optional[float] = None) -> Detections:
    """Detect the people in ``bgr`` with any detector, and what it knows about them.

    Args:
        detector: a :class:`Detector`; one that has ``detect_people`` (MediaPipe) gets the
            stamp and reports doubtful people and its cap, any other is asked ``detect(bgr)``
            and nobody is doubtful.
        bgr: ``(H, W, 3) uint8`` BGR image.
        stamp: the image's capture time, seconds (for tracking detectors), or None.
    """
    if hasattr(detector, 'detect_people'):
        return detector.detect_people(bgr, stamp)
    keypoints = np.asarray(detector.detect(bgr), dtype=float)
    return Detections(keypoints, np.zeros(len(keypoints), bool))


def _mediapipe(**options):
    from skelsplat_ros.detect.mediapipe_detector import MediaPipeDetector
    return MediaPipeDetector(**options)


def _onnx(**options):
    from skelsplat_ros.detect.onnx_detector import OnnxPoseDetector
    return OnnxPoseDetector(**options)


#: Detector name -> factory taking the detector's keyword options.  The imports are lazy so
#: that neither mediapipe nor onnxruntime is needed unless that detector is used.
DETECTORS: Dict[str, Callable[..., Detector]] = {'mediapipe': _mediapipe, 'onnx': _onnx}


def create_detector(name: str, skeleton: Skeleton = COCO17, **options) -> Detector:
    """Create a new detector instance by name (``'mediapipe'`` or ``'onnx'``).

    Args:
        name: a key of :data:`DETECTORS`.
        skeleton: the joint layout of the keypoints ``detect`` returns.
        **options: keyword arguments of that detector's class
            (:class:`~skelsplat_ros.detect.mediapipe_detector.MediaPipeDetector`,
            :class:`~skelsplat_ros.detect.onnx_detector.OnnxPoseDetector`).

    Raises:
        ValueError: for an unknown name.
    """
    try:
        factory = DETECTORS[name]
    except KeyError:
        raise ValueError(f'unknown detector {name!r}; available: {sorted(DETECTORS)}') from None
    return factory(skeleton=skeleton, **options)
