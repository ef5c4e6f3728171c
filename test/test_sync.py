# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Tests for skelsplat_ros.sync.FrameSynchronizer with deterministic time."""

import itertools

from hypothesis import given, settings, strategies as st
import pytest

from skelsplat_ros.sync import FrameSynchronizer

MS = 1_000_000  # nanoseconds per millisecond
PERIOD = 33 * MS  # about 30 fps
CAMERAS = ('cam1', 'cam2', 'cam3', 'cam4')
# A start stamp for tests whose clocks jump back: far enough from 0 that the stamps stay
# positive (a negative one is refused as a fault of its own).
START = 100_000 * MS


def make_sync(**options):
    """Four cameras, 10 ms slop, 100 ms wait, 2 views minimum unless overridden."""
    arguments = {'camera_names': CAMERAS, 'slop_s': 0.010, 'max_wait_s': 0.100, 'min_views': 2}
    arguments.update(options)
    return FrameSynchronizer(**arguments)


def feed(sync, frame, cameras=CAMERAS, base=0, offsets=None, latency=2 * MS):
    """Add frame number ``frame`` from ``cameras``; return (emitted groups, arrival time).

    Camera i's frame is stamped ``base + frame * PERIOD + offsets[i]`` and arrives
    ``latency * (i + 1)`` after the stamp's nominal time.
    """
    emitted, now = [], None
    for index, camera in enumerate(cameras):
        stamp = base + frame * PERIOD + (offsets[index] if offsets else 0)
        now = frame * PERIOD + latency * (index + 1)
        emitted += sync.add(camera, stamp, (camera, frame), now)
    return emitted, now


def test_complete_groups_are_emitted_when_the_last_camera_arrives():
    sync = make_sync()
    offsets = [3 * MS, 0, 7 * MS, 5 * MS]  # jitter within the 10 ms slop
    for frame in range(5):
        emitted, _ = feed(sync, frame, CAMERAS[:3], offsets=offsets)
        assert emitted == []
        emitted = sync.add('cam4', frame * PERIOD + offsets[3], ('cam4', frame), frame * PERIOD)
        assert len(emitted) == 1
        group = emitted[0]
        assert group.stamp_ns == frame * PERIOD  # the earliest stamp, cam2's
        assert list(group.frames) == list(CAMERAS)
        assert {item for _, item in group.frames.values()} == {(c, frame) for c in CAMERAS}
        assert group.frames['cam3'][0] == frame * PERIOD + 7 * MS
    stats = sync.stats
    assert stats.emitted == 5 and stats.received == dict.fromkeys(CAMERAS, 5)
    assert sync.pending_group_count == 0


def test_stopped_camera_waits_max_wait_once_then_others_flow():
    sync = make_sync()
    for frame in range(3):
        assert len(feed(sync, frame)[0]) == 1
    # cam4 stops.  The next group waits for it until max_wait after its first frame arrived.
    emitted, _ = feed(sync, 3, CAMERAS[:3])
    assert emitted == []
    first_arrival = 3 * PERIOD + 2 * MS
    assert sync.poll(first_arrival + 100 * MS - 1) == []
    emitted = sync.poll(first_arrival + 100 * MS)
    assert [g.stamp_ns for g in emitted] == [3 * PERIOD]
    assert set(emitted[0].frames) == {'cam1', 'cam2', 'cam3'}
    # That timeout marked cam4 stalled: nothing waits for it any more, even after a pause
    # longer than max_wait (frames 4-6 are missing for every camera).
    for frame in range(7, 12):
        emitted, _ = feed(sync, frame, CAMERAS[:3])
        assert [g.stamp_ns for g in emitted] == [frame * PERIOD]
    # cam4 comes back.  Its first frame arrives after the others were emitted without it
    # (stale), but it ends the stall, so from the next frame on it is fused again.
    emitted, _ = feed(sync, 12)
    assert len(emitted) == 1 and len(emitted[0].frames) == 3
    emitted, _ = feed(sync, 13)
    assert len(emitted) == 1 and len(emitted[0].frames) == 4
    assert sync.stats.dropped_incomplete == 0


