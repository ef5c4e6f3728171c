# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Multi-camera frame synchroniser that fuses whichever views arrive.

Why not ``message_filters.ApproximateTimeSynchronizer``: it emits a set only when *every*
input has a message, so one stalled or dead camera silences the whole pipeline, and its
search over candidate sets grows as ``queue_size ** (N - 1)`` with N inputs.  SkelSplat's
point is to fuse whichever views exist (any two calibrated views constrain a 3D joint), so
this synchroniser emits groups with at least ``min_views`` cameras, waits a bounded time for
the rest, and never lets one camera block the others for longer than ``max_wait_s``.

Pure Python and clock-free: every call takes the frame stamp and the current time as
integer nanoseconds, so behaviour is deterministic and testable.  ``now_ns`` should come from
a monotonic clock (``time.monotonic_ns()``), not ROS time: it only measures waiting.  The
synchroniser treats it as never going backwards (it keeps the largest value seen).

Grouping rules:

- A group holds at most one frame per camera, and all its frames lie within ``slop_s`` of
  each other (``max stamp - min stamp <= slop``).  A new frame joins the pending group,
  lacking its camera, that it fits and whose earliest stamp is nearest (earlier group on
  ties); otherwise it starts a new group.
- ``FrameGroup.stamp_ns`` is the group's *earliest* frame stamp, a stamp one of the cameras
  really had (the mean would be a time no camera saw).  Groups are emitted in strictly
  increasing ``stamp_ns`` (between resets).
- A group is finished when every camera has contributed, or ``max_wait_s`` after its first
  frame arrived, or as soon as no missing camera is worth waiting for: one whose newest
  stamp is already past ``stamp + slop`` cannot fit any more (its frame was lost), and a
  *stalled* one is skipped.  A camera becomes stalled when a group that has ``min_views``
  frames times out waiting for it (a lone frame stamped far ahead stalls nobody), and stops
  being stalled when a frame of it arrives that is at most ``max_wait_s`` behind the last
  emitted stamp (one far behind means a late or skewed clock that waiting cannot fix); so a
  dead camera costs one ``max_wait_s`` delay, not one per group, whatever the frame rate.
- A finished group with at least ``min_views`` frames is emitted, otherwise it is dropped
  (``dropped_incomplete``).  Groups finish in stamp order: a group waits while an earlier one
  is unfinished, which delays it by at most ``max_wait_s``.  ``max_wait_s`` must exceed the
  spread of arrival latencies between cameras, or the slowest camera's frames come too late
  and are dropped as stale.
- A frame stamped at or before the last emitted stamp can no longer be emitted in order: it
  is dropped (``dropped_stale``).  A frame whose stamp equals one its camera already gave is
  dropped as a duplicate (``dropped_duplicate``).  Frames from a camera whose clock drifted
  beyond ``slop`` simply never share a group with the others.  A negative stamp (before the
  epoch: a driver or clock fault) is dropped on arrival (``dropped_negative``).
- A camera's *newest* stamp is that of its latest frame, not the largest it ever sent, so
  one frame stamped far ahead costs that frame only.
- :meth:`FrameSynchronizer.reconfigure` changes ``slop``, ``max_wait`` and ``min_views``
  and keeps the timeline, so the ordering rules hold across a change.

Time jumps: when a bag restarts or ``use_sim_time`` loops, every camera's stamps jump back
and would be stale forever.  A frame more than ``reset_after_s`` older than the last emitted
stamp starts (or extends) a *rewind streak* for its camera; any in-order frame from that
camera ends the streak.  Once at least ``min_views`` cameras each have
``reset_confirm_frames`` consecutive, increasing rewound frames, the new timeline is real
and shared by enough cameras to form groups: pending groups are flushed (emitted or
dropped as usual), the synchroniser forgets its history and counts a reset (``resets``),
and the frame that confirmed it starts the new timeline (the earlier streak frames stay
dropped as stale).  One glitched stamp cannot reset anything, and with ``min_views >= 2``
one camera whose clock restarted alone is only dropped as stale (it cannot be fused
anyway).  With ``min_views == 1`` such a camera triggers repeated resets, visible in
``resets``: fix its clock.

