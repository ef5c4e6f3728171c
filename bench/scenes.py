# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Synthetic scenes of several people, seen by the real cameras with occlusion between them.

Each person is a copy of pose2sim's demo ``.trc`` motion (see :func:`protocols.load_truth`),
played back and forth from its own starting frame, turned about the vertical and moved on the
ground.  A person may make an *excursion*: walk away in a straight line, stay away, and walk
back the same way, which takes them out of the cameras' views for a while.

Each frame is projected through the real calibration, distortion included.  In a view, a joint
is not detected when it is outside the image, behind the camera, or hidden by a nearer person:
inside a tube around one of that person's projected bones (or torso diagonals) whose radius is
:data:`BODY_RADIUS_M` at the occluder's depth.  A hidden joint may instead be *confused*: the
detector puts it, confidently, on the occluder's same joint.  The detections then get pixel
noise and random confidences and are shuffled in each view, as a detector returns them:
per view, an array (P_v, 17, 3) of raw pixels and confidence, an undetected joint written as
(0, 0, 0), and a person with no joint detected left out.
"""

from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np
from skelsplat_ros.skeletons import COCO17, COCO17_BONES

NUM_JOINTS = COCO17.num_joints
# Half the thickness of a limb or of the torso around its bones, metres.
BODY_RADIUS_M = 0.08
# Body bones, torso diagonals (the tubes then cover the torso), ear to ear and nose to
# shoulders (head and neck).
_BODY_SEGMENTS = np.array([bone for bone in COCO17_BONES if bone[0] >= 5]
                          + [(5, 12), (6, 11), (3, 4), (0, 5), (0, 6)])
# A person counts as seen by a view that detects at least this many of its joints.
MIN_VISIBLE_JOINTS = 8
# A confusion needs the occluder's joint this close, in occluder radii, to the hidden one.
_CONFUSION_REACH = 3.0
_NEAREST_M = 0.1               # joints closer to a camera than this are not seen
# What a view detected of a joint (SceneFrame.status).
UNSEEN, DETECTED, CONFUSED = 0, 1, 2

# Placement (random_scene): ground offsets from the motion's place sampled in this box (metres,
# lows then highs), kept where STAGE_VIEWS views hold STAGE_JOINTS joints, MIN_GAP_M apart.
_OFFSET_BOX = ([-1.0, -1.25], [1.0, 1.0])
STAGE_VIEWS = 3
STAGE_JOINTS = 12
MIN_GAP_M = 0.75
_PLACEMENT_TRIES = 300
_LAYOUT_TRIES = 30
# Excursions: the fastest walking speed (m per frame), time away, the margin walked past the
# place where fewer than two views see the person, and the frames kept before and after.
_PEAK_SPEED = 0.045
_HOLD_FRAMES = (5, 16)
_EXTRA_DISTANCE_M = 0.15
_MARGIN_FRAMES = 10
_LONGEST_EXCURSION_M = 1.5


@dataclass
class Excursion:
    """Walk ``displacement`` (3,) metres away from frame ``start``, stay ``hold``, walk back.

    Each leg takes ``ramp`` frames with a cosine speed profile (peak speed pi/2 times the mean).
    """

    start: int
    ramp: int
    hold: int
    displacement: np.ndarray

    @property
    def end(self):
        """First frame back at the starting place."""
        return self.start + 2 * self.ramp + self.hold

    def shift(self, frame):
        """Displacement (3,) at ``frame``."""
        t = frame - self.start
        if t <= 0 or t >= 2 * self.ramp + self.hold:
            return np.zeros(3)
        if t < self.ramp:
            fraction = t / self.ramp
        elif t <= self.ramp + self.hold:
            fraction = 1.0
        else:
            fraction = (2 * self.ramp + self.hold - t) / self.ramp
        return self.displacement * 0.5 * (1.0 - np.cos(np.pi * fraction))


@dataclass
class Person:
    """One copy of the motion: moved by ``offset`` (3,), turned by ``yaw``, time-offset."""

    offset: np.ndarray
    time_offset: int = 0
    yaw: float = 0.0                                 # radians, about the vertical
    excursion: Optional[Excursion] = None

    def to_dict(self):
        """JSON-ready description."""
        entry = {'offset_m': [round(float(x), 3) for x in self.offset],
                 'time_offset': int(self.time_offset),
                 'yaw_deg': round(float(np.degrees(self.yaw)), 1)}
        if self.excursion is not None:
            e = self.excursion
            entry['excursion'] = {'start': e.start, 'ramp': e.ramp, 'hold': e.hold,
                                  'end': e.end, 'displacement_m':
                                  [round(float(x), 3) for x in e.displacement]}
        return entry


@dataclass
class SceneFrame:
    """One frame group of a scene.

    Attributes:
        views: V arrays (P_v, 17, 3) of raw pixels and confidence, shuffled.
        labels: V lists: the person number of each detection.
        status: (N, V, 17) what each view detected of each person's joints: :data:`UNSEEN`,
            :data:`DETECTED` or :data:`CONFUSED` (detected on an occluder); N is the scene's
            number of people.
        hidden: number of joints in an image but hidden there by a nearer person (confused
            ones included).

    """

    views: List[np.ndarray]
    labels: List[List[int]]
    status: np.ndarray
    hidden: int = 0

    @property
    def seen(self):
        """(N, V) number of each person's joints truly detected in each view."""
        return (self.status == DETECTED).sum(axis=-1)

    @property
    def confusions(self):
        """Number of joints detected on an occluder."""
        return int((self.status == CONFUSED).sum())

    def triangulable(self, person):
        """(17,) whether at least two views truly detect each joint of ``person``."""
        return (self.status[person] == DETECTED).sum(axis=0) >= 2

    def visible(self, person):
        """Whether at least two views see ``person`` (:data:`MIN_VISIBLE_JOINTS` joints)."""
        return int((self.seen[person] >= MIN_VISIBLE_JOINTS).sum()) >= 2


