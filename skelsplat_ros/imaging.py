# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Image conversion between ROS image fields and numpy arrays, without cv_bridge.

The functions take the plain fields of a ``sensor_msgs/Image`` (``encoding``, ``width``,
``height``, ``step``, ``data``, ``is_bigendian``) or ``sensor_msgs/CompressedImage``
(``format``, ``data``), so the ROS layer only unpacks a message into them and this module
needs neither rclpy nor cv_bridge.

- :func:`image_to_array` gives the native array, the same as cv_bridge's
  ``imgmsg_to_cv2(msg, 'passthrough')``: ``(H, W)`` for one channel, ``(H, W, C)`` otherwise,
  the dtype of the encoding, values in native byte order.
- :func:`image_to_bgr` gives ``(H, W, 3) uint8`` BGR for the detectors: colour orders are
  swapped, alpha dropped, grey replicated, 16-bit scaled by 255/65535 (as cv_bridge does),
  YUV 4:2:2 and Bayer mosaics converted with OpenCV.  The generic ``8UC3``/``16UC3`` types
  are taken as BGR, OpenCV's own channel order; depth images (``16UC1``, ``32FC1``) and the
  generic 4-channel types are refused.
- :func:`compressed_to_bgr` decodes a JPEG/PNG ``CompressedImage`` payload, after reading
  its size from the header (:func:`compressed_size`).
- :func:`check_image_size` is the one size check of every path into native code (OpenCV,
  the detectors): :data:`MAX_IMAGE_SIDE`, :data:`MAX_IMAGE_PIXELS`, and the camera's size.
- :func:`bgr_to_image_fields` and :func:`encode_compressed` go the other way, for publishers
  and tests.

