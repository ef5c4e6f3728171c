# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Conversions between ROS messages and the package's numpy types.

Inputs: ``sensor_msgs/Image`` and ``CompressedImage`` to BGR arrays (through
:mod:`skelsplat_ros.imaging`, no cv_bridge), ``sensor_msgs/CameraInfo`` to
:class:`skelsplat_ros.cameras.Camera`, ``skelsplat_ros/Keypoints2D`` to the keypoints of a
:class:`skelsplat_ros.skeletons.Skeleton`, mapped by joint name.

Outputs, all from a :class:`skelsplat_ros.live.PersonPose` (finite by construction):
``HumanPose3D``/``HumanPose3DArray``, RViz markers, REP-155 TF frames and a ``PointCloud2``
(:mod:`skelsplat_ros.ros.outputs` decides which of them a group gives).
The functions that build input messages (:func:`camera_info_msg`, :func:`keypoints_msg`) serve
the tests, the demo and bridges from other detectors.
"""

import array
from typing import Iterable, List, Optional, Sequence, Tuple

from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point, TransformStamped, Vector3
import numpy as np
from sensor_msgs.msg import CameraInfo, PointCloud2, PointField
from skelsplat_ros import imaging
from skelsplat_ros.body_frames import body_frame, body_id, joints_in_body_frame
from skelsplat_ros.body_frames import quaternion_from_matrix
from skelsplat_ros.cameras import CalibrationError, camera_from_camera_info
from skelsplat_ros.cameras import rotation_from_quaternion
from skelsplat_ros.live import id_rgb, PersonPose
from skelsplat_ros.msg import HumanPose3D, HumanPose3DArray, Keypoint2D, Keypoints2D, Person2D
from skelsplat_ros.skeletons import COCO17, get_format, Skeleton
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker

__all__ = [
    'ECHO_LIMIT', 'KeypointsMessageError', 'camera_from_info_msg', 'camera_info_key',
    'camera_info_msg', 'camera_transform', 'capped', 'compressed_msg_to_bgr', 'delete_markers',
    'image_msg_to_bgr', 'keypoints_msg', 'keypoints_msg_to_skeleton', 'person_markers',
    'person_msg', 'person_transforms', 'points_msg', 'pose_array_msg', 'transform_to_matrix',
]

# Most characters of one log line or /diagnostics value: they may quote input (a frame_id, a
# distortion_model, an exception about a message), which a sender can make megabytes long.
ECHO_LIMIT = 400


def capped(text: str, limit: int = ECHO_LIMIT) -> str:
    """Return ``text`` cut to ``limit`` characters, saying how many were left out."""
    text = str(text)
    if len(text) <= limit:
        return text
    return f'{text[:limit]}... ({len(text) - limit} more characters)'


MARKER_NAMESPACES = ('skelsplat/joints', 'skelsplat/bones', 'skelsplat/id',
                     'skelsplat/covariance')
_JOINT_DIAMETER = 0.05   # metres
_BONE_WIDTH = 0.02       # metres
_TEXT_HEIGHT = 0.12      # metres
_TEXT_OFFSET = 0.25      # metres above the highest joint


class KeypointsMessageError(ValueError):
    """A ``Keypoints2D`` message whose keypoints cannot be mapped to the skeleton's joints."""


# ----------------------------------------------------------------------------------- inputs
def image_msg_to_bgr(msg) -> np.ndarray:
    """Convert a ``sensor_msgs/Image`` to ``(H, W, 3) uint8`` BGR.

    Raises:
        skelsplat_ros.imaging.ImageConversionError: for a bad encoding, geometry or data.
    """
    return imaging.image_to_bgr(msg.encoding, msg.width, msg.height, msg.step, msg.data,
                                msg.is_bigendian)


def compressed_msg_to_bgr(msg, expected_size=None) -> np.ndarray:
    """Decode a ``sensor_msgs/CompressedImage`` to ``(H, W, 3) uint8`` BGR.

    ``expected_size`` is the camera's ``(width, height)``, or None: a payload that declares
    another size is refused from its header, before anything is decoded.

    Raises:
        skelsplat_ros.imaging.ImageConversionError: for an undecodable payload, or one of
            another size.
    """
    return imaging.compressed_to_bgr(msg.format, msg.data, expected_size)