@dataclass
class Scene:
    """People moving in front of the cameras.

    ``truth`` (F, 17, 3) is the scored motion (NaN where a joint has no marker) and ``motion``
    (F, 17, 3) the complete one that is projected, both in the calibration's world frame.
    """

    cameras: list
    truth: np.ndarray
    motion: np.ndarray
    people: List[Person]
    noise_px: float = 2.5
    confidence: tuple = (0.7, 0.95)
    confusion_rate: float = 0.0
    pivot: np.ndarray = field(init=False)

    def __post_init__(self):
        # People turn about the vertical through the motion's first body centre.
        self.pivot = np.nanmean(self.motion[0], axis=0) * [1.0, 1.0, 0.0]

    def _place(self, positions, person, frame):
        cos, sin = np.cos(person.yaw), np.sin(person.yaw)
        turn = np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])
        shift = person.offset + (person.excursion.shift(frame) if person.excursion else 0.0)
        return (positions - self.pivot) @ turn.T + self.pivot + shift

    def _motion_index(self, person, frame):
        period = 2 * len(self.motion) - 2
        index = (frame + person.time_offset) % period
        return min(index, period - index)

    def skeleton(self, person, frame):
        """Complete (17, 3) skeleton of person number ``person`` at ``frame``, metres."""
        p = self.people[person]
        return self._place(self.motion[self._motion_index(p, frame)], p, frame)

    def truth_at(self, person, frame):
        """Scored (17, 3) skeleton of ``person`` at ``frame``: NaN for joints without marker."""
        p = self.people[person]
        return self._place(self.truth[self._motion_index(p, frame)], p, frame)

    def frame(self, frame, rng, present=None, unseen=()):
        """Detect the people of one frame group in every view.

        Args:
            frame: frame number (any integer: the motion plays back and forth).
            rng: numpy Generator for the noise, confidences, confusions and shuffling.
            present: person numbers in the scene at this frame (default all).
            unseen: (person, view) pairs that a view misses entirely.

        Returns:
            :class:`SceneFrame`.

        """
        present = range(len(self.people)) if present is None else present
        skeletons = {p: self.skeleton(p, frame) for p in present}
        views, labels = [], []
        status = np.full((len(self.people), len(self.cameras), NUM_JOINTS), UNSEEN)
        hidden = 0
        for v, cam in enumerate(self.cameras):
            shown = [p for p in present if (p, v) not in unseen]
            kept = []
            detections = self._view(cam, [skeletons[p] for p in shown], rng)
            for p, (detection, occluded, confused) in zip(shown, detections):
                status[p, v] = np.where(confused, CONFUSED,
                                        np.where(detection[:, 2] > 0, DETECTED, UNSEEN))
                hidden += occluded
                if (detection[:, 2] > 0).any():
                    kept.append((p, detection))
            order = rng.permutation(len(kept))
            views.append(np.array([kept[i][1] for i in order]).reshape(-1, NUM_JOINTS, 3))
            labels.append([kept[i][0] for i in order])
        return SceneFrame(views, labels, status, hidden)

    def _view(self, cam, skeletons, rng):
        """Detect skeletons in one view: (detection (17, 3), hidden, confused (17,)) each."""
        projected = [_project(cam, skeleton) for skeleton in skeletons]
        pixels = [pixel for pixel, _, _ in projected]
        depths = [float(depth.mean()) for _, depth, _ in projected]
        in_front = [depth > _NEAREST_M for _, depth, _ in projected]
        inside = [inside for _, _, inside in projected]
        focal = float(cam.K[0, 0])
        hidden = [np.zeros(NUM_JOINTS, dtype=bool) for _ in skeletons]
        occluder = [np.full(NUM_JOINTS, -1) for _ in skeletons]
        for p in range(len(skeletons)):
            for q in np.argsort(depths):
                if depths[q] >= depths[p]:
                    break
                radius = focal * BODY_RADIUS_M / depths[q]
                distance = _segment_distance(pixels[p], pixels[q], in_front[q])
                newly = inside[p] & ~hidden[p] & (distance < radius)
                hidden[p] |= newly
                occluder[p][newly] = q
        detections = []
        for p in range(len(skeletons)):
            detection = np.zeros((NUM_JOINTS, 3))
            detected = inside[p] & ~hidden[p]
            detection[detected, :2] = pixels[p][detected]
            confused = np.zeros(NUM_JOINTS, dtype=bool)
            for j in np.flatnonzero(hidden[p]):
                q = occluder[p][j]
                radius = focal * BODY_RADIUS_M / depths[q]
                near = np.linalg.norm(pixels[q][j] - pixels[p][j]) < _CONFUSION_REACH * radius
                if inside[q][j] and not hidden[q][j] and near \
                        and rng.random() < self.confusion_rate:
                    detection[j, :2] = pixels[q][j]
                    confused[j] = True
            marked = detected | confused
            detection[marked, :2] += rng.normal(0.0, self.noise_px, (marked.sum(), 2))
            detection[marked, 2] = rng.uniform(*self.confidence, marked.sum())
            detections.append((detection, int(hidden[p].sum()), confused))
        return detections