def test_lost_frame_finishes_group_when_camera_moves_on():
    sync = make_sync()
    feed(sync, 0, CAMERAS[:3])  # cam4's frame 0 was lost on the network
    emitted = sync.add('cam4', PERIOD, 'cam4-1', PERIOD)
    # cam4's newest stamp is past frame 0 + slop, so frame 0 cannot gain it: emitted now.
    assert [(g.stamp_ns, len(g.frames)) for g in emitted] == [(0, 3)]


def test_groups_below_min_views_are_dropped_and_counted():
    sync = make_sync(min_views=3)
    for frame in range(4):
        feed(sync, frame, ('cam1', 'cam3'))
    emitted = sync.poll(10 * PERIOD)
    assert emitted == []
    stats = sync.stats
    assert stats.dropped_incomplete == 4 and stats.emitted == 0
    assert sync.pending_group_count == 0


def test_later_complete_group_waits_for_earlier_one():
    sync = make_sync(slop_s=0.050, max_wait_s=0.100)
    sync.add('cam1', 0, 'a0', 0)
    sync.add('cam2', 0, 'b0', 0)
    sync.add('cam3', 40 * MS, 'c0', 1 * MS)
    out = []
    for camera in ('cam1', 'cam2', 'cam4'):  # cam4 could still join the first group
        out += sync.add(camera, 45 * MS, camera, 2 * MS)
    # {cam1, cam2, cam3@40} at 0 is unfinished: cam4's 45 ms is within 0 + 50 ms slop, so a
    # later cam4 frame might still fit.  The later group must wait behind it.
    assert out == [] and sync.pending_group_count == 2
    out = sync.add('cam3', 46 * MS, 'cam3', 3 * MS)  # the later group is now complete
    assert out == []
    out = sync.poll(99 * MS)
    assert out == []
    out = sync.poll(100 * MS)  # the first group times out; both go, in stamp order
    assert [(g.stamp_ns, len(g.frames)) for g in out] == [(0, 3), (45 * MS, 4)]


def test_unfinishable_earlier_group_does_not_block():
    sync = make_sync(slop_s=0.010)
    sync.add('cam1', 0, 'a0', 0)
    out = []
    for camera in CAMERAS:  # a complete group 33 ms later
        out += sync.add(camera, PERIOD, camera, 1 * MS)
    # Once every camera's newest stamp is past 0 + slop the cam1-only group cannot grow: it
    # is dropped (1 view < 2) and the complete group follows at once.
    assert [(g.stamp_ns, len(g.frames)) for g in out] == [(PERIOD, 4)]
    assert sync.stats.dropped_incomplete == 1


def test_small_backward_jump_on_one_camera_is_dropped_as_stale():
    sync = make_sync()
    for frame in range(5):
        feed(sync, frame, base=START)
    # cam2's clock jumps back 0.5 s (less than reset_after_s = 2 s): its frames are stale.
    out = []
    for frame in range(5, 40):
        out += feed(sync, frame, base=START, offsets=[0, -500 * MS, 0, 0])[0]
    stats = sync.stats
    assert stats.resets == 0
    assert stats.dropped_stale == 35
    assert all('cam2' not in group.frames for group in out)
    stamps = [group.stamp_ns for group in out]
    assert stamps == sorted(set(stamps))
    # cam2 sends only unusable frames, so after max_wait it no longer holds the others up.
    assert stamps[-1] == START + 39 * PERIOD


def test_bag_restart_resets_once():
    sync = make_sync(reset_after_s=2.0, reset_confirm_frames=3)
    for frame in range(100):  # 3.3 s of data
        feed(sync, frame)
    last = sync.stats.emitted
    assert last == 100
    # The bag loops: stamps restart from 0 while the monotonic clock goes on.
    out = []
    for frame in range(100, 200):
        out += feed(sync, frame, base=-100 * PERIOD)[0]
    stats = sync.stats
    assert stats.resets == 1
    # Two cameras (min_views) need 3 rewound frames each: frames 100 and 101 of every
    # camera are lost, and cam1's frame 102; cam2's frame 102 confirms the reset.
    assert stats.dropped_stale == 4 + 4 + 1
    stamps = [group.stamp_ns for group in out]
    assert stamps == sorted(set(stamps)) and stamps[0] < 5 * PERIOD
    assert stamps[-1] == 99 * PERIOD