def frame_keypoints(engine, name: str, msg) -> np.ndarray:
    """(P, J, 3) keypoints of one camera frame in the engine's skeleton: read or detected.

    ``msg`` is a Keypoints2D, CompressedImage or Image, as an rclpy message or as a message
    decoded from a recording (which has the same fields, so the type is told by its fields).
    ``engine`` is the :class:`skelsplat_ros.live.FusionEngine` that detects and knows the
    camera's calibrated size; a compressed image that declares another size is refused before
    it is decoded.  The header stamp goes to the detector, which tracks people from frame to
    frame.
    """
    if hasattr(msg, 'people'):
        return keypoints_msg_to_skeleton(msg, engine.skeleton)
    if hasattr(msg, 'format'):
        camera = engine.camera(name)
        size = None if camera is None else (camera.width, camera.height)
        bgr = compressed_msg_to_bgr(msg, size)
    else:
        bgr = image_msg_to_bgr(msg)
    stamp = msg.header.stamp
    return engine.detect(name, bgr, stamp=stamp.sec + stamp.nanosec * 1e-9)


def camera_info_key(msg) -> tuple:
    """Return what a ``sensor_msgs/CameraInfo``'s camera model depends on (to skip repeats)."""
    roi = msg.roi
    return (tuple(msg.k), tuple(msg.d), tuple(msg.p), msg.distortion_model, msg.width,
            msg.height, msg.binning_x, msg.binning_y, roi.x_offset, roi.y_offset, roi.width,
            roi.height)


