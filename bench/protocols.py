# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Ground truth and the 2D inputs of the accuracy benchmark: real OpenPose and corruptions.

The truth is pose2sim's demo ``.trc`` (21 markers, OpenSim Y-up), moved into the calibration's
world frame (Z-up: world = (trc Z, trc X, trc Y)).  13 of its markers are COCO-17 joints; those
are the joints scored (:data:`SCORED_JOINTS`).  The four face joints with no marker (eyes and
ears) are *synthesised* from the Head (top of the head), Nose and shoulder markers so that the
controlled protocols feed every estimator complete COCO-17 skeletons, but they are never scored.

A controlled protocol projects the 17-joint motion through the real calibration, distortion
included, and corrupts the exact pixels with a seeded generator, so that every run sees the
same inputs.  Frames come out as the estimators take them: per frame, per view, an array
(P_v, 17, 3) of raw pixels and confidence, with a missing joint written as OpenPose writes it
(0, 0, 0) and a view without any detection as shape (0, 17, 3).

Each protocol also has an *oracle* version (``make_protocol(..., oracle=True)``): the same draws,
with every confidently wrong detection undone where its information survives (swapped labels
put back, the bystander dropped) and removed where it does not (a displaced detection).  It is
the input of an estimator that knew every corruption: what an estimator scores there is what
it would score if it rejected or repaired the corruption perfectly, the noise and occlusions
that are left.
"""

import sys

import numpy as np
from skelsplat_ros.cameras import load_calibration
from skelsplat_ros.cli import load_keypoint_frames
from skelsplat_ros.fileio.trc import read_trc
from skelsplat_ros.skeletons import COCO17, COCO17_JOINTS, trc_correspondence

DEMO = 'pose2sim-0.4.15/Pose2Sim/Demo'
NUM_JOINTS = len(COCO17_JOINTS)
# The demo's frame rate (its .trc DataRate; the OpenPose frames are the video's), Hz.
RATE_HZ = 60.0

PROTOCOLS = {
    'clean': 'exact projections of the .trc motion (distortion included), confidence 0.9',
    'noise': 'Gaussian pixel noise of 3 px per coordinate, confidences uniform in [0.8, 0.95]',
    'occlusion': 'noise, plus limbs or joints missing (confidence 0) in 1-2 views for 10-40 '
                 'consecutive frames, and one view losing the person for 5-15 frames',
    'outliers': 'noise, plus 8% of (view, frame, joint) detections displaced 50-300 px in a '
                'random direction with confidence 0.85-1.0',
    'swaps': 'noise, plus left/right swaps (both arms, both legs, or the whole body) in one '
             'view for 5-20 consecutive frames at full confidence',
    'bystander': 'noise, plus in one view a second person (the motion played backwards, '
                 'moved 1 m sideways) more confident than the true person in about half the '
                 'frames',
    'mixed': 'noise, half the occlusions and swaps of those protocols, 4% outliers, and the '
             'bystander in another view during 60% of the frames',
    'fast': 'noise, on the motion played 3 times faster (every third frame): what the motion '
            'prior costs when people move fast',
}
# Protocols played faster than the .trc: every n-th frame of the motion, at the same rate.
_SPEED_UP = {'fast': 3}

# Joint groups that an occluder hides together.
_OCCLUDABLE = (
    (5, 7, 9), (6, 8, 10), (11, 13, 15), (12, 14, 16),  # whole limbs
    (7, 9), (8, 10), (13, 15), (14, 16),                # lower limbs
    (9,), (10,), (15,), (16,), (0, 1, 2, 3, 4),         # single hands or feet, the face
)
_LEFT_ARM, _RIGHT_ARM = (5, 7, 9), (6, 8, 10)
_LEFT_LEG, _RIGHT_LEG = (11, 13, 15), (12, 14, 16)


def demo_paths(data_root):
    """Paths of the pose2sim demo: ``calibration``, ``keypoints`` (4 dirs) and ``trc``."""
    demo = data_root / DEMO
    return {
        'calibration': demo / 'calibration' / 'Calib_qualisys.toml',
        'keypoints': [demo / 'pose' / f'cam{i}_json' for i in range(1, 5)],
        'trc': demo / 'opensim' / 'Balancing_for_IK.trc',
    }


def _unit(vectors):
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def load_demo(data_root, num_frames=0):
    """Load the demo's cameras and .trc truth (first ``num_frames`` frames; 0: all).

    Returns ``(cameras, truth, motion)``, or None when the data is not there.
    """
    paths = demo_paths(data_root)
    if not paths['trc'].is_file():
        return None
    cameras = load_calibration(paths['calibration'])
    truth, motion, _ = load_truth(paths['trc'])
    if num_frames:
        truth, motion = truth[:num_frames], motion[:num_frames]
    return cameras, truth, motion


def load_demo_or_explain(program, data_root, num_frames=0):
    """:func:`load_demo`, saying on stderr what is missing when the data is not there."""
    demo = load_demo(data_root, num_frames)
    if demo is None:
        print(f'{program}: error: no pose2sim demo under {data_root} '
              '(run `make setup`, or pass --data-root)', file=sys.stderr)
    return demo


def load_truth(trc_path):
    """Read the demo .trc into COCO-17 order in the calibration's world frame.

    Returns ``(truth (F, 17, 3), motion (F, 17, 3), rate_hz)``, metres.  ``truth`` holds the
    13 joints that have a marker and NaN for eyes and ears; ``motion`` is complete, with eyes
    and ears synthesised from the head markers (see :func:`synthesise_face`).
    """
    names, positions, rate_hz = read_trc(trc_path)
    world = positions[..., [2, 0, 1]]
    marker_index, coco_index = trc_correspondence(names)
    truth = np.full((len(world), NUM_JOINTS, 3), np.nan)
    truth[:, coco_index] = world[:, marker_index]
    marker = {name: world[:, i] for i, name in enumerate(names)}
    motion = truth.copy()
    face = synthesise_face(marker['Head'], marker['Nose'], marker['Neck'],
                           marker['LShoulder'], marker['RShoulder'])
    for joint, position in face.items():
        motion[:, joint] = position
    return truth, motion, rate_hz


def synthesise_face(head, nose, neck, left_shoulder, right_shoulder):
    """Eyes and ears (F, 3) each from the head-top, nose, neck and shoulder markers (F, 3).

    A head frame is built from the shoulder line (left), the neck-to-head-top line (up) and
    their normal towards the nose (forward); eyes sit 3.2 cm either side of the nose, 3.5 cm
    above and 2 cm behind it, ears 7.5 cm either side, 2 cm above and 10 cm behind it.
    Returns ``{coco_index: (F, 3)}`` for the two eyes and two ears.
    """
    left = _unit(left_shoulder - right_shoulder)
    up = head - neck
    up = _unit(up - (up * left).sum(-1, keepdims=True) * left)
    forward = np.cross(left, up)
    flip = np.sign((forward * (nose - head)).sum(-1, keepdims=True))
    forward = forward * np.where(flip == 0, 1.0, flip)

    def offset(side, lift, back):
        return nose + side * left + lift * up - back * forward

    return {1: offset(0.032, 0.035, 0.02), 2: offset(-0.032, 0.035, 0.02),
            3: offset(0.075, 0.02, 0.10), 4: offset(-0.075, 0.02, 0.10)}


def real_frames(data_root, num_frames=None):
    """Return the demo's real OpenPose 2D: a list of F frames of 4 views (P_v, 17, 3)."""
    frames = load_keypoint_frames([str(p) for p in demo_paths(data_root)['keypoints']],
                                  'body25b')
    return frames[:num_frames] if num_frames else frames