Every failure raises :class:`ImageConversionError`, a ``ValueError``, with a reason of its own:
OpenCV's assertion texts never reach the caller.
"""

import struct

import cv2
import numpy as np

__all__ = [
    'ImageConversionError',
    'MAX_IMAGE_PIXELS',
    'MAX_IMAGE_SIDE',
    'SUPPORTED_ENCODINGS',
    'bgr_to_image_fields',
    'check_bgr',
    'check_image_size',
    'compressed_size',
    'compressed_to_bgr',
    'encode_compressed',
    'image_to_array',
    'image_to_bgr',
]


class ImageConversionError(ValueError):
    """An image could not be converted (bad encoding, geometry, or data)."""


# An input string is echoed in a message up to this many characters: a 64 KB encoding name
# must not become a 64 KB log line and /diagnostics value.
_ECHO_CHARS = 40


def _echo(text):
    """Return ``repr(text)``, cut to ``_ECHO_CHARS`` characters with its length named."""
    text = str(text)
    if len(text) <= _ECHO_CHARS:
        return repr(text)
    return f'{text[:_ECHO_CHARS]!r}... ({len(text)} characters)'


#: The longest image side any path accepts, pixels.  OpenCV aborts the whole process (SIGABRT,
#: which no ``except`` catches) on a side of 32767 px or more, e.g. in the ``remap`` that
#: MediaPipe runs; this bound leaves a factor of two below that.
MAX_IMAGE_SIDE = 16384
#: The most pixels an image may have (8192 x 8192; 8K UHD has 33 Mpx): it bounds the memory
#: one frame can take, since a few hundred bytes of JPEG can declare a gigapixel.
MAX_IMAGE_PIXELS = 8192 * 8192


def check_image_size(width, height, expected=None, what='image'):
    """Return ``(width, height)`` as ints if an image of that size may reach native code.

    Args:
        width, height: the size the image has or declares, pixels.
        expected: ``(width, height)`` the camera's CameraInfo states, or None when unknown.
        what: names the image in the error, e.g. ``'rgb8 image'``.

    Raises:
        ImageConversionError: a side is not positive or over :data:`MAX_IMAGE_SIDE`, the
            pixel count is over :data:`MAX_IMAGE_PIXELS`, or the size is not ``expected``.
    """
    width, height = int(width), int(height)
    if width <= 0 or height <= 0:
        raise ImageConversionError(f'empty {what}: {width}x{height} pixels')
    if max(width, height) > MAX_IMAGE_SIDE or width * height > MAX_IMAGE_PIXELS:
        raise ImageConversionError(
            f'{what} of {width}x{height} pixels is too large (at most {MAX_IMAGE_SIDE} '
            f'pixels a side and {MAX_IMAGE_PIXELS} pixels in all)')
    if expected is not None and (width, height) != tuple(int(v) for v in expected):
        raise ImageConversionError(f'{what} of {width}x{height} pixels differs from CameraInfo '
                                   f'{int(expected[0])}x{int(expected[1])}')
    return width, height


# OpenCV names a Bayer pattern after the second and third pixels of its second row, ROS after
# the top-left 2x2 block, so ROS 'rggb' is OpenCV 'BG' (test_imaging checks this on a mosaic).
_BAYER_TO_BGR = {
    'rggb': cv2.COLOR_BayerBG2BGR,
    'bggr': cv2.COLOR_BayerRG2BGR,
    'gbrg': cv2.COLOR_BayerGR2BGR,
    'grbg': cv2.COLOR_BayerGB2BGR,
}

# How each encoding maps to BGR: (kind, detail).  'order' gives the channel indices that make
# BGR from the native channels, 'grey', 'yuv' gives the OpenCV code, 'bayer' the pattern.
_COLOUR = {
    'bgr8': ('order', (0, 1, 2)), 'bgr16': ('order', (0, 1, 2)),
    'rgb8': ('order', (2, 1, 0)), 'rgb16': ('order', (2, 1, 0)),
    'bgra8': ('order', (0, 1, 2)), 'bgra16': ('order', (0, 1, 2)),
    'rgba8': ('order', (2, 1, 0)), 'rgba16': ('order', (2, 1, 0)),
    '8UC3': ('order', (0, 1, 2)), '16UC3': ('order', (0, 1, 2)),
    'mono8': ('grey', None), 'mono16': ('grey', None), '8UC1': ('grey', None),
    'yuv422': ('yuv', cv2.COLOR_YUV2BGR_UYVY), 'uyvy': ('yuv', cv2.COLOR_YUV2BGR_UYVY),
    'yuv422_yuy2': ('yuv', cv2.COLOR_YUV2BGR_YUY2), 'yuyv': ('yuv', cv2.COLOR_YUV2BGR_YUY2),
}
for _pattern in _BAYER_TO_BGR:
    for _bits in (8, 16):
        _COLOUR[f'bayer_{_pattern}{_bits}'] = ('bayer', _pattern)
# Depth cameras publish 16UC1 (millimetres) or 32FC1 (metres): a depth topic configured as a
# camera by mistake would otherwise reach the detector as a grey image.  Generic 4-channel
# encodings (8UC4, 16UC4) say nothing of their channels' order, so they are refused too.
_DEPTH_ENCODINGS = frozenset({'16UC1', '16U', '32FC1', '32F'})


def _native_layouts():
    """Return ``{encoding: (numpy dtype, channels)}`` for every readable encoding."""
    layouts = {}
    for bits, dtype in ((8, np.uint8), (16, np.uint16)):
        layouts[f'rgb{bits}'] = layouts[f'bgr{bits}'] = (dtype, 3)
        layouts[f'rgba{bits}'] = layouts[f'bgra{bits}'] = (dtype, 4)
        layouts[f'mono{bits}'] = (dtype, 1)
        for pattern in _BAYER_TO_BGR:
            layouts[f'bayer_{pattern}{bits}'] = (dtype, 1)
    for name in ('yuv422', 'uyvy', 'yuv422_yuy2', 'yuyv'):
        layouts[name] = (np.uint8, 2)
    generic = {'8U': np.uint8, '8S': np.int8, '16U': np.uint16, '16S': np.int16,
               '32S': np.int32, '32F': np.float32, '64F': np.float64}
    for depth, dtype in generic.items():
        layouts[depth] = (dtype, 1)  # cv_bridge reads a bare depth such as '16U' as one channel
        for channels in range(1, 5):
            layouts[f'{depth}C{channels}'] = (dtype, channels)
    return layouts


_LAYOUTS = _native_layouts()

#: Encodings :func:`image_to_array` reads; :func:`image_to_bgr` reads those in ``_COLOUR``.
SUPPORTED_ENCODINGS = frozenset(_LAYOUTS)


def _layout(encoding):
    """Return (dtype, channels) of an encoding, or raise for an unknown one."""
    try:
        return _LAYOUTS[encoding]
    except KeyError:
        raise ImageConversionError(
            f'unsupported image encoding {_echo(encoding)}; supported: '
            f'{", ".join(sorted(SUPPORTED_ENCODINGS))}') from None


def _as_bytes(data):
    """View any byte buffer (bytes, memoryview, array.array, numpy array) as flat uint8."""
    if isinstance(data, np.ndarray):
        return np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    if isinstance(data, (list, tuple)):
        return np.asarray(data, dtype=np.uint8)
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except TypeError as error:
        raise ImageConversionError(f'image data of type {type(data).__name__} is not a byte '
                                   'buffer') from error


def image_to_array(encoding, width, height, step, data, is_bigendian=0, expected_size=None):
    """Return the native array of an image, like cv_bridge's ``'passthrough'``.

    Args:
        encoding: ROS encoding string, e.g. ``'rgb8'``, ``'mono16'``, ``'16UC1'``,
            ``'yuv422'``, ``'bayer_rggb8'``.
        width, height: image size in pixels.
        step: bytes per row, at least ``width`` times the bytes per pixel (larger when rows
            are padded; the padding is dropped).
        data: the pixel bytes, at least ``step * height`` of them (bytes, memoryview,
            array.array or numpy array).
        is_bigendian: true when multi-byte values are stored big-endian.
        expected_size: ``(width, height)`` of the camera's CameraInfo, or None.

    Returns:
        ``(H, W)`` for one-channel encodings, else ``(H, W, C)`` (``C`` = 2 for YUV 4:2:2),
        a new contiguous array of the encoding's dtype in native byte order.

    Raises:
        ImageConversionError: unknown encoding, a size :func:`check_image_size` refuses,
            ``step`` too small, data too short.
    """
    dtype, channels = _layout(encoding)
    width, height = check_image_size(width, height, expected_size, f'{encoding} image')
    step = int(step)
    row_bytes = width * channels * np.dtype(dtype).itemsize
    if step < row_bytes:
        raise ImageConversionError(
            f'step {step} is less than width*bytes_per_pixel = {width}*'
            f'{row_bytes // width} = {row_bytes} for {encoding}')
    raw = _as_bytes(data)
    if raw.size < step * height:
        raise ImageConversionError(
            f'truncated {encoding} image: {raw.size} bytes of data, step*height = '
            f'{step}*{height} = {step * height} needed')
    # Slice the row padding off as bytes first, so an odd step cannot misalign a 16-bit view.
    rows = raw[:step * height].reshape(height, step)[:, :row_bytes]
    stored = np.dtype(dtype).newbyteorder('>' if is_bigendian else '<')
    array = np.ascontiguousarray(rows).view(stored).astype(np.dtype(dtype).newbyteorder('='))
    shape = (height, width) if channels == 1 else (height, width, channels)
    return array.reshape(shape)


def _to_uint8(array):
    """Scale a 16-bit array to 8 bits as cv_bridge does (x * 255 / 65535, rounded)."""
    if array.dtype == np.uint8:
        return array
    return ((array.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def image_to_bgr(encoding, width, height, step, data, is_bigendian=0, expected_size=None):
    """Return an image as ``(H, W, 3) uint8`` BGR, the input the detectors take.

    Arguments are those of :func:`image_to_array`.  16-bit encodings are scaled by
    255/65535; grey is replicated to three channels; ``yuv422`` (UYVY) and ``yuv422_yuy2``
    (YUYV) need an even width.

    Raises:
        ImageConversionError: as :func:`image_to_array`, for a depth encoding (``16UC1``,
            ``32FC1``), or for an encoding with no colour meaning (e.g. ``8UC4``, ``8SC3``).
    """
    if encoding in _DEPTH_ENCODINGS:
        raise ImageConversionError(
            f'encoding {encoding!r} is a depth image (REP 118), not a colour camera: point '
            "the camera's image_topic at its colour stream")
    if encoding in _LAYOUTS and encoding not in _COLOUR:
        raise ImageConversionError(
            f'encoding {encoding!r} has no colour meaning; supported for BGR: '
            f'{", ".join(sorted(_COLOUR))}')
    kind, detail = _COLOUR.get(encoding, (None, None))
    if kind == 'yuv' and int(width) % 2:
        raise ImageConversionError(f'{encoding} needs an even width, got {width}')
    array = image_to_array(encoding, width, height, step, data, is_bigendian, expected_size)
    try:
        return _colour_to_bgr(array, kind, detail)
    except cv2.error:
        raise ImageConversionError(
            f'OpenCV could not convert a {width}x{height} {encoding} image to BGR') from None


def _colour_to_bgr(array, kind, detail):
    """Convert a native array of the given ``_COLOUR`` kind to ``(H, W, 3) uint8`` BGR."""
    if kind == 'order':
        # OpenCV's channel conversions, not numpy's fancy indexing: 0.3 ms against 13 ms for a
        # 1080p frame, and they release the GIL (several views convert at once).
        array = _to_uint8(array)
        rgb_order = tuple(detail) == (2, 1, 0)
        if array.shape[2] == 4:
            return cv2.cvtColor(array, cv2.COLOR_RGBA2BGR if rgb_order else cv2.COLOR_BGRA2BGR)
        return cv2.cvtColor(array, cv2.COLOR_RGB2BGR) if rgb_order else array
    if kind == 'grey':
        return cv2.cvtColor(_to_uint8(array), cv2.COLOR_GRAY2BGR)
    if kind == 'yuv':
        return cv2.cvtColor(array, detail)
    return cv2.cvtColor(_to_uint8(array), _BAYER_TO_BGR[detail])


_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
# JPEG markers C0-CF start a frame (SOFn: its size follows), except DHT, JPG and DAC.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field: TEM, RSTn, SOI.
_JPEG_STANDALONE = frozenset([0x01, *range(0xD0, 0xD9)])
# A JPEG's size comes within its first segments (APPn, DQT, DHT...); an ICC profile split
# into 255 APP2 chunks is the longest real header known, so 1024 segments is ample.
_JPEG_MAX_SEGMENTS = 1024


def _jpeg_size(data):
    """Return ``(width, height)`` from a JPEG's SOF segment, as libjpeg reads it."""
    position = 2
    for _ in range(_JPEG_MAX_SEGMENTS):
        # A marker may follow any number of 0xFF fill bytes; a bounded number is plenty.
        fill = 0
        while fill < 64 and bytes(data[position:position + 2]) == b'\xff\xff':
            position, fill = position + 1, fill + 1
        if position + 4 > len(data) or data[position] != 0xFF:
            break
        marker = data[position + 1]
        if marker in _JPEG_STANDALONE:
            position += 2
            continue
        if marker == 0xDA or marker == 0xD9:  # start of scan or end of image: no frame yet
            break
        (length,) = struct.unpack_from('>H', data, position + 2)
        if marker in _JPEG_SOF:
            if length < 8 or position + 9 > len(data):
                break
            height, width = struct.unpack_from('>HH', data, position + 5)
            if height == 0:
                raise ImageConversionError(f'could not decode {len(data)} bytes: a JPEG that '
                                           'gives its height after the scan (DNL)')
            return width, height
        if length < 2:
            break
        position += 2 + length
    raise ImageConversionError(f'could not decode {len(data)} bytes: a JPEG without a '
                               'readable frame header (SOF)')


