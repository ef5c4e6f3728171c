# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Pinhole cameras with lens distortion, and the calibration loaders.

A :class:`Camera` holds the intrinsics ``K``, the distortion coefficients in the ROS
``sensor_msgs/CameraInfo`` convention, and the world-to-camera extrinsics ``(R, t)`` of a REP-103
optical frame (z forward, x right, y down).  Keypoints stay in raw (distorted) pixels until
:meth:`Camera.undistort_points` maps them to ideal pinhole pixels of the same ``K``, where
:attr:`Camera.projection_matrix` applies.

Distortion models (coefficient order as in OpenCV and ROS):

- ``plumb_bob``: (k1, k2, p1, p2[, k3]);
- ``rational_polynomial``: (k1, k2, p1, p2, k3, k4, k5, k6);
- ``equidistant``: (k1, k2, k3, k4), the OpenCV fisheye model;
- ``none``: no coefficients.

Calibration files (:func:`load_calibration`, chosen by extension):

- ``.toml``: anipose / Pose2Sim.  One table per camera, in file order (``[metadata]`` is
  skipped), with ``size`` = [width, height], ``matrix``, ``distortions``, ``rotation`` (Rodrigues
  vector, world to camera), ``translation`` (metres, world to camera) and optional ``name`` and
  ``fisheye`` (true selects ``equidistant``).
- ``.yaml`` / ``.yml``: one camera as ROS ``camera_calibration`` writes it (``image_width``,
  ``image_height``, ``camera_name``, ``camera_matrix``, ``distortion_model``,
  ``distortion_coefficients``; matrices as ``{rows, cols, data}``), or an OpenCV FileStorage file
  (``%YAML:1.0`` header, same key names, ``!!opencv-matrix`` values).  A top-level ``cameras``
  list holds several such cameras.  Extrinsics are the optional keys ``rotation`` (3x3 matrix or
  Rodrigues 3-vector, world to camera) and ``translation`` (3 values, metres, world to camera);
  without them the camera sits at the world origin (identity).  Without ``distortion_model``, 8
  coefficients mean ``rational_polynomial`` and 4 or 5 mean ``plumb_bob``.
