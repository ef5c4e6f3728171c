# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Tests for the ONNX detector with small models built here with onnx.helper.

Two kinds of model:

- image-driven: the SimCC / heatmap outputs are computed from the input pixels (channel sum,
  then a max over rows or columns, or 4x4 average pooling), so a bright dot drawn at a known
  image pixel must come back at that pixel through the warp, the decoding and the inverse
  warp;
- constant: the outputs peak at fixed bins, so the expected image pixel follows from the
  box geometry alone, to a fraction of a pixel.
"""

import numpy as np
import pytest

onnx = pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')
helper, TensorProto = onnx.helper, onnx.TensorProto

from skelsplat_ros.detect import create_detector  # noqa: E402
from skelsplat_ros.detect.onnx_detector import OnnxPoseDetector  # noqa: E402
from skelsplat_ros.imaging import ImageConversionError  # noqa: E402
from skelsplat_ros.skeletons import BODY25_JOINTS, get_format, HALPE26  # noqa: E402

IN_W, IN_H = 192, 256  # RTMPose-m body input
K = 17


def _save(graph, path):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _const(name, values, dtype=TensorProto.INT64):
    values = np.asarray(values)
    return helper.make_tensor(name, dtype, values.shape, values.flatten().tolist())


def _profile_nodes(axis_reduced, length, output):
    """Nodes turning ``sum (1, 1, H, W)`` into a ``(1, K, 2 * length)`` SimCC profile."""
    tag = output
    return [
        helper.make_node('ReduceMax', ['sum'], [f'{tag}_max'], axes=[axis_reduced], keepdims=0),
        # (1, 1, L) -> (1, 1, L, 1) -> two copies side by side -> (1, 1, 2L): bin 2i and 2i+1
        # both hold pixel i, and arg-max picks 2i, i.e. exactly pixel i after dividing by 2.
        helper.make_node('Unsqueeze', [f'{tag}_max', 'last_axis'], [f'{tag}_col']),
        helper.make_node('Concat', [f'{tag}_col', f'{tag}_col'], [f'{tag}_pair'], axis=3),
        helper.make_node('Reshape', [f'{tag}_pair', f'{tag}_shape'], [f'{tag}_one']),
        helper.make_node('Tile', [f'{tag}_one', 'repeat_k3'], [output]),
    ], [_const(f'{tag}_shape', [1, 1, 2 * length])]


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    """Paths of the test models."""
    folder = tmp_path_factory.mktemp('onnx_models')
    paths = {}
    image = helper.make_tensor_value_info('input', TensorProto.FLOAT, [1, 3, IN_H, IN_W])
    common = [_const('channel_axis', [1]), _const('last_axis', [3]),
              _const('repeat_k3', [1, K, 1])]
    nodes = [helper.make_node('ReduceSum', ['input', 'channel_axis'], ['sum'], keepdims=1)]
    x_nodes, x_init = _profile_nodes(2, IN_W, 'simcc_x')
    y_nodes, y_init = _profile_nodes(3, IN_H, 'simcc_y')
    graph = helper.make_graph(
        nodes + x_nodes + y_nodes, 'simcc_from_image', [image],
        [helper.make_tensor_value_info('simcc_x', TensorProto.FLOAT, [1, K, 2 * IN_W]),
         helper.make_tensor_value_info('simcc_y', TensorProto.FLOAT, [1, K, 2 * IN_H])],
        common + x_init + y_init)
    paths['simcc_image'] = _save(graph, folder / 'simcc_image.onnx')

    batch_image = helper.make_tensor_value_info('input', TensorProto.FLOAT,
                                                ['batch', 3, IN_H, IN_W])
    graph = helper.make_graph(
        [helper.make_node('ReduceSum', ['input', 'channel_axis'], ['sum'], keepdims=1),
         helper.make_node('AveragePool', ['sum'], ['pooled'], kernel_shape=[4, 4],
                          strides=[4, 4]),
         helper.make_node('Tile', ['pooled', 'repeat_k4'], ['heatmaps'])],
        'heatmap_from_image', [batch_image],
        [helper.make_tensor_value_info('heatmaps', TensorProto.FLOAT,
                                       ['batch', K, IN_H // 4, IN_W // 4])],
        [_const('channel_axis', [1]), _const('repeat_k4', [1, K, 1, 1])])
    paths['heatmap_image'] = _save(graph, folder / 'heatmap_image.onnx')

    for joints in (17, 25):
        paths[f'simcc_const{joints}'] = _save(_constant_simcc_graph(joints),
                                              folder / f'simcc_const{joints}.onnx')
    paths['rtmo_const'] = _save(_constant_rtmo_graph(), folder / 'rtmo_const.onnx')
    return paths


def _constant_bins(joints):
    """Input pixel (x, y) where joint k of the constant models peaks: ``(joints, 2)``."""
    k = np.arange(joints)
    return np.stack([10.0 + 6.5 * k, 20.0 + 9.0 * k], axis=1)


def _constant_output(name, values, image_input='input'):
    """Nodes adding ``0 * mean(input)`` to constant ``values`` so the input is really used."""
    return [
        helper.make_node('ReduceMean', [image_input], [f'{name}_mean'], keepdims=0),
        helper.make_node('Mul', [f'{name}_mean', 'zero'], [f'{name}_zero']),
        helper.make_node('Add', [f'{name}_const', f'{name}_zero'], [name]),
    ], [_const(f'{name}_const', values, TensorProto.FLOAT)]


def _constant_simcc_graph(joints):
    bins = _constant_bins(joints)
    simcc_x = np.zeros((1, joints, 2 * IN_W), np.float32)
    simcc_y = np.zeros((1, joints, 2 * IN_H), np.float32)
    for k, (x, y) in enumerate(bins):
        simcc_x[0, k, int(2 * x)] = 0.9  # x = 6.5 k + 10 has half-pixel steps: bin 2x
        simcc_y[0, k, int(2 * y)] = 0.6 + 0.01 * k
    x_nodes, x_init = _constant_output('simcc_x', simcc_x)
    y_nodes, y_init = _constant_output('simcc_y', simcc_y)
    return helper.make_graph(
        x_nodes + y_nodes, f'simcc_const{joints}',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT, [1, 3, IN_H, IN_W])],
        [helper.make_tensor_value_info('simcc_x', TensorProto.FLOAT, list(simcc_x.shape)),
         helper.make_tensor_value_info('simcc_y', TensorProto.FLOAT, list(simcc_y.shape))],
        x_init + y_init + [_const('zero', [0.0], TensorProto.FLOAT)])


RTMO_SIZE = 640
RTMO_SCORES = [0.2, 0.9, 0.5]


def _rtmo_keypoints():
    """Constant RTMO keypoints ``(1, 3, 17, 3)`` in input pixels."""
    k = np.arange(K)
    people = []
    for person in range(3):
        people.append(np.stack([50.0 + 20 * k + 100 * person, 30.0 + 15 * k,
                                np.full(K, 0.1 + 0.3 * person)], axis=1))
    return np.stack(people)[None].astype(np.float32)


def _constant_rtmo_graph():
    dets = np.zeros((1, 3, 5), np.float32)
    dets[0, :, 4] = RTMO_SCORES
    d_nodes, d_init = _constant_output('dets', dets)
    k_nodes, k_init = _constant_output('keypoints', _rtmo_keypoints())
    return helper.make_graph(
        d_nodes + k_nodes, 'rtmo_const',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT,
                                       [1, 3, RTMO_SIZE, RTMO_SIZE])],
        [helper.make_tensor_value_info('dets', TensorProto.FLOAT, [1, 3, 5]),
         helper.make_tensor_value_info('keypoints', TensorProto.FLOAT, [1, 3, K, 3])],
        d_init + k_init + [_const('zero', [0.0], TensorProto.FLOAT)])


def _dot_image(width, height, dots):
    """Draw a black BGR image with a white Gaussian blob at each of ``dots`` ((x, y) pixels).

    A blob (sigma 1.5% of the image size), not a flat disc, so that its brightest pixel, and
    so the arg-max, is its centre at any scale.
    """
    sigma = 0.015 * max(width, height)
    x, y = np.meshgrid(np.arange(width), np.arange(height))
    intensity = np.zeros((height, width))
    for dot_x, dot_y in dots:
        blob = np.exp(-((x - dot_x) ** 2 + (y - dot_y) ** 2) / (2 * sigma ** 2))
        intensity = np.maximum(intensity, blob)
    grey = np.rint(255 * intensity).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)


def _image_px_per_input_px(width, height, box=None, box_scale=1.0):
    """How many image pixels one input pixel spans for a box (whole image by default)."""
    if box is None:
        box = (0, 0, width, height)
    box_w, box_h = (box[2] - box[0]) * box_scale, (box[3] - box[1]) * box_scale
    return max(box_w / IN_W, box_h / IN_H)


def _tolerance(model, step):
    """Largest error, image pixels, for one input pixel spanning ``step`` image pixels.

    SimCC resolves one input pixel; the test heatmap has 4-pixel cells (quarter-cell
    refinement, and average pooling puts a cell's centre 1.5 pixels off its corner).
    """
    return step + 1 if model == 'simcc_image' else 3 * step + 1


@pytest.mark.parametrize('size', [(640, 480), (1080, 1920), (300, 100), (192, 256)])
@pytest.mark.parametrize('model', ['simcc_image', 'heatmap_image'])
def test_bright_dot_is_found_where_drawn(models, model, size):
    width, height = size
    detector = OnnxPoseDetector(models[model], device='cpu')
    assert detector.head == model.split('_')[0]
    assert detector.input_size == (IN_W, IN_H)
    rng = np.random.default_rng(width + height)
    for _ in range(3):
        dot = rng.uniform(0.1, 0.9, 2) * (width, height)
        keypoints = detector.detect(_dot_image(width, height, [dot]))
        assert keypoints.shape == (1, 17, 3)
        # Every joint sees the same map, so every joint lands on the dot.
        error = np.abs(keypoints[0, :, :2] - dot).max()
        assert error <= _tolerance(model, _image_px_per_input_px(width, height)), error
        if model == 'simcc_image':  # the blob's channel sum far exceeds 1: clipped to 1
            assert np.all(keypoints[0, :, 2] == 1.0)


@pytest.mark.parametrize('model', ['simcc_image', 'heatmap_image'])
def test_boxes_give_one_person_each(models, model):
    width, height = 1280, 720
    dots = [(300.0, 400.0), (900.0, 200.0)]
    boxes = np.array([[200, 150, 420, 650], [800, 50, 1000, 500]], float)
    detector = create_detector('onnx', model_path=models[model], device='cpu')
    keypoints = detector.detect(_dot_image(width, height, dots), boxes=boxes)
    assert keypoints.shape == (2, 17, 3)
    for person, (dot, box) in enumerate(zip(dots, boxes)):
        step = _image_px_per_input_px(width, height, box, box_scale=1.25)
        assert np.abs(keypoints[person, :, :2] - dot).max() <= _tolerance(model, step)
    assert detector.detect(_dot_image(width, height, dots), boxes=np.zeros((0, 4))).shape == \
        (0, 17, 3)


def _expected_pixels(bins, box, box_scale):
    """Image pixels of model-input pixels ``bins`` for a box, derived from the geometry."""
    centre = np.array([box[0] + box[2], box[1] + box[3]]) / 2.0
    box_w, box_h = (box[2] - box[0]) * box_scale, (box[3] - box[1]) * box_scale
    # The input window covers the enlarged box, widened to the input's 3:4 aspect ratio.
    window = max(box_w / IN_W, box_h / IN_H) * np.array([IN_W, IN_H])
    return centre - window / 2.0 + bins / np.array([IN_W, IN_H]) * window


@pytest.mark.parametrize('size', [(640, 480), (1088, 1920), (500, 500)])
def test_constant_simcc_inverse_warp(models, size):
    width, height = size
    detector = OnnxPoseDetector(models['simcc_const17'], device='cpu')
    image = np.zeros((height, width, 3), np.uint8)
    bins = _constant_bins(K)
    keypoints = detector.detect(image)
    np.testing.assert_allclose(keypoints[0, :, :2],
                               _expected_pixels(bins, (0, 0, width, height), 1.0), atol=1e-6)
    np.testing.assert_allclose(keypoints[0, :, 2], np.minimum(0.9, 0.6 + 0.01 * np.arange(K)))
    box = (0.1 * width, 0.2 * height, 0.4 * width, 0.9 * height)
    keypoints = detector.detect(image, boxes=[box])
    np.testing.assert_allclose(keypoints[0, :, :2], _expected_pixels(bins, box, 1.25),
                               atol=1e-6)


def test_keypoint_format_is_mapped_to_coco17(models):
    detector = OnnxPoseDetector(models['simcc_const25'], keypoint_format='body25',
                                device='cpu')
    width, height = 400, 600
    keypoints = detector.detect(np.zeros((height, width, 3), np.uint8))
    body25 = _expected_pixels(_constant_bins(25), (0, 0, width, height), 1.0)
    source = get_format('body25').coco17_index
    assert keypoints.shape == (1, 17, 3)
    np.testing.assert_allclose(keypoints[0, :, :2], body25[source], atol=1e-6)
    with pytest.raises(ValueError, match='25 keypoints'):
        OnnxPoseDetector(models['simcc_const25'], device='cpu').detect(
            np.zeros((60, 40, 3), np.uint8))


def test_keypoint_format_is_mapped_to_the_skeleton_by_name(models):
    width, height = 400, 600
    detector = create_detector('onnx', skeleton=HALPE26, model_path=models['simcc_const25'],
                               keypoint_format='body25', device='cpu')
    keypoints = detector.detect(np.zeros((height, width, 3), np.uint8))
    body25 = _expected_pixels(_constant_bins(25), (0, 0, width, height), 1.0)
    assert keypoints.shape == (1, 26, 3)
    for j, name in enumerate(HALPE26.joint_names):
        # OpenPose's mid_hip is HALPE's hip; BODY_25 has no head top.
        source = 'mid_hip' if name == 'hip' else name
        if source in BODY25_JOINTS:
            np.testing.assert_allclose(keypoints[0, j, :2], body25[BODY25_JOINTS.index(source)],
                                       atol=1e-6)
            assert keypoints[0, j, 2] > 0
        else:
            assert name == 'head' and keypoints[0, j, 2] == 0.0


@pytest.mark.parametrize('size', [(1920, 1080), (1088, 1920), (640, 640)])
def test_constant_rtmo_letterbox(models, size):
    width, height = size
    detector = OnnxPoseDetector(models['rtmo_const'], device='cpu', score_threshold=0.3)
    assert detector.head == 'rtmo'
    keypoints = detector.detect(np.zeros((height, width, 3), np.uint8))
    assert keypoints.shape == (2, 17, 3)  # scores 0.9 then 0.5; 0.2 is dropped
    factor = min(RTMO_SIZE / width, RTMO_SIZE / height)
    model_people = _rtmo_keypoints()[0]
    for person, source in enumerate([1, 2]):
        np.testing.assert_allclose(keypoints[person, :, :2],
                                   model_people[source, :, :2] / factor, rtol=2e-3)
        np.testing.assert_allclose(keypoints[person, :, 2], model_people[source, :, 2],
                                   rtol=1e-6)


def test_errors(models, tmp_path):
    with pytest.raises(FileNotFoundError, match='not found'):
        OnnxPoseDetector(tmp_path / 'missing.onnx')
    with pytest.raises(ValueError, match='unknown detector'):
        create_detector('openpose')
    with pytest.raises(ValueError, match='input_size'):
        OnnxPoseDetector(models['simcc_image'], input_size=(100, 100), device='cpu')
    detector = OnnxPoseDetector(models['simcc_image'], device='cpu')
    with pytest.raises(ValueError, match='uint8'):
        detector.detect(np.zeros((10, 10), np.uint8))
    for shape in ((1, 100000, 3), (40000, 2, 3)):  # warpAffine aborts on sides >= 32767 px
        with pytest.raises(ImageConversionError, match='too large'):
            detector.detect(np.zeros(shape, np.uint8))
    with pytest.raises(ValueError, match='no area'):
        detector.detect(np.zeros((10, 10, 3), np.uint8), boxes=[[5, 5, 5, 9]])
    assert detector.providers[-1] == 'CPUExecutionProvider'