def project_motion(cameras, motion):
    """Raw (distorted) pixels (V, F, J, 2) of world positions ``motion`` (F, J, 3)."""
    flat = motion.reshape(-1, 3)
    return np.stack([cam.project(flat).reshape(*motion.shape[:2], 2) for cam in cameras])


class _Views:
    """Per-view candidates under construction: the true person and an optional bystander."""

    def __init__(self, pixels, confidence):
        self.person = np.concatenate([pixels, confidence[..., None]], axis=-1)  # (V, F, J, 3)
        self.bystander = np.zeros_like(self.person)
        self.bystander_present = np.zeros(self.person.shape[:2], dtype=bool)   # (V, F)
        self.view_present = np.ones(self.person.shape[:2], dtype=bool)          # (V, F)
        # Which true joint each label holds (swaps), and the detections displaced (outliers).
        self.label = np.broadcast_to(np.arange(NUM_JOINTS), self.person.shape[:3]).copy()
        self.displaced = np.zeros(self.person.shape[:3], dtype=bool)            # (V, F, J)

    @property
    def num_views(self):
        return self.person.shape[0]

    @property
    def num_frames(self):
        return self.person.shape[1]

    def hide(self, view, frames, joints):
        for joint in joints:
            self.person[view, frames, joint] = 0.0

    def undo_corruption(self):
        """Put swapped labels back, remove displaced detections and the bystander."""
        self.person[self.displaced] = 0.0
        np.put_along_axis(self.person, self.label[..., None], self.person.copy(), axis=2)
        self.bystander_present[:] = False

    def frames(self, rng):
        """Assemble per-frame lists of V arrays (P_v, J, 3); candidate order is random."""
        result = []
        for f in range(self.num_frames):
            views = []
            for v in range(self.num_views):
                if not self.view_present[v, f]:
                    views.append(np.zeros((0, NUM_JOINTS, 3)))
                    continue
                people = [self.person[v, f]]
                if self.bystander_present[v, f]:
                    people.append(self.bystander[v, f])
                    if rng.random() < 0.5:
                        people.reverse()
                views.append(np.stack(people))
            result.append(views)
        return result


