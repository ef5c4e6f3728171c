# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""MPJPE scoring of estimated skeletons against ground truth.

Only joint-frames whose truth is finite are scored.  An estimate that is NaN there is not an
error of zero but a gap: it lowers ``coverage`` and is left out of the error statistics.
"""

import numpy as np


def joint_errors_mm(positions, truth):
    """Euclidean errors in mm (F, J): NaN where the truth or the estimate is unknown.

    ``positions`` and ``truth`` are (F, J, 3) in metres.
    """
    return 1000.0 * np.linalg.norm(np.asarray(positions) - np.asarray(truth), axis=-1)


def common_means(estimates, truth):
    """Mean error (mm) of each method over the joint-frames that all of them located.

    ``estimates`` maps method names to (F, J, 3) positions; ``truth`` is (F, J, 3).  Returns
    ``{method: mean_mm or None}``.
    """
    errors = {name: joint_errors_mm(positions, truth) for name, positions in estimates.items()}
    common = np.logical_and.reduce([np.isfinite(e) for e in errors.values()])
    return {name: _finite_or_none(e[common].mean()) if common.any() else None
            for name, e in errors.items()}


def _finite_or_none(value):
    return float(value) if np.isfinite(value) else None


def mpjpe_summary(positions, truth, joint_names=None):
    """Mean, median and 95th percentile MPJPE (mm), coverage and per-joint means.

    ``positions`` and ``truth`` are (F, J, 3) in metres.  Returns a JSON-ready dict; statistics
    of an estimate without any finite scored joint are None.
    """
    errors = joint_errors_mm(positions, truth)
    scored = np.isfinite(np.asarray(truth)).all(axis=-1)                  # (F, J)
    found = errors[scored & np.isfinite(errors)]
    summary = {
        'mean_mm': _finite_or_none(found.mean()) if found.size else None,
        'median_mm': _finite_or_none(np.median(found)) if found.size else None,
        'p95_mm': _finite_or_none(np.percentile(found, 95)) if found.size else None,
        'coverage': float(found.size / max(int(scored.sum()), 1)),
    }
    if joint_names is not None:
        per_joint = {}
        for j, name in enumerate(joint_names):
            column = errors[:, j][scored[:, j] & np.isfinite(errors[:, j])]
            if scored[:, j].any():
                per_joint[name] = _finite_or_none(column.mean()) if column.size else None
        summary['per_joint_mean_mm'] = per_joint
    return summary
