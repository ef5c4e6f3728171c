# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Overlays, summary picture and animation on a synthetic rig with known geometry."""

import cv2
import numpy as np
from PIL import Image
import pytest
from skelsplat_ros.body_frames import body_frame
from skelsplat_ros.cameras import make_camera
from skelsplat_ros.live import id_rgb
from skelsplat_ros.skeletons import COCO17, HALPE26
from skelsplat_ros.visualize import DETECTION_BGR, OverlayFrame, REPROJECTION_BGR
from skelsplat_ros.visualize import draw_overlay, draw_people, people_grid, project_skeleton
from skelsplat_ros.visualize import render_summary_png
from skelsplat_ros.visualize import write_animation

WIDTH, HEIGHT = 320, 480


def _look_at(centre, target):
    """World-to-camera (R, t) of a camera at ``centre`` looking at ``target`` (world Z up)."""
    forward = target - centre
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    R = np.stack([right, down, forward])
    return R, -R @ centre


@pytest.fixture(scope='module')
def rig():
    """Four cameras 4 m around a standing skeleton (17, 3) whose hips are at 1 m."""
    K = np.array([[400.0, 0, WIDTH / 2], [0, 400.0, HEIGHT / 2], [0, 0, 1]])
    cameras = []
    for i, angle in enumerate(np.radians([0, 90, 180, 270])):
        centre = np.array([4 * np.cos(angle), 4 * np.sin(angle), 1.5])
        R, t = _look_at(centre, np.array([0.0, 0.0, 1.0]))
        cameras.append(make_camera(f'cam{i}', K, np.zeros(4), 'plumb_bob', WIDTH, HEIGHT, R, t))
    x = [0, 0.03, -0.03, 0.08, -0.08, 0.2, -0.2, 0.25, -0.25, 0.3, -0.3, 0.12, -0.12, 0.12,
         -0.12, 0.12, -0.12]
    z = [1.65, 1.7, 1.7, 1.68, 1.68, 1.45, 1.45, 1.2, 1.2, 0.95, 0.95, 1.0, 1.0, 0.55, 0.55,
         0.1, 0.1]
    skeleton = np.stack([np.array(x), np.zeros(17), np.array(z)], axis=1)
    return cameras, skeleton


def _colour_mask(image, bgr, tolerance=40):
    return (np.abs(image.astype(int) - np.array(bgr)).max(axis=2) <= tolerance)


def test_projection_lands_on_the_drawn_joints(rig):
    cameras, skeleton = rig
    pixels = project_skeleton(cameras[0], skeleton)
    assert np.isfinite(pixels).all()
    assert pixels[0, 1] < pixels[15, 1]             # head above the ankles in the image
    np.testing.assert_allclose(pixels[:, 0].mean(), WIDTH / 2, atol=15)
    image = draw_overlay(np.zeros((HEIGHT, WIDTH, 3), np.uint8), None, pixels, legend=False)
    reprojected = _colour_mask(image, REPROJECTION_BGR)
    for u, v in pixels.round().astype(int):
        assert reprojected[v, u]
    # Nothing but the skeleton is drawn.
    ys, xs = np.nonzero(image.max(axis=2))
    assert xs.min() >= pixels[:, 0].min() - 5 and xs.max() <= pixels[:, 0].max() + 5


def test_joints_behind_the_camera_or_unknown_are_not_projected(rig):
    cameras, skeleton = rig
    moved = skeleton.copy()
    moved[0] = cameras[0].center - 2 * cameras[0].R[2]   # 2 m behind camera 0
    moved[1] = np.nan
    pixels = project_skeleton(cameras[0], moved)
    assert np.isnan(pixels[:2]).all() and np.isfinite(pixels[2:]).all()