def _episode(rng, num_frames, shortest, longest):
    """Return a random run of consecutive frames as a slice, of length in [shortest, longest]."""
    length = int(rng.integers(shortest, longest + 1))
    length = min(length, num_frames)
    start = int(rng.integers(0, num_frames - length + 1))
    return slice(start, start + length)


def _add_noise(views, rng, sigma_px=3.0, confidence=(0.8, 0.95)):
    shape = views.person.shape[:3]
    views.person[..., :2] += rng.normal(0.0, sigma_px, shape + (2,))
    views.person[..., 2] = rng.uniform(*confidence, shape)


def _add_occlusions(views, rng, episodes):
    for _ in range(episodes):
        joints = _OCCLUDABLE[rng.integers(len(_OCCLUDABLE))]
        hidden_views = rng.choice(views.num_views, size=int(rng.integers(1, 3)), replace=False)
        frames = _episode(rng, views.num_frames, 10, 40)
        for v in hidden_views:
            views.hide(v, frames, joints)
    dropout = _episode(rng, views.num_frames, 5, 15)
    views.view_present[int(rng.integers(views.num_views)), dropout] = False


def _add_outliers(views, rng, rate):
    shape = views.person.shape[:3]
    hit = (rng.random(shape) < rate) & (views.person[..., 2] > 0)
    count = int(hit.sum())
    angle = rng.uniform(0.0, 2 * np.pi, count)
    distance = rng.uniform(50.0, 300.0, count)
    views.person[hit, 0] += distance * np.cos(angle)
    views.person[hit, 1] += distance * np.sin(angle)
    views.person[hit, 2] = rng.uniform(0.85, 1.0, count)
    views.displaced |= hit


