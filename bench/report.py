# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What the benchmarks share: where the data is, progress lines, and writing the report."""

import hashlib
import json
import os
import pathlib
import sys
import time


def default_data_root():
    """Return the data directory: $SKELSPLAT_DATA, else ~/.cache/skelsplat_ros/data."""
    default = pathlib.Path.home() / '.cache' / 'skelsplat_ros' / 'data'
    return pathlib.Path(os.environ.get('SKELSPLAT_DATA', default))


def source_sha1(module):
    """SHA-1 of a module's source as imported; of all its .py files for a package."""
    path = pathlib.Path(module.__file__)
    files = sorted(path.parent.rglob('*.py')) if path.name == '__init__.py' else [path]
    digest = hashlib.sha1()
    for file in files:
        digest.update(file.read_bytes())
    return digest.hexdigest()


def reference_loop_ms():
    """Return the CPU milliseconds of a fixed pure-Python loop: this machine's speed.

    The shared machines the benchmarks run on vary in speed by up to two times from one
    minute to the next, with no load or steal time to show it; a figure is comparable with
    another taken at a similar reference.
    """
    started, total = time.process_time(), 0
    for i in range(1_000_000):
        total += i * i
    return round((time.process_time() - started) * 1e3, 1)


def log(message):
    """Print a progress line to stderr (stdout carries the JSON report)."""
    print(message, file=sys.stderr, flush=True)


def write_report(report, output, name, plot=None):
    """Write ``report`` to OUTPUT/NAME.json and stdout, and ``plot(report, OUTPUT/NAME.png)``.

    ``plot`` None skips the picture.  Progress lines go to stderr.
    """
    output = pathlib.Path(output)
    output.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2)
    (output / f'{name}.json').write_text(text + '\n')
    if plot is not None:
        plot(report, output / f'{name}.png')
    print(text)
    plotted = '' if plot is None else f' and {output / f"{name}.png"}'
    log(f'wrote {output / f"{name}.json"}{plotted}')