def test_single_glitched_stamp_does_not_reset():
    sync = make_sync()
    for frame in range(100):
        feed(sync, frame)
    sync.add('cam1', 0, 'glitch', 100 * PERIOD)  # one frame with a bogus stamp
    for frame in range(101, 110):
        feed(sync, frame)
    stats = sync.stats
    assert stats.resets == 0 and stats.dropped_stale == 1
    assert stats.emitted == 109  # frame 100 missed cam1's real frame but still had 3 views


def test_one_camera_clock_restart_is_dropped_not_reset():
    sync = make_sync()
    for frame in range(100):
        feed(sync, frame)
    for frame in range(100, 130):  # cam4's clock restarts at 0; the others carry on
        feed(sync, frame, offsets=[0, 0, 0, -100 * PERIOD])
    stats = sync.stats
    assert stats.resets == 0
    assert stats.dropped_stale == 30
    assert stats.emitted == 130


def test_duplicate_stamps_are_dropped():
    sync = make_sync()
    sync.add('cam1', 0, 'first', 0)
    assert sync.add('cam1', 0, 'again', 1 * MS) == []
    out = sync.add('cam2', 0, 'b', 2 * MS) + sync.poll(200 * MS)
    assert [group.frames['cam1'][1] for group in out] == ['first']
    assert sync.add('cam1', 0, 'after emit', 300 * MS) == []
    stats = sync.stats
    assert stats.dropped_duplicate == 2 and stats.dropped_stale == 0


def test_drift_beyond_slop_separates_camera():
    sync = make_sync(min_views=3)
    out = []
    for frame in range(20):  # cam4's clock runs 15 ms late, beyond the 10 ms slop
        out += feed(sync, frame, offsets=[0, 0, 0, 15 * MS])[0]
    out += sync.poll(20 * PERIOD + 200 * MS)
    assert len(out) == 20
    assert all(set(group.frames) == {'cam1', 'cam2', 'cam3'} for group in out)
    assert sync.stats.dropped_incomplete == 20  # cam4 alone each time


def test_buffers_are_bounded_when_one_camera_runs_ahead():
    sync = make_sync(max_buffer_per_camera=5, max_wait_s=10.0)
    sync.add('cam2', 0, 'b0', 0)  # cam2 alive but far behind; others never started
    for frame in range(1, 51):
        sync.add('cam1', frame * PERIOD, frame, frame * MS)
        assert max(sync.pending_frame_counts().values()) <= 5
        assert sync.pending_group_count <= 6
    stats = sync.stats
    # The camera that runs ahead loses its own earliest frames; cam2's frame stays pending.
    assert stats.dropped_flood == 50 - 5 and stats.dropped_overflow == 0
    assert sync.pending_frame_counts() == {'cam1': 5, 'cam2': 1, 'cam3': 0, 'cam4': 0}
    assert stats.emitted == 0


def test_pending_group_limit():
    sync = make_sync(max_buffer_per_camera=10, max_pending_groups=3, max_wait_s=10.0)
    for frame in range(12):  # every camera in turn, each frame far from the others
        sync.add(CAMERAS[frame % 4], frame * PERIOD, frame, frame * MS)
        assert sync.pending_group_count <= 3
    assert sync.stats.dropped_overflow == 9


