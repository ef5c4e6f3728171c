# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Shared pytest set-up: DDS confined to loopback, and the cached real data."""

import os
import pathlib

# DDS discovery must never leave this machine, and each test run gets its own domain.  These
# must be set before rclpy is imported anywhere, so they are set at conftest import time.
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ.setdefault('ROS_DOMAIN_ID', str(40 + os.getpid() % 60))

import pytest  # noqa: E402


def _data_root():
    default = pathlib.Path.home() / '.cache' / 'skelsplat_ros' / 'data'
    return pathlib.Path(os.environ.get('SKELSPLAT_DATA', default))


@pytest.fixture(scope='session')
def data_root():
    """Root of the real data the set-up script downloads (see scripts/setup.sh)."""
    root = _data_root()
    if not (root / 'pose2sim-0.4.15').is_dir():
        why = f'real data missing under {root}: run `make setup` (scripts/setup.sh) first'
        # `make test` requires it; `colcon test` in a robot's workspace, which has not
        # downloaded it, skips the tests that need it instead of failing them.
        if os.environ.get('SKELSPLAT_REQUIRE_DATA'):
            pytest.fail(why)
        pytest.skip(why)
    return root