def camera_from_info_msg(msg, name: str, rectified: bool = False):
    """Build the :class:`skelsplat_ros.cameras.Camera` of the images a ``CameraInfo`` describes.

    The calibration (K, D, P) is that of the full-resolution image (``width`` x ``height``);
    the images (and so the keypoints) may be binned and cut to a region of interest.  As
    image_geometry's ``PinholeCameraModel`` does, the model is scaled to the images:
    ``fx' = fx / binning_x``, ``cx' = (cx - roi.x_offset) / binning_x`` (the same in y), and
    the image size is ``roi.width // binning_x`` by ``roi.height // binning_y`` (a binning of
    0 is 1; a ROI of all zeros is the full image).  Distortion acts on normalised
    coordinates, so D is unchanged.

    Args:
        msg: the CameraInfo.
        name: the camera's name.
        rectified: the images are rectified (``image_rect``): the model is ``P[:, :3]`` with
            no distortion, instead of K and D.  ``P[:, 3]`` (a stereo right camera's
            ``Tx = -fx' B``) places the camera centre relative to the message's frame: the
            returned camera's ``t`` is that offset (``R`` the identity), which the camera's
            pose in the world is composed with.

    Raises:
        skelsplat_ros.cameras.CalibrationError: for K (or P) all zeros, an unsupported model,
            a ROI outside the image, etc.
    """
    if rectified:
        P = np.asarray(msg.p, dtype=float).reshape(3, 4)
        full = camera_from_camera_info(P[:, :3], [], 'none', msg.width, msg.height, name=name)
        # P = K' [I | K'^-1 P[:, 3]]: the camera sits at -K'^-1 P[:, 3] in the message's frame.
        offset = np.linalg.solve(full.K, P[:, 3])
    else:
        full = camera_from_camera_info(np.asarray(msg.k, dtype=float),
                                       np.asarray(msg.d, dtype=float), msg.distortion_model,
                                       msg.width, msg.height, name=name)
        offset = None
    roi, binning_x, binning_y = msg.roi, max(1, msg.binning_x), max(1, msg.binning_y)
    x, y, width, height = roi.x_offset, roi.y_offset, roi.width, roi.height
    if not (x or y or width or height):
        width, height = full.width, full.height
    if x + width > full.width or y + height > full.height:
        raise CalibrationError(f'camera {name!r}: roi {width}x{height}+{x}+{y} is not inside '
                               f'the calibrated image {full.width}x{full.height}')
    K = full.K.copy()
    K[0] /= binning_x    # fx, skew, cx - x
    K[1] /= binning_y
    K[0, 2] = (full.K[0, 2] - x) / binning_x
    K[1, 2] = (full.K[1, 2] - y) / binning_y
    return camera_from_camera_info(K, full.dist, full.distortion_model, width // binning_x,
                                   height // binning_y, name=name, t=offset)


def camera_info_msg(camera, stamp, frame_id: str, width: Optional[int] = None,
                    height: Optional[int] = None) -> CameraInfo:
    """Build the ``sensor_msgs/CameraInfo`` of a camera's intrinsics (extrinsics are not in it).

    Args:
        camera: a :class:`skelsplat_ros.cameras.Camera`.
        stamp: ``builtin_interfaces/Time``.
        frame_id: the camera's optical frame.
        width: image width to state instead of the camera's, pixels.
        height: image height to state instead of the camera's, pixels.
    """
    K = np.asarray(camera.K, dtype=float)
    msg = CameraInfo(header=Header(stamp=stamp, frame_id=frame_id))
    msg.width = int(camera.width if width is None else width)
    msg.height = int(camera.height if height is None else height)
    msg.distortion_model = camera.distortion_model
    msg.d = [float(v) for v in camera.dist]
    msg.k = K.reshape(9).tolist()
    msg.r = np.eye(3).reshape(9).tolist()
    msg.p = np.hstack([K, np.zeros((3, 1))]).reshape(12).tolist()
    return msg


def keypoints_msg_to_skeleton(msg, skeleton: Skeleton = COCO17) -> np.ndarray:
    """Convert a ``skelsplat_ros/Keypoints2D`` to ``(P, J, 3)`` of ``skeleton`` (x, y px, conf).

    The message's joints are its ``joint_names``, or those of its ``skeleton_format`` when it
    names none; they are mapped to the skeleton's joints by name, and a skeleton joint the
    message lacks gets confidence 0.  The keypoints are read from ``people`` or from the flat
    arrays (``num_joints``, ``xy``, ``confidence``), whichever the message fills.  Keypoints
    with a non-finite coordinate or confidence get confidence 0; confidences are clipped to
    [0, 1].

    Raises:
        KeypointsMessageError: for an unknown format, joint names that contradict it, no
            joint in common with the skeleton, a person whose keypoint count differs from
            the number of joint names, or flat arrays of another joint count or inconsistent
            lengths (or filled together with ``people``).
    """
    joint_names = tuple(msg.joint_names)
    if msg.skeleton_format or not joint_names:
        try:
            fmt = get_format(msg.skeleton_format)
        except ValueError as error:
            raise KeypointsMessageError(
                f'{error} (or give the joint names in joint_names)') from None
        if joint_names and joint_names != fmt.joint_names:
            raise KeypointsMessageError(f'joint_names do not match skeleton_format {fmt.name!r}')
        joint_names = fmt.joint_names
    if not (skeleton.index_in(joint_names) >= 0).any():
        raise KeypointsMessageError(f'no joint of the message is one of the {skeleton.name} '
                                    f'joints ({", ".join(skeleton.joint_names[:3])}, ...)')
    flat = _flat_keypoints(msg, len(joint_names))
    if flat is not None:
        people = flat
    else:
        people = np.zeros((len(msg.people), len(joint_names), 3))
        for p, person in enumerate(msg.people):
            if len(person.keypoints) != len(joint_names):
                raise KeypointsMessageError(f'person {p} has {len(person.keypoints)} keypoints, '
                                            f'the message names {len(joint_names)} joints')
            people[p] = [(k.x, k.y, k.confidence) for k in person.keypoints]
    bad = ~np.isfinite(people).all(axis=2)
    people[bad] = 0.0
    people[..., 2] = np.clip(people[..., 2], 0.0, 1.0)
    return skeleton.from_keypoints(people, joint_names)


def _flat_keypoints(msg, num_names: int) -> Optional[np.ndarray]:
    """(P, K, 3) of a message's flat arrays, or None when it uses ``people`` (see above)."""
    # A recording decoded without the flat fields (written before they existed) has none.
    xy, confidence = getattr(msg, 'xy', ()), getattr(msg, 'confidence', ())
    num_joints = int(getattr(msg, 'num_joints', 0))
    if not (len(xy) or len(confidence) or num_joints):
        return None
    if len(msg.people):
        raise KeypointsMessageError('the message fills both people and the flat arrays '
                                    '(num_joints, xy, confidence): use one form')
    if num_joints != num_names:
        raise KeypointsMessageError(f'num_joints is {num_joints}, the message names '
                                    f'{num_names} joints')
    # float32 arrays arrive as array.array('f'): numpy reads their buffer, no per-joint object.
    xy = np.asarray(xy, dtype=np.float32)
    confidence = np.asarray(confidence, dtype=np.float32)
    if len(confidence) % num_joints or len(xy) != 2 * len(confidence):
        raise KeypointsMessageError(
            f'flat arrays of {len(xy)} xy and {len(confidence)} confidence values are not '
            f'2 * P * {num_joints} and P * {num_joints} for {num_joints} joints per person')
    people = np.empty((len(confidence) // num_joints, num_joints, 3))
    people[..., :2] = xy.reshape(-1, num_joints, 2)
    people[..., 2] = confidence.reshape(-1, num_joints)
    return people


def keypoints_msg(people, skeleton_format: str, stamp, frame_id: str, image_width: int = 0,
                  image_height: int = 0, flat: bool = False) -> Keypoints2D:
    """Build a ``skelsplat_ros/Keypoints2D`` from ``(P, K, 3)`` keypoints (x px, y px, conf).

    Args:
        people: (P, K, 3) keypoints in the raw image's pixels, K the format's joint count.
        skeleton_format: one of the message's FORMAT_* constants.
        stamp: ``builtin_interfaces/Time`` of the image.
        frame_id: the camera's optical frame.
        image_width: pixels, 0 when unknown.
        image_height: pixels, 0 when unknown.
        flat: fill the flat arrays (``num_joints``, ``xy``, ``confidence``) instead of
            ``people``: cheaper to build, send and read.
    """
    fmt = get_format(skeleton_format)
    people = np.asarray(people, dtype=float).reshape(-1, fmt.num_joints, 3)
    msg = Keypoints2D(header=Header(stamp=stamp, frame_id=frame_id), skeleton_format=fmt.name,
                      image_width=int(image_width), image_height=int(image_height))
    if flat:
        msg.num_joints = fmt.num_joints
        # array.array from the bytes: what rclpy keeps, without a Python float per value.
        msg.xy = array.array('f', people[..., :2].astype(np.float32).tobytes())
        msg.confidence = array.array('f', people[..., 2].astype(np.float32).tobytes())
        return msg
    msg.people = [
        Person2D(id=p, score=-1.0, keypoints=[
            Keypoint2D(x=float(x), y=float(y), confidence=float(c)) for x, y, c in person])
        for p, person in enumerate(people)]
    return msg


def transform_to_matrix(transform) -> np.ndarray:
    """Return the (4, 4) matrix of a ``geometry_msgs/Transform``."""
    q, v = transform.rotation, transform.translation
    matrix = np.eye(4)
    matrix[:3, :3] = rotation_from_quaternion([q.x, q.y, q.z, q.w])
    matrix[:3, 3] = [v.x, v.y, v.z]
    return matrix


# ---------------------------------------------------------------------------------- outputs
def person_msg(person: PersonPose, skeleton: Skeleton = COCO17) -> HumanPose3D:
    """Build a ``skelsplat_ros/HumanPose3D`` of ``skeleton``'s joints (9 * J covariance).

    A joint without a finite velocity claim gets velocity 0, covariance identity and
    ``velocity_valid`` false: nothing non-finite is published.
    """
    joints = len(person.positions)
    velocities = (np.full((joints, 3), np.nan) if person.velocities is None
                  else np.asarray(person.velocities, dtype=float))
    valid = np.isfinite(velocities).all(axis=1)
    if person.velocity_covariance is not None:
        velocity_covariance = np.asarray(person.velocity_covariance, dtype=float)
        valid &= np.isfinite(velocity_covariance).all(axis=(1, 2))
    else:
        velocity_covariance = np.tile(np.eye(3), (joints, 1, 1))
    velocities = np.where(valid[:, None], velocities, 0.0)
    velocity_covariance = np.where(valid[:, None, None], velocity_covariance, np.eye(3))
    return HumanPose3D(
        id=int(person.person_id), skeleton_format=skeleton.name,
        joint_names=list(skeleton.joint_names),
        positions=[Point(x=x, y=y, z=z) for x, y, z in
                   np.asarray(person.positions, dtype=float).tolist()],
        confidence=[float(c) for c in person.confidence],
        covariance=np.asarray(person.covariance, dtype=float).reshape(-1).tolist(),
        num_views=[int(n) for n in person.num_views],
        mean_reprojection_error=float(person.mean_reprojection_error),
        body_id=body_id(person.person_id),
        velocities=[Vector3(x=x, y=y, z=z) for x, y, z in velocities.tolist()],
        velocity_covariance=velocity_covariance.reshape(-1).tolist(),
        velocity_valid=[bool(v) for v in valid],
        cameras=list(person.cameras))


def pose_array_msg(people: Iterable[PersonPose], stamp, frame_id: str,
                   skeleton: Skeleton = COCO17) -> HumanPose3DArray:
    """Build the ``skelsplat_ros/HumanPose3DArray`` of one frame group."""
    return HumanPose3DArray(header=Header(stamp=stamp, frame_id=frame_id),
                            people=[person_msg(person, skeleton) for person in people])


def id_colour(person_id: int) -> ColorRGBA:
    """Return the label colour of person ``person_id`` (seven colours, cycled by id)."""
    r, g, b = id_rgb(person_id)
    return ColorRGBA(r=r, g=g, b=b, a=1.0)


def _colour(confidence, alpha=1.0):
    """Red (0) to green (1)."""
    c = float(np.clip(confidence, 0.0, 1.0))
    return ColorRGBA(r=1.0 - c, g=c, b=0.0, a=float(alpha))


def _marker(ns, marker_id, kind, header, lifetime_s):
    marker = Marker(header=header, ns=ns, id=int(marker_id), type=kind, action=Marker.ADD)
    marker.pose.orientation.w = 1.0
    seconds = int(lifetime_s)
    marker.lifetime = Duration(sec=seconds, nanosec=int(round((lifetime_s - seconds) * 1e9)))
    return marker


def person_markers(person: PersonPose, stamp, frame_id: str, lifetime_s: float,
                   ellipsoids: bool = False, bones=COCO17.bones) -> List[Marker]:
    """Build the RViz markers of one person: joints, bones, id text, covariance ellipsoids.

    Args:
        person: the person.
        stamp: ``builtin_interfaces/Time``.
        frame_id: the world frame.
        lifetime_s: marker lifetime, seconds (RViz removes them if no update follows).
        ellipsoids: add one SPHERE per located joint scaled to its 1-sigma covariance axes.
        bones: (B, 2) joint index pairs.

    Returns:
        The markers; each person's markers use the person's id as marker id (ellipsoids
        ``person_id * 100 + joint``) so that :func:`delete_markers` can remove them.  Joints
        and bones are coloured by confidence, the id label by :func:`id_colour`.
    """
    header = Header(stamp=stamp, frame_id=frame_id)
    known = person.known
    pid = person.person_id
    joints = _marker('skelsplat/joints', pid, Marker.SPHERE_LIST, header, lifetime_s)
    joints.scale.x = joints.scale.y = joints.scale.z = _JOINT_DIAMETER
    joints.points = [_point(p) for p in person.positions[known]]
    joints.colors = [_colour(c) for c in person.confidence[known]]
    lines = _marker('skelsplat/bones', pid, Marker.LINE_LIST, header, lifetime_s)
    lines.scale.x = _BONE_WIDTH
    for a, b in bones:
        if known[a] and known[b]:
            lines.points += [_point(person.positions[a]), _point(person.positions[b])]
            colour = _colour(min(person.confidence[a], person.confidence[b]))
            lines.colors += [colour, colour]
    text = _marker('skelsplat/id', pid, Marker.TEXT_VIEW_FACING, header, lifetime_s)
    top = person.positions[known][np.argmax(person.positions[known, 2])]
    text.pose.position = _point(top + [0.0, 0.0, _TEXT_OFFSET])
    text.scale.z = _TEXT_HEIGHT
    text.color = id_colour(pid)
    text.text = f'person {pid}'
    markers = [joints, lines, text]
    if ellipsoids:
        for j in np.flatnonzero(known):
            markers.append(_ellipsoid(person, int(j), header, lifetime_s))
    return markers


def _point(xyz):
    return Point(x=float(xyz[0]), y=float(xyz[1]), z=float(xyz[2]))


def _ellipsoid(person, joint, header, lifetime_s):
    marker = _marker('skelsplat/covariance', person.person_id * 100 + joint, Marker.SPHERE,
                     header, lifetime_s)
    variances, axes = np.linalg.eigh(person.covariance[joint])
    if np.linalg.det(axes) < 0:
        axes[:, 0] = -axes[:, 0]
    x, y, z, w = quaternion_from_matrix(axes)
    marker.pose.position = _point(person.positions[joint])
    marker.pose.orientation.x, marker.pose.orientation.y = float(x), float(y)
    marker.pose.orientation.z, marker.pose.orientation.w = float(z), float(w)
    diameters = 2.0 * np.sqrt(np.clip(variances, 0.0, None))
    marker.scale.x, marker.scale.y, marker.scale.z = (float(d) for d in diameters)
    marker.color = _colour(person.confidence[joint], alpha=0.3)
    return marker


def delete_markers(markers: Iterable[Tuple[str, int]], stamp, frame_id: str) -> List[Marker]:
    """DELETE markers for ``(namespace, id)`` pairs, e.g. those of a person who was lost."""
    header = Header(stamp=stamp, frame_id=frame_id)
    return [Marker(header=header, ns=ns, id=int(marker_id), action=Marker.DELETE)
            for ns, marker_id in markers]


def person_transforms(person: PersonPose, stamp, world_frame: str,
                      joint_names: Sequence[str] = COCO17.joint_names
                      ) -> List[TransformStamped]:
    """REP-155 TF frames of one person: ``body_<id>`` in the world, ``<joint>_<id>`` under it.

    Only located joints get a frame.  See :mod:`skelsplat_ros.body_frames` for the axes.
    """
    origin, rotation = body_frame(person.positions, person.known, joint_names)
    pid = person.person_id
    body = f'body_{pid}'
    transforms = [transform(stamp, world_frame, body, origin, quaternion_from_matrix(rotation))]
    local = joints_in_body_frame(person.positions, origin, rotation)
    identity = (0.0, 0.0, 0.0, 1.0)
    for j in np.flatnonzero(person.known):
        transforms.append(transform(stamp, body, f'{joint_names[j]}_{pid}', local[j], identity))
    return transforms


def camera_transform(stamp, world_frame: str, frame_id: str, R, t) -> TransformStamped:
    """Return the pose of a camera's optical frame in the world (``world_frame -> frame_id``).

    ``R``, ``t`` map world points into the camera (``x_cam = R x_world + t``); the transform
    is the inverse, the camera centre and axes in the world (REP-103 optical frame: z
    forward, x right, y down), as :func:`skelsplat_ros.cameras.optical_frame_extrinsics`
    reads it back from TF.
    """
    R, t = np.asarray(R, dtype=float), np.asarray(t, dtype=float)
    return transform(stamp, world_frame, frame_id, -R.T @ t, quaternion_from_matrix(R.T))


def transform(stamp, parent, child, translation, quaternion):
    """Build a ``geometry_msgs/TransformStamped`` (quaternion in ROS order x, y, z, w)."""
    msg = TransformStamped(child_frame_id=child)
    msg.header.stamp, msg.header.frame_id = stamp, parent
    offset, rotation = msg.transform.translation, msg.transform.rotation
    offset.x, offset.y, offset.z = np.asarray(translation, dtype=float).tolist()
    rotation.x, rotation.y, rotation.z, rotation.w = np.asarray(quaternion, dtype=float).tolist()
    return msg


POINT_DTYPE = np.dtype([('x', '<f4'), ('y', '<f4'), ('z', '<f4'), ('confidence', '<f4'),
                        ('joint', '<u4'), ('person', '<u4')])


def points_msg(people: Iterable[PersonPose], stamp, frame_id: str) -> PointCloud2:
    """Build a ``sensor_msgs/PointCloud2`` of the located joints.

    Fields: x, y, z, confidence (float32), joint, person (uint32).

    ``joint`` is the skeleton's joint index and ``person`` the id, so obstacle layers can take
    people directly and other consumers can still tell the joints apart.
    """
    rows = []
    for person in people:
        for j in np.flatnonzero(person.known):
            x, y, z = person.positions[j]
            rows.append((x, y, z, person.confidence[j], j, person.person_id))
    cloud = np.array(rows, dtype=POINT_DTYPE)
    fields = [PointField(name=name, offset=POINT_DTYPE.fields[name][1], count=1,
                         datatype=PointField.FLOAT32 if kind.kind == 'f' else PointField.UINT32)
              for name, kind in ((n, POINT_DTYPE.fields[n][0]) for n in POINT_DTYPE.names)]
    return PointCloud2(header=Header(stamp=stamp, frame_id=frame_id), height=1,
                       width=len(cloud), fields=fields, is_bigendian=False,
                       point_step=POINT_DTYPE.itemsize, row_step=POINT_DTYPE.itemsize * len(cloud),
                       data=cloud.tobytes(), is_dense=True)