def _project(cam, skeleton):
    """Raw pixels (J, 2), depths (J,) and whether each joint is in the image (J,)."""
    camera_frame = cam.world_to_camera(skeleton)
    pixel = cam.project(skeleton)
    depth = camera_frame[:, 2]
    with np.errstate(divide='ignore', invalid='ignore'):
        pinhole = camera_frame[:, :2] / depth[:, None] * np.diag(cam.K)[:2] + cam.K[:2, 2]
    size = np.array([cam.width, cam.height])
    # The pinhole check too: far outside the image, distortion can fold points back in.
    inside = ((depth > _NEAREST_M) & ((pixel >= 0) & (pixel < size)).all(axis=1)
              & ((pinhole > -0.1 * size) & (pinhole < 1.1 * size)).all(axis=1))
    return pixel, depth, inside


def views_seeing(cameras, skeleton, min_joints=MIN_VISIBLE_JOINTS):
    """Count the cameras with at least ``min_joints`` joints of ``skeleton`` in the image."""
    return sum(int(_project(cam, skeleton)[2].sum() >= min_joints) for cam in cameras)


def _segment_distance(points, skeleton_pixels, usable):
    """Pixel distance (J,) of points (J, 2) to the body segments of another skeleton."""
    ends = _BODY_SEGMENTS[usable[_BODY_SEGMENTS].all(axis=1)]
    if not len(ends):
        return np.full(len(points), np.inf)
    a, b = skeleton_pixels[ends[:, 0]], skeleton_pixels[ends[:, 1]]          # (S, 2)
    direction = b - a
    length2 = np.maximum((direction ** 2).sum(axis=1), 1e-9)
    along = ((points[:, None] - a[None]) * direction[None]).sum(axis=2) / length2   # (J, S)
    closest = a[None] + np.clip(along, 0.0, 1.0)[..., None] * direction[None]
    return np.linalg.norm(points[:, None] - closest, axis=2).min(axis=1)


