# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Property-based fuzzing of every input converter the live node and the CLI use.

Each converter gets random and mutated inputs.  The property is always the same: the input
either converts into a well-formed result (shapes, dtypes and values checked) or raises the
project's own error (:class:`ImageConversionError`, :class:`CalibrationError`,
:class:`KeypointFileError`, :class:`KeypointsMessageError`, all ``ValueError``); anything else
(an ``OverflowError``, ``cv2.error``, ``TypeError``...) or a hang fails the test.
"""

import json
import math
import pathlib
import tempfile

from hypothesis import given, HealthCheck, settings, strategies as st
import numpy as np
import pytest
from skelsplat_ros import imaging
from skelsplat_ros.cameras import CalibrationError, Camera, camera_from_camera_info
from skelsplat_ros.cameras import DISTORTION_MODELS, load_calibration
from skelsplat_ros.fileio.openpose import KeypointFileError, read_openpose_json
from skelsplat_ros.imaging import ImageConversionError
from skelsplat_ros.skeletons import FORMAT_NAMES, get_format
import yaml

# Modest example counts and a per-example deadline: the whole file runs in well under 30 s,
# and an example that takes far longer than any should (a hang, a huge allocation) fails.  The
# deadline is generous: on a shared machine one example of a few milliseconds took 3.8 s.
FUZZ = settings(max_examples=150, deadline=20_000,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
CALIBRATION = 'pose2sim-0.4.15/Pose2Sim/Demo/calibration/Calib_qualisys.toml'
OPENPOSE = 'pose2sim-0.4.15/Pose2Sim/Demo/pose/cam1_json/cam01.0000.json'

any_float = st.floats(allow_nan=True, allow_infinity=True)
numbers = st.one_of(any_float, st.integers(-10**400, 10**400), st.just(0.0), st.just(1.0))
scalars = st.one_of(numbers, st.text(max_size=5), st.booleans(), st.none())
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=6), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=30)


def _write(suffix, text):
    """Write ``text`` to a fresh temporary file with ``suffix``; return its path."""
    handle = tempfile.NamedTemporaryFile('w', suffix=suffix, delete=False, encoding='utf-8',
                                         errors='surrogatepass')
    with handle:
        handle.write(text)
    return pathlib.Path(handle.name)


def _check_camera(camera):
    """Assert the invariants of a validated camera."""
    assert isinstance(camera, Camera)
    assert camera.K.shape == (3, 3) and np.isfinite(camera.K).all()
    assert camera.K[0, 0] > 0 and camera.K[1, 1] > 0
    assert camera.distortion_model in DISTORTION_MODELS
    assert camera.dist.ndim == 1 and np.isfinite(camera.dist).all()
    assert camera.R.shape == (3, 3) and np.isfinite(camera.R).all()
    np.testing.assert_allclose(camera.R @ camera.R.T, np.eye(3), atol=1e-3)
    assert camera.t.shape == (3,) and np.isfinite(camera.t).all()
    assert isinstance(camera.width, int) and isinstance(camera.height, int)
    assert camera.width > 0 and camera.height > 0


# -------------------------------------------------------------------------------- images
encodings = st.one_of(st.sampled_from(sorted(imaging.SUPPORTED_ENCODINGS)),
                      st.sampled_from(['', 'BGR8', 'bgr 8', 'jpeg', '8UC5', 'rgb32']),
                      st.text(max_size=8))


@st.composite
def image_fields(draw):
    """Plausible-to-hostile ``sensor_msgs/Image`` fields around the right geometry."""
    encoding = draw(encodings)
    width, height = draw(st.integers(-2, 24)), draw(st.integers(-2, 24))
    if draw(st.integers(0, 20)) == 0:
        width = draw(st.integers(-2**40, 2**40))
    dtype, channels = imaging._LAYOUTS.get(encoding, (np.uint8, 3))
    row = max(width, 0) * channels * np.dtype(dtype).itemsize
    step = max(row + draw(st.integers(-3, 5)), draw(st.integers(-4, 0)))
    size = max(0, step * max(height, 0) + draw(st.integers(-8, 8)))
    data = draw(st.binary(min_size=min(size, 4096), max_size=min(size, 4096)))
    kind = draw(st.sampled_from(['bytes', 'memoryview', 'array', 'list']))
    data = {'bytes': data, 'memoryview': memoryview(data), 'array': np.frombuffer(data, np.uint8),
            'list': list(data)}[kind]
    return encoding, width, height, step, data, draw(st.integers(0, 1))


@FUZZ
@given(image_fields())
def test_image_conversion_fuzz(fields):
    encoding, width, height = fields[:3]
    try:
        array = imaging.image_to_array(*fields)
    except ImageConversionError:
        pass
    else:
        dtype, channels = imaging._LAYOUTS[encoding]
        assert array.dtype == np.dtype(dtype) and array.flags.c_contiguous
        assert array.shape == ((height, width) if channels == 1 else (height, width, channels))
    try:
        bgr = imaging.image_to_bgr(*fields)
    except ImageConversionError:
        return
    assert bgr.dtype == np.uint8 and bgr.shape == (height, width, 3)


@FUZZ
@given(st.data())
def test_compressed_conversion_fuzz(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    image = rng.integers(0, 256, (data.draw(st.integers(1, 40)), data.draw(st.integers(1, 40)),
                                  3), dtype=np.uint8)
    fmt, payload = imaging.encode_compressed(image, data.draw(st.sampled_from(['jpeg', 'png'])))
    payload = bytearray(payload)
    mutation = data.draw(st.sampled_from(['none', 'truncate', 'flip', 'random', 'empty']))
    if mutation == 'truncate':
        payload = payload[:data.draw(st.integers(0, len(payload)))]
    elif mutation == 'flip':
        for _ in range(data.draw(st.integers(1, 20))):
            index = data.draw(st.integers(0, len(payload) - 1))
            payload[index] = data.draw(st.integers(0, 255))
    elif mutation == 'random':
        payload = bytearray(data.draw(st.binary(max_size=2000)))
    elif mutation == 'empty':
        payload = bytearray()
    fmt = data.draw(st.one_of(st.just(fmt), st.text(max_size=12),
                              st.just('16UC1; compressedDepth')))
    try:
        bgr = imaging.compressed_to_bgr(fmt, bytes(payload))
    except ImageConversionError:
        return
    assert bgr.dtype == np.uint8 and bgr.ndim == 3 and bgr.shape[2] == 3 and bgr.size > 0
    if mutation == 'none' and 'compresseddepth' not in fmt.lower():
        assert bgr.shape == image.shape


# ---------------------------------------------------------------------------- CameraInfo
camera_k = st.one_of(
    st.lists(any_float, min_size=9, max_size=9),
    st.builds(lambda fx, fy, cx, cy: [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0],
              any_float, any_float, any_float, any_float),
    st.just([0.0] * 9),
    st.lists(any_float, max_size=12))
models = st.one_of(
    st.sampled_from(list(DISTORTION_MODELS) + ['fisheye', '', 'PLUMB_BOB', 'thin_prism']),
    st.text(max_size=10))


@FUZZ
@given(camera_k, st.lists(any_float, max_size=14), models,
       st.integers(-5, 5000), st.integers(-5, 5000))
def test_camera_info_conversion_fuzz(k, d, model, width, height):
    try:
        camera = camera_from_camera_info(k, d, model, width, height, name='fuzz')
    except CalibrationError:
        return
    _check_camera(camera)
    assert (camera.width, camera.height) == (width, height)
    # A camera that converted must be usable: projection of a point in front is finite.
    pixels = camera.undistort_points(np.array([[camera.K[0, 2], camera.K[1, 2]]]))
    assert pixels.shape == (1, 2)


def test_camera_info_message_fuzz_examples():
    """The CameraInfo message path: every rejection is a CalibrationError with a reason."""
    pytest.importorskip('sensor_msgs.msg')
    from sensor_msgs.msg import CameraInfo
    from skelsplat_ros.ros.conversions import camera_from_info_msg
    good = [1500.0, 0.0, 540.0, 0.0, 1500.0, 960.0, 0.0, 0.0, 1.0]
    cases = {'all zeros': {'k': [0.0] * 9}, 'non-finite': {'k': [math.nan] + good[1:]},
             'non-finite values': {'d': [0.0, math.inf, 0.0, 0.0, 0.0]},
             'unsupported distortion model': {'distortion_model': 'kannala_brandt'},
             'not positive': {'width': 0}}
    for message, change in cases.items():
        fields = {'k': good, 'd': [0.0] * 5, 'distortion_model': 'plumb_bob', 'width': 1080,
                  'height': 1920}
        fields.update(change)
        with pytest.raises(CalibrationError, match=message):
            camera_from_info_msg(CameraInfo(**fields), 'cam')


# --------------------------------------------------------------------------- calibration
def _mutate_lines(data, text):
    lines = text.splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(['delete', 'duplicate', 'number', 'truncate',
                                            'value']))
        if action == 'delete':
            del lines[index]
        elif action == 'duplicate':
            lines.insert(index, lines[index])
        elif action == 'truncate':
            lines[index] = lines[index][:data.draw(st.integers(0, len(lines[index])))]
        elif action == 'number' and any(c.isdigit() for c in lines[index]):
            replacement = data.draw(st.sampled_from(
                ['nan', 'inf', '-inf', '0', '1e400', '-7', '"x"', '[]', '1' * 60, '0.0']))
            digits = [i for i, c in enumerate(lines[index]) if c.isdigit()]
            at = data.draw(st.sampled_from(digits))
            lines[index] = lines[index][:at] + replacement + lines[index][at + 1:]
        elif action == 'value' and '=' in lines[index]:
            key = lines[index].split('=')[0]
            value = data.draw(st.sampled_from(
                ['[]', '[1, 2]', '"text"', 'true', '[[1, 2, 3], [4, 5, 6]]', '1979-05-27',
                 '{a = 1}', '[nan, nan, nan]', '[ 1e308, 1e308]', '[0, 0, 0]']))
            lines[index] = f'{key}= {value}'
        if not lines:
            break
    return '\n'.join(lines) + '\n'


def _load(suffix, text):
    path = _write(suffix, text)
    try:
        cameras = load_calibration(path)
    except CalibrationError as error:
        assert str(path) in str(error)  # the message names the file
        return None
    finally:
        path.unlink()
    assert cameras
    for camera in cameras:
        _check_camera(camera)
    return cameras


@FUZZ
@given(st.data())
def test_mutated_pose2sim_toml(data_root, data):
    text = (data_root / CALIBRATION).read_text()
    _load('.toml', _mutate_lines(data, text))


@FUZZ
@given(st.text(max_size=300), st.sampled_from(['.toml', '.yaml', '.yml']))
def test_random_calibration_text(text, suffix):
    _load(suffix, text)


yaml_matrix = st.one_of(
    st.builds(lambda rows, cols, values: {'rows': rows, 'cols': cols, 'data': values},
              st.integers(0, 4), st.integers(0, 4), st.lists(numbers, max_size=10)),
    st.lists(numbers, max_size=10), json_values)


@FUZZ
@given(st.fixed_dictionaries({}, optional={
    'image_width': st.one_of(numbers, st.integers(1, 4000), st.text(max_size=3)),
    'image_height': st.one_of(numbers, st.integers(1, 4000)),
    'camera_name': st.one_of(st.text(max_size=5), st.integers(), st.none()),
    'camera_matrix': st.one_of(yaml_matrix, st.just(
        {'rows': 3, 'cols': 3, 'data': [800, 0, 320, 0, 800, 240, 0, 0, 1]})),
    'distortion_model': st.one_of(models, st.integers()),
    'distortion_coefficients': yaml_matrix,
    'rotation': st.one_of(yaml_matrix, st.just([0.1, 0.2, 0.3])),
    'translation': yaml_matrix}), st.booleans())
def test_random_yaml_calibration(fields, as_list):
    document = {'cameras': [fields, fields]} if as_list else fields
    text = yaml.safe_dump(document, allow_unicode=True)
    _load('.yaml', text)


# --------------------------------------------------------------------------- OpenPose JSON
person = st.fixed_dictionaries({}, optional={'pose_keypoints_2d': st.one_of(
    st.lists(st.one_of(numbers, st.just(0.5)), max_size=80),
    st.lists(st.floats(0, 2000), min_size=75, max_size=75), json_values)})


@FUZZ
@given(st.one_of(json_values, st.fixed_dictionaries(
    {'people': st.one_of(st.lists(st.one_of(person, json_values), max_size=3), json_values)})),
    st.sampled_from([None, 25, 17]))
def test_random_openpose_json(document, num_keypoints):
    try:
        text = json.dumps(document)
    except (ValueError, OverflowError):
        return  # not representable as JSON text
    _read_openpose(text, num_keypoints)


@FUZZ
@given(st.data())
def test_mutated_openpose_file(data_root, data):
    text = (data_root / OPENPOSE).read_text()
    action = data.draw(st.sampled_from(['truncate', 'replace', 'insert']))
    at = data.draw(st.integers(0, len(text)))
    if action == 'truncate':
        text = text[:at]
    elif action == 'replace':
        text = text[:at] + data.draw(st.sampled_from(
            ['NaN', 'Infinity', '-1e999', '"a"', 'null', '[', '{}', '1' * 400])) + text[at + 1:]
    else:
        text = text[:at] + data.draw(st.text(max_size=10)) + text[at:]
    _read_openpose(text, data.draw(st.sampled_from([None, 25])))


def _read_openpose(text, num_keypoints):
    path = _write('.json', text)
    try:
        people = read_openpose_json(path, num_keypoints)
    except KeypointFileError as error:
        assert str(path) in str(error)
        return
    finally:
        path.unlink()
    assert people.ndim == 3 and people.shape[2] == 3 and people.dtype == np.float64
    if num_keypoints is not None:
        assert people.shape[1] == num_keypoints
    assert np.isfinite(people).all()


# ------------------------------------------------------------------ Keypoints2D messages
@FUZZ
@given(st.one_of(st.sampled_from(list(FORMAT_NAMES)), st.text(max_size=8)),
       st.booleans(), st.lists(st.tuples(st.integers(0, 40), st.data()), max_size=3))
def test_keypoints_message_fuzz(fmt_name, with_names, people_spec):
    pytest.importorskip('skelsplat_ros.msg')
    from skelsplat_ros.msg import Keypoint2D, Keypoints2D, Person2D
    from skelsplat_ros.ros.conversions import keypoints_msg_to_skeleton, KeypointsMessageError
    msg = Keypoints2D(skeleton_format=fmt_name)
    if with_names and fmt_name in FORMAT_NAMES:
        msg.joint_names = list(get_format(fmt_name).joint_names)
    float32 = st.floats(width=32)
    for count, data in people_spec:
        values = data.draw(st.lists(st.tuples(float32, float32, float32), min_size=count,
                                    max_size=count))
        msg.people.append(Person2D(keypoints=[Keypoint2D(x=x, y=y, confidence=c)
                                              for x, y, c in values]))
    try:
        coco = keypoints_msg_to_skeleton(msg)
    except KeypointsMessageError:
        return
    assert coco.shape == (len(msg.people), 17, 3) and np.isfinite(coco).all()
    assert ((coco[..., 2] >= 0) & (coco[..., 2] <= 1)).all()
