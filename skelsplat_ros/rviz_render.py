# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""A matplotlib rendering of what RViz shows with ``config/skelsplat.rviz``, from a recording.

For READMEs and machines without RViz: the ``human_pose_3d/markers`` of one frame (joint
spheres coloured red to green by confidence, bone lines, the ``person <id>`` text) and the TF
frames (``body_<id>`` and the frames below it: ROS4HRI's link frames such as ``l_elbow_<id>``,
or ``<joint>_<id>`` with ``frame_style:=skelsplat``, as RGB axes with their names),
over RViz's look: dark grey background, a 1 m grid on the ground plane, the fixed frame's axes.

Messages are read from a rosbag2 MCAP with :func:`skelsplat_ros.fileio.mcap_io.read_messages`
(objects with the message fields; no ROS needed).
"""

import pathlib

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
import numpy as np
from skelsplat_ros.cameras import rotation_from_quaternion
from skelsplat_ros.fileio.mcap_io import read_messages
from skelsplat_ros.sync import stamp_ns

__all__ = ['frame_poses', 'render_rviz_png']

BACKGROUND = (48 / 255, 48 / 255, 48 / 255)    # RViz's default background
GRID_RGBA = (160 / 255, 160 / 255, 164 / 255, 0.5)
AXIS_RGB = ((1.0, 0.0, 0.0), (0.0, 0.8, 0.0), (0.2, 0.4, 1.0))
SPHERE_LIST, LINE_LIST, TEXT_VIEW_FACING = 7, 5, 9   # visualization_msgs/Marker types


def frame_poses(transforms, fixed_frame):
    """Resolve TF transforms into poses in the fixed frame.

    Args:
        transforms: ``geometry_msgs/TransformStamped``-like objects (one stamp's worth).
        fixed_frame: the root frame, e.g. ``'world'``.

    Returns:
        frame name -> ``(origin (3,) m, rotation (3, 3))`` in ``fixed_frame``, for the frames
        connected to it; also ``parents``: frame -> parent frame.
    """
    by_child = {t.child_frame_id: t for t in transforms}
    poses = {fixed_frame: (np.zeros(3), np.eye(3))}
    parents = {}

    def resolve(frame, depth=0):
        if frame in poses:
            return poses[frame]
        transform = by_child.get(frame)
        if transform is None or depth > 32:
            return None
        parent = resolve(transform.header.frame_id, depth + 1)
        if parent is None:
            return None
        q, v = transform.transform.rotation, transform.transform.translation
        rotation = rotation_from_quaternion([q.x, q.y, q.z, q.w])
        origin = parent[0] + parent[1] @ np.array([v.x, v.y, v.z])
        poses[frame] = (origin, parent[1] @ rotation)
        parents[frame] = transform.header.frame_id
        return poses[frame]

    for child in by_child:
        resolve(child)
    return poses, parents


def _pick(bag_path, fraction):
    """Markers and transforms of the output at ``fraction`` of the recording (by stamp)."""
    markers = {}
    transforms = {}
    for topic, _, msg in read_messages(bag_path, ['/human_pose_3d/markers', '/tf']):
        if topic == '/tf':
            for transform in msg.transforms:
                transforms.setdefault(stamp_ns(transform.header.stamp), []).append(transform)
        else:
            shown = [m for m in msg.markers if m.action == 0]
            if shown:
                markers[stamp_ns(shown[0].header.stamp)] = shown
    stamps = sorted(set(markers) & set(transforms))
    if not stamps:
        raise ValueError(f'{bag_path}: no frame with both markers and /tf')
    stamp = stamps[min(len(stamps) - 1, int(fraction * len(stamps)))]
    return stamp, markers[stamp], transforms[stamp]


def _grid(axes, low, high, cell=1.0):
    """Draw RViz's grid: lines every ``cell`` metres on the z = 0 plane over [low, high] (2,)."""
    start = np.floor(low / cell) * cell
    stop = np.ceil(high / cell) * cell
    for x in np.arange(start[0], stop[0] + 1e-9, cell):
        axes.plot([x, x], [start[1], stop[1]], [0, 0], color=GRID_RGBA, linewidth=0.8)
    for y in np.arange(start[1], stop[1] + 1e-9, cell):
        axes.plot([start[0], stop[0]], [y, y], [0, 0], color=GRID_RGBA, linewidth=0.8)


def _axes_at(axes, origin, rotation, length, width):
    for k in range(3):
        tip = origin + length * rotation[:, k]
        axes.plot(*np.stack([origin, tip]).T, color=AXIS_RGB[k], linewidth=width)


def _rgba(color):
    return (color.r, color.g, color.b, color.a if color.a > 0 else 1.0)


def render_rviz_png(bag_path, png_path, fixed_frame='world', fraction=0.5, dpi=100,
                    size=(8.0, 6.0), label_all=False, zoom=1.35):
    """Draw one recorded frame as RViz would show it and save it as a PNG.

    Args:
        bag_path: rosbag2 MCAP with ``/human_pose_3d/markers`` and ``/tf``.
        png_path: the picture to write.
        fixed_frame: RViz's fixed frame (the node's ``world_frame``).
        fraction: which output to draw, as a fraction of the recording (0.5: the middle).
        dpi: resolution.
        size: (width, height) in inches.
        label_all: name every frame (RViz's "Show Names"), not only the bodies.
        zoom: matplotlib's 3D zoom.

    Returns:
        The path written, as a :class:`pathlib.Path`.

    Raises:
        ValueError: when the recording has no frame with both markers and TF.
    """
    png_path = pathlib.Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    stamp, markers, transforms = _pick(bag_path, fraction)
    poses, parents = frame_poses(transforms, fixed_frame)

    figure = Figure(figsize=size, dpi=dpi, facecolor=BACKGROUND)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0, 0, 1, 0.94), projection='3d', facecolor=BACKGROUND)
    axes.set_axis_off()

    points = [np.array([[p.x, p.y, p.z] for p in m.points]) for m in markers if m.points]
    points += [np.array([[m.pose.position.x, m.pose.position.y, m.pose.position.z]])
               for m in markers if m.type == TEXT_VIEW_FACING]
    points = np.concatenate(points) if points else np.zeros((1, 3))
    centre = 0.5 * (points.min(axis=0) + points.max(axis=0))
    half = max(0.55 * np.ptp(points, axis=0).max(), 0.6)
    low = np.array([centre[0] - half, centre[1] - half, min(0.0, centre[2] - half)])
    high = np.array([centre[0] + half, centre[1] + half, centre[2] + half])
    _grid(axes, low[:2], high[:2])
    world_origin = np.zeros(3)
    if np.all((low <= world_origin) & (world_origin <= high)):
        _axes_at(axes, world_origin, np.eye(3), 0.5, 2.5)
        axes.text(0, 0, -0.08, fixed_frame, color='white', fontsize=8)

    for frame, (origin, rotation) in poses.items():
        if frame == fixed_frame:
            continue
        body = parents.get(frame) == fixed_frame
        _axes_at(axes, origin, rotation, 0.25 if body else 0.1 if label_all else 0.08,
                 2.0 if body else 1.0)
        parent_origin = poses[parents[frame]][0]
        if not body:
            # RViz's TF display draws an arrow from each frame to its parent.
            axes.plot(*np.stack([origin, parent_origin]).T, color=(0.9, 0.8, 0.2, 0.35),
                      linewidth=0.6)
        if body:  # RViz names every frame; by default only the body, to keep it legible
            axes.text(*(origin + [0.03, 0.03, -0.06]), frame, color='white', fontsize=8)
        elif label_all:
            axes.text(*(origin + [0.0, 0.02, 0.01]), frame, color=(0.95, 0.9, 0.6),
                      fontsize=6)

    for marker in markers:
        if marker.type == SPHERE_LIST:
            xyz = np.array([[p.x, p.y, p.z] for p in marker.points])
            colors = [_rgba(c) for c in marker.colors] or _rgba(marker.color)
            axes.scatter(*xyz.T, s=60, c=colors, depthshade=False, edgecolors='none')
        elif marker.type == LINE_LIST:
            xyz = np.array([[p.x, p.y, p.z] for p in marker.points]).reshape(-1, 2, 3)
            colors = [_rgba(c) for c in marker.colors[::2]] or [_rgba(marker.color)] * len(xyz)
            for segment, color in zip(xyz, colors):
                axes.plot(*segment.T, color=color, linewidth=3.0)
        elif marker.type == TEXT_VIEW_FACING:
            p = marker.pose.position
            axes.text(p.x, p.y, p.z, marker.text, color=_rgba(marker.color), fontsize=11,
                      ha='center')

    axes.set_xlim(low[0], high[0])
    axes.set_ylim(low[1], high[1])
    axes.set_zlim(low[2], high[2])
    axes.set_box_aspect(tuple(high - low), zoom=zoom)
    axes.view_init(elev=15, azim=-40)
    bodies = ', '.join(sorted(f for f, parent in parents.items() if parent == fixed_frame))
    figure.text(0.01, 0.975, f'Fixed frame: {fixed_frame}   |   MarkerArray '
                f'/human_pose_3d/markers   |   TF {bodies} and the frames below   |   Grid 1 m',
                color='white', fontsize=9, va='top')
    figure.text(0.99, 0.01, f'stamp {stamp / 1e9:.3f}; joint colour: confidence 0 (red) '
                'to 1 (green)', color=(0.8, 0.8, 0.8), fontsize=7, ha='right')
    figure.savefig(png_path, dpi=dpi, facecolor=BACKGROUND)
    return png_path
