# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Tests for skelsplat_ros.imaging on a real video frame and synthetic patterns."""

import array
import re

import cv2
from hypothesis import given, settings, strategies as st
import numpy as np
import pytest

from skelsplat_ros import imaging
from skelsplat_ros.imaging import (
    bgr_to_image_fields,
    check_bgr,
    check_image_size,
    compressed_size,
    compressed_to_bgr,
    encode_compressed,
    image_to_array,
    image_to_bgr,
    ImageConversionError,
    MAX_IMAGE_PIXELS,
    MAX_IMAGE_SIDE,
)

EXACT_ENCODINGS = ['bgr8', 'rgb8', 'bgra8', 'rgba8', '8UC3',
                   'bgr16', 'rgb16', 'bgra16', 'rgba16', '16UC3']
GREY_ENCODINGS = ['mono8', 'mono16', '8UC1']
YUV_ENCODINGS = ['yuv422', 'uyvy', 'yuv422_yuy2', 'yuyv']
BAYER_ENCODINGS = [f'bayer_{p}{b}' for p in ('rggb', 'bggr', 'gbrg', 'grbg') for b in (8, 16)]
ALL_ENCODINGS = EXACT_ENCODINGS + GREY_ENCODINGS + YUV_ENCODINGS + BAYER_ENCODINGS


@pytest.fixture(scope='module')
def frame(data_root):
    """First frame of cam01.mp4, cropped to 480x320 to keep the tests quick: (H, W, 3) BGR."""
    path = data_root / 'pose2sim-0.10.49/Pose2Sim/Demo_SinglePerson/videos/cam01.mp4'
    capture = cv2.VideoCapture(str(path))
    ok, image = capture.read()
    capture.release()
    assert ok, f'could not read {path}'
    assert image.shape == (1920, 1080, 3)
    # The person stands around the image centre: keep a crop with real colour and edges.
    return np.ascontiguousarray(image[700:1180, 380:700])


def _pad_rows(data, height, step, padded_step):
    """Copy ``data`` rows of ``step`` bytes into rows of ``padded_step`` filled with 0xAB."""
    rows = np.frombuffer(data, np.uint8).reshape(height, step)
    padded = np.full((height, padded_step), 0xAB, np.uint8)
    padded[:, :step] = rows
    return padded.tobytes()


@pytest.mark.parametrize('encoding', EXACT_ENCODINGS)
def test_lossless_round_trip(frame, encoding):
    fields = bgr_to_image_fields(frame, encoding)
    assert fields[:3] == (encoding, frame.shape[1], frame.shape[0])
    np.testing.assert_array_equal(image_to_bgr(*fields), frame)


@pytest.mark.parametrize('encoding', ['bgr8', 'rgb8', 'rgba8'])
def test_channel_order_of_native_array(frame, encoding):
    native = image_to_array(*bgr_to_image_fields(frame, encoding))
    assert native.dtype == np.uint8
    red = native[..., 0] if encoding.startswith('rgb') else native[..., 2]
    np.testing.assert_array_equal(red, frame[..., 2])
    if encoding == 'rgba8':
        assert native.shape == frame.shape[:2] + (4,)
        assert np.all(native[..., 3] == 255)


@pytest.mark.parametrize('encoding', GREY_ENCODINGS)
def test_grey_round_trip(frame, encoding):
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    fields = bgr_to_image_fields(frame, encoding)
    native = image_to_array(*fields)
    assert native.shape == grey.shape
    expected = grey.astype(np.uint16) * 257 if '16' in encoding else grey
    np.testing.assert_array_equal(native, expected)
    bgr = image_to_bgr(*fields)
    for channel in range(3):
        np.testing.assert_array_equal(bgr[..., channel], grey)


def test_mono16_scaling_matches_cv_bridge_rule():
    values = np.array([[0, 128, 129, 257, 32767, 65535]], dtype=np.uint16)
    bgr = image_to_bgr('mono16', 6, 1, 12, values.tobytes())
    expected = np.rint(values.astype(np.float64) * 255 / 65535).astype(np.uint8)
    np.testing.assert_array_equal(bgr[..., 0], expected)