Memory is bounded: at most ``max_buffer_per_camera`` pending frames per camera and
``max_pending_groups`` pending groups.  A camera at its limit (one that sends much faster
than the others) loses its own earliest frame that no other camera joined
(``dropped_flood``), so a flooding camera costs only itself.  Otherwise, when a limit is hit
the earliest group is finished early (emitted if it has ``min_views`` frames, else dropped
as ``dropped_overflow``).
"""

import dataclasses
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

__all__ = ['DROP_REASONS', 'FrameGroup', 'FrameSynchronizer', 'SyncStats', 'stamp_ns']

_NS_PER_S = 1_000_000_000
# Why FrameSynchronizer.add dropped a frame (its ``last_drop``), in words for a log line.
DROP_REASONS = {
    'duplicate': 'its stamp repeats one this camera already sent',
    'late': 'it arrived after a later group was fused (latency above max_wait?)',
    'rewound': 'its stamp is far behind the fused timeline (clock jumped back or the camera '
               'restarted)',
    'negative': 'its stamp is negative, before 1970 (a driver or clock fault)',
    'flood': 'it sends frames much faster than the other cameras: its earliest frame that no '
             'other camera matched was dropped to bound its memory',
}
_MAX_SECONDS = 3600.0  # longest slop, wait or reset threshold: a larger one is a mistake


def stamp_ns(stamp) -> int:
    """Return a ROS stamp (``sec``, ``nanosec``: ``builtin_interfaces/Time``) in nanoseconds."""
    return stamp.sec * 1_000_000_000 + stamp.nanosec


@dataclasses.dataclass
class SyncStats:
    """Counters of a :class:`FrameSynchronizer`; frames and groups as named."""

    received: Dict[str, int]
    """Frames received per camera."""
    emitted: int = 0
    """Groups emitted."""
    dropped_stale: int = 0
    """Frames dropped because their stamp was at or before the last emitted stamp."""
    dropped_duplicate: int = 0
    """Frames dropped because their camera already gave that stamp."""
    dropped_negative: int = 0
    """Frames dropped because their stamp was negative (before the epoch)."""
    dropped_flood: int = 0
    """Frames dropped because their camera held ``max_buffer_per_camera`` pending frames."""
    dropped_incomplete: int = 0
    """Groups dropped because they finished with fewer than ``min_views`` frames."""
    dropped_overflow: int = 0
    """Groups with fewer than ``min_views`` frames dropped early because a buffer was full."""
    resets: int = 0
    """Times the synchroniser restarted after its cameras' clocks jumped back."""


@dataclasses.dataclass(frozen=True)
class FrameGroup:
    """Frames of several cameras taken at about the same time.

    Attributes:
        stamp_ns: the earliest stamp among the frames, in nanoseconds.
        frames: camera name -> ``(stamp_ns, item)`` for each contributing camera, in the
            synchroniser's camera order.
        epoch: the synchroniser's timeline: its number of resets when it emitted the group.
            Within one epoch, group stamps strictly increase.
    """

    stamp_ns: int
    frames: Mapping[str, Tuple[int, Any]]
    epoch: int = 0


class _PendingGroup:
    """A group still collecting frames."""

    __slots__ = ('frames', 'min_stamp', 'max_stamp', 'first_arrival')

    def __init__(self, camera, stamp, item, now):
        self.frames = {camera: (stamp, item)}
        self.min_stamp = self.max_stamp = stamp
        self.first_arrival = now

    def add(self, camera, stamp, item):
        self.frames[camera] = (stamp, item)
        self.min_stamp = min(self.min_stamp, stamp)
        self.max_stamp = max(self.max_stamp, stamp)


