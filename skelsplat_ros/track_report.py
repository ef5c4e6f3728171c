# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What several tracked people did over a recording, without ground truth.

Used by ``skelsplat demo --trial multi`` and ``skelsplat videos`` on several people: people per
frame, ids and their switches, each person's median reprojection error per camera against the
2D detections, and the frames where a camera's detection lay over two people (a detector that
merged them, :func:`skelsplat_ros.tracking.over_two_people`).
"""

from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np
from skelsplat_ros.cameras import CameraRig
from skelsplat_ros.tracking import over_two_people

# A new id whose body centre starts this close to where a vanished id was last seen, within
# SWITCH_FRAMES of it vanishing, is the same person under a new id: a switch.
SWITCH_M = 0.5
SWITCH_FRAMES = 30
# Joints a detection and a person must share to be compared.
MIN_SHARED_JOINTS = 4


def _centre(positions):
    known = np.isfinite(positions).all(axis=1)
    return positions[known].mean(axis=0) if known.any() else None


def id_switches(people: Sequence[Mapping[int, np.ndarray]]) -> List[dict]:
    """Find the ids that continue a vanished id (see :data:`SWITCH_M`, :data:`SWITCH_FRAMES`).

    Args:
        people: per frame, person id -> (J, 3) joints, NaN where unknown.

    Returns:
        One ``{'frame', 'old_id', 'new_id', 'gap_m'}`` per switch.
    """
    last_seen: Dict[int, tuple] = {}          # id -> (frame, centre)
    switches = []
    for frame, persons in enumerate(people):
        for person_id in sorted(persons):
            centre = _centre(np.asarray(persons[person_id], dtype=float))
            if centre is None:
                continue
            if person_id not in last_seen:
                vanished = [(np.linalg.norm(centre - where), old)
                            for old, (seen, where) in last_seen.items()
                            if old not in persons and frame - seen <= SWITCH_FRAMES]
                if vanished:
                    gap, old = min(vanished)
                    if gap < SWITCH_M:
                        switches.append({'frame': frame, 'old_id': int(old),
                                         'new_id': int(person_id), 'gap_m': round(float(gap), 3)})
            last_seen[person_id] = (frame, centre)
    return switches


def summarize(people: Sequence[Mapping[int, np.ndarray]], cameras,
              detections: Optional[Sequence[Sequence[np.ndarray]]] = None,
              threshold_px: float = 40.0, min_confidence: float = 0.1,
              triangulated: Optional[Sequence[Mapping[int, np.ndarray]]] = None) -> dict:
    """Describe the people of a recording.

    Args:
        people: per frame, person id -> (J, 3) joints in metres, NaN where unknown.
        cameras: the V cameras.
        detections: per frame, V arrays (P, J, 3) of raw pixels and confidence (the 2D
            detections of the same frames), or None.
        threshold_px: a person's projection and a detection this close (mean over their
            shared joints, undistorted pixels) are the same person.
        min_confidence: detections' joints below it are ignored.
        triangulated: ``people`` with only the joints two views or more located (a joint
            one view sees has a guessed depth), for finding id switches; None: ``people``.

    Returns:
        A JSON-ready dict: ``people_per_frame``, ``frames_with_n_people``, ``ids``
        (id -> frames reported), ``id_switches``; with detections also
        ``reprojection_median_px`` (id -> camera -> median px, null where no detection was
        the person's) and ``merged_frames`` (camera -> frames where one of its detections
        lay over two people).
    """
    rig = CameraRig(cameras)
    names = [camera.name for camera in rig.cameras]
    counts = [len(persons) for persons in people]
    ids: Dict[int, int] = {}
    for persons in people:
        for person_id in persons:
            ids[int(person_id)] = ids.get(int(person_id), 0) + 1
    report = {
        'frames': len(people),
        'people_per_frame': counts,
        'frames_with_n_people': {str(n): counts.count(n) for n in sorted(set(counts))},
        'ids': {str(person_id): frames for person_id, frames in sorted(ids.items())},
        'id_switches': id_switches(people if triangulated is None else triangulated),
    }
    if detections is None:
        return report
    errors = {person_id: {name: [] for name in names} for person_id in ids}
    merged = {name: [] for name in names}
    for frame, (persons, views) in enumerate(zip(people, detections)):
        order = sorted(persons)
        if not order:
            continue
        joints = np.stack([np.asarray(persons[p], dtype=float) for p in order])   # (T, J, 3)
        homogeneous = np.concatenate([joints, np.ones(joints.shape[:-1] + (1,))], axis=-1)
        observed = rig.observe_people(views, min_confidence, joints.shape[1])
        for v, (points, conf) in enumerate(observed):
            pixels = homogeneous @ rig.projections[v].T
            with np.errstate(invalid='ignore', divide='ignore'):
                projected = np.where(pixels[..., 2:] > 0, pixels[..., :2] / pixels[..., 2:],
                                     np.nan)
            if not len(conf):
                continue
            if over_two_people(points, conf, projected, threshold_px).any():
                merged[names[v]].append(frame)
            gaps = np.linalg.norm(points[:, None] - projected[None], axis=-1)   # (P, T, J)
            shared = (conf[:, None] > 0) & np.isfinite(gaps)
            with np.errstate(invalid='ignore'):
                mean = np.where(shared, gaps, 0.0).sum(axis=-1) / shared.sum(axis=-1)
            mean = np.where(shared.sum(axis=-1) >= MIN_SHARED_JOINTS, mean, np.inf)
            for t, person_id in enumerate(order):
                best = int(np.argmin(mean[:, t]))
                if mean[best, t] < threshold_px and int(np.argmin(mean[best])) == t:
                    errors[int(person_id)][names[v]].append(float(mean[best, t]))
    report['reprojection_median_px'] = {
        str(person_id): {name: round(float(np.median(values)), 2) if values else None
                         for name, values in by_camera.items()}
        for person_id, by_camera in sorted(errors.items())}
    report['merged_frames'] = merged
    return report
