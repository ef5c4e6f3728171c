# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Writing a benchmark's report: JSON to stdout and to a file, and its plot."""

import json
import pathlib
import sys


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
    print(f'wrote {output / f"{name}.json"}{plotted}', file=sys.stderr, flush=True)