def _add_swaps(views, rng, episodes):
    arms = np.arange(NUM_JOINTS)
    arms[list(_LEFT_ARM)], arms[list(_RIGHT_ARM)] = _RIGHT_ARM, _LEFT_ARM
    legs = np.arange(NUM_JOINTS)
    legs[list(_LEFT_LEG)], legs[list(_RIGHT_LEG)] = _RIGHT_LEG, _LEFT_LEG
    permutations = (arms, legs, COCO17.flip)
    for _ in range(episodes):
        permutation = permutations[rng.integers(len(permutations))]
        view = int(rng.integers(views.num_views))
        frames = _episode(rng, views.num_frames, 5, 20)
        # The labels move, confidences with them: a hidden joint stays hidden.
        views.person[view, frames] = views.person[view, frames][:, permutation]
        views.label[view, frames] = views.label[view, frames][:, permutation]


def _add_bystander(views, rng, cameras, motion, view, presence):
    """Another person in ``view``: the motion backwards, moved 1 m sideways of the camera."""
    # Sideways in the camera image (along the camera's x axis projected on the ground), so
    # that the two people stand apart in the view, as a real bystander usually does.
    sideways = cameras[view].R[0].copy()
    sideways[2] = 0.0
    sideways /= np.linalg.norm(sideways)
    other = motion[::-1] + rng.choice([-1.0, 1.0]) * sideways
    pixels = cameras[view].project(other.reshape(-1, 3)).reshape(*other.shape[:2], 2)
    pixels = pixels + rng.normal(0.0, 3.0, pixels.shape)
    num_frames = views.num_frames
    # A per-frame level around the true person's 0.8-0.95: above it about half the time.
    level = rng.uniform(0.75, 1.0, num_frames)[:, None]
    confidence = np.clip(level + rng.normal(0.0, 0.03, (num_frames, NUM_JOINTS)), 0.1, 1.0)
    views.bystander[view, :, :, :2] = pixels
    views.bystander[view, :, :, 2] = confidence
    views.bystander_present[view] = rng.random(num_frames) < presence


def protocol_truth(name, truth):
    """Return the frames of ``truth`` (F, ...) that protocol ``name`` plays."""
    return truth[::_SPEED_UP.get(name, 1)]


def make_protocol(name, cameras, motion, seed=0, oracle=False):
    """Corrupted 2D of ``motion`` (F, 17, 3) for protocol ``name`` (see :data:`PROTOCOLS`).

    Returns a list of F frames, each a list of V arrays (P_v, 17, 3).  The same ``seed`` and
    inputs give the same frames.  With ``oracle``, the confidently wrong detections of those
    frames are undone or removed (see the module's docstring); noise and occlusions stay.
    """
    if name not in PROTOCOLS:
        raise ValueError(f'unknown protocol {name!r}; choose from {", ".join(PROTOCOLS)}')
    rng = np.random.default_rng([seed, list(PROTOCOLS).index(name)])
    motion = protocol_truth(name, motion)
    num_frames = len(motion)
    pixels = project_motion(cameras, motion)
    views = _Views(pixels, np.full(pixels.shape[:3], 0.9))
    episodes = max(2, num_frames // 10)
    if name != 'clean':
        _add_noise(views, rng)
    if name == 'occlusion':
        _add_occlusions(views, rng, episodes)
    elif name == 'outliers':
        _add_outliers(views, rng, rate=0.08)
    elif name == 'swaps':
        _add_swaps(views, rng, episodes)
    elif name == 'bystander':
        _add_bystander(views, rng, cameras, motion, view=0, presence=1.0)
    elif name == 'mixed':
        _add_occlusions(views, rng, max(1, episodes // 2))
        _add_swaps(views, rng, max(1, episodes // 2))
        _add_outliers(views, rng, rate=0.04)
        _add_bystander(views, rng, cameras, motion, view=1, presence=0.6)
    if oracle:
        views.undo_corruption()
    return views.frames(rng)
