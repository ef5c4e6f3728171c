# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""A 12 s run of the soak benchmark (bench/soak.py): the properties hold, whatever the rates.

Four cameras of 1080p frames at 30 Hz go into the node (a subprocess, MediaPipe) over DDS
on loopback.  The node must stay up, keep its memory flat after the warm-up, drop rather than
queue (every latency within the bound that a newest-wins hand-over allows) and publish in
stamp order.  Absolute rates depend on the machine and are only reported.
"""

import json
import pathlib
import subprocess
import sys

import pytest

pytestmark = pytest.mark.ros

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_twelve_second_soak(tmp_path, data_root):
    result = subprocess.run(
        [sys.executable, str(ROOT / 'bench' / 'soak.py'), '--duration', '12', '--warmup', '5',
         '--output', str(tmp_path)], capture_output=True, text=True, timeout=300)
    report = json.loads((tmp_path / 'soak.json').read_text())
    # A string, not a dict, so that pytest prints all of it when a requirement fails.
    summary = json.dumps({**{k: v for k, v in report.items() if k != 'series'},
                          'rss_mb': report['series']['rss_mb']})
    assert report['requirements'] == {
        'node_stays_up': True, 'memory_flat': True, 'latency_bounded': True,
        'output_stamps_monotonic': True, 'outputs_after_warmup': True}, summary
    assert result.returncode == 0, result.stderr[-2000:]
    assert report['output']['messages'] >= 3
    # Outputs never outnumber the groups sent: nothing is re-published.
    assert report['output']['messages'] <= report['input']['groups_published']
    assert (tmp_path / 'soak.png').stat().st_size > 10_000
