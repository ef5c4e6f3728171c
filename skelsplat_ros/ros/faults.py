# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Rate-limited fault and event log lines of the nodes, counted for ``/diagnostics``.

The fusion node (:mod:`skelsplat_ros.ros.node`) and the detector node
(:mod:`skelsplat_ros.ros.detector_node`) log a repeated fault at most once per key (camera and
fault kind) every :data:`LOG_PERIOD_S`, say how many were suppressed, keep the camera's last
fault for its diagnostics status and count it in the window statistics.
"""

import re

from skelsplat_ros.pacing import fault_kind, KeyedThrottle
from skelsplat_ros.ros.conversions import capped

__all__ = ['FaultLog', 'LOG_PERIOD_S', 'fault_key']

LOG_PERIOD_S = 5.0        # rate limit of repeated log lines, per camera and fault kind
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")  # what !r quotes


def fault_key(error: str) -> str:
    """Return the rate-limiting key of a fault: its kind, without the input it quotes.

    A sender controls quoted input (an encoding, a distortion model): with it in the key, each
    new value would get a log line of its own and a throttle entry that is never freed.
    """
    return fault_kind(_QUOTED.sub("'...'", error))


class FaultLog:
    """Log faults and notes at most once per key and period; count faults per camera.

    Args:
        logger: the node's logger.
        stats: the node's :class:`skelsplat_ros.pacing.WindowStats` (``errors/<camera>``).
        states: camera name -> its state, whose ``last_error`` a camera's fault sets.
        period_s: the rate limit of each key's lines.
    """

    def __init__(self, logger, stats, states, period_s: float = LOG_PERIOD_S):
        self._logger = logger
        self._stats = stats
        self._states = states
        self._throttle = KeyedThrottle(period_s)

    def warn(self, key, message: str, camera=None):
        """Log ``message`` as a warning at most once per ``key``; count it against ``camera``."""
        message = capped(message)
        if camera is not None:
            self._states[camera].last_error = message
            self._stats.count(f'errors/{camera}')
        allowed, suppressed = self._throttle.allow(key)
        if allowed:
            more = f' ({suppressed} more like this since the last report)' if suppressed else ''
            self._logger.warning(message + more)

    def note(self, key, message: str):
        """Log an expected, non-fault event at most once per ``key``."""
        if self._throttle.allow(key)[0]:
            self._logger.info(capped(message))
