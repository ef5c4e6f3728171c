# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The live node's pacing structures stay bounded whatever the input."""

from skelsplat_ros.pacing import KeyedThrottle, StampGrid


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


def test_stamp_grid_takes_the_same_frames_in_every_camera():
    # Two 30 Hz cameras, hardware-synchronised to within 1 ms, each behind its own grid of
    # 0.1 s (as on two detector hosts): each takes the first frame of every slot, the same
    # frames in both, one in three.
    period_ns, frame_ns = 100_000_000, 33_333_333
    start = 1_700_000_000 * 10**9 + 5_000_000
    taken = []
    for offset_ns in (0, 700_000):
        grid = StampGrid(0.1)
        taken.append([k for k in range(90) if grid.admits(start + k * frame_ns + offset_ns)])
    assert taken[0] == taken[1]
    assert len(taken[0]) == 30 and all(b - a == 3 for a, b in zip(taken[0], taken[0][1:]))
    slots = [(start + k * frame_ns) // period_ns for k in taken[0]]
    assert slots == sorted(set(slots))                      # one frame per slot
    # Period 0 takes every frame; a clock that starts over (a bag looping) starts afresh.
    every = StampGrid(0.0)
    assert all(every.admits(start + k * frame_ns) for k in range(10))
    grid = StampGrid(0.1)
    assert grid.admits(start) and not grid.admits(start + frame_ns)
    assert grid.admits(start - 10 * period_ns) and not grid.admits(start - 10 * period_ns + 1)