def compressed_size(data):
    """Return ``(width, height)`` that a JPEG or PNG payload declares, without decoding it.

    Args:
        data: the compressed bytes (any byte buffer).

    Raises:
        ImageConversionError: neither JPEG nor PNG, or a header that gives no size.
    """
    raw = memoryview(_as_bytes(data))
    if bytes(raw[:8]) == _PNG_SIGNATURE:
        if len(raw) < 24 or bytes(raw[12:16]) != b'IHDR':
            raise ImageConversionError(f'could not decode {len(raw)} bytes: a PNG without '
                                       'its IHDR header')
        width, height = struct.unpack_from('>II', raw, 16)
        return width, height
    if bytes(raw[:3]) == b'\xff\xd8\xff':
        return _jpeg_size(raw)
    raise ImageConversionError(f'could not decode {len(raw)} bytes: neither JPEG nor PNG')


def compressed_to_bgr(format, data, expected_size=None):  # noqa: A002 - the ROS field name
    """Decode a ``sensor_msgs/CompressedImage`` payload to ``(H, W, 3) uint8`` BGR.

    The size the header declares is checked (:func:`check_image_size`) before anything is
    decoded: a few hundred bytes can declare a gigapixel image.

    Args:
        format: the message's ``format`` string, e.g. ``'jpeg'``, ``'png'`` or
            image_transport's ``'bgr8; jpeg compressed bgr8'``; the codec is recognised from
            the data itself, the string only serves to refuse ``compressedDepth``.
        data: the compressed bytes, JPEG or PNG.
        expected_size: ``(width, height)`` of the camera's CameraInfo, or None.

    Raises:
        ImageConversionError: for ``compressedDepth`` payloads, empty data, another codec, a
            size :func:`check_image_size` refuses, or data that does not decode.
    """
    if 'compresseddepth' in str(format).lower():
        raise ImageConversionError(
            f'compressedDepth images ({_echo(format)}) are depth maps, not colour images')
    raw = _as_bytes(data)
    if raw.size == 0:
        raise ImageConversionError(f'empty compressed image (format {_echo(format)})')
    width, height = check_image_size(*compressed_size(raw), expected_size, 'compressed image')
    try:
        bgr = cv2.imdecode(raw, cv2.IMREAD_COLOR)
    except cv2.error:
        bgr = None
    if bgr is None or bgr.shape[:2] != (height, width):
        raise ImageConversionError(
            f'could not decode {raw.size} bytes of compressed image (format {_echo(format)})')
    return bgr