def test_overlay_draws_detections_above_threshold_and_a_legend(rig):
    cameras, skeleton = rig
    detections = np.concatenate([project_skeleton(cameras[1], skeleton), np.ones((17, 1))],
                                axis=1)
    detections[9:11, 2] = 0.01    # wrists below the confidence threshold
    blank = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    image = draw_overlay(blank, detections, None, legend=False)
    drawn = _colour_mask(image, DETECTION_BGR)
    u, v = detections[5, :2].round().astype(int)
    assert drawn[v, u]
    u, v = detections[9, :2].round().astype(int)
    assert not drawn[v - 1:v + 2, u - 1:u + 2].any()
    with_legend = draw_overlay(blank, detections, None, legend=True, title='cam1')
    assert (with_legend.max(axis=2) > 0).sum() > (image.max(axis=2) > 0).sum() + 200
    assert image is not blank and not blank.any()


def _frames(rig, count):
    cameras, skeleton = rig
    frames = []
    for index in range(count):
        positions = skeleton + [0.1 * index, 0, 0]
        images, keypoints = [], []
        for camera in cameras:
            pixels = project_skeleton(camera, positions)
            image = np.full((HEIGHT, WIDTH, 3), 90, np.uint8)
            keypoints.append(np.concatenate([pixels + 2.0, np.ones((17, 1))], axis=1)[None])
            images.append(image)
        frames.append(OverlayFrame(index, images, keypoints, positions, np.ones(17),
                                   mpjpe_mm=12.3, reference=positions + 0.01))
    return cameras, frames


def test_summary_png_shows_every_view_of_every_frame(rig, tmp_path):
    cameras, frames = _frames(rig, 3)
    path = render_summary_png(tmp_path / 'pictures' / 'summary.png', frames, cameras,
                              title='synthetic', dpi=60)
    image = cv2.imread(str(path))
    assert image is not None
    # Three rows of four overlays: the magenta reprojections appear in every cell.
    magenta = _colour_mask(image, REPROJECTION_BGR, tolerance=60)
    row_height = image.shape[0] / 3
    view_width = image.shape[1] * 0.8 / 4
    for row in range(3):
        for view in range(4):
            cell = magenta[round(row * row_height):round((row + 1) * row_height),
                           round(view * view_width):round((view + 1) * view_width)]
            assert cell.sum() > 20, (row, view)
    with pytest.raises(ValueError):
        render_summary_png(tmp_path / 'empty.png', [], cameras)


def test_animation_as_gif_and_mp4(rig, tmp_path):
    cameras, frames = _frames(rig, 4)
    gif = write_animation(tmp_path / 'a.gif', frames, cameras, fps=10, height=120)
    with Image.open(gif) as animation:
        assert animation.n_frames == 4
        assert animation.size[1] == 120 and animation.size[0] > 4 * 80
        assert animation.info['duration'] == 100
    mp4 = write_animation(tmp_path / 'a.mp4', frames, cameras, fps=10, height=120,
                          with_3d=False)
    video = cv2.VideoCapture(str(mp4))
    count = 0
    while video.read()[0]:
        count += 1
    assert count == 4
    with pytest.raises(ValueError, match='.gif or an .mp4'):
        write_animation(tmp_path / 'a.avi', frames, cameras)


def _halpe26(skeleton):
    """Extend the COCO-17 rig pose to HALPE-26: feet 10-15 cm forward of the ankles, etc."""
    by_name = dict(zip(COCO17.joint_names, skeleton))
    for side in ('left', 'right'):
        ankle = by_name[f'{side}_ankle']
        by_name[f'{side}_heel'] = ankle + [0.0, -0.05, -0.08]
        by_name[f'{side}_big_toe'] = ankle + [0.0, 0.15, -0.1]
        by_name[f'{side}_small_toe'] = ankle + [0.05 * np.sign(ankle[0]), 0.12, -0.1]
    by_name['neck'] = 0.5 * (by_name['left_shoulder'] + by_name['right_shoulder'])
    by_name['head'] = by_name['nose'] + [0.0, 0.0, 0.15]
    by_name['hip'] = 0.5 * (by_name['left_hip'] + by_name['right_hip'])
    return np.stack([by_name[name] for name in HALPE26.joint_names])


