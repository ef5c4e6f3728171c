# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""One camera's detection in the detector node: newest image in, ``Keypoints2D`` out.

The executor thread only leaves each image in a one-slot mailbox
(:class:`skelsplat_ros.pacing.LatestMailbox`); one worker thread per camera converts and
detects it with the fusion node's own pieces (:func:`skelsplat_ros.ros.conversions.frame_keypoints`
on a :class:`skelsplat_ros.live.FusionEngine` that only detects) and publishes flat keypoints
with the image's header.  When the detector is slower than the camera, the images it had no
time for are replaced, never queued (``mailbox.dropped`` counts them).
"""

import threading
import time

from skelsplat_ros import imaging
from skelsplat_ros.pacing import LatestMailbox, StampGrid, WindowStats
from skelsplat_ros.ros import conversions
from skelsplat_ros.ros.faults import fault_key

__all__ = ['CameraDetection', 'image_size']


def image_size(msg):
    """Return ``(width, height)`` of an Image, or that a CompressedImage's header declares.

    Raises:
        skelsplat_ros.imaging.ImageConversionError: a compressed payload without a size.
    """
    if hasattr(msg, 'format'):
        return imaging.compressed_size(msg.data)
    return msg.width, msg.height


class CameraDetection:
    """Detect camera ``name``'s newest image on a worker thread and publish its keypoints.

    Args:
        name: the camera.
        engine: the node's detection-only :class:`skelsplat_ros.live.FusionEngine`.
        skeleton_format: the ``Keypoints2D.skeleton_format`` of the engine's skeleton.
        publish: called with each ``Keypoints2D``.
        faults: the node's :class:`skelsplat_ros.ros.faults.FaultLog`.
        stats: the node's window counters (``detected/<name>``, ``people/<name>``).
        now_ns: the node clock, nanoseconds (the latency is now minus the image stamp).
        detection_period: the node's ``detection_period``, seconds (0: every image).
    """

    def __init__(self, name, engine, skeleton_format, publish, faults, stats, now_ns,
                 detection_period=0.0):
        self.name = name
        self.mailbox = LatestMailbox()
        self._grid = StampGrid(detection_period)
        self.latencies = WindowStats()   # image stamp -> published, on the node clock
        self.durations = WindowStats()   # arrival -> published: conversion and detection
        self.people_in_view = 0
        self._engine = engine
        self._format = skeleton_format
        self._publish = publish
        self._faults = faults
        self._stats = stats
        self._now_ns = now_ns
        self._thread = threading.Thread(target=self._work, name=f'skelsplat_detect_{name}',
                                        daemon=True)
        self._thread.start()

    def put(self, msg):
        """Leave ``msg`` (an Image or CompressedImage) for the worker; the newest wins.

        With a ``detection_period``, only the first image of each period of the stamp timeline
        (:class:`skelsplat_ros.pacing.StampGrid`); the others are not detected.
        """
        stamp = msg.header.stamp
        if self._grid.admits(stamp.sec * 1_000_000_000 + stamp.nanosec):
            self.mailbox.put((msg, time.monotonic()))

    def close(self):
        """Stop the worker thread (it finishes the image at hand)."""
        self.mailbox.close()
        self._thread.join(timeout=10.0)

    def _work(self):
        while not self.mailbox.closed:
            item = self.mailbox.get(timeout=0.2)
            if item is not None:
                self._detect(*item)

    def _detect(self, msg, arrival):
        name = self.name
        try:
            width, height = image_size(msg)
            people = conversions.frame_keypoints(self._engine, name, msg)
        except Exception as error:  # noqa: B902 - a bad frame or a detector error: skip it
            text = str(error) if isinstance(error, ValueError) and str(error) \
                else f'{error.__class__.__name__}: {error}'
            self._faults.warn(('frame', name, fault_key(text)), f'{name}: frame dropped: {text}',
                              camera=name)
            return
        self._publish(conversions.keypoints_msg(people, self._format, msg.header.stamp,
                                                msg.header.frame_id, width, height, flat=True))
        self.people_in_view = len(people)
        self._stats.count(f'detected/{name}')
        self.durations.latency(time.monotonic() - arrival)
        stamp = msg.header.stamp
        latency = (self._now_ns() - (stamp.sec * 1_000_000_000 + stamp.nanosec)) * 1e-9
        if latency >= 0:  # a camera clock ahead of ours gives no latency
            self.latencies.latency(latency)
