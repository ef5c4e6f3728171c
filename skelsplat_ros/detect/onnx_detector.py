# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""2D keypoints from an ONNX pose model (RTMPose / RTMO style) with onnxruntime.

Three model heads, found from the model's outputs (or named with ``head``):

- ``'simcc'`` (RTMPose): top-down, input ``(B, 3, H, W)``, outputs ``simcc_x (B, K, W*r)``
  and ``simcc_y (B, K, H*r)`` with split ratio ``r`` (2.0).  A joint lies at the arg-max bin
  divided by ``r``; its confidence is the smaller of the two maxima.
- ``'heatmap'`` (SimpleBaseline / HRNet / ViTPose): top-down, output ``(B, K, h, w)``.  A
  joint lies at the arg-max cell moved a quarter cell towards the higher neighbour, scaled by
  the input/heatmap size ratio; its confidence is the heatmap maximum.
- ``'rtmo'`` (one-stage): input the whole letterboxed image, outputs ``dets (1, N, 5)``
  (box, score) and ``keypoints (1, N, K, 3)`` (x, y, score) in input pixels.

Top-down pre-processing follows mmpose: each person box (``xyxy`` pixels; the whole image
when none is given) is enlarged by ``box_scale`` (1.25) about its centre, widened to the
model's aspect ratio, and warped to the input size; pixels are converted to RGB and
normalised with RTMPose's ImageNet mean and std.  The keypoints are mapped back through the
inverse of that warp.  RTMO instead takes the image resized to fit the input, at the top-left
corner, padded with grey 114, as BGR 0-255, and its keypoints are divided by the resize
factor.  The input size is read from the model (``input_size`` names it when the model's
shape is dynamic).

Keypoints come out in the model's layout (``keypoint_format``, e.g. ``'coco17'``,
``'halpe26'``, ``'body25'``) and are brought into the detector's skeleton by joint name with
:meth:`skelsplat_ros.skeletons.Skeleton.from_keypoints` (a joint the model lacks has
confidence 0).  Confidences are clipped to [0, 1] (SimCC values
are unnormalised logits whose useful range is about 0-1).
"""

import os

import cv2
import numpy as np

from skelsplat_ros import imaging
from skelsplat_ros.skeletons import COCO17, get_format

__all__ = ['OnnxPoseDetector', 'RTMPOSE_MEAN', 'RTMPOSE_STD']

#: Per-channel RGB mean and standard deviation RTMPose was trained with (ImageNet, 0-255).
RTMPOSE_MEAN = (123.675, 116.28, 103.53)
RTMPOSE_STD = (58.395, 57.12, 57.375)

_HEADS = ('simcc', 'heatmap', 'rtmo')


def _providers(device):
    """Return onnxruntime execution providers for ``device`` ('auto', 'cuda' or 'cpu')."""
    import onnxruntime as ort
    available = ort.get_available_providers()
    if device == 'cpu':
        return ['CPUExecutionProvider']
    if device == 'cuda' and 'CUDAExecutionProvider' not in available:
        raise RuntimeError(f'device="cuda" but onnxruntime offers only {available}')
    if device not in ('auto', 'cuda'):
        raise ValueError(f'device must be "auto", "cuda" or "cpu", got {device!r}')
    if 'CUDAExecutionProvider' in available:
        return ['CUDAExecutionProvider', 'CPUExecutionProvider']
    return ['CPUExecutionProvider']


def _guess_head(outputs):
    """Name the head from the session's output metadata (name, rank, last dimension)."""
    names = [output.name for output in outputs]
    ranks = [len(output.shape) for output in outputs]
    last = [output.shape[-1] if output.shape else None for output in outputs]
    if 'simcc_x' in names and 'simcc_y' in names:
        return 'simcc'
    if len(outputs) >= 2 and 3 in ranks and 4 in ranks:
        dets, keypoints = ranks.index(3), ranks.index(4)
        if last[dets] == 5 and last[keypoints] == 3:
            return 'rtmo'
    if ranks[:2] == [3, 3]:
        return 'simcc'
    if ranks[0] == 4:
        return 'heatmap'
    raise ValueError(f'cannot tell the model head from its outputs {list(zip(names, ranks))}; '
                     f'pass head= one of {_HEADS}')