def test_any_skeleton_is_drawn_with_its_bones(rig, tmp_path):
    cameras, skeleton = rig
    positions = _halpe26(skeleton)
    pixels = project_skeleton(cameras[1], positions)       # a side view: the feet stick out
    image = draw_overlay(np.zeros((HEIGHT, WIDTH, 3), np.uint8), None, pixels, legend=False,
                         skeleton=HALPE26)
    reprojected = _colour_mask(image, REPROJECTION_BGR)
    for name in ('left_big_toe', 'right_heel', 'head', 'neck', 'left_small_toe'):
        u, v = pixels[HALPE26.joint_names.index(name)].round().astype(int)
        assert reprojected[v, u], name
    ankle, toe = (HALPE26.joint_names.index(n) for n in ('left_ankle', 'left_big_toe'))
    u, v = (0.5 * (pixels[ankle] + pixels[toe])).round().astype(int)
    assert reprojected[v, u]                                # the ankle-toe bone
    with pytest.raises(ValueError):                         # 17 joints are not HALPE-26
        draw_overlay(image, None, pixels[:17], skeleton=HALPE26)

    keypoints = [np.concatenate([project_skeleton(camera, positions), np.ones((26, 1))],
                                axis=1)[None] for camera in cameras]
    frame = OverlayFrame(0, [np.zeros((HEIGHT, WIDTH, 3), np.uint8)] * 4, keypoints, positions,
                         np.ones(26), skeleton=HALPE26)
    path = render_summary_png(tmp_path / 'halpe.png', [frame], cameras, dpi=50)
    assert cv2.imread(str(path)) is not None


def test_body_frame_is_found_by_joint_name_in_any_skeleton(rig):
    _, skeleton = rig
    origin, rotation = body_frame(skeleton, np.ones(17, bool))
    halpe_origin, halpe_rotation = body_frame(_halpe26(skeleton), np.ones(26, bool),
                                              HALPE26.joint_names)
    np.testing.assert_allclose(halpe_origin, origin)
    np.testing.assert_allclose(halpe_rotation, rotation)
    np.testing.assert_allclose(origin, [0.0, 0.0, 1.0])    # the hip midpoint
    np.testing.assert_allclose(rotation[:, 2], [0.0, 0.0, 1.0], atol=1e-12)   # up
    # Without hips or shoulders at all: the mean of the joints, the world's axes.
    names = [f'joint_{j}' for j in range(17)]
    origin, rotation = body_frame(skeleton, np.ones(17, bool), names)
    np.testing.assert_allclose(origin, skeleton.mean(axis=0))
    np.testing.assert_array_equal(rotation, np.eye(3))


def test_people_are_drawn_each_in_its_id_colour_where_they_project():
    camera = make_camera('cam', [[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]], None, 'none',
                         640, 480)
    # Two upright skeletons 3 m in front of the camera, 0.8 m left and right of its axis.
    template = np.zeros((17, 3))
    template[:, 1] = np.linspace(-0.8, 0.8, 17)
    template[:, 0] = np.where(np.arange(17) % 2, 0.1, -0.1)
    people = {3: template + [-0.8, 0, 3.0], 8: template + [0.8, 0, 3.0]}
    projected = {i: project_skeleton(camera, joints) for i, joints in people.items()}
    image = draw_people(np.zeros((480, 640, 3), np.uint8), projected,
                        {i: id_rgb(i) for i in people})
    for person_id, points in projected.items():
        r, g, b = id_rgb(person_id)
        colour = np.array([round(255 * b), round(255 * g), round(255 * r)])
        painted = np.all(np.abs(image.astype(int) - colour) <= 2, axis=-1)
        ys, xs = np.nonzero(painted)
        # The colour is where that person projects, not on the other side.
        assert len(xs) > 200, person_id
        assert abs(np.median(xs) - np.median(points[:, 0])) < 30
    grid = people_grid([[image, image], [image]])
    assert grid.shape == (960, 1280, 3) and not grid[480:, 640:].any()
