# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""How the live node paces its work: the newest-wins hand-over, rate-limited logs, statistics.

:class:`LatestMailbox` sits between the synchroniser and the fusion worker, so that a busy
worker drops groups instead of queueing them; :class:`StampGrid` picks the same frames in every
camera and every node of a rig when there is no time for all of them; :class:`KeyedThrottle`
and :func:`fault_kind` rate-limit repeated log lines; :class:`WindowStats` collects the counts
and latencies that ``/diagnostics`` reports.  Every structure here is bounded whatever the input.
"""

import collections
import re
import threading
import time
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

__all__ = ['KeyedThrottle', 'LatestMailbox', 'StampGrid', 'WindowStats', 'fault_kind']


class LatestMailbox:
    """A one-slot, thread-safe hand-over in which the newest item wins."""

    def __init__(self):
        self._condition = threading.Condition()
        self._item = None
        self._full = False
        self._closed = False
        self.dropped = 0
        """Items replaced by a newer one before anyone took them."""

    def put(self, item) -> bool:
        """Leave ``item`` for the taker; return True if it replaced (dropped) an older one."""
        with self._condition:
            replaced = self._full
            self.dropped += int(replaced)
            self._item, self._full = item, True
            self._condition.notify()
            return replaced

    def get(self, timeout: Optional[float] = None):
        """Take the item, waiting up to ``timeout`` seconds; None when empty or closed."""
        with self._condition:
            if not self._full and not self._closed:
                self._condition.wait(timeout)
            if not self._full:
                return None
            item, self._item, self._full = self._item, None, False
            return item

    def close(self):
        """Wake the taker for good: later :meth:`get` calls return at once."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed


class StampGrid:
    """Admit the first frame of each ``period_s`` slot of the stamp timeline, and no other.

    Slots are whole multiples of the period since the epoch of the stamps' clock, so every
    camera of a rig and every node that sees its frames (detector nodes on several hosts)
    picks the same stamps, with no message between them: cameras that stamp their frames
    alike (hardware-synchronised, or one driver) give complete groups at the slot rate,
    where detectors that each take whatever frame they have time for would detect different
    stamps.  A period of 0 admits every frame.  A stamp in an earlier slot than the last one
    admitted (a bag or a simulated clock starting over) starts the timeline afresh.
    """

    def __init__(self, period_s: float):
        self._period_ns = int(round(float(period_s) * 1e9))
        self._slot: Optional[int] = None

    def admits(self, stamp_ns: int) -> bool:
        """Whether the frame stamped ``stamp_ns`` is the first of a new slot (it is taken)."""
        if self._period_ns <= 0:
            return True
        slot = int(stamp_ns) // self._period_ns
        if self._slot is not None and slot == self._slot:
            return False
        self._slot = slot
        return True


class KeyedThrottle:
    """Allow one event per key and period, counting the ones held back (for rate-limited logs).

    Args:
        period_s: shortest time between two allowed events of one key, seconds.
        clock: monotonic clock in seconds.
        max_keys: keys remembered at most.
    """

    def __init__(self, period_s: float, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 1024):
        self._period = float(period_s)
        self._clock = clock
        self._max_keys = int(max_keys)
        self._last: Dict[object, float] = {}
        self._suppressed: Dict[object, int] = collections.Counter()

    def allow(self, key) -> Tuple[bool, int]:
        """Return ``(allowed, suppressed)``: whether to emit now, and how many were held back."""
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self._period:
            self._suppressed[key] += 1
            return False, 0
        if last is None and len(self._last) >= self._max_keys:
            self._forget(now)
        self._last[key] = now
        return True, self._suppressed.pop(key, 0)

    def __len__(self):
        """Return the number of keys remembered (at most ``max_keys``)."""
        return len(self._last)

    def _forget(self, now):
        """Drop the keys whose period is over, then the oldest, so that keys stay bounded.

        Keys may come from input (a sender that varies its fault) and must not grow for ever;
        a dropped key is only allowed again at once, as it would have been.
        """
        for key in [key for key, last in self._last.items() if now - last >= self._period]:
            del self._last[key]
            self._suppressed.pop(key, None)
        for key in sorted(self._last, key=self._last.get)[:len(self._last) - self._max_keys + 1]:
            del self._last[key]
            self._suppressed.pop(key, None)


def fault_kind(message: str) -> str:
    """Return the kind of a fault message, its text without numbers (a rate-limiting key).

    Two frames truncated to different lengths are one kind of fault; a truncated frame and a
    bad encoding are two, and each gets its own log line.
    """
    return re.sub(r'[-+]?[0-9][0-9.e+-]*', '#', message)[:80]


class WindowStats:
    """Thread-safe counts and latencies over a reporting window (for ``/diagnostics``)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._start = clock()
        self._counts: Dict[str, int] = collections.Counter()
        self._latencies: List[float] = []

    def count(self, key: str, amount: int = 1):
        """Add ``amount`` to the counter ``key``."""
        with self._lock:
            self._counts[key] += amount

    def latency(self, seconds: float):
        """Record one latency, seconds."""
        with self._lock:
            self._latencies.append(float(seconds))

    def take(self) -> Tuple[float, Dict[str, int], np.ndarray]:
        """Return ``(window seconds, counts, latencies (N,))`` and start a new window."""
        with self._lock:
            now = self._clock()
            window, self._start = now - self._start, now
            counts, self._counts = dict(self._counts), collections.Counter()
            latencies, self._latencies = np.asarray(self._latencies, dtype=float), []
        return window, counts, latencies
