# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Pictures of a fused skeleton: camera overlays, a 3D view, a summary grid and an animation.

Everything renders off-screen (OpenCV drawing, matplotlib figures on an Agg canvas, never
pyplot), so it runs on a headless machine and leaves the user's matplotlib backend alone.  In
the overlays the 2D detections are orange and the 3D skeleton projected back into the camera
is magenta: where they coincide, the views agree with the fused pose.

A frame to draw is an :class:`OverlayFrame`: the images of every camera (possibly shrunk, see
``pixel_scale``), the detections of every camera, and the fused 3D joints, all in the joint
layout of one :class:`~skelsplat_ros.skeletons.Skeleton` whose bones are drawn.
"""

from dataclasses import dataclass
import pathlib
from typing import Optional, Sequence

import cv2
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
import numpy as np
from skelsplat_ros.skeletons import COCO17, Skeleton

__all__ = ['OverlayFrame', 'AnimationWriter', 'draw_overlay', 'draw_people', 'people_grid',
           'project_skeleton', 'render_summary_png', 'shrink', 'write_animation']

DETECTION_BGR = (0, 150, 255)       # orange
REPROJECTION_BGR = (255, 40, 230)   # magenta
_SIDE_RGB = {'left': (0.12, 0.47, 0.90), 'right': (0.88, 0.20, 0.15), 'centre': (0.3, 0.3, 0.3)}


@dataclass
class OverlayFrame:
    """What one picture of one frame group needs.

    Attributes:
        index: frame number shown in titles.
        images: V BGR images (H_v, W_v, 3) uint8, one per camera, possibly shrunk.
        keypoints: V arrays (P_v, J, 3) or (J, 3) of detections (x px, y px, confidence) in
            the pixels of the original camera images.
        positions: (J, 3) fused joints in metres, world frame, NaN where unknown (or None).
        confidence: (J,) fused joint confidence in [0, 1] (or None: all 1).
        pixel_scale: factor from original image pixels to the pixels of ``images``.
        mpjpe_mm: error against a reference, shown in the title when given.
        reference: (J, 3) reference joints in metres (NaN where absent), drawn in 3D when
            given.
        skeleton: the joint layout (J joints) of all of the above, and the bones drawn.
    """

    index: int
    images: Sequence[np.ndarray]
    keypoints: Sequence[np.ndarray]
    positions: Optional[np.ndarray]
    confidence: Optional[np.ndarray] = None
    pixel_scale: float = 1.0
    mpjpe_mm: Optional[float] = None
    reference: Optional[np.ndarray] = None
    skeleton: Skeleton = COCO17


def shrink(image, max_height):
    """Return ``(image resized to at most max_height rows, scale factor applied)``."""
    height, width = image.shape[:2]
    if height <= max_height:
        return image, 1.0
    scale = max_height / height
    size = (max(1, round(width * scale)), max_height)
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale


def project_skeleton(camera, positions):
    """Project joints (J, 3) in metres into ``camera``'s raw pixels (J, 2).

    Joints that are NaN or behind the camera are NaN.
    """
    positions = np.asarray(positions, dtype=float).reshape(-1, 3)
    pixels = np.full((len(positions), 2), np.nan)
    visible = np.isfinite(positions).all(axis=1)
    visible[visible] = camera.world_to_camera(positions[visible])[:, 2] > 0
    if visible.any():
        pixels[visible] = camera.project(positions[visible])
    return pixels


def _draw_skeleton(image, points, visible, bones, color, thickness, radius):
    height, width = image.shape[:2]
    limit = 4 * max(height, width)   # cv2 needs bounded integer coordinates
    pixel = np.clip(np.nan_to_num(points), -limit, limit).round().astype(int)
    for a, b in bones:
        if visible[a] and visible[b]:
            cv2.line(image, tuple(pixel[a]), tuple(pixel[b]), color, thickness, cv2.LINE_AA)
    for j in np.flatnonzero(visible):
        cv2.circle(image, tuple(pixel[j]), radius, color, -1, cv2.LINE_AA)


def _label(image, text, origin, scale, color=(255, 255, 255)):
    thickness = max(1, round(2 * scale))
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3 * thickness,
                cv2.LINE_AA)
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, color, thickness,
                cv2.LINE_AA)


def draw_overlay(bgr, keypoints_2d, projected_3d, confidence=None, min_confidence=0.1,
                 title=None, legend=True, skeleton=COCO17):
    """Draw detections and the reprojected 3D skeleton on a copy of a BGR image.

    Args:
        bgr: (H, W, 3) uint8 image.
        keypoints_2d: (J, 3) or (P, J, 3) detections (x px, y px, confidence) in the pixels
            of ``bgr``, or None; joints below ``min_confidence`` are not drawn.
        projected_3d: (J, 2) projection of the fused skeleton in the pixels of ``bgr`` (NaN
            where unknown), or None.
        confidence: (J,) fused joint confidence; joints below ``min_confidence`` are not
            drawn.  None draws every finite joint.
        min_confidence: threshold for both skeletons.
        title: text written in the top-left corner.
        legend: write the colour legend in the bottom-left corner.
        skeleton: the joint layout (J joints) and the bones to draw.

    Returns:
        (H, W, 3) uint8 annotated copy.
    """
    image = np.ascontiguousarray(bgr).copy()
    size = max(image.shape[:2])
    thickness = max(2, round(size / 300))
    radius = max(2, round(size / 200))
    if keypoints_2d is not None:
        people = np.asarray(keypoints_2d, dtype=float).reshape(-1, skeleton.num_joints, 3)
        for person in people:
            visible = np.isfinite(person).all(axis=1) & (person[:, 2] >= min_confidence)
            _draw_skeleton(image, person[:, :2], visible, skeleton.bones, DETECTION_BGR,
                           thickness, radius)
    if projected_3d is not None:
        points = np.asarray(projected_3d, dtype=float).reshape(skeleton.num_joints, 2)
        visible = np.isfinite(points).all(axis=1)
        if confidence is not None:
            visible &= np.nan_to_num(np.asarray(confidence, dtype=float)) >= min_confidence
        _draw_skeleton(image, points, visible, skeleton.bones, REPROJECTION_BGR,
                       max(1, thickness - 1), max(1, radius - 1))
    font = max(0.4, size / 1400)
    if title:
        _label(image, title, (round(10 * font + 4), round(40 * font + 6)), font)
    if legend:
        bottom = image.shape[0] - round(20 * font + 6)
        _label(image, '2D detection', (round(10 * font + 4), bottom - round(45 * font)), font,
               DETECTION_BGR)
        _label(image, 'reprojected 3D', (round(10 * font + 4), bottom), font, REPROJECTION_BGR)
    return image


def draw_people(bgr, people, colours, keypoints_2d=None, min_confidence=0.1, title=None,
                skeleton=COCO17):
    """Draw several people's reprojected skeletons, each in its colour and labelled with its id.

    Args:
        bgr: (H, W, 3) uint8 image.
        people: person id -> (J, 2) projection of the person's fused joints in the pixels of
            ``bgr``, NaN where unknown or not located.
        colours: person id -> (r, g, b) in [0, 1].
        keypoints_2d: (P, J, 3) detections in the pixels of ``bgr`` drawn thin and grey under
            the people, or None.
        min_confidence: detections below it are not drawn.
        title: text written in the top-left corner.
        skeleton: the joint layout (J joints) and the bones to draw.

    Returns:
        (H, W, 3) uint8 annotated copy.
    """
    image = np.ascontiguousarray(bgr).copy()
    size = max(image.shape[:2])
    thickness = max(2, round(size / 300))
    radius = max(2, round(size / 200))
    font = max(0.4, size / 1400)
    if keypoints_2d is not None:
        for person in np.asarray(keypoints_2d, dtype=float).reshape(-1, skeleton.num_joints, 3):
            visible = np.isfinite(person).all(axis=1) & (person[:, 2] >= min_confidence)
            _draw_skeleton(image, person[:, :2], visible, skeleton.bones, (160, 160, 160),
                           max(1, thickness // 2), max(1, radius // 2))
    height, width = image.shape[:2]
    for person_id, points in sorted(people.items()):
        points = np.asarray(points, dtype=float).reshape(skeleton.num_joints, 2)
        visible = np.isfinite(points).all(axis=1)
        if not visible.any():
            continue
        r, g, b = colours[person_id]
        colour = (round(255 * b), round(255 * g), round(255 * r))
        _draw_skeleton(image, points, visible, skeleton.bones, colour, thickness, radius)
        top = points[visible][np.argmin(points[visible][:, 1])]
        x = int(np.clip(top[0] - 20 * font, 0, width - 60 * font))
        y = int(np.clip(top[1] - 25 * font, 40 * font, height - 5))
        _label(image, f'id {person_id}', (x, y), 1.2 * font, colour)
    if title:
        _label(image, title, (round(10 * font + 4), round(40 * font + 6)), font)
    return image


def people_grid(rows, path=None):
    """Tile rows of equally tall BGR images into one image (and write it as a PNG to ``path``).

    Args:
        rows: sequences of (H, W_i, 3) uint8 images; every image of a row has one height, and
            the rows are padded on the right to the widest.
        path: where to write the PNG, or None.

    Returns:
        The (H, W, 3) uint8 tiled image.
    """
    joined = [np.hstack(list(images)) for images in rows]
    width = max(row.shape[1] for row in joined)
    grid = np.vstack([np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0)))
                      for row in joined])
    if path is not None:
        cv2.imwrite(str(path), grid)
    return grid


def _side(name):
    return 'left' if name.startswith('left') else 'right' if name.startswith('right') else 'centre'


def _overlay_views(frame, cameras, height, legend=False):
    """Annotated images of every view of ``frame``, at most ``height`` rows: V BGR images."""
    views = []
    for v, (camera, image) in enumerate(zip(cameras, frame.images)):
        # Draw at the final size, so that lines keep their width in the picture.
        image, factor = shrink(image, height)
        scale = frame.pixel_scale * factor
        detections = None
        if frame.keypoints is not None and v < len(frame.keypoints):
            detections = np.asarray(frame.keypoints[v], dtype=float).reshape(
                -1, frame.skeleton.num_joints, 3).copy()
            detections[..., :2] *= scale
        projected = None
        if frame.positions is not None:
            projected = project_skeleton(camera, frame.positions) * scale
        views.append(draw_overlay(image, detections, projected, frame.confidence,
                                  title=camera.name, legend=legend, skeleton=frame.skeleton))
    return views


def _scene_limits(positions, reference=None):
    """Centre (3,) and half-size in metres of a cube around the person, or None if unknown.

    ``positions`` and ``reference`` are (..., 3) joints; NaN rows are ignored.
    """
    points = [np.asarray(joints, dtype=float).reshape(-1, 3)
              for joints in (positions, reference) if joints is not None]
    points = np.concatenate(points) if points else np.zeros((0, 3))
    points = points[np.isfinite(points).all(axis=1)]
    if not len(points):
        return None
    low, high = points.min(axis=0), points.max(axis=0)
    return (low + high) / 2, max(0.5 * (high - low).max(), 0.9) + 0.15


def _draw_3d(axes, cameras, positions, confidence=None, reference=None, limits=None,
             min_confidence=0.1, skeleton=COCO17):
    """Draw the skeleton, the optional reference and the cameras into a 3D matplotlib axes.

    The cube shown is the person's (``limits``, see :func:`_scene_limits`); cameras outside it
    are marked on its side wall, in their horizontal direction, at their height.
    """
    if positions is not None:
        positions = np.asarray(positions, dtype=float)
        known = np.isfinite(positions).all(axis=1)
        if confidence is not None:
            known &= np.nan_to_num(np.asarray(confidence, dtype=float)) >= min_confidence
        for a, b in skeleton.bones:
            if known[a] and known[b]:
                side = _side(skeleton.joint_names[a])
                side = _side(skeleton.joint_names[b]) if side == 'centre' else side
                axes.plot(*positions[[a, b]].T, color=_SIDE_RGB[side], linewidth=2.2)
        axes.scatter(*positions[known].T, s=8, color='k', depthshade=False)
    if reference is not None:
        reference = np.asarray(reference, dtype=float)
        present = np.isfinite(reference).all(axis=1)
        for a, b in skeleton.bones:
            if present[a] and present[b]:
                axes.plot(*reference[[a, b]].T, color='0.45', linewidth=1.0, linestyle='--')
    limits = limits or _scene_limits(positions, reference)
    if limits is None:
        limits = _scene_limits(np.stack([camera.center for camera in cameras]))
    centre, half = limits
    for camera in cameras:
        offset = camera.center - centre
        inside = np.abs(offset).max() <= half
        if not inside:
            reach = half / max(np.abs(offset[:2]).max(), 1e-9)
            offset = np.append(offset[:2] * min(reach, 1.0), np.clip(offset[2], -half, half))
        marker = centre + offset
        axes.scatter(*marker, marker='^' if inside else '>', s=28, color='tab:green',
                     depthshade=False)
        axes.text(*(marker + [0, 0, 0.08 * half]), camera.name, fontsize=7, color='tab:green')
    axes.set_xlim(centre[0] - half, centre[0] + half)
    axes.set_ylim(centre[1] - half, centre[1] + half)
    axes.set_zlim(centre[2] - half, centre[2] + half)
    axes.set_box_aspect((1, 1, 1))
    axes.set_xlabel('x (m)', fontsize=7, labelpad=-8)
    axes.set_ylabel('y (m)', fontsize=7, labelpad=-8)
    axes.set_zlabel('z (m)', fontsize=7, labelpad=-8)
    axes.tick_params(labelsize=6, pad=-3)
    for axis in (axes.xaxis, axes.yaxis, axes.zaxis):
        axis.set_major_locator(MaxNLocator(4))
    axes.view_init(elev=15, azim=-60)


def _legend_handles(with_reference):
    handles = [
        Line2D([], [], color=np.array(DETECTION_BGR[::-1]) / 255, lw=2, label='2D detection'),
        Line2D([], [], color=np.array(REPROJECTION_BGR[::-1]) / 255, lw=2,
               label='fused 3D skeleton, reprojected'),
        Line2D([], [], color=_SIDE_RGB['left'], lw=2, label='3D left side'),
        Line2D([], [], color=_SIDE_RGB['right'], lw=2, label='3D right side'),
        Line2D([], [], color='tab:green', marker='^', lw=0,
               label='camera (on the wall: its direction)'),
    ]
    if with_reference:
        handles.append(Line2D([], [], color='0.55', lw=1, ls='--', label='reference (.trc)'))
    return handles


def _frame_title(frame):
    title = f'frame {frame.index}'
    if frame.mpjpe_mm is not None and np.isfinite(frame.mpjpe_mm):
        title += f', MPJPE {frame.mpjpe_mm:.0f} mm'
    return title


def render_summary_png(path, frames, cameras, title=None, dpi=110):
    """Save a grid: one row per frame, the camera overlays then a 3D view of the skeleton.

    Args:
        path: the ``.png`` to write (parent directories are made).
        frames: a few :class:`OverlayFrame`, e.g. spread across a trial.
        cameras: V :class:`skelsplat_ros.cameras.Camera`, in the order of the images.
        title: figure title.
        dpi: resolution.

    Returns:
        the path written, as a :class:`pathlib.Path`.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not frames:
        raise ValueError('render_summary_png needs at least one frame')
    num_views = len(cameras)
    aspect = np.mean([image.shape[1] / image.shape[0] for image in frames[0].images])
    row_height = 3.6
    widths = [row_height * aspect] * num_views + [row_height * 1.05]
    figure = Figure(figsize=(sum(widths) + 0.2, row_height * len(frames) + 0.9), dpi=dpi)
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(len(frames), num_views + 1, width_ratios=widths, wspace=0.03,
                               hspace=0.12, left=0.01, right=0.99, top=1 - 0.6 / (
                                   row_height * len(frames) + 0.9), bottom=0.3 / (
                                   row_height * len(frames) + 0.9))
    with_reference = any(frame.reference is not None for frame in frames)
    limits = _scene_limits([f.positions for f in frames if f.positions is not None] or None)
    for row, frame in enumerate(frames):
        for v, view in enumerate(_overlay_views(frame, cameras, round(row_height * dpi))):
            axes = figure.add_subplot(grid[row, v])
            axes.imshow(cv2.cvtColor(view, cv2.COLOR_BGR2RGB))
            axes.set_axis_off()
            if v == 0:
                axes.text(-0.02, 0.5, f'frame {frame.index}', transform=axes.transAxes,
                          rotation=90, va='center', ha='right', fontsize=9)
        axes = figure.add_subplot(grid[row, num_views], projection='3d')
        _draw_3d(axes, cameras, frame.positions, frame.confidence, frame.reference, limits,
                 skeleton=frame.skeleton)
        axes.set_title(_frame_title(frame), fontsize=9, pad=0)
    figure.legend(handles=_legend_handles(with_reference), loc='lower center',
                  ncol=6, fontsize=8, frameon=False)
    if title:
        figure.suptitle(title, fontsize=12)
    figure.savefig(path, dpi=dpi)
    return path


