# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Cross-view association: which 2D skeletons in different views are the same person.

Every pair of detections in two different views is scored by the symmetric epipolar distance
of their confident joints (a whole skeleton, so one person standing on another's epipolar line
for a joint or two does not match).  Detections are then merged greedily, cheapest pair first,
into people with at most one detection per view, as long as the mean cost between the two
merged groups stays under the threshold (average linkage).  A group seen by fewer than
``min_views`` views cannot be triangulated and is dropped.

Each person is returned as whole detections, so the per-person solver never sees another
person's joints, even where people overlap in a view.
"""

import functools

import numpy as np
from skelsplat_ros.cameras import CameraRig

# A pair of detections needs this many joints confident in both views to be compared.
MIN_SHARED_JOINTS = 4


def fundamental_matrix(P_a, P_b):
    """Fundamental matrix (3, 3) with ``x_b^T F x_a = 0``, from two (3, 4) projection matrices."""
    centre_a = np.linalg.svd(P_a)[2][-1]                 # right null vector: camera a's centre
    epipole_b = P_b @ centre_a
    cross = np.array([[0.0, -epipole_b[2], epipole_b[1]],
                      [epipole_b[2], 0.0, -epipole_b[0]],
                      [-epipole_b[1], epipole_b[0], 0.0]])
    return cross @ P_b @ np.linalg.pinv(P_a)


def fundamental_matrices(projections):
    """(V, V, 3, 3) fundamental matrices between every two views, ``x_b^T F[a, b] x_a = 0``.

    ``F[b, a]`` is ``F[a, b]`` transposed, so that a pair's epipolar distances are the same
    numbers whichever view comes first.  The diagonal is zero.  A rig's matrices are computed
    once and kept (the few most recent rigs, read-only): they cost a pseudo-inverse per pair,
    which with 16 cameras is 120 per frame group.
    """
    projections = np.ascontiguousarray(projections, dtype=float)
    return _fundamental_matrices(projections.tobytes(), len(projections))


@functools.lru_cache(maxsize=8)
def _fundamental_matrices(projections: bytes, num_views: int):
    P = np.frombuffer(projections).reshape(num_views, 3, 4)
    F = np.zeros((num_views, num_views, 3, 3))
    for a in range(num_views):
        for b in range(a + 1, num_views):
            F[a, b] = fundamental_matrix(P[a], P[b])
            F[b, a] = F[a, b].T
    F.flags.writeable = False
    return F


def _line_distance(lines, points):
    """Pixel distance of points (..., 2) to image lines (..., 3)."""
    norm = np.maximum(np.hypot(lines[..., 0], lines[..., 1]), 1e-12)
    return np.abs((lines[..., :2] * points).sum(axis=-1) + lines[..., 2]) / norm


def epipolar_costs(F, points_a, conf_a, points_b, conf_b):
    """Mean symmetric epipolar distance between every detection of view a and of view b.

    Args:
        F: (3, 3) fundamental matrix from view a to view b.
        points_a: (P_a, J, 2) undistorted pixels; conf_a (P_a, J), 0 where unusable.
        points_b: (P_b, J, 2); conf_b (P_b, J).
        conf_a: (P_a, J) confidence.
        conf_b: (P_b, J) confidence.

    Returns:
        (P_a, P_b) confidence-weighted mean distance in pixels over the joints both detections
        hold; inf where fewer than :data:`MIN_SHARED_JOINTS` are shared.

    """
    return _paired_costs(F, points_a[:, None], conf_a[:, None], points_b[None], conf_b[None])


def _paired_costs(F, points_a, conf_a, points_b, conf_b):
    """Return :func:`epipolar_costs` (...) of detections paired by broadcasting.

    ``F`` (..., 3, 3), and each side's ``points`` (..., J, 2) and ``conf`` (..., J).
    """
    homogeneous_a = np.concatenate([points_a, np.ones(points_a.shape[:-1] + (1,))], axis=-1)
    homogeneous_b = np.concatenate([points_b, np.ones(points_b.shape[:-1] + (1,))], axis=-1)
    lines_in_b = homogeneous_a @ np.swapaxes(F, -1, -2)                  # (..., J, 3)
    lines_in_a = homogeneous_b @ F
    distance = 0.5 * (_line_distance(lines_in_b, points_b)
                      + _line_distance(lines_in_a, points_a))            # (..., J)
    weight = np.minimum(conf_a, conf_b)
    shared = (weight > 0).sum(axis=-1)
    with np.errstate(invalid='ignore', divide='ignore'):
        cost = (np.nan_to_num(distance) * weight).sum(axis=-1) / weight.sum(axis=-1)
    return np.where(shared >= MIN_SHARED_JOINTS, cost, np.inf)


def associate(cameras, views, threshold_px=40.0, min_views=2, min_confidence=0.1,
              contested=False):
    """Group the detections of all views into people.

    Args:
        cameras: V cameras (:class:`skelsplat_ros.cameras.Camera`).
        views: V arrays (P_v, J, 3) of raw pixels and confidence; P_v may differ and be 0.
        threshold_px: largest mean symmetric epipolar distance, in undistorted pixels, between
            the detections of one person (OpenPose views of one joint disagree by 10 to 25 px
            in 1080p images).
        min_views: people seen by fewer views are dropped.
        min_confidence: joints below this confidence are ignored.
        contested: also say which people could have been grouped otherwise.

    Returns:
        (N, V) int array: for each person, the index of its detection in each view, -1 where
        the view does not see it; people sorted by decreasing number of views.  With
        ``contested``, also (N,) bool: whether one of the person's detections lies within
        ``threshold_px`` of a detection outside the person (another person's, or one that
        no other view confirms), so that another grouping was possible.

    """
    rig = CameraRig(cameras)
    detections = rig.observe_people(views, min_confidence)
    nodes = [(v, i) for v, (_, conf) in enumerate(detections) for i in range(len(conf))]
    cost = np.full((len(nodes), len(nodes)), np.inf)
    if nodes:
        # Every detection against those of the later views, in one batched computation (not
        # one per pair of views); detections of the same view are never one person.
        seen = [d for d in detections if len(d[1])]
        points = np.concatenate([pts for pts, _ in seen])
        conf = np.concatenate([c for _, c in seen])
        view_of = np.array([v for v, _ in nodes])
        first, second = np.nonzero(view_of[:, None] < view_of[None])
        F = fundamental_matrices(rig.projections)[view_of[first], view_of[second]]
        cost[first, second] = _paired_costs(F, points[first], conf[first], points[second],
                                            conf[second])
        cost[second, first] = cost[first, second]

    groups = [[n] for n in range(len(nodes))]
    group_of = list(range(len(nodes)))
    first, second = np.nonzero(np.triu(cost < threshold_px, k=1))
    for n, m in sorted(zip(first, second), key=lambda edge: cost[edge]):
        g, h = group_of[n], group_of[m]
        if g == h:
            continue
        if {nodes[k][0] for k in groups[g]} & {nodes[k][0] for k in groups[h]}:
            continue                                       # one detection per view per person
        between = cost[np.ix_(groups[g], groups[h])]
        if not np.isfinite(between).any() or between[np.isfinite(between)].mean() >= threshold_px:
            continue
        groups[g] += groups[h]
        for k in groups[h]:
            group_of[k] = g
        groups[h] = []

    people = []
    for group in groups:
        if len(group) < min_views:
            continue
        row = np.full(len(cameras), -1)
        for k in group:
            row[nodes[k][0]] = nodes[k][1]
        others = np.setdiff1d(np.arange(len(nodes)), group)
        people.append((row, bool((cost[np.ix_(group, others)] < threshold_px).any())))
    people.sort(key=lambda person: -(person[0] >= 0).sum())
    assignment = np.array([row for row, _ in people], dtype=int).reshape(-1, len(cameras))
    if contested:
        return assignment, np.array([doubt for _, doubt in people], dtype=bool)
    return assignment


def split_people(views, assignment):
    """Cut the views into one input per person for :meth:`SkelSplatSolver.solve`.

    Args:
        views: V arrays (P_v, J, 3).
        assignment: (N, V) detection indices from :func:`associate`, -1 for none.

    Returns:
        N lists of V arrays (1, J, 3) or (0, J, 3).

    """
    if not len(assignment):
        return []
    num_joints = max(np.asarray(v).shape[-2] for v in views if np.asarray(v).size)
    result = []
    for row in assignment:
        person = []
        for v, i in enumerate(row):
            people = np.asarray(views[v], dtype=float).reshape(-1, num_joints, 3)
            person.append(people[i:i + 1] if i >= 0 else people[:0])
        result.append(person)
    return result
