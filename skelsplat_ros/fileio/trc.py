# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""OpenSim / Pose2Sim ``.trc`` marker trajectories (tab-separated, five header lines)."""

import pathlib

import numpy as np


def read_trc(path):
    """Read a .trc file.

    Returns ``(marker_names, positions (F, M, 3), rate_hz)``; positions are in the file's units
    and axes (OpenSim files are Y-up), with NaN for empty cells.
    """
    lines = pathlib.Path(path).read_text().splitlines()
    if len(lines) < 5 or not lines[0].startswith('PathFileType'):
        raise ValueError(f'{path}: not a .trc file (no PathFileType header)')
    header = dict(zip(lines[1].split('\t'), lines[2].split('\t')))
    rate_hz = float(header['DataRate'])
    num_markers = int(header['NumMarkers'])
    marker_names = [name for name in lines[3].split('\t')[2:] if name.strip()]
    if len(marker_names) != num_markers:
        raise ValueError(f'{path}: header says {num_markers} markers, found {len(marker_names)}')
    rows = []
    for line in lines[5:]:
        if not line.strip():
            continue
        cells = line.split('\t')[2:2 + 3 * num_markers]
        cells += [''] * (3 * num_markers - len(cells))
        rows.append([float(cell) if cell.strip() else np.nan for cell in cells])
    positions = np.array(rows, dtype=float).reshape(len(rows), num_markers, 3)
    return marker_names, positions, rate_hz


def write_trc(path, positions, marker_names, rate_hz, units='m'):
    """Write positions (F, J, 3) of markers ``marker_names`` sampled at ``rate_hz`` to a .trc.

    Frames are numbered from 1 and timed from 0 s; NaN positions are written as empty cells.
    """
    path = pathlib.Path(path)
    positions = np.asarray(positions, dtype=float)
    num_frames, num_markers, _ = positions.shape
    if len(marker_names) != num_markers:
        raise ValueError(f'{num_markers} markers in positions but {len(marker_names)} names')
    lines = [
        f'PathFileType\t4\t(X/Y/Z)\t{path.name}',
        'DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\t'
        'OrigDataStartFrame\tOrigNumFrames',
        f'{rate_hz:g}\t{rate_hz:g}\t{num_frames}\t{num_markers}\t{units}\t{rate_hz:g}\t1\t'
        f'{num_frames}',
        'Frame#\tTime\t' + '\t'.join(f'{name}\t\t' for name in marker_names),
        '\t\t' + '\t'.join(f'X{i}\tY{i}\tZ{i}' for i in range(1, num_markers + 1)),
    ]
    for frame, row in enumerate(positions.reshape(num_frames, -1)):
        cells = ['' if np.isnan(value) else repr(float(value)) for value in row]
        lines.append(f'{frame + 1}\t{frame / rate_hz!r}\t' + '\t'.join(cells))
    path.write_text('\n'.join(lines) + '\n')