def test_invalid_arguments():
    with pytest.raises(ValueError):
        FrameSynchronizer(['a', 'a'], 0.01, 0.1, 1)
    with pytest.raises(ValueError):
        FrameSynchronizer(['a', 'b'], 0.01, 0.1, 3)
    with pytest.raises(ValueError):
        FrameSynchronizer(['a', 'b'], -0.01, 0.1, 1)
    with pytest.raises(ValueError):
        FrameSynchronizer(['a', 'b'], 0.01, 0.1, 1, max_buffer_per_camera=0)
    with pytest.raises(ValueError, match='unknown camera'):
        make_sync().add('cam9', 0, None, 0)


_events = st.lists(
    st.tuples(
        st.integers(0, 2),  # camera
        st.integers(0, 400),  # stamp, ms
        st.integers(0, 300),  # arrival, ms
        st.booleans(),  # poll after this frame
    ),
    max_size=120,
)


@settings(max_examples=150, deadline=None)
@given(events=_events, min_views=st.integers(1, 3), slop=st.integers(0, 30),
       wait=st.integers(0, 80), per_camera=st.integers(1, 6), groups=st.integers(1, 8))
def test_properties_under_random_arrivals(events, min_views, slop, wait, per_camera, groups):
    cameras = ('a', 'b', 'c')
    sync = FrameSynchronizer(cameras, slop * 1e-3, wait * 1e-3, min_views,
                             max_buffer_per_camera=per_camera, max_pending_groups=groups,
                             reset_after_s=0.1, reset_confirm_frames=2)
    ids = itertools.count()
    emitted = []
    events = sorted(events, key=lambda event: event[2])  # in arrival order
    for camera, stamp, arrival, poll in events:
        out = sync.add(cameras[camera], stamp * MS, next(ids), arrival * MS)
        if poll:
            out += sync.poll(arrival * MS + 1)
        emitted += out
        assert sync.pending_group_count <= groups
        assert max(sync.pending_frame_counts().values()) <= per_camera
    emitted += sync.poll(10**12)
    assert sync.pending_group_count == 0
    items = [item for group in emitted for _, item in group.frames.values()]
    assert len(items) == len(set(items))  # each frame used at most once
    for group in emitted:
        stamps = [stamp for stamp, _ in group.frames.values()]
        assert group.stamp_ns == min(stamps)
        assert max(stamps) - min(stamps) <= slop * MS
        assert len(stamps) >= min_views
    # Strictly increasing, except across resets (each may restart the timeline once).
    descents = sum(b.stamp_ns <= a.stamp_ns for a, b in zip(emitted, emitted[1:]))
    stats = sync.stats
    assert descents <= stats.resets
    assert sum(stats.received.values()) == len(events)
    assert stats.emitted == len(emitted)


def test_reconfigure_keeps_the_timeline():
    """Changing slop, max_wait or min_views never emits a stamp twice or out of order."""
    sync = make_sync()
    out = []
    for frame in range(5):
        out += feed(sync, frame, CAMERAS[:3])[0]
    # cam4's frames of the same stamps come after the change: they can no longer be emitted.
    out += sync.reconfigure(6 * PERIOD, slop_s=0.02, max_wait_s=0.2, min_views=1)
    for frame in range(5):
        out += sync.add('cam4', frame * PERIOD, ('cam4', frame), 6 * PERIOD + frame)
    assert sync.stats.dropped_stale == 5
    for frame in range(5, 10):
        out += feed(sync, frame)[0]
    stamps = [group.stamp_ns for group in out]
    assert stamps == sorted(set(stamps)) and len(stamps) >= 9
    assert sync.stats.resets == 0


def test_reconfigure_refuses_bad_values_and_changes_nothing():
    sync = make_sync()
    for frame in range(3):
        feed(sync, frame)
    before = sync.stats
    for bad in ({'slop_s': float('inf')}, {'slop_s': float('nan')}, {'max_wait_s': -1.0},
                {'max_wait_s': 1e12}, {'min_views': 5}, {'min_views': 0}):
        arguments = {'slop_s': 0.01, 'max_wait_s': 0.1, 'min_views': 2, **bad}
        with pytest.raises(ValueError):
            sync.reconfigure(4 * PERIOD, **arguments)
    assert sync.stats == before
    assert [len(g.frames) for g in feed(sync, 3)[0]] == [4]  # same slop and min_views
    with pytest.raises(ValueError):
        FrameSynchronizer(CAMERAS, float('inf'), 0.1, 2)