def check_bgr(bgr):
    """Return ``bgr`` as an array if it is a ``(H, W, 3) uint8`` image native code may take.

    The detectors and the encoders call this before any native call.

    Raises:
        ImageConversionError: another shape or dtype, or a size :func:`check_image_size`
            refuses.
    """
    bgr = np.asarray(bgr)
    if bgr.dtype != np.uint8 or bgr.ndim != 3 or bgr.shape[2] != 3:
        raise ImageConversionError(
            f'expected a non-empty (H, W, 3) uint8 BGR image, got {bgr.dtype} {bgr.shape}')
    check_image_size(bgr.shape[1], bgr.shape[0], what='BGR image')
    return bgr


def _bgr_to_yuv422(bgr, uyvy):
    """Encode BGR as YUV 4:2:2 (BT.601 limited range, the inverse of OpenCV's decoder).

    Returns ``(H, W, 2) uint8``; the chroma of each horizontal pixel pair is averaged.
    """
    b, g, r = (bgr[:, :, i].astype(np.float64) for i in range(3))
    luma = 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0
    u = 128.0 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255.0
    v = 128.0 + (112.0 * r - 93.786 * g - 18.214 * b) / 255.0
    u = u.reshape(u.shape[0], -1, 2).mean(axis=2)
    v = v.reshape(v.shape[0], -1, 2).mean(axis=2)
    chroma = np.stack([u, v], axis=2).reshape(bgr.shape[0], bgr.shape[1])
    pair = (chroma, luma) if uyvy else (luma, chroma)
    return np.clip(np.rint(np.stack(pair, axis=2)), 0, 255).astype(np.uint8)


