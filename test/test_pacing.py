# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The live node's pacing structures stay bounded whatever the input."""

from skelsplat_ros.pacing import KeyedThrottle


def test_throttle_keys_stay_bounded_and_keep_throttling():
    now = [0.0]
    throttle = KeyedThrottle(5.0, clock=lambda: now[0], max_keys=8)
    # A sender that varies its fault makes a new key every message.
    for index in range(1000):
        now[0] = index * 1e-3
        assert throttle.allow(('fault', index)) == (True, 0)
        assert len(throttle) <= 8
    # A key still within its period keeps being held back, and counted.
    assert throttle.allow(('fault', 999)) == (False, 0)
    now[0] += 5.0
    assert throttle.allow(('fault', 999)) == (True, 1)
    # Keys whose period is over are the first to go.
    throttle = KeyedThrottle(1.0, clock=lambda: now[0], max_keys=2)
    now[0] = 0.0
    throttle.allow('old')
    now[0] = 2.0
    throttle.allow('recent')
    throttle.allow('new')
    assert len(throttle) == 2 and throttle.allow('recent') == (False, 0)
    assert throttle.allow('old') == (True, 0)   # forgotten, so allowed as it would have been