class FrameSynchronizer:
    """Group frames of several cameras by stamp; see the module docstring for the rules.

    Args:
        camera_names: the cameras, each a distinct name; the order of ``FrameGroup.frames``.
        slop_s: largest stamp difference within a group, seconds.
        max_wait_s: longest a group waits for missing cameras after its first frame arrived,
            seconds.
        min_views: fewest frames a group needs to be emitted (1 to the number of cameras).
        max_buffer_per_camera: most pending frames of one camera.
        max_pending_groups: most pending groups (default: ``max_buffer_per_camera`` times
            the number of cameras, so that one camera alone cannot fill it).
        reset_after_s: how far behind the last emitted stamp a frame must be to count
            towards a reset, seconds.
        reset_confirm_frames: consecutive rewound frames each of ``min_views`` cameras must
            give before a reset.
    """

    def __init__(self, camera_names: Sequence[str], slop_s: float, max_wait_s: float,
                 min_views: int, max_buffer_per_camera: int = 30,
                 max_pending_groups: Optional[int] = None, reset_after_s: float = 2.0,
                 reset_confirm_frames: int = 3):
        self._cameras = tuple(camera_names)
        if not self._cameras or len(set(self._cameras)) != len(self._cameras):
            raise ValueError(f'camera names must be non-empty and distinct: {camera_names!r}')
        if max_pending_groups is None:
            max_pending_groups = max_buffer_per_camera * len(self._cameras)
        if max_buffer_per_camera < 1 or max_pending_groups < 1 or reset_confirm_frames < 1:
            raise ValueError('buffer limits and reset_confirm_frames must be at least 1')
        if not 0 <= reset_after_s <= _MAX_SECONDS:
            raise ValueError(f'reset_after_s must be in [0, {_MAX_SECONDS}], got {reset_after_s}')
        self._configure(slop_s, max_wait_s, min_views)
        self._reset_after = round(reset_after_s * _NS_PER_S)
        self._max_per_camera = int(max_buffer_per_camera)
        self._max_groups = int(max_pending_groups)
        self._reset_confirm = int(reset_confirm_frames)
        self._stats = SyncStats(received=dict.fromkeys(self._cameras, 0))
        self._now = None
        self.last_drop: Optional[str] = None
        """Why :meth:`add` dropped its frame: ``'duplicate'``, ``'rewound'`` (far behind the
        emitted timeline: a clock that jumped back), ``'late'`` (at or just before the last
        emitted stamp), ``'negative'`` (a stamp before the epoch), or None when the frame was
        kept."""
        self._clear()

    def _configure(self, slop_s, max_wait_s, min_views):
        """Check and set the grouping parameters (ValueError before anything changes)."""
        for name, value in (('slop_s', slop_s), ('max_wait_s', max_wait_s)):
            # `not <=` also refuses NaN; inf would not convert to nanoseconds.
            if isinstance(value, bool) or not 0 <= value <= _MAX_SECONDS:
                raise ValueError(f'{name} must be in [0, {_MAX_SECONDS}] s, got {value!r}')
        if isinstance(min_views, bool) or min_views != int(min_views) \
                or not 1 <= min_views <= len(self._cameras):
            raise ValueError(f'min_views must be 1..{len(self._cameras)}, got {min_views!r}')
        self._slop = round(slop_s * _NS_PER_S)
        self._max_wait = round(max_wait_s * _NS_PER_S)
        self._min_views = int(min_views)

    def reconfigure(self, now_ns: int, slop_s: float, max_wait_s: float,
                    min_views: int) -> List[FrameGroup]:
        """Change the grouping parameters; return the pending groups this finished.

        The pending groups were formed under the old parameters, so they are finished at
        once (emitted, or dropped with fewer than the new ``min_views`` frames).  The timeline
        is kept: the last emitted stamp (no group is emitted twice or out of order across a
        change), each camera's newest stamp, stalled cameras, rewind streaks and the counters.

        Raises:
            ValueError: for a bad value; then nothing changed.
        """
        self._configure(slop_s, max_wait_s, min_views)
        self._advance(now_ns)
        emitted: List[FrameGroup] = []
        while self._pending:
            emitted += self._finish_head(overflow=False)
        return emitted

    def _clear(self):
        """Forget all timeline state (pending groups must already be finished)."""
        self._pending: List[_PendingGroup] = []
        self._pending_per_camera = dict.fromkeys(self._cameras, 0)
        self._last_emitted: Optional[int] = None
        self._newest: Dict[str, int] = {}
        self._stalled = set()
        self._rewind: Dict[str, Tuple[int, int]] = {}  # camera -> (streak length, last stamp)

    @property
    def camera_names(self) -> Tuple[str, ...]:
        """The cameras, in order."""
        return self._cameras

    @property
    def stats(self) -> SyncStats:
        """A copy of the counters."""
        return dataclasses.replace(self._stats, received=dict(self._stats.received))

    @property
    def pending_group_count(self) -> int:
        """Number of groups still collecting frames."""
        return len(self._pending)

    def pending_frame_counts(self) -> Dict[str, int]:
        """Pending frames per camera."""
        return dict(self._pending_per_camera)

    def add(self, camera: str, stamp_ns: int, item: Any, now_ns: int) -> List[FrameGroup]:
        """Add one frame and return the groups that became ready, oldest first.

        Args:
            camera: one of ``camera_names``.
            stamp_ns: the frame's capture stamp, nanoseconds.
            item: anything (image, detections); handed back in the group.
            now_ns: the current monotonic time, nanoseconds.

        Raises:
            ValueError: for an unknown camera.
        """
        if camera not in self._pending_per_camera:
            raise ValueError(f'unknown camera {camera!r}; expected one of {self._cameras}')
        stamp = int(stamp_ns)
        now = self._advance(now_ns)
        self._stats.received[camera] += 1
        self.last_drop = None
        if stamp < 0:
            # A stamp before the epoch is a driver or clock fault, not a time to fuse at.
            self._stats.dropped_negative += 1
            self.last_drop = 'negative'
            return self._release()
        if self._last_emitted is None or stamp > self._last_emitted - self._max_wait:
            self._stalled.discard(camera)  # alive, and recent enough to be worth waiting for
        emitted: List[FrameGroup] = []
        if self._is_duplicate(camera, stamp):
            self._stats.dropped_duplicate += 1
            self.last_drop = 'duplicate'
            return emitted + self._release()
        # Its latest stamp, late or not, rather than its largest: after one frame stamped far
        # ahead the camera would never be waited for again, and all its frames would be late.
        self._newest[camera] = stamp
        if self._last_emitted is not None and stamp <= self._last_emitted:
            rewound = stamp < self._last_emitted - self._reset_after
            if rewound and self._rewinds(camera, stamp):
                emitted += self.reset(now)
            else:
                self._stats.dropped_stale += 1
                self.last_drop = 'rewound' if rewound else 'late'
                return emitted + self._release()
        self._rewind.pop(camera, None)

        while self._pending_per_camera[camera] >= self._max_per_camera:
            emitted += self._shed(camera)
        group = self._best_group(camera, stamp)
        if group is None:
            while len(self._pending) >= self._max_groups:
                emitted += self._finish_head(overflow=True)
        if self._last_emitted is not None and stamp <= self._last_emitted:
            # Finishing groups early for room moved the emitted stamp past this frame.
            self._stats.dropped_stale += 1
            self.last_drop = 'late'
            return emitted + self._release()
        if group is None:
            self._pending.append(_PendingGroup(camera, stamp, item, now))
        else:
            group.add(camera, stamp, item)
        self._pending.sort(key=lambda pending: pending.min_stamp)
        self._pending_per_camera[camera] += 1
        return emitted + self._release()

    def poll(self, now_ns: int) -> List[FrameGroup]:
        """Return the groups that became ready by ``now_ns`` (timeouts, stalled cameras)."""
        self._advance(now_ns)
        return self._release()

    def reset(self, now_ns: int) -> List[FrameGroup]:
        """Finish every pending group, forget all history, count a reset; return the emitted.

        A caller may use it when it sees ROS time jump back; :meth:`add` calls it itself
        on a confirmed time jump (see the module docstring).
        """
        self._advance(now_ns)
        emitted: List[FrameGroup] = []
        while self._pending:
            emitted += self._finish_head(overflow=False)
        self._clear()
        self._stats.resets += 1
        return emitted

    def _advance(self, now_ns):
        """Move the internal time forward to ``now_ns`` (never back) and return it."""
        now = int(now_ns)
        if self._now is None or now > self._now:
            self._now = now
        return self._now

    def _is_duplicate(self, camera, stamp):
        """Whether ``camera`` already gave a frame stamped ``stamp`` (newest or pending)."""
        if self._newest.get(camera) == stamp:
            return True
        return any(group.frames.get(camera, (None,))[0] == stamp for group in self._pending)

    def _rewinds(self, camera, stamp):
        """Record a frame far behind the emitted timeline; return whether to reset now."""
        length, last = self._rewind.get(camera, (0, None))
        length = length + 1 if last is not None and stamp > last else 1
        self._rewind[camera] = (length, stamp)
        confirmed = sum(streak >= self._reset_confirm for streak, _ in self._rewind.values())
        return confirmed >= self._min_views

    def _shed(self, camera):
        """Make room for one frame of ``camera``, which holds its most pending frames.

        Its earliest frame that no other camera's frame joined goes (``dropped_flood``): a
        camera sending faster than the others costs only its own frames.  Only when all its
        pending frames share groups is the earliest group finished early, as for any overflow.
        """
        for index, group in enumerate(self._pending):
            if list(group.frames) == [camera]:
                del self._pending[index]
                self._pending_per_camera[camera] -= 1
                self._stats.dropped_flood += 1
                self.last_drop = 'flood'
                return []
        return self._finish_head(overflow=True)

    def _best_group(self, camera, stamp):
        """Return the pending group ``camera``'s frame at ``stamp`` should join, or None."""
        best, best_distance = None, None
        for group in self._pending:
            if camera in group.frames:
                continue
            if max(group.max_stamp, stamp) - min(group.min_stamp, stamp) > self._slop:
                continue
            distance = abs(stamp - group.min_stamp)
            if best is None or distance < best_distance:
                best, best_distance = group, distance
        return best

    def _awaited(self, group):
        """Return the missing cameras that might still contribute to ``group``."""
        awaited = []
        for camera in self._cameras:
            if camera in group.frames or camera in self._stalled:
                continue
            newest = self._newest.get(camera)
            if newest is not None and newest >= group.min_stamp + self._slop:
                continue  # its later frames can no longer fit this group
            awaited.append(camera)
        return awaited

    def _release(self):
        """Finish and return the ready groups at the head of the queue, oldest first."""
        emitted: List[FrameGroup] = []
        while self._pending:
            head = self._pending[0]
            awaited = self._awaited(head)
            if awaited:
                if self._now - head.first_arrival < self._max_wait:
                    break
                if len(head.frames) >= self._min_views:
                    # Only a group that can be emitted stalls the cameras it waited for: a
                    # lone frame stamped far ahead must not stall the live cameras.
                    self._stalled.update(awaited)
            emitted += self._finish_head(overflow=False)
        return emitted

    def _finish_head(self, overflow):
        """Remove the earliest pending group; return it as a one-element list if emitted."""
        group = self._pending.pop(0)
        for camera in group.frames:
            self._pending_per_camera[camera] -= 1
        if self._last_emitted is not None and group.min_stamp <= self._last_emitted:
            # Possible when a camera gave two frames within slop: emission must stay ordered.
            self._stats.dropped_stale += len(group.frames)
            return []
        if len(group.frames) < self._min_views:
            if overflow:
                self._stats.dropped_overflow += 1
            else:
                self._stats.dropped_incomplete += 1
            return []
        self._last_emitted = group.min_stamp
        self._stats.emitted += 1
        frames = {name: group.frames[name] for name in self._cameras if name in group.frames}
        return [FrameGroup(stamp_ns=group.min_stamp, frames=frames, epoch=self._stats.resets)]