def _bgr_to_bayer(bgr, pattern):
    """Sample BGR into a ``(H, W) uint8`` Bayer mosaic; ``pattern`` names the top-left 2x2."""
    channel_of = {'b': 0, 'g': 1, 'r': 2}
    mosaic = np.empty(bgr.shape[:2], dtype=bgr.dtype)
    for index, letter in enumerate(pattern):
        row, col = divmod(index, 2)
        mosaic[row::2, col::2] = bgr[row::2, col::2, channel_of[letter]]
    return mosaic


def bgr_to_image_fields(bgr, encoding='bgr8'):
    """Encode a BGR image into ``sensor_msgs/Image`` fields.

    Args:
        bgr: ``(H, W, 3) uint8`` BGR image.
        encoding: any encoding :func:`image_to_bgr` reads.  16-bit encodings store
            ``value * 257`` (so :func:`image_to_bgr` gives back the 8-bit value), grey uses
            OpenCV's BGR-to-grey weights, YUV 4:2:2 needs an even width, Bayer samples the
            mosaic from the colour image.

    Returns:
        ``(encoding, width, height, step, data)`` with ``step`` = width * bytes per pixel
        (no padding), ``data`` little-endian ``bytes``.
    """
    bgr = check_bgr(bgr)
    if encoding not in _COLOUR:
        raise ImageConversionError(
            f'cannot encode BGR as {_echo(encoding)}; supported: {", ".join(sorted(_COLOUR))}')
    kind, detail = _COLOUR[encoding]
    dtype, channels = _LAYOUTS[encoding]
    height, width = bgr.shape[:2]
    if kind == 'order':
        inverse = np.argsort(detail)
        array = bgr[:, :, inverse]
        if channels == 4:
            array = np.concatenate([array, np.full_like(bgr[:, :, :1], 255)], axis=2)
    elif kind == 'grey':
        array = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    elif kind == 'yuv':
        if width % 2:
            raise ImageConversionError(f'{encoding} needs an even width, got {width}')
        array = _bgr_to_yuv422(bgr, uyvy=detail == cv2.COLOR_YUV2BGR_UYVY)
    else:
        array = _bgr_to_bayer(bgr, detail)
    if dtype == np.uint16:
        array = array.astype('<u2') * np.uint16(257)
    array = np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder('<'))
    step = width * channels * array.dtype.itemsize
    return encoding, width, height, step, array.tobytes()


def encode_compressed(bgr, format='jpeg', quality=90):  # noqa: A002 - matches the ROS field
    """Compress a BGR image for a ``sensor_msgs/CompressedImage``.

    Args:
        bgr: ``(H, W, 3) uint8`` BGR image.
        format: ``'jpeg'`` (or ``'jpg'``) or ``'png'``.
        quality: JPEG quality 0-100 (ignored for PNG).

    Returns:
        ``(format, data)``: image_transport's format string (``'bgr8; jpeg compressed bgr8'``
        or ``'bgr8; png compressed bgr8'``) and the compressed ``bytes``.
    """
    bgr = check_bgr(bgr)
    codec = str(format).lower()
    if codec in ('jpeg', 'jpg'):
        ok, buffer = cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        codec = 'jpeg'
    elif codec == 'png':
        ok, buffer = cv2.imencode('.png', bgr)
    else:
        raise ImageConversionError(f'unsupported compressed format {_echo(format)}; '
                                   'use jpeg or png')
    if not ok:
        raise ImageConversionError(f'OpenCV failed to encode a {bgr.shape} image as {codec}')
    return f'bgr8; {codec} compressed bgr8', buffer.tobytes()
