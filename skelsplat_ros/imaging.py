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
  YUV 4:2:2 and Bayer mosaics converted with OpenCV.  The generic ``8UC3``/``8UC4``/``16UC3``
  types are taken as BGR(A), OpenCV's own channel order.
- :func:`compressed_to_bgr` decodes a JPEG/PNG ``CompressedImage`` payload.
- :func:`bgr_to_image_fields` and :func:`encode_compressed` go the other way, for publishers
  and tests.

Every failure raises :class:`ImageConversionError`, a ``ValueError``.
"""

import cv2
import numpy as np

__all__ = [
    'ImageConversionError',
    'SUPPORTED_ENCODINGS',
    'bgr_to_image_fields',
    'compressed_to_bgr',
    'encode_compressed',
    'image_to_array',
    'image_to_bgr',
]


class ImageConversionError(ValueError):
    """An image could not be converted (bad encoding, geometry, or data)."""


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
    '8UC3': ('order', (0, 1, 2)), '8UC4': ('order', (0, 1, 2)),
    '16UC3': ('order', (0, 1, 2)), '16UC4': ('order', (0, 1, 2)),
    'mono8': ('grey', None), 'mono16': ('grey', None),
    '8UC1': ('grey', None), '16UC1': ('grey', None),
    'yuv422': ('yuv', cv2.COLOR_YUV2BGR_UYVY), 'uyvy': ('yuv', cv2.COLOR_YUV2BGR_UYVY),
    'yuv422_yuy2': ('yuv', cv2.COLOR_YUV2BGR_YUY2), 'yuyv': ('yuv', cv2.COLOR_YUV2BGR_YUY2),
}
for _pattern in _BAYER_TO_BGR:
    for _bits in (8, 16):
        _COLOUR[f'bayer_{_pattern}{_bits}'] = ('bayer', _pattern)


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
            f'unsupported image encoding {encoding!r}; supported: '
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


def image_to_array(encoding, width, height, step, data, is_bigendian=0):
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

    Returns:
        ``(H, W)`` for one-channel encodings, else ``(H, W, C)`` (``C`` = 2 for YUV 4:2:2),
        a new contiguous array of the encoding's dtype in native byte order.

    Raises:
        ImageConversionError: unknown encoding, zero size, ``step`` too small, data too short.
    """
    dtype, channels = _layout(encoding)
    width, height, step = int(width), int(height), int(step)
    if width <= 0 or height <= 0:
        raise ImageConversionError(f'empty {encoding} image: {width}x{height} pixels')
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


def image_to_bgr(encoding, width, height, step, data, is_bigendian=0):
    """Return an image as ``(H, W, 3) uint8`` BGR, the input the detectors take.

    Arguments are those of :func:`image_to_array`.  16-bit encodings are scaled by
    255/65535; grey is replicated to three channels; ``yuv422`` (UYVY) and ``yuv422_yuy2``
    (YUYV) need an even width.

    Raises:
        ImageConversionError: as :func:`image_to_array`, or for an encoding with no colour
            meaning (e.g. ``32FC1``, ``8SC3``).
    """
    if encoding in _LAYOUTS and encoding not in _COLOUR:
        raise ImageConversionError(
            f'encoding {encoding!r} has no colour meaning; supported for BGR: '
            f'{", ".join(sorted(_COLOUR))}')
    kind, detail = _COLOUR.get(encoding, (None, None))
    if kind == 'yuv' and int(width) % 2:
        raise ImageConversionError(f'{encoding} needs an even width, got {width}')
    array = image_to_array(encoding, width, height, step, data, is_bigendian)
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


def compressed_to_bgr(format, data):  # noqa: A002 - the sensor_msgs/CompressedImage field name
    """Decode a ``sensor_msgs/CompressedImage`` payload to ``(H, W, 3) uint8`` BGR.

    Args:
        format: the message's ``format`` string, e.g. ``'jpeg'``, ``'png'`` or
            image_transport's ``'bgr8; jpeg compressed bgr8'``; the codec is recognised from
            the data itself, the string only serves to refuse ``compressedDepth``.
        data: the compressed bytes.

    Raises:
        ImageConversionError: for ``compressedDepth`` payloads, empty or undecodable data.
    """
    if 'compresseddepth' in str(format).lower():
        raise ImageConversionError(
            f'compressedDepth images ({format!r}) are depth maps, not colour images')
    raw = _as_bytes(data)
    if raw.size == 0:
        raise ImageConversionError(f'empty compressed image (format {format!r})')
    bgr = cv2.imdecode(raw, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageConversionError(
            f'could not decode {raw.size} bytes of compressed image (format {format!r})')
    return bgr


def _check_bgr(bgr):
    """Raise unless ``bgr`` is a non-empty ``(H, W, 3) uint8`` array."""
    bgr = np.asarray(bgr)
    if bgr.dtype != np.uint8 or bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.size == 0:
        raise ImageConversionError(
            f'expected a non-empty (H, W, 3) uint8 BGR image, got {bgr.dtype} {bgr.shape}')
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
    bgr = _check_bgr(bgr)
    if encoding not in _COLOUR:
        raise ImageConversionError(
            f'cannot encode BGR as {encoding!r}; supported: {", ".join(sorted(_COLOUR))}')
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
    bgr = _check_bgr(bgr)
    codec = str(format).lower()
    if codec in ('jpeg', 'jpg'):
        ok, buffer = cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        codec = 'jpeg'
    elif codec == 'png':
        ok, buffer = cv2.imencode('.png', bgr)
    else:
        raise ImageConversionError(f'unsupported compressed format {format!r}; use jpeg or png')
    if not ok:
        raise ImageConversionError(f'OpenCV failed to encode a {bgr.shape} image as {codec}')
    return f'bgr8; {codec} compressed bgr8', buffer.tobytes()
