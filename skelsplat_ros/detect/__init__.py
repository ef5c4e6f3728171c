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

The ROS layer has a third source, keypoints arriving on a topic, which needs no detector.
"""

from typing import Callable, Dict, Protocol

import numpy as np
from skelsplat_ros.skeletons import COCO17, Skeleton

__all__ = ['DETECTORS', 'Detector', 'create_detector']


class Detector(Protocol):
    """Anything with a ``detect`` method of this shape."""

    def detect(self, bgr: np.ndarray) -> np.ndarray:
        """Return ``(P, J, 3)`` keypoints (x px, y px, confidence) of a BGR image."""


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
