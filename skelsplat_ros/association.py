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


def _unit_lines(lines):
    """Image lines (..., 3) as (3, ...) scaled so that ``l0 x + l1 y + l2`` is in pixels."""
    lines = np.moveaxis(lines, -1, 0)
    return lines / np.maximum(np.hypot(lines[0], lines[1]), 1e-12)


def _line_distance(unit_lines, coordinates):
    """Pixel distance of points, ``coordinates`` (2, ...) x and y, to ``unit_lines`` (3, ...)."""
    return np.abs(unit_lines[0] * coordinates[0] + unit_lines[1] * coordinates[1]
                  + unit_lines[2])


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
    lines_in_b = _unit_lines(_homogeneous(points_a)[:, None] @ F.T)           # (3, P_a, 1, J)
    lines_in_a = _unit_lines(_homogeneous(points_b)[None] @ F)               # (3, 1, P_b, J)
    distance = 0.5 * (_line_distance(lines_in_b, np.moveaxis(points_b, -1, 0)[:, None])
                      + _line_distance(lines_in_a, np.moveaxis(points_a, -1, 0)[:, :, None]))
    return _costs(distance, conf_a[:, None], conf_b[None])


def _homogeneous(points):
    return np.concatenate([points, np.ones(points.shape[:-1] + (1,), points.dtype)], axis=-1)


def _costs(distance, conf_a, conf_b):
    """Confidence-weighted mean of joints' symmetric epipolar ``distance`` (..., J): (...).

    inf where fewer than :data:`MIN_SHARED_JOINTS` joints are confident in both detections.
    """
    weight = np.minimum(conf_a, conf_b)
    shared = (weight > 0).sum(axis=-1)
    with np.errstate(invalid='ignore', divide='ignore'):
        cost = (np.nan_to_num(distance) * weight).sum(axis=-1) / weight.sum(axis=-1)
    return np.where(shared >= MIN_SHARED_JOINTS, cost, np.inf)


def _epipolar_lines(F, points, view_of):
    """(3, N, V, J) unit lines (:func:`_unit_lines`) of N detections' joints in every view.

    ``points`` (N, J, 2), ``view_of`` (N,) each detection's view, ``F`` (V, V, 3, 3).  One
    batched matrix product: a line per detection and view, not per pair of detections.
    """
    # x @ F[own view, w].T for every view w: (N, 1, J, 3) @ (N, V, 3, 3).
    lines = _homogeneous(points)[:, None] @ np.swapaxes(F[view_of], -1, -2)    # (N, V, J, 3)
    return np.ascontiguousarray(_unit_lines(lines))


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
    return associate_detections(rig, rig.observe_people(views, min_confidence), threshold_px,
                                min_views, contested)


def associate_detections(rig, detections, threshold_px=40.0, min_views=2, contested=False):
    """:func:`associate` of detections already observed by ``rig``.

    ``detections``: per view ``(points (P_v, J, 2), confidence (P_v, J))`` as
    :meth:`skelsplat_ros.cameras.CameraRig.observe_people` gives them, for a caller that has
    them anyway (the tracker undistorts each frame's detections once).
    """
    nodes = [(v, i) for v, (_, conf) in enumerate(detections) for i in range(len(conf))]
    cost = np.full((len(nodes), len(nodes)), np.inf)
    if nodes:
        # Every detection against those of the later views, in one batched computation (not
        # one per pair of views); detections of the same view are never one person.  In single
        # precision, which halves the time of the tracker's costliest step: the costs, about
        # 1e-4 px off, are compared with a threshold of tens of pixels and with each other
        # (only pairs that close in cost could merge in another order).  Pixels are held
        # within a million of the image, so that a garbage detection's lines cannot overflow.
        seen = [d for d in detections if len(d[1])]
        points = np.clip(np.concatenate([pts for pts, _ in seen]), -1e6, 1e6).astype(np.float32)
        conf = np.concatenate([c for _, c in seen]).astype(np.float32)
        view_of = np.array([v for v, _ in nodes])
        lines = _epipolar_lines(fundamental_matrices(rig.projections).astype(np.float32),
                                points, view_of)
        coordinates = np.ascontiguousarray(np.moveaxis(points, -1, 0))       # (2, N, J)
        first, second = np.nonzero(view_of[:, None] < view_of[None])
        distance = 0.5 * (
            _line_distance(lines[:, first, view_of[second]], coordinates[:, second])
            + _line_distance(lines[:, second, view_of[first]], coordinates[:, first]))
        cost[first, second] = _costs(distance, conf[first], conf[second])
        cost[second, first] = cost[first, second]

    groups = [[n] for n in range(len(nodes))]
    group_of = list(range(len(nodes)))
    views_of = [1 << v for v, _ in nodes]  # bit v: the group holds a detection of view v
    # Sum and count of the finite costs between every two groups (a group is indexed by its
    # first node), kept up to date as groups merge: their ratio is the average linkage.
    finite = np.isfinite(cost)
    total, count = np.where(finite, cost, 0.0), finite.astype(float)
    first, second = np.nonzero(np.triu(cost < threshold_px, k=1))
    order = np.argsort(cost[first, second], kind='stable')   # cheapest first, ties in order
    for n, m in zip(first[order].tolist(), second[order].tolist()):
        g, h = group_of[n], group_of[m]
        if g == h or views_of[g] & views_of[h]:
            continue                                       # one detection per view per person
        links = count.item(g, h)
        if not links or total.item(g, h) / links >= threshold_px:
            continue
        groups[g] += groups[h]
        views_of[g] |= views_of[h]
        for k in groups[h]:
            group_of[k] = g
        groups[h] = []
        for table in (total, count):
            table[g] += table[h]
            table[:, g] += table[:, h]

    close = cost < threshold_px
    people = []
    for group in groups:
        if len(group) < min_views:
            continue
        row = np.full(rig.num_views, -1)
        for k in group:
            row[nodes[k][0]] = nodes[k][1]
        outside = np.ones(len(nodes), dtype=bool)
        outside[group] = False
        people.append((row, bool(close[group][:, outside].any())))
    people.sort(key=lambda person: -(person[0] >= 0).sum())
    assignment = np.array([row for row, _ in people], dtype=int).reshape(-1, rig.num_views)
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