def random_scene(cameras, truth, motion, num_people, num_frames, rng, leaving=None,
                 **options):
    """Place ``num_people`` copies of the motion at random, apart and in the cameras' views.

    Each person is placed (offset, yaw, time offset) where at least :data:`STAGE_VIEWS` views
    hold :data:`STAGE_JOINTS` of its joints during all ``num_frames`` frames, at least
    :data:`MIN_GAP_M` from everyone placed before at every frame.  The first ``leaving``
    people (default 40 %, at least one) also make an :class:`Excursion`, when one fits in the
    frames: far enough that fewer than two views hold :data:`MIN_VISIBLE_JOINTS` of their
    joints during the 5 to 15 frames away (and part of the walk out and back).

    Args:
        cameras: V cameras.
        truth: (F, 17, 3) scored motion.
        motion: (F, 17, 3) complete motion.
        num_people: N.
        num_frames: frames the scene is made for.
        rng: numpy Generator.
        leaving: number of people who leave and come back.
        **options: :class:`Scene` fields (noise_px, confidence, confusion_rate).

    Returns:
        :class:`Scene`.

    """
    if leaving is None:
        leaving = max(1, round(0.4 * num_people))
    for _ in range(_LAYOUT_TRIES):
        scene = Scene(cameras, truth, motion, [], **options)
        if _place_people(scene, num_people, num_frames, leaving, rng):
            return scene
    raise RuntimeError(f"could not place {num_people} people apart in the cameras' views")


def _place_people(scene, num_people, num_frames, leaving, rng):
    """Add people to ``scene`` one by one; False when one finds no place.

    A leaving person is placed where an excursion fits if that happens within half the tries;
    otherwise it stays in view.
    """
    centres = []                                        # (F, 2) ground track of each person
    for number in range(num_people):
        wants_excursion = number < leaving and _excursion_fits(num_frames)
        for attempt in range(_PLACEMENT_TRIES):
            person = Person(offset=np.array([*rng.uniform(*_OFFSET_BOX), 0.0]),
                            time_offset=int(rng.integers(0, 2 * len(scene.motion) - 2)),
                            yaw=float(rng.uniform(-np.pi, np.pi)))
            scene.people.append(person)
            placed = _apart(_ground_track(scene, number, num_frames), centres) and all(
                views_seeing(scene.cameras, scene.skeleton(number, f), STAGE_JOINTS)
                >= STAGE_VIEWS for f in range(0, num_frames, 5))
            if placed and wants_excursion:
                person.excursion = _excursion(scene, number, num_frames, centres, rng)
                placed = person.excursion is not None or attempt >= _PLACEMENT_TRIES // 2
            if placed:
                centres.append(_ground_track(scene, number, num_frames))
                break
            scene.people.pop()
        else:
            return False
    return True


def _ground_track(scene, person, num_frames):
    """(F, 2) ground position of a person's body centre at each frame."""
    return np.array([np.nanmean(scene.skeleton(person, f), axis=0)[:2]
                     for f in range(num_frames)])


def _apart(track, others):
    return all(np.linalg.norm(track - other, axis=1).min() >= MIN_GAP_M for other in others)


def _ramp_frames(distance):
    return int(np.ceil(0.5 * np.pi * distance / _PEAK_SPEED))


def _excursion_fits(num_frames):
    """Whether the shortest useful excursion fits in ``num_frames``."""
    return 2 * _MARGIN_FRAMES + 2 * _ramp_frames(_EXTRA_DISTANCE_M + 0.1) + _HOLD_FRAMES[0] \
        <= num_frames


def _excursion(scene, person, num_frames, others, rng):
    """Find an excursion of ``person`` out of the views and back that fits, or None."""
    if not _excursion_fits(num_frames):
        return None
    hub = np.mean([cam.center[:2] for cam in scene.cameras], axis=0)
    track = _ground_track(scene, person, num_frames)
    outward = track.mean(axis=0) - hub
    heading = np.arctan2(outward[1], outward[0])
    p = scene.people[person]
    for turn in rng.permutation(np.radians([0, 30, -30, 60, -60, 90, -90])):
        direction = np.array([np.cos(heading + turn), np.sin(heading + turn), 0.0])
        hold = int(rng.integers(*_HOLD_FRAMES))
        for distance in np.arange(0.1, _LONGEST_EXCURSION_M, 0.1):
            total = distance + _EXTRA_DISTANCE_M
            ramp = _ramp_frames(total)
            latest = num_frames - _MARGIN_FRAMES - 2 * ramp - hold
            if latest < _MARGIN_FRAMES:
                break
            start = int(rng.integers(_MARGIN_FRAMES, latest + 1))
            p.excursion = Excursion(start, ramp, hold, direction * distance)
            away = scene.skeleton(person, start + ramp)
            if views_seeing(scene.cameras, away) >= 2:
                continue
            p.excursion = Excursion(start, ramp, hold, direction * total)
            if all(views_seeing(scene.cameras, scene.skeleton(person, f)) < 2
                   for f in range(start + ramp, start + ramp + hold)) \
                    and _apart(_ground_track(scene, person, num_frames), others):
                return p.excursion
            break
    p.excursion = None
    return None