def _top_down_transform(box, box_scale, input_size):
    """Return the 2x3 affine matrix mapping image pixels into the model input for ``box``.

    ``box`` is ``(4,)`` x1, y1, x2, y2 pixels; ``input_size`` is (width, height).  The box is
    scaled by ``box_scale`` about its centre and widened or heightened to the input's aspect
    ratio, then scaled uniformly so that its centre lands on the input's centre.
    """
    in_w, in_h = input_size
    x1, y1, x2, y2 = (float(v) for v in box)
    centre = np.array([(x1 + x2) / 2.0, (y1 + y2) / 2.0])
    width, height = (x2 - x1) * box_scale, (y2 - y1) * box_scale
    if width <= 0 or height <= 0:
        raise ValueError(f'person box {tuple(box)} has no area')
    aspect = in_w / in_h
    if width > height * aspect:
        height = width / aspect
    else:
        width = height * aspect
    scale = in_w / width
    return np.array([[scale, 0.0, in_w / 2.0 - scale * centre[0]],
                     [0.0, scale, in_h / 2.0 - scale * centre[1]]])


def _apply_inverse(matrix, points):
    """Map ``(..., 2)`` model-input pixels back to image pixels through a scale+shift affine."""
    scale = matrix[0, 0]
    return (points - matrix[:, 2]) / scale


def decode_simcc(simcc_x, simcc_y, split_ratio=2.0):
    """Decode SimCC outputs to ``(B, K, 3)`` (x, y input pixels, confidence).

    Args:
        simcc_x: ``(B, K, Wx)`` horizontal bin scores.
        simcc_y: ``(B, K, Hy)`` vertical bin scores.
        split_ratio: bins per input pixel.
    """
    x_bins = np.argmax(simcc_x, axis=2)
    y_bins = np.argmax(simcc_y, axis=2)
    confidence = np.minimum(simcc_x.max(axis=2), simcc_y.max(axis=2))
    return np.stack([x_bins / split_ratio, y_bins / split_ratio, confidence], axis=2)


def decode_heatmaps(heatmaps, input_size):
    """Decode ``(B, K, h, w)`` heatmaps to ``(B, K, 3)`` (x, y input pixels, confidence).

    The arg-max cell is moved a quarter cell towards its higher neighbour on each axis, then
    scaled by ``input_size / (w, h)`` (``input_size`` is (width, height)).
    """
    batch, joints, height, width = heatmaps.shape
    flat = heatmaps.reshape(batch, joints, -1)
    index = np.argmax(flat, axis=2)
    confidence = np.take_along_axis(flat, index[..., None], axis=2)[..., 0]
    y, x = np.divmod(index, width)
    refined = np.stack([x, y], axis=2).astype(np.float64)
    b, k = np.meshgrid(np.arange(batch), np.arange(joints), indexing='ij')
    inner_x = (x > 0) & (x < width - 1)
    inner_y = (y > 0) & (y < height - 1)
    right = heatmaps[b, k, y, np.minimum(x + 1, width - 1)]
    left = heatmaps[b, k, y, np.maximum(x - 1, 0)]
    below = heatmaps[b, k, np.minimum(y + 1, height - 1), x]
    above = heatmaps[b, k, np.maximum(y - 1, 0), x]
    refined[..., 0] += np.where(inner_x, 0.25 * np.sign(right - left), 0.0)
    refined[..., 1] += np.where(inner_y, 0.25 * np.sign(below - above), 0.0)
    refined *= np.array([input_size[0] / width, input_size[1] / height])
    return np.concatenate([refined, confidence[..., None]], axis=2)