@pytest.mark.parametrize('encoding', YUV_ENCODINGS)
def test_yuv422_round_trip(frame, encoding):
    fields = bgr_to_image_fields(frame, encoding)
    assert fields[3] == frame.shape[1] * 2
    assert image_to_array(*fields).shape == frame.shape[:2] + (2,)
    decoded = image_to_bgr(*fields).astype(np.int16)
    error = np.abs(decoded - frame)
    # Chroma is shared by pixel pairs, so edges lose colour; flat areas come back closely.
    assert np.median(error) <= 2
    assert np.mean(error) < 4


def test_yuv422_byte_orders_differ():
    """A pure red pair decodes to red only under its own byte order (UYVY vs YUYV)."""
    red = np.zeros((2, 4, 3), np.uint8)
    red[..., 2] = 255
    uyvy = bgr_to_image_fields(red, 'yuv422')
    # U Y V Y of red in BT.601 limited range (OpenCV's encoder gives 90 82 240 82).
    first_pair = np.frombuffer(uyvy[4], np.uint8)[:4].astype(int)
    assert np.abs(first_pair - [90, 82, 240, 82]).max() <= 1
    decoded = image_to_bgr(*uyvy)
    assert np.all(decoded[..., 2] >= 250) and np.all(decoded[..., :2] <= 5)
    as_yuyv = image_to_bgr('yuv422_yuy2', *uyvy[1:])
    assert not np.all(as_yuyv[..., 2] >= 250)


@pytest.mark.parametrize('pattern', ['rggb', 'bggr', 'gbrg', 'grbg'])
@pytest.mark.parametrize('colour', [(0, 0, 255), (255, 0, 0), (0, 255, 0), (40, 90, 200)])
def test_bayer_pattern_on_hand_built_mosaic(pattern, colour):
    """A flat colour sampled by hand into a mosaic demosaics back to that colour.

    This pins the ROS-vs-OpenCV Bayer naming: a wrong mapping swaps red and blue.
    """
    height, width = 8, 10
    mosaic = np.zeros((height, width), np.uint8)
    bgr_index = {'b': 0, 'g': 1, 'r': 2}
    for index, letter in enumerate(pattern):
        row, col = divmod(index, 2)
        mosaic[row::2, col::2] = colour[bgr_index[letter]]
    bgr = image_to_bgr(f'bayer_{pattern}8', width, height, width, mosaic.tobytes())
    interior = bgr[2:-2, 2:-2].reshape(-1, 3).astype(np.int16)
    assert np.abs(interior - np.array(colour)).max() <= 1


@pytest.mark.parametrize('encoding', BAYER_ENCODINGS)
def test_bayer_round_trip_on_real_frame(frame, encoding):
    fields = bgr_to_image_fields(frame, encoding)
    assert image_to_array(*fields).shape == frame.shape[:2]
    error = np.abs(image_to_bgr(*fields).astype(np.int16) - frame)
    assert np.median(error) <= 3
    # Swapping red and blue (a wrong pattern) is far worse on this frame.
    swapped = np.abs(image_to_bgr(*fields)[..., ::-1].astype(np.int16) - frame)
    assert np.mean(error) < 0.5 * np.mean(swapped)


@pytest.mark.parametrize('encoding', ALL_ENCODINGS)
def test_padded_step(frame, encoding):
    """Rows padded with junk bytes (an odd count too) decode the same as unpadded rows."""
    encoding, width, height, step, data = bgr_to_image_fields(frame, encoding)
    reference = image_to_array(encoding, width, height, step, data)
    for extra in (1, 7, 64):
        padded = _pad_rows(data, height, step, step + extra)
        np.testing.assert_array_equal(
            image_to_array(encoding, width, height, step + extra, padded), reference)
        np.testing.assert_array_equal(
            image_to_bgr(encoding, width, height, step + extra, padded),
            image_to_bgr(encoding, width, height, step, data))


