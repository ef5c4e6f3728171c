# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""OpenPose JSON keypoint files (one file per frame, ``people[*].pose_keypoints_2d``)."""

import json
import pathlib
import re

import numpy as np


class KeypointFileError(ValueError):
    """A keypoint file that is not valid JSON or does not hold the expected keypoints."""


def read_openpose_json(path, num_keypoints=None):
    """Read the people of one OpenPose JSON file.

    Returns an array (P, K, 3) of (x pixels, y pixels, confidence) per person and keypoint.
    ``num_keypoints`` is the expected K (25 for BODY_25 and BODY_25B); None accepts any K that
    all people share, and a file without people then gives shape (0, 0, 3).  Every value is
    finite: a keypoint with a non-finite value becomes (0, 0, 0), OpenPose's "not detected".
    A person whose ``pose_keypoints_2d`` is empty is an empty slot (Pose2Sim's multi-person
    sorting writes them) and is left out.
    Raises :class:`KeypointFileError` for anything else that is not OpenPose JSON.
    """
    path = pathlib.Path(path)
    try:
        document = json.loads(path.read_text(encoding='utf-8'))
    except (OSError, ValueError, RecursionError) as error:  # ValueError: JSON, UTF-8, digits
        raise KeypointFileError(f'{path}: cannot read OpenPose JSON: {error}') from None
    people = document.get('people') if isinstance(document, dict) else None
    if not isinstance(people, list):
        raise KeypointFileError(f"{path}: no 'people' list")
    keypoints = []
    for index, person in enumerate(people):
        values = person.get('pose_keypoints_2d') if isinstance(person, dict) else None
        try:
            values = np.asarray(values, dtype=float).reshape(-1)
        except (TypeError, ValueError, OverflowError):  # Overflow: JSON integers are unbounded
            raise KeypointFileError(f'{path}: person {index} has non-numeric '
                                    'pose_keypoints_2d') from None
        if values.size == 0:
            continue
        if values.size % 3:
            raise KeypointFileError(f'{path}: person {index} has {values.size} values in '
                                    'pose_keypoints_2d, not a multiple of 3')
        count = num_keypoints if num_keypoints is not None else values.size // 3
        if values.size != 3 * count:
            raise KeypointFileError(f'{path}: person {index} has {values.size // 3} keypoints, '
                                    f'expected {count}')
        person_keypoints = values.reshape(count, 3)
        person_keypoints[~np.isfinite(person_keypoints).all(axis=1)] = 0.0
        keypoints.append(person_keypoints)
    if not keypoints:
        return np.zeros((0, num_keypoints or 0, 3))
    return np.stack(keypoints)


def _natural_key(path):
    return [int(part) if part.isdigit() else part for part in re.split(r'(\d+)', path.name)]


def list_openpose_files(directory):
    """Return the ``*.json`` files of ``directory`` in natural (frame number) order."""
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f'{directory}: no such keypoint directory')
    return sorted(directory.glob('*.json'), key=_natural_key)