"""

from dataclasses import dataclass
import pathlib

import cv2
import numpy as np
import yaml

try:
    import tomllib  # novermin - Python 3.11+; 3.10 (Humble) reads TOML with python3-toml
    TomlDecodeError = tomllib.TOMLDecodeError
except ModuleNotFoundError:
    import toml as tomllib
    TomlDecodeError = tomllib.TomlDecodeError

DISTORTION_MODELS = ('plumb_bob', 'rational_polynomial', 'equidistant', 'none')
_DISTORTION_COUNTS = {
    'plumb_bob': (4, 5), 'rational_polynomial': (8,), 'equidistant': (4,), 'none': (0,),
}
_MODEL_ALIASES = {'fisheye': 'equidistant', '': 'none'}

# Tight enough that undistort(project(X)) matches the pinhole projection to ~1e-9 px.
_UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12)
_ROTATION_TOLERANCE = 1e-4


class CalibrationError(ValueError):
    """A calibration that is missing, unparsable or physically invalid."""


@dataclass(eq=False)
class Camera:
    """A calibrated camera.

    ``K`` (3, 3) intrinsics; ``dist`` (n,) coefficients of ``distortion_model``; ``R`` (3, 3) and
    ``t`` (3,) metres map world points into the camera's optical frame,
    ``x_cam = R @ x_world + t``; ``width`` and ``height`` in pixels.  Build cameras with
    :func:`make_camera` (or the loaders), which validate.
    """

    name: str
    K: np.ndarray
    dist: np.ndarray
    distortion_model: str
    R: np.ndarray
    t: np.ndarray
    width: int
    height: int

    @property
    def projection_matrix(self):
        """(3, 4) ``K [R | t]``, mapping world points to undistorted pixels."""
        return self.K @ np.hstack([self.R, self.t[:, None]])

    @property
    def viewmat(self):
        """(4, 4) homogeneous world-to-camera transform."""
        view = np.eye(4)
        view[:3, :3] = self.R
        view[:3, 3] = self.t
        return view

    @property
    def center(self):
        """(3,) camera centre in world coordinates, metres."""
        return -self.R.T @ self.t

    def world_to_camera(self, points):
        """Map world points (N, 3) to camera coordinates (N, 3)."""
        return np.asarray(points, dtype=float) @ self.R.T + self.t

    def project(self, points_world):
        """Project world points (N, 3) to raw (distorted) pixels (N, 2).

        Points behind the camera are projected through the same formula (no culling); check
        ``world_to_camera(points)[:, 2] > 0`` where that matters.
        """
        points_cam = self.world_to_camera(np.asarray(points_world, dtype=float).reshape(-1, 3))
        if self.distortion_model == 'none' or len(points_cam) == 0:
            pixels = points_cam @ self.K.T
            return pixels[:, :2] / pixels[:, 2:]
        zero = np.zeros(3)
        if self.distortion_model == 'equidistant':
            pixels, _ = cv2.fisheye.projectPoints(points_cam[:, None, :], zero, zero, self.K,
                                                  self.dist)
        else:
            pixels, _ = cv2.projectPoints(points_cam, zero, zero, self.K, self.dist)
        return pixels.reshape(-1, 2)

    def undistort_points(self, pixels):
        """Map raw pixels (N, 2) to ideal pinhole pixels (N, 2) of the same ``K``.

        NaN rows stay NaN.
        """
        pixels = np.asarray(pixels, dtype=float).reshape(-1, 2)
        if self.distortion_model == 'none':
            return pixels.copy()
        ideal = np.full_like(pixels, np.nan)
        valid = np.isfinite(pixels).all(axis=1)
        if not valid.any():
            return ideal
        src = np.ascontiguousarray(pixels[valid][:, None, :])
        if self.distortion_model == 'equidistant':
            out = cv2.fisheye.undistortPoints(src, self.K, self.dist, R=None, P=self.K,
                                              criteria=_UNDISTORT_CRITERIA)
        else:
            out = _undistort_pinhole(src, self.K, self.dist)
        ideal[valid] = out.reshape(-1, 2)
        return ideal


class CameraRig:
    """V calibrated cameras taken together (as aniposelib's ``CameraGroup``).

    It holds the stacked matrices that multi-view code works with, and the one place where
    raw detections become usable observations (:meth:`observe`).

    Attributes:
        cameras: the V :class:`Camera`, in view order.
        projections: (V, 3, 4) ``K [R | t]``, world points to undistorted pixels.
        intrinsics: (V, 3, 3) ``K``.
        viewmats: (V, 4, 4) world-to-camera transforms.
        centres: (V, 3) camera centres in world coordinates, metres.
        sizes: (V, 2) image width and height, pixels.

    """

    def __init__(self, cameras):
        """Stack the matrices of ``cameras`` (a sequence of :class:`Camera`)."""
        self.cameras = list(cameras)
        self.projections = np.stack([cam.projection_matrix for cam in self.cameras])
        self.intrinsics = np.stack([np.asarray(cam.K, float) for cam in self.cameras])
        self.viewmats = np.stack([cam.viewmat for cam in self.cameras])
        self.centres = np.stack([cam.center for cam in self.cameras])
        self.sizes = np.array([[cam.width, cam.height] for cam in self.cameras], dtype=float)
        # Views without lens distortion project as one batched product; the others need
        # OpenCV's model, one call each.
        self._distorted = [v for v, cam in enumerate(self.cameras)
                           if cam.distortion_model != 'none']

    @property
    def num_views(self):
        """Number of cameras V."""
        return len(self.cameras)

    def project(self, points_world):
        """Raw (distorted) pixels (V, N, 2) and depths (V, N) of world points (N, 3) in every view.

        As :meth:`Camera.project` per view: points behind a camera are projected through the
        same formula; their depth is not positive.
        """
        points = np.asarray(points_world, dtype=float).reshape(-1, 3)
        in_cameras = points @ np.swapaxes(self.viewmats[:, :3, :3], 1, 2) \
            + self.viewmats[:, None, :3, 3]                                    # (V, N, 3)
        homogeneous = in_cameras @ np.swapaxes(self.intrinsics, 1, 2)
        pixels = homogeneous[..., :2] / homogeneous[..., 2:]
        for v in self._distorted:
            if len(points):
                pixels[v] = self.cameras[v].project(points)
        return pixels, in_cameras[..., 2]

    def observe(self, view, keypoints, min_confidence):
        """Undistorted pixels and gated confidences of raw detections in one view.

        ``keypoints`` (..., J, 3) raw (distorted) pixels and confidence.  A keypoint with a
        non-finite value, or a confidence under ``min_confidence``, gets confidence 0 (and
        pixel (0, 0) before undistortion); the others keep their confidence clipped to
        [0, 1].  Returns ``(points (..., J, 2), confidence (..., J))``.
        """
        keypoints = np.asarray(keypoints, dtype=float)
        finite = np.isfinite(keypoints).all(axis=-1)
        confidence = np.where(finite, keypoints[..., 2], 0.0)
        confidence = np.where(confidence >= min_confidence, np.clip(confidence, 0.0, 1.0), 0.0)
        raw = np.where(finite[..., None], keypoints[..., :2], 0.0)
        points = self.cameras[view].undistort_points(raw.reshape(-1, 2)).reshape(raw.shape)
        return points, confidence

    def observe_people(self, views, min_confidence, num_joints=None):
        """:meth:`observe` every view's people: V arrays (P_v, J, 3), P_v may be 0.

        Returns per view ``(points (P_v, J, 2), confidence (P_v, J))``.  Raises ValueError
        when there are not V views, or, given ``num_joints``, when a view's people do not
        have that many joints.
        """
        if len(views) != self.num_views:
            raise ValueError(f'got keypoints for {len(views)} views, '
                             f'the rig has {self.num_views} cameras')
        result = []
        for view, people in enumerate(views):
            people = np.asarray(people, dtype=float)
            if num_joints is not None and people.size and (
                    people.ndim < 2 or people.shape[-2:] != (num_joints, 3)):
                raise ValueError(f'view {view}: keypoints need shape (P, {num_joints}, 3) '
                                 f'(one per skeleton joint), got {people.shape}')
            joints = people.shape[-2] if people.ndim >= 2 else 0
            people = people.reshape(-1 if people.size else 0, joints, 3)
            result.append(self.observe(view, people, min_confidence))
        return result


def _undistort_pinhole(src, K, dist):
    # OpenCV 4 has the iteration criteria only on undistortPointsIter; OpenCV 5 moved it into
    # undistortPoints and dropped undistortPointsIter.
    if hasattr(cv2, 'undistortPointsIter'):
        return cv2.undistortPointsIter(src, K, dist, None, K, _UNDISTORT_CRITERIA)
    return cv2.undistortPoints(src, K, dist, R=None, P=K, criteria=_UNDISTORT_CRITERIA)


def _as_array(value, shape, what, camera):
    # shape None: any number of values, flattened.
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError, OverflowError) as error:
        # OverflowError: YAML and TOML integers have no size limit.
        raise CalibrationError(f'camera {camera!r}: {what} is not numeric: {error}') from None
    if shape is None:
        shape = (array.size,)
    if array.size != int(np.prod(shape)):
        raise CalibrationError(f'camera {camera!r}: {what} needs {int(np.prod(shape))} values '
                               f'(shape {shape}), got {array.size}')
    array = array.reshape(shape)
    if not np.isfinite(array).all():
        raise CalibrationError(f'camera {camera!r}: {what} has non-finite values')
    return array


def rotation_from_quaternion(xyzw):
    """Return the (3, 3) rotation matrix of the quaternion ``(x, y, z, w)`` (ROS order)."""
    q = np.asarray(xyzw, dtype=float).reshape(4)
    norm = np.linalg.norm(q)
    if not np.isfinite(norm) or norm < 1e-12:
        raise CalibrationError(f'quaternion {q.tolist()} has no rotation (zero or non-finite)')
    x, y, z, w = q / norm
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def optical_frame_extrinsics(T_world_from_camera):
    """Turn a camera pose into world-to-camera extrinsics.

    ``T_world_from_camera`` (4, 4) is the pose of the camera's REP-103 optical frame (z forward,
    x right, y down) in the world, as TF gives it for ``lookup_transform(world, optical_frame)``.
    Returns ``(R (3, 3), t (3,))`` with ``x_cam = R @ x_world + t``.
    """
    T = _as_array(T_world_from_camera, (4, 4), 'T_world_from_camera', 'tf')
    rotation = T[:3, :3].T
    return rotation, -rotation @ T[:3, 3]


def make_camera(name, K, dist, distortion_model, width, height, R=None, t=None):
    """Build a validated :class:`Camera`; raise :class:`CalibrationError` if it is invalid.

    ``K`` (9,) or (3, 3); ``dist`` (n,); ``R`` (3, 3) or None for identity; ``t`` (3,) metres
    or None for zero.  An empty ``dist`` means no distortion whatever the model says.
    """
    name = str(name)
    model = str(distortion_model).strip().lower()
    model = _MODEL_ALIASES.get(model, model)
    if model not in DISTORTION_MODELS:
        raise CalibrationError(f'camera {name!r}: unsupported distortion model '
                               f'{distortion_model!r}; supported: {", ".join(DISTORTION_MODELS)}')
    K = _as_array(K, (3, 3), 'K', name)
    if not K.any():
        raise CalibrationError(f'camera {name!r}: K is all zeros (camera not calibrated?)')
    if K[0, 0] <= 0 or K[1, 1] <= 0 or not np.allclose(K[2], [0, 0, 1]):
        raise CalibrationError(f'camera {name!r}: K is not an intrinsic matrix '
                               '(needs fx > 0, fy > 0 and last row 0 0 1)')
    dist = _as_array([] if dist is None else dist, None, 'distortion coefficients', name)
    if dist.size == 0:
        model = 'none'
    elif model == 'none' and not dist.any():
        dist = np.zeros(0)
    if dist.size not in _DISTORTION_COUNTS[model]:
        raise CalibrationError(f'camera {name!r}: distortion model {model!r} takes '
                               f'{" or ".join(map(str, _DISTORTION_COUNTS[model]))} coefficients, '
                               f'got {dist.size}')
    R = np.eye(3) if R is None else _as_array(R, (3, 3), 'R', name)
    if (not np.allclose(R @ R.T, np.eye(3), atol=_ROTATION_TOLERANCE)
            or np.linalg.det(R) <= 0):
        raise CalibrationError(f'camera {name!r}: R is not a rotation (orthonormal, det +1)')
    t = np.zeros(3) if t is None else _as_array(t, (3,), 't', name)
    size = _as_array([width, height], (2,), 'image size', name)
    if not (size == np.round(size)).all():
        raise CalibrationError(f'camera {name!r}: image size {width!r} x {height!r} '
                               'is not a whole number of pixels')
    width, height = int(size[0]), int(size[1])
    if width <= 0 or height <= 0:
        raise CalibrationError(f'camera {name!r}: image size {width} x {height} is not positive')
    return Camera(name=name, K=K, dist=dist, distortion_model=model, R=R, t=t,
                  width=width, height=height)


def camera_from_camera_info(k, d, distortion_model, width, height, name='', R=None, t=None):
    """Build a :class:`Camera` from the fields of a ``sensor_msgs/CameraInfo``.

    ``k`` (9,) row-major intrinsics, ``d`` (n,) coefficients, ``distortion_model`` the message's
    string, ``width``/``height`` pixels; ``R`` (3, 3) and ``t`` (3,) world-to-camera extrinsics
    (identity when None), e.g. from :func:`optical_frame_extrinsics`.
    """
    return make_camera(name, k, d, distortion_model, width, height, R=R, t=t)


def load_calibration(path):
    """Load the cameras of a calibration file (``.toml``, ``.yaml`` or ``.yml``), in file order.

    Returns a list of :class:`Camera`; raises :class:`CalibrationError` for a missing,
    unparsable or invalid file.
    """
    path = pathlib.Path(path)
    suffix = path.suffix.lower()
    if suffix not in ('.toml', '.yaml', '.yml'):
        raise CalibrationError(f'{path}: unknown calibration format {suffix!r} '
                               '(expected .toml, .yaml or .yml)')
    try:
        text = path.read_text(encoding='utf-8')
    except (OSError, UnicodeDecodeError) as error:
        raise CalibrationError(f'{path}: cannot read calibration: {error}') from None
    try:
        if suffix == '.toml':
            cameras = _cameras_from_toml(text)
        elif text.lstrip().startswith('%YAML'):
            cameras = [_camera_from_opencv_storage(path)]
        else:
            cameras = _cameras_from_yaml(text)
    except CalibrationError as error:
        raise CalibrationError(f'{path}: {error}') from None
    if not cameras:
        raise CalibrationError(f'{path}: no cameras in calibration')
    return cameras


def _required(table, key, camera):
    if key not in table:
        raise CalibrationError(f'camera {camera!r}: missing field {key!r}')
    return table[key]


def _cameras_from_toml(text):
    try:
        document = tomllib.loads(text)
    except TomlDecodeError as error:
        raise CalibrationError(f'unparsable TOML: {error}') from None
    cameras = []
    for key, table in document.items():
        if key == 'metadata' or not isinstance(table, dict):
            continue
        name = str(table.get('name', key))
        size = _as_array(_required(table, 'size', name), (2,), 'size', name)
        rvec = _as_array(_required(table, 'rotation', name), (3,), 'rotation', name)
        model = 'equidistant' if table.get('fisheye', False) else None
        dist = _as_array(_required(table, 'distortions', name), None, 'distortions', name)
        cameras.append(make_camera(
            name, _required(table, 'matrix', name), dist,
            model or _model_from_count(dist.size, name), size[0], size[1],
            R=cv2.Rodrigues(rvec)[0], t=_required(table, 'translation', name)))
    return cameras


def _model_from_count(count, camera):
    if count == 8:
        return 'rational_polynomial'
    if count in (0, 4, 5):
        return 'plumb_bob'
    raise CalibrationError(f'camera {camera!r}: cannot tell the distortion model of '
                           f'{count} coefficients; give distortion_model')


def _matrix_values(value):
    # ROS YAML writes matrices as {rows, cols, data}; plain lists are accepted too.
    if isinstance(value, dict):
        return value.get('data')
    return value


def _rotation_from_values(value, camera):
    values = _as_array(_matrix_values(value), None, 'rotation', camera)
    if values.size == 3:
        return cv2.Rodrigues(values)[0]
    return _as_array(values, (3, 3), 'rotation', camera)


def _camera_from_fields(fields, default_name):
    name = str(fields.get('camera_name') or default_name)
    dist = _matrix_values(fields.get('distortion_coefficients', []))
    dist = _as_array([] if dist is None else dist, None, 'distortion coefficients', name)
    model = fields.get('distortion_model') or _model_from_count(dist.size, name)
    rotation = fields.get('rotation')
    translation = fields.get('translation')
    return make_camera(
        name, _matrix_values(_required(fields, 'camera_matrix', name)), dist, model,
        _required(fields, 'image_width', name), _required(fields, 'image_height', name),
        R=None if rotation is None else _rotation_from_values(rotation, name),
        t=None if translation is None else _matrix_values(translation))


def _cameras_from_yaml(text):
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise CalibrationError(f'unparsable YAML: {error}') from None
    if not isinstance(document, dict):
        raise CalibrationError('YAML calibration must be a mapping')
    entries = document['cameras'] if 'cameras' in document else [document]
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise CalibrationError("'cameras' must be a list of camera mappings")
    return [_camera_from_fields(entry, f'camera_{i}') for i, entry in enumerate(entries)]


def _camera_from_opencv_storage(path):
    try:
        storage = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
    except cv2.error as error:
        raise CalibrationError(f'unparsable OpenCV YAML: {error}') from None
    try:
        fields = {}
        for key in ('camera_name', 'distortion_model'):
            node = storage.getNode(key)
            if not node.empty():
                fields[key] = node.string()
        for key in ('image_width', 'image_height'):
            node = storage.getNode(key)
            if not node.empty():
                fields[key] = node.real()
        for key in ('camera_matrix', 'distortion_coefficients', 'rotation', 'translation'):
            node = storage.getNode(key)
            if not node.empty():
                fields[key] = node.mat() if node.isMap() else _sequence(node)
    finally:
        storage.release()
    return _camera_from_fields(fields, path.stem)


def _sequence(node):
    return [node.at(i).real() for i in range(node.size())]