@pytest.mark.parametrize('encoding', ['mono16', 'bgr16', 'rgba16', 'bayer_rggb16'])
def test_big_endian(frame, encoding):
    encoding, width, height, step, data = bgr_to_image_fields(frame, encoding)
    # value * 257 has equal high and low bytes: add a ramp so byte order shows.
    ramp = np.arange(len(data) // 2, dtype=np.uint16) % 200
    values = np.frombuffer(data, '<u2') - ramp
    little = image_to_array(encoding, width, height, step, values.astype('<u2').tobytes())
    swapped = values.astype('>u2').tobytes()
    big = image_to_array(encoding, width, height, step, swapped, is_bigendian=1)
    assert big.dtype == np.dtype(np.uint16) and big.dtype.isnative
    np.testing.assert_array_equal(big, little)
    np.testing.assert_array_equal(
        image_to_bgr(encoding, width, height, step, swapped, is_bigendian=True),
        image_to_bgr(encoding, width, height, step, values.astype('<u2').tobytes()))
    # Reading big-endian bytes as little-endian gives different values (the flag matters).
    assert not np.array_equal(image_to_array(encoding, width, height, step, swapped), little)


def test_generic_types_native_array():
    values = np.arange(-6, 6, dtype=np.float32).reshape(2, 3, 2)
    native = image_to_array('32FC2', 3, 2, 24, values.tobytes())
    np.testing.assert_array_equal(native, values)
    signed = np.array([[-300, 2, 7]], np.int16)
    np.testing.assert_array_equal(image_to_array('16SC1', 3, 1, 6, signed.tobytes()), signed)


def test_data_buffer_types(frame):
    encoding, width, height, step, data = bgr_to_image_fields(frame, 'rgb8')
    expected = image_to_bgr(encoding, width, height, step, data)
    for buffer in (memoryview(data), bytearray(data), array.array('B', data),
                   np.frombuffer(data, np.uint8), list(data[:step * height])):
        np.testing.assert_array_equal(image_to_bgr(encoding, width, height, step, buffer),
                                      expected)


def test_result_does_not_alias_the_message_buffer(frame):
    encoding, width, height, step, data = bgr_to_image_fields(frame, 'bgr8')
    buffer = bytearray(data)
    bgr = image_to_bgr(encoding, width, height, step, buffer)
    buffer[:] = bytes(len(buffer))
    np.testing.assert_array_equal(bgr, frame)


@pytest.mark.parametrize('codec', ['jpeg', 'png'])
def test_compressed_round_trip(frame, codec):
    fmt, data = encode_compressed(frame, codec)
    assert fmt == f'bgr8; {codec} compressed bgr8'
    decoded = compressed_to_bgr(fmt, data)
    assert decoded.shape == frame.shape and decoded.dtype == np.uint8
    error = np.abs(decoded.astype(np.int16) - frame)
    if codec == 'png':
        assert error.max() == 0
    else:
        assert np.mean(error) < 3
    np.testing.assert_array_equal(compressed_to_bgr(codec, memoryview(data)), decoded)


def test_errors(frame):
    encoding, width, height, step, data = bgr_to_image_fields(frame, 'bgr8')
    cases = [
        (('nv12', width, height, step, data), 'unsupported image encoding'),
        (('bgr8', 0, height, step, data), 'empty'),
        (('bgr8', width, 0, step, data), 'empty'),
        (('bgr8', width, height, step - 1, data), 'step'),
        (('bgr8', width, height, step, data[:-1]), 'truncated'),
        (('mono16', width, height, width, data), 'step'),
        (('bgr8', width, height, step + 3, data), 'truncated'),
    ]
    for args, message in cases:
        with pytest.raises(ImageConversionError, match=message):
            image_to_bgr(*args)
        with pytest.raises(ValueError):
            image_to_array(*args)
    with pytest.raises(ImageConversionError, match='colour meaning'):
        image_to_bgr('8SC3', 2, 2, 6, bytes(12))
    with pytest.raises(ImageConversionError, match='depth image'):
        image_to_bgr('32FC1', 2, 2, 8, bytes(16))
    with pytest.raises(ImageConversionError, match='even width'):
        image_to_bgr('yuv422', 3, 2, 6, bytes(12))
    with pytest.raises(ImageConversionError, match='decode'):
        compressed_to_bgr('jpeg', b'\xff\xd8 this is not a jpeg')
    with pytest.raises(ImageConversionError, match='empty'):
        compressed_to_bgr('png', b'')
    with pytest.raises(ImageConversionError, match='compressedDepth'):
        compressed_to_bgr('16UC1; compressedDepth png', encode_compressed(frame, 'png')[1])
    with pytest.raises(ImageConversionError, match='cannot encode'):
        bgr_to_image_fields(frame, '32FC1')
    with pytest.raises(ImageConversionError, match='uint8'):
        bgr_to_image_fields(frame.astype(np.float32))
    with pytest.raises(ImageConversionError, match='unsupported compressed'):
        encode_compressed(frame, 'webm')


def _parity_encodings():
    """List the encodings, with little-endian data, to compare against cv_bridge."""
    return ALL_ENCODINGS + ['32FC1', '16SC1', '8UC2']


@pytest.mark.parametrize('encoding', _parity_encodings())
def test_parity_with_cv_bridge(frame, encoding):
    """Match ``CvBridge().imgmsg_to_cv2(msg, 'passthrough')``, where a ROS install has it."""
    cv_bridge = pytest.importorskip('cv_bridge')
    sensor_msgs = pytest.importorskip('sensor_msgs.msg')
    if encoding in ('32FC1', '16SC1', '8UC2'):
        rng = np.random.default_rng(0)
        dtype = {'32FC1': np.float32, '16SC1': np.int16, '8UC2': np.uint8}[encoding]
        channels = 2 if encoding == '8UC2' else 1
        values = (rng.standard_normal((31, 17, channels)) * 100).astype(dtype)
        height, width = values.shape[:2]
        step, data = width * channels * values.itemsize, values.tobytes()
    else:
        encoding, width, height, step, data = bgr_to_image_fields(frame[:64, :48], encoding)
    bytes_per_pixel = step // width
    for padded_step in (step, step + 3 * bytes_per_pixel):
        msg = sensor_msgs.Image()
        msg.encoding, msg.width, msg.height, msg.step = encoding, width, height, padded_step
        msg.is_bigendian = 0
        msg.data = _pad_rows(data, height, step, padded_step)
        try:
            expected = cv_bridge.CvBridge().imgmsg_to_cv2(msg, 'passthrough')
        except cv_bridge.CvBridgeError as error:
            pytest.skip(f'this cv_bridge does not know {encoding}: {error}')
        ours = image_to_array(msg.encoding, msg.width, msg.height, msg.step, msg.data,
                              msg.is_bigendian)
        assert ours.shape == expected.shape
        assert ours.dtype == expected.dtype
        np.testing.assert_array_equal(ours, expected)


# --------------------------------------------------------------------------------------------
# Sizes that would abort OpenCV (a side >= 32767 px) or take gigabytes are refused before any
# native call, on every path: raw conversion, decoding, the detectors.
def _declaring(data, width, height):
    """Return a JPEG or PNG payload patched to declare ``width`` x ``height`` pixels."""
    data = bytearray(data)
    if data[:8] == b'\x89PNG\r\n\x1a\n':
        data[16:24] = int(width).to_bytes(4, 'big') + int(height).to_bytes(4, 'big')
        return bytes(data)
    position = 2
    while data[position + 1] not in (0xC0, 0xC1, 0xC2):
        position += 2 + int.from_bytes(data[position + 2:position + 4], 'big')
    data[position + 5:position + 9] = int(height).to_bytes(2, 'big') + \
        int(width).to_bytes(2, 'big')
    return bytes(data)


@pytest.fixture
def no_decoding(monkeypatch):
    """Make any call of cv2.imdecode fail the test: a refusal must come before decoding."""
    def imdecode(*args):
        raise AssertionError('cv2.imdecode was called')
    monkeypatch.setattr(imaging.cv2, 'imdecode', imdecode)


def test_check_image_size_bounds():
    assert check_image_size(MAX_IMAGE_SIDE, 1) == (MAX_IMAGE_SIDE, 1)
    assert check_image_size(1920.0, 1080, expected=(1920, 1080)) == (1920, 1080)
    for width, height in ((100000, 1), (1, 32767), (MAX_IMAGE_SIDE + 1, 1),
                          (MAX_IMAGE_SIDE, MAX_IMAGE_PIXELS // MAX_IMAGE_SIDE + 1)):
        with pytest.raises(ImageConversionError, match='too large'):
            check_image_size(width, height)
    with pytest.raises(ImageConversionError, match='empty'):
        check_image_size(0, 5)
    with pytest.raises(ImageConversionError, match='differs from CameraInfo 1920x1080'):
        check_image_size(1080, 1920, expected=(1920, 1080))


def test_extreme_raw_image_is_refused_before_conversion():
    """The 100000 x 1 image of the attack, with all its data: refused, not converted."""
    for encoding, channels in (('bgr8', 3), ('mono8', 1), ('bayer_rggb8', 1), ('yuv422', 2)):
        data = bytes(100000 * channels)
        with pytest.raises(ImageConversionError, match='too large'):
            image_to_bgr(encoding, 100000, 1, 100000 * channels, data)
        with pytest.raises(ImageConversionError, match='too large'):
            image_to_array(encoding, 1, 100000, channels, data)
    with pytest.raises(ImageConversionError, match='differs from CameraInfo'):
        image_to_bgr('bgr8', 2, 2, 6, bytes(12), expected_size=(4, 2))
    with pytest.raises(ImageConversionError, match='too large'):
        check_bgr(np.zeros((1, 40000, 3), np.uint8))
    with pytest.raises(ImageConversionError, match='too large'):
        encode_compressed(np.zeros((40000, 1, 3), np.uint8), 'png')


@pytest.mark.parametrize('codec', ['jpeg', 'png'])
def test_header_size_is_read_without_decoding(frame, codec, no_decoding):
    data = encode_compressed(frame, codec)[1]
    assert compressed_size(data) == (frame.shape[1], frame.shape[0])
    assert compressed_size(_declaring(data, 30000, 30000)) == (30000, 30000)


def test_jpeg_header_with_fill_bytes_app_segments_and_progressive(frame):
    ok, data = cv2.imencode('.jpg', frame, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    data = data.tobytes()
    app = b'\xff\xe2' + (2 + 300).to_bytes(2, 'big') + bytes(300)   # an APP2 (ICC) chunk
    padded = data[:2] + app * 3 + b'\xff\xff\xff' + data[2:]      # fill bytes before a marker
    assert compressed_size(padded) == (frame.shape[1], frame.shape[0])
    np.testing.assert_array_equal(compressed_to_bgr('jpeg', padded),
                                  compressed_to_bgr('jpeg', data))


@pytest.mark.parametrize('codec', ['jpeg', 'png'])
def test_decompression_bomb_is_refused_before_decoding(frame, codec, no_decoding):
    """A few hundred bytes declaring 30000 x 30000 px (2.7 GB decoded) cost nothing."""
    small = encode_compressed(np.zeros((8, 8, 3), np.uint8), codec)[1]
    bomb = _declaring(small, 30000, 30000)
    assert len(bomb) < 1000
    with pytest.raises(ImageConversionError, match='30000x30000 pixels is too large'):
        compressed_to_bgr(codec, bomb)
    # Within the global bounds, but not the camera's size: refused before decoding too.
    big = _declaring(small, 8000, 6000)
    with pytest.raises(ImageConversionError, match='differs from CameraInfo 1920x1080'):
        compressed_to_bgr(codec, big, expected_size=(1920, 1080))


def test_headers_without_a_size_are_refused(no_decoding):
    cases = [b'\xff\xd8\xff\xd9', b'\xff\xd8\xff\xda\x00\x08' + bytes(8),
             b'\xff\xd8\xff\xc0\x00\x11\x08\x00\x00\x00\x10' + bytes(12),   # DNL height
             b'\xff\xd8\xff\xe0\x00\x01', b'\xff\xd8\xff' + b'\xff' * 5000,
             b'\x89PNG\r\n\x1a\n' + bytes(4) + b'IDAT' + bytes(8),
             b'GIF89a' + bytes(20), b'BM' + bytes(60)]
    for data in cases:
        with pytest.raises(ImageConversionError, match='could not decode'):
            compressed_to_bgr('jpeg', data)


def test_opencv_error_text_does_not_leak(monkeypatch, frame):
    def imdecode(*args):
        raise cv2.error('OpenCV(4.10.0) loadsave.cpp:77: error: (-215:Assertion failed) '
                        'pixels <= CV_IO_MAX_IMAGE_PIXELS in function validateInputImageSize')
    monkeypatch.setattr(imaging.cv2, 'imdecode', imdecode)
    with pytest.raises(ImageConversionError) as error:
        compressed_to_bgr('png', encode_compressed(frame, 'png')[1])
    assert 'could not decode' in str(error.value) and 'Assertion' not in str(error.value)


def test_echoed_input_strings_are_capped():
    """A 64 KB encoding or format string is named in a short message, not copied into it."""
    long = 'x' * 65536
    for call in (lambda: image_to_bgr(long, 2, 2, 6, bytes(12)),
                 lambda: compressed_to_bgr(long, b''),
                 lambda: compressed_to_bgr('compressedDepth' + long, b'1'),
                 lambda: encode_compressed(np.zeros((2, 2, 3), np.uint8), long)):
        with pytest.raises(ImageConversionError) as error:
            call()
        message = str(error.value)
        assert len(message) < 1000 and 'x' * 41 not in message
        assert re.search(r'\(655[0-9]{2} characters\)', message)


_HEADS = [b'\xff\xd8\xff', b'\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR', b'']
_SEGMENTS = st.lists(st.one_of(
    st.sampled_from([b'\xff\xc0', b'\xff\xc2', b'\xff\xda', b'\xff\xd9', b'\xff\xff',
                     b'\xff\xe0', b'\xff\xd0', b'\x00\x11\x08', b'\x75\x30\x75\x30',
                     b'\x00\x00']),
    st.binary(max_size=12)), max_size=30)


@settings(max_examples=300, deadline=20_000)   # a hang fails; a shared machine's stall does not
@given(head=st.sampled_from(_HEADS), segments=_SEGMENTS)
def test_compressed_headers_fuzz(head, segments):
    """Whatever the header says, the answer is a size within bounds or ImageConversionError."""
    data = head + b''.join(segments)
    try:
        width, height = compressed_size(data)
    except ImageConversionError:
        pass
    else:
        assert 0 <= width < 2 ** 32 and 0 <= height < 2 ** 32
    try:
        bgr = compressed_to_bgr('jpeg', data)
    except ImageConversionError:
        return
    assert bgr.ndim == 3 and bgr.shape[0] * bgr.shape[1] <= MAX_IMAGE_PIXELS


@pytest.mark.parametrize('encoding, why', [('16UC1', 'is a depth image'),
                                           ('32FC1', 'is a depth image'),
                                           ('8UC4', 'has no colour meaning'),
                                           ('16UC4', 'has no colour meaning')])
def test_depth_and_channel_less_encodings_are_refused_for_the_detector(encoding, why):
    # A depth topic configured as a camera by mistake must not reach the detector as grey.
    dtype, channels = {'16UC1': (np.uint16, 1), '32FC1': (np.float32, 1),
                       '8UC4': (np.uint8, 4), '16UC4': (np.uint16, 4)}[encoding]
    array = np.ones((4, 6, channels), dtype)
    step = 6 * channels * array.itemsize
    assert image_to_array(encoding, 6, 4, step, array.tobytes()).shape[:2] == (4, 6)
    with pytest.raises(ImageConversionError, match=why):
        image_to_bgr(encoding, 6, 4, step, array.tobytes())
