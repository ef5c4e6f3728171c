# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Joint trajectories as CSV: one row per frame, columns ``<joint>_x, _y, _z, _conf``."""

import csv
import pathlib

import numpy as np


def write_csv(path, positions, joint_names, confidence=None, times=None):
    """Write positions (F, J, 3) metres, and optionally confidence (F, J), to a CSV file.

    Columns: ``frame``, ``time`` (seconds, only when ``times`` (F,) is given), then per joint
    ``<joint>_x``, ``<joint>_y``, ``<joint>_z`` and, when ``confidence`` is given,
    ``<joint>_conf``.  NaN is written as an empty cell.
    """
    positions = np.asarray(positions, dtype=float)
    num_frames, num_joints, _ = positions.shape
    if len(joint_names) != num_joints:
        raise ValueError(f'{num_joints} joints in positions but {len(joint_names)} names')
    axes = ('x', 'y', 'z')
    columns = [positions[..., axis] for axis in range(3)]
    if confidence is not None:
        axes += ('conf',)
        columns.append(np.asarray(confidence, dtype=float).reshape(num_frames, num_joints))
    table = np.stack(columns, axis=-1).reshape(num_frames, -1)
    header = ['frame'] + (['time'] if times is not None else [])
    header += [f'{name}_{axis}' for name in joint_names for axis in axes]
    with pathlib.Path(path).open('w', newline='') as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        for frame, row in enumerate(table):
            prefix = [frame] + ([repr(float(times[frame]))] if times is not None else [])
            writer.writerow(prefix + ['' if np.isnan(v) else repr(float(v)) for v in row])