class OnnxPoseDetector:
    """2D keypoints from an RTMPose-style (top-down) or RTMO-style (one-stage) ONNX model.

    Args:
        model_path: the ``.onnx`` file.
        head: ``'auto'`` (from the outputs), ``'simcc'``, ``'heatmap'`` or ``'rtmo'``.
        keypoint_format: the model's keypoint layout, a :mod:`skelsplat_ros.skeletons`
            format name (``'coco17'``, ``'halpe26'``, ``'body25'``, ...).
        device: ``'auto'`` (CUDA when onnxruntime has it, else CPU), ``'cuda'`` or ``'cpu'``.
        input_size: ``(width, height)`` for models whose input shape is dynamic.
        box_scale: enlargement of person boxes (top-down heads).
        mean, std: per-channel normalisation; default RTMPose's for top-down heads and none
            for RTMO.
        rgb: feed RGB (default for top-down heads) rather than BGR (default for RTMO).
        split_ratio: SimCC bins per input pixel.
        score_threshold: RTMO person score below which detections are dropped.
        skeleton: the :class:`~skelsplat_ros.skeletons.Skeleton` whose joints ``detect``
            returns.
    """

    def __init__(self, model_path, head='auto', keypoint_format='coco17', device='auto',
                 input_size=None, box_scale=1.25, mean=None, std=None, rgb=None,
                 split_ratio=2.0, score_threshold=0.3, skeleton=COCO17):
        model_path = os.fspath(model_path)
        if not os.path.isfile(model_path):
            raise FileNotFoundError(f'ONNX pose model not found: {model_path!r}')
        import onnxruntime as ort
        self._session = ort.InferenceSession(model_path, providers=_providers(device))
        self._input = self._session.get_inputs()[0]
        outputs = self._session.get_outputs()
        self.head = _guess_head(outputs) if head == 'auto' else head
        if self.head not in _HEADS:
            raise ValueError(f'head must be "auto" or one of {_HEADS}, got {head!r}')
        self._output_names = self._order_outputs(outputs)
        self.input_size = self._read_input_size(input_size)
        self._format = get_format(keypoint_format)
        self.skeleton = skeleton
        top_down = self.head != 'rtmo'
        if mean is None:
            mean = RTMPOSE_MEAN if top_down else (0.0, 0.0, 0.0)
        if std is None:
            std = RTMPOSE_STD if top_down else (1.0, 1.0, 1.0)
        self._mean = np.asarray(mean, np.float32)
        self._std = np.asarray(std, np.float32)
        self._rgb = top_down if rgb is None else bool(rgb)
        self._box_scale = float(box_scale)
        self._split_ratio = float(split_ratio)
        self._score_threshold = float(score_threshold)
        batch = self._input.shape[0]
        self._batched = not isinstance(batch, int) or batch != 1

    @property
    def providers(self):
        """The onnxruntime execution providers in use."""
        return self._session.get_providers()

    def _order_outputs(self, outputs):
        """Return output names in the order the head's decoder wants them."""
        names = [output.name for output in outputs]
        if self.head == 'simcc':
            if 'simcc_x' in names and 'simcc_y' in names:
                return ['simcc_x', 'simcc_y']
            return names[:2]
        if self.head == 'rtmo':
            ranks = [len(output.shape) for output in outputs]
            return [names[ranks.index(3)], names[ranks.index(4)]]
        return names[:1]

    def _read_input_size(self, input_size):
        """Return the model's input (width, height), from its shape or ``input_size``."""
        shape = self._input.shape
        if len(shape) != 4:
            raise ValueError(f'expected a (B, 3, H, W) model input, got shape {shape}')
        height, width = shape[2], shape[3]
        if isinstance(height, int) and isinstance(width, int):
            if input_size is not None and tuple(input_size) != (width, height):
                raise ValueError(f'input_size {tuple(input_size)} disagrees with the model '
                                 f'input {width}x{height}')
            return width, height
        if input_size is None:
            raise ValueError(f'the model input shape {shape} is dynamic: pass '
                             'input_size=(width, height)')
        width, height = imaging.check_image_size(input_size[0], input_size[1],
                                                 what='model input')
        return width, height

    def _normalise(self, images):
        """Turn ``(B, H, W, 3) uint8`` BGR into the ``(B, 3, H, W) float32`` model input."""
        if self._rgb:
            images = images[..., ::-1]
        tensor = (images.astype(np.float32) - self._mean) / self._std
        return np.ascontiguousarray(tensor.transpose(0, 3, 1, 2))

    def _run(self, tensor):
        """Run the model on a batch, one image at a time when its batch size is fixed."""
        if self._batched:
            return self._session.run(self._output_names, {self._input.name: tensor})
        results = [self._session.run(self._output_names, {self._input.name: tensor[i:i + 1]})
                   for i in range(len(tensor))]
        return [np.concatenate(parts, axis=0) for parts in zip(*results)]

    def detect(self, bgr, boxes=None):
        """Return ``(P, J, 3)`` keypoints of the skeleton (x px, y px, confidence) of an image.

        Args:
            bgr: ``(H, W, 3) uint8`` BGR image.
            boxes: ``(P, 4)`` person boxes x1, y1, x2, y2 in pixels for the top-down heads;
                None means one box, the whole image (taken as is, not enlarged).  RTMO
                ignores it.

        Raises:
            skelsplat_ros.imaging.ImageConversionError: another shape or dtype, or a size
                :func:`skelsplat_ros.imaging.check_image_size` refuses.
        """
        bgr = imaging.check_bgr(bgr)  # before any native call: OpenCV aborts on huge sides
        if self.head == 'rtmo':
            keypoints = self._detect_one_stage(bgr)
        else:
            keypoints = self._detect_top_down(bgr, boxes)
        joints = len(self._format.joint_names)
        if keypoints.shape[1] != joints:
            raise ValueError(f'the model gives {keypoints.shape[1]} keypoints but format '
                             f'{self._format.name!r} has {joints}')
        keypoints = self.skeleton.from_keypoints(keypoints, self._format.joint_names)
        keypoints[..., 2] = np.clip(keypoints[..., 2], 0.0, 1.0)
        return keypoints

    def _detect_top_down(self, bgr, boxes):
        """Crop each box, run the model, and map keypoints back: ``(P, K, 3)``."""
        height, width = bgr.shape[:2]
        if boxes is None:
            transforms = [_top_down_transform((0, 0, width, height), 1.0, self.input_size)]
        else:
            boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
            if len(boxes) == 0:
                return np.zeros((0, len(self._format.joint_names), 3))
            transforms = [_top_down_transform(box, self._box_scale, self.input_size)
                          for box in boxes]
        crops = np.stack([cv2.warpAffine(bgr, matrix, self.input_size, flags=cv2.INTER_LINEAR)
                          for matrix in transforms])
        outputs = self._run(self._normalise(crops))
        if self.head == 'simcc':
            keypoints = decode_simcc(outputs[0], outputs[1], self._split_ratio)
        else:
            keypoints = decode_heatmaps(outputs[0], self.input_size)
        for person, matrix in enumerate(transforms):
            keypoints[person, :, :2] = _apply_inverse(matrix, keypoints[person, :, :2])
        return keypoints

    def _detect_one_stage(self, bgr):
        """Letterbox the image, run RTMO, keep confident people: ``(P, K, 3)``."""
        height, width = bgr.shape[:2]
        in_w, in_h = self.input_size
        ratio = min(in_w / width, in_h / height)
        size = (max(1, round(width * ratio)), max(1, round(height * ratio)))
        padded = np.full((in_h, in_w, 3), 114, np.uint8)
        padded[:size[1], :size[0]] = cv2.resize(bgr, size, interpolation=cv2.INTER_LINEAR)
        dets, keypoints = self._session.run(
            self._output_names, {self._input.name: self._normalise(padded[None])})
        scores = dets[0, :, 4]
        keep = np.flatnonzero(scores >= self._score_threshold)
        keep = keep[np.argsort(-scores[keep], kind='stable')]
        people = keypoints[0, keep].astype(np.float64)
        # Letterboxing at the top-left corner: only the resize needs undoing.
        people[..., :2] /= (size[0] / width, size[1] / height)
        return people