class AnimationWriter:
    """Write frames one by one as an animated GIF (Pillow) or an MP4 ('mp4v', OpenCV).

    Each animation frame is the row of camera overlays, plus a small 3D view when
    ``with_3d``.  A GIF is kept in memory (as small palette images) until :meth:`close`; an
    MP4 is written as it goes.

    Args:
        path: ``.gif`` or ``.mp4``.
        cameras: V :class:`skelsplat_ros.cameras.Camera`.
        fps: playback rate, frames per second.
        height: height in pixels of each animation frame.
        with_3d: add the 3D view on the right.
    """

    def __init__(self, path, cameras, fps=10.0, height=360, with_3d=True):
        self.path = pathlib.Path(path)
        if self.path.suffix not in ('.gif', '.mp4'):
            raise ValueError(f'{self.path}: the animation must be a .gif or an .mp4')
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.cameras = list(cameras)
        self.fps = float(fps)
        self.height = int(height)
        self.with_3d = with_3d
        self.count = 0
        self._gif_frames = []
        self._video = None
        self._limits = None
        self._figure = None
        if with_3d:
            size = self.height / 100
            self._figure = Figure(figsize=(size, size), dpi=100)
            FigureCanvasAgg(self._figure)

    def add(self, frame):
        """Render one :class:`OverlayFrame` and append it."""
        views = []
        for view in _overlay_views(frame, self.cameras, self.height):
            views.append(cv2.resize(view, (round(view.shape[1] * self.height / view.shape[0]),
                                           self.height), interpolation=cv2.INTER_AREA))
        if self.with_3d:
            views.append(self._render_3d(frame))
        row = np.concatenate(views, axis=1)
        _label(row, _frame_title(frame), (8, self.height - 12), self.height / 900)
        self.add_image(row)

    def add_image(self, row):
        """Append one ready-drawn BGR image (uint8, every one the same size)."""
        if self.path.suffix == '.gif':
            from PIL import Image
            rgb = Image.fromarray(cv2.cvtColor(row, cv2.COLOR_BGR2RGB))
            self._gif_frames.append(rgb.quantize(colors=128, method=Image.Quantize.MEDIANCUT))
        else:
            if self._video is None:
                # mp4v needs even sizes.
                self._size = (row.shape[1] // 2 * 2, row.shape[0] // 2 * 2)
                self._video = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*'mp4v'),
                                              self.fps, self._size)
                if not self._video.isOpened():
                    raise OSError(f'{self.path}: OpenCV cannot write an mp4v video here')
            self._video.write(np.ascontiguousarray(row[:self._size[1], :self._size[0]]))
        self.count += 1

    def _render_3d(self, frame):
        if self._limits is None:
            self._limits = _scene_limits(frame.positions, frame.reference)
        self._figure.clear()
        axes = self._figure.add_axes((0, 0, 1, 1), projection='3d')
        _draw_3d(axes, self.cameras, frame.positions, frame.confidence, frame.reference,
                 self._limits, skeleton=frame.skeleton)
        self._figure.canvas.draw()
        rgba = np.asarray(self._figure.canvas.buffer_rgba())
        image = cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGR)
        if image.shape[0] != self.height:
            image = cv2.resize(image, (self.height, self.height), interpolation=cv2.INTER_AREA)
        return image

    def close(self):
        """Finish the file (idempotent); returns its path."""
        self._figure = None
        if self._gif_frames:
            first, *rest = self._gif_frames
            first.save(self.path, save_all=True, append_images=rest, loop=0, optimize=True,
                       duration=round(1000 / self.fps))
            self._gif_frames = []
        if self._video is not None:
            self._video.release()
            self._video = None
        return self.path

    def __enter__(self):
        """Return self, for ``with``."""
        return self

    def __exit__(self, *exc_info):
        """Finish the file on leaving a ``with`` block."""
        self.close()


def write_animation(path, frames, cameras, fps=10.0, height=360, with_3d=True):
    """Write :class:`OverlayFrame` s as a ``.gif`` or ``.mp4``; returns the path.

    See :class:`AnimationWriter` for the arguments.
    """
    with AnimationWriter(path, cameras, fps=fps, height=height, with_3d=with_3d) as writer:
        for frame in frames:
            writer.add(frame)
    return writer.path