def test_negative_stamps_are_refused_on_arrival():
    sync = make_sync()
    assert sync.add('cam1', -1, 'bad', 0) == [] and sync.last_drop == 'negative'
    assert sync.stats.dropped_negative == 1 and sync.pending_group_count == 0
    assert [len(g.frames) for g in feed(sync, 1)[0]] == [4]  # the camera is not harmed


def test_one_frame_stamped_far_ahead_costs_only_that_frame():
    sync = make_sync()
    out = []
    for frame in range(5):
        out += feed(sync, frame)[0]
    # cam4 sends one frame stamped an hour ahead, then goes on as before.
    out += sync.add('cam4', 3600 * 1000 * MS, 'glitch', 5 * PERIOD)
    for frame in range(5, 30):
        out += feed(sync, frame)[0]
    whole = [group for group in out if len(group.frames) == 4]
    # Only the group right after the glitch misses cam4, and when the glitch's own group times
    # out it stalls none of the live cameras: every other group is whole.
    assert len(out) == 30 and len(whole) == 29
    assert all(g.stamp_ns < 3600 * 1000 * MS for g in out)
    assert sync.stats.dropped_stale == 1 and sync.stats.dropped_incomplete == 1


def test_a_flooding_camera_costs_only_itself():
    """cam4 sends 10 frames for each of the others': the others' groups stay whole.

    The others' frames arrive 60 ms after their stamps, the flood's at once, so the flood's
    frames pile up while the others' groups wait for them.
    """
    sync = make_sync(max_buffer_per_camera=10)
    events = []
    for frame in range(60):
        stamp = START + frame * PERIOD
        events += [(frame * PERIOD + 60 * MS + index * MS, camera, stamp)
                   for index, camera in enumerate(CAMERAS[:3])]
        events += [(frame * PERIOD + sub * PERIOD // 10, 'cam4',
                    stamp + sub * PERIOD // 10 + MS // 2) for sub in range(10)]
    out = []
    for now, camera, stamp in sorted(events):
        out += sync.add(camera, stamp, camera, now)
        assert max(sync.pending_frame_counts().values()) <= 10
    out += sync.poll(10**12)
    with_others = [group for group in out if {'cam1', 'cam2', 'cam3'} <= set(group.frames)]
    assert len(with_others) == 60
    assert sync.stats.dropped_flood > 0 and sync.stats.dropped_overflow == 0


@settings(max_examples=150, deadline=None)
@given(events=st.lists(st.one_of(
    st.tuples(st.just('frame'), st.integers(0, 2), st.integers(-50, 400), st.integers(0, 300)),
    st.tuples(st.just('change'), st.integers(0, 30), st.integers(1, 80), st.integers(1, 3))),
    max_size=120))
def test_no_stamp_twice_across_reconfiguration(events):
    """Whatever arrives and however often it is reconfigured, no stamp is emitted twice."""
    sync = FrameSynchronizer(('a', 'b', 'c'), 0.01, 0.05, 2, max_buffer_per_camera=4,
                             reset_after_s=0.1, reset_confirm_frames=2)
    emitted, now = [], 0
    for event in events:
        if event[0] == 'frame':
            _, camera, stamp, delay = event
            now += delay * MS // 10
            emitted += sync.add('abc'[camera], stamp * MS, stamp, now)
        else:
            _, slop, wait, min_views = event
            emitted += sync.reconfigure(now, slop * 1e-3, wait * 1e-3, min_views)
    emitted += sync.poll(10**12)
    assert all(group.stamp_ns >= 0 for group in emitted)
    for before, after in zip(emitted, emitted[1:]):
        assert after.epoch >= before.epoch
        if after.epoch == before.epoch:
            assert after.stamp_ns > before.stamp_ns
    assert all(group.epoch <= sync.stats.resets for group in emitted)
