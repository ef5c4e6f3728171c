# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""``/diagnostics`` of the node and of ``skelsplat bag``: one status per camera, one for fusion.

:class:`NodeDiagnostics` keeps the live node's counters (per reporting window and over its
life) and builds its ``DiagnosticArray``; :func:`bag_statuses` builds the offline run's.  Both
describe the synchroniser and the solver with the same keys (:func:`sync_values`,
:func:`engine_values`).
"""

import time
from typing import Dict, Iterable, Mapping, Sequence

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
import numpy as np
from skelsplat_ros.live import CameraHealth, diagnose_camera, stamp_offsets
from skelsplat_ros.pacing import WindowStats
from skelsplat_ros.ros.conversions import capped
from std_msgs.msg import Header

__all__ = ['LEVELS', 'NodeDiagnostics', 'bag_statuses', 'detector_statuses', 'engine_values',
           'status', 'sync_values']

LEVELS = {'OK': DiagnosticStatus.OK, 'WARN': DiagnosticStatus.WARN,
          'ERROR': DiagnosticStatus.ERROR}


def status(name: str, level, message: str, values: Mapping[str, object],
           hardware_id: str) -> DiagnosticStatus:
    """Build one ``DiagnosticStatus``; values are written with ``str``, capped in length.

    Messages and values may quote input (a camera's frame_id, its last fault), so each is cut
    to :data:`skelsplat_ros.ros.conversions.ECHO_LIMIT` characters.
    """
    return DiagnosticStatus(level=level, name=name, message=capped(message),
                            hardware_id=hardware_id,
                            values=[KeyValue(key=k, value=capped(v)) for k, v in values.items()])


def sync_values(sync: Mapping[str, int]) -> Dict[str, int]:
    """Return the synchroniser's drop counters from its ``SyncStats`` field values."""
    return {'groups_dropped_incomplete': sync['dropped_incomplete'] + sync['dropped_overflow'],
            'frames_dropped_stale': sync['dropped_stale'],
            'frames_dropped_duplicate': sync['dropped_duplicate'],
            'frames_dropped_negative_stamp': sync['dropped_negative'],
            'frames_dropped_flood': sync['dropped_flood']}


def engine_values(engine, detector: str) -> Dict[str, str]:
    """Return the solver's device and objective, the detector parameter and the smoothing lag.

    ``smoothing_lag`` is in frame groups ('all' when a recording is smoothed as a whole).
    """
    lag = engine.smoothing_lag
    return {'solver_device': engine.device, 'solver_objective': engine.objective,
            'detector': detector, 'smoothing_lag': 'all' if lag is None else str(lag)}


class NodeDiagnostics:
    """The live node's counters and its ``/diagnostics`` report.

    ``stats`` counts per reporting window (keys ``frames/<camera>``, ``grouped/<camera>``,
    ``errors/<camera>``, ``published``, ``people``, ``diverged``, and latencies); ``totals``
    counts over the node's life (``fused``, ``empty``, ``errors``, ``diverged``,
    ``ahead_of_clock``: outputs whose stamp was later than the node's clock, so that their
    latency could not be measured).

    Latency is the node's clock at publication minus the group's camera stamp: wall time
    normally, ``/clock`` time under ``use_sim_time`` (``latency_clock`` says which), where it
    measures how far the outputs lag the simulated clock, not processing time.

    Args:
        node_name: the node's name, the prefix of the status names.
        hardware_id: the statuses' hardware id.
        clock: monotonic seconds.
    """

    def __init__(self, node_name: str, hardware_id: str, clock=time.monotonic):
        self.node_name = node_name
        self.hardware_id = hardware_id
        self._clock = clock
        self.stats = WindowStats(clock)
        self.totals = {'fused': 0, 'empty': 0, 'errors': 0, 'diverged': 0, 'ahead_of_clock': 0}

    def published(self, people: int, latency_s: float) -> bool:
        """Count one output of ``people`` people; return whether ``latency_s`` was counted.

        A negative latency (the stamp is later than the node's clock) is not a latency: it
        is counted in ``ahead_of_clock`` instead, and False tells the caller to say so.
        """
        self.totals['fused' if people else 'empty'] += 1
        self.stats.count('published')
        self.stats.count('people', people)
        if latency_s < 0:
            self.totals['ahead_of_clock'] += 1
            return False
        self.stats.latency(latency_s)
        return True

    def report(self, stamp, config, cameras: Mapping[str, object], engine,
               sync: Mapping[str, int], dropped_busy: int, last_views: Sequence[str],
               sim_time: bool = False, why_nobody: str = '') -> DiagnosticArray:
        """Build the report of the window that ends now, and start the next window.

        Args:
            stamp: ``builtin_interfaces/Time`` of the report.
            config: the node's :class:`skelsplat_ros.ros.params.NodeConfig`.
            cameras: name -> the node's state of that camera (``frame_id``, ``not_ready``,
                ``last_arrival``, ``last_stamp_ns``, ``last_error``, ``people_in_view``,
                ``outvoted``, ``merged``, ``lone``, ``poses_capped``, ``too_fast``).
            engine: the :class:`skelsplat_ros.live.FusionEngine`.
            sync: the synchroniser's counters (``SyncStats`` fields).
            dropped_busy: groups replaced by newer ones while the worker was busy.
            last_views: the cameras of the last fused group.
            sim_time: whether the node's clock is ``/clock`` (``use_sim_time``).
            why_nobody: why the last group that published nobody did
                (:func:`skelsplat_ros.live.nobody_message`).
        """
        window, counts, latencies = self.stats.take()
        ready = engine.ready_cameras()
        statuses = list(self._camera_statuses(config, cameras, ready, window, counts))
        statuses.append(self._fusion_status(config, ready, window, counts, latencies, {
            'groups_dropped_busy': dropped_busy, **sync_values(sync),
            'sync_resets': sync['resets'], 'views_in_last_group': ' '.join(last_views),
            'latency_clock': 'sim time (/clock)' if sim_time else 'system time',
            **engine_values(engine, config.detector)}, sync['emitted'],
            why_nobody))
        return DiagnosticArray(header=Header(stamp=stamp), status=statuses)

    def _camera_statuses(self, config, cameras, ready, window, counts):
        now = self._clock()
        offsets = stamp_offsets({name: state.last_stamp_ns for name, state in cameras.items()
                                 if state.last_stamp_ns is not None and state.last_arrival
                                 is not None and now - state.last_arrival <= config.input_timeout})
        grouped_any = {name for name in cameras if counts.get(f'grouped/{name}')}
        for name, state in cameras.items():
            frames = counts.get(f'frames/{name}', 0)
            health = CameraHealth(
                ready=name in ready, not_ready=state.not_ready,
                seconds_since_frame=None if state.last_arrival is None
                else now - state.last_arrival,
                frames=frames, grouped=counts.get(f'grouped/{name}', 0),
                faults=counts.get(f'errors/{name}', 0), last_fault=state.last_error,
                stamp_offset_s=offsets.get(name))
            level, message = diagnose_camera(health, config.input_timeout, config.slop,
                                             bool(grouped_any - {name}))
            if state.outvoted:
                message += '; it sees another person than the other cameras (left out)'
            if state.merged:
                message += (f'; {state.merged} detections over two people (merged?), left '
                            'out')
            if state.lone:
                message += f'; {state.lone} people seen by this camera only (not located)'
            if state.poses_capped:
                message += (f'; {state.people_in_view} people found, the limit of its detector '
                            '(detector_num_poses): more may be in view')
            offset = offsets.get(name)
            yield status(f'{self.node_name}: camera {name}', LEVELS[level], message, {
                'input_rate_hz': f'{frames / max(window, 1e-9):.2f}',
                'frames_grouped_in_window': health.grouped,
                'faults_in_window': health.faults,
                'messages_dropped_too_fast': state.too_fast,
                'last_fault': state.last_error,
                'stamp_offset_s': '' if offset is None else f'{offset:+.4f}',
                'people_in_view': state.people_in_view,
                'sees_another_person': state.outvoted,
                'detections_over_two_people': state.merged,
                'people_seen_by_this_camera_only': state.lone,
                'poses_capped': state.poses_capped,
                'frame_id': state.frame_id,
                'calibrated': name in ready,
            }, self.hardware_id)

    def _fusion_status(self, config, ready, window, counts, latencies, values, emitted,
                       why_nobody):
        published = counts.get('published', 0)
        latency = {}
        if latencies.size:
            p50, p95 = np.percentile(latencies, [50, 95])
            latency = {'latency_p50_s': f'{p50:.4f}', 'latency_p95_s': f'{p95:.4f}',
                       'latency_max_s': f'{latencies.max():.4f}'}
        needed = max(config.min_views, 2)
        if len(ready) < needed:
            level, message = (DiagnosticStatus.ERROR,
                              f'only {len(ready)} cameras usable, fusion needs {needed}')
        elif published == 0:
            level, message = DiagnosticStatus.WARN, 'no output in the last period'
            if counts.get('diverged'):
                message += f' ({counts["diverged"]} diverged fits rejected)'
        else:
            level, message = DiagnosticStatus.OK, f'{published / max(window, 1e-9):.1f} Hz'
            if not counts.get('people'):
                message += f', {why_nobody}'
        return status(f'{self.node_name}: fusion', level, message, {
            'output_rate_hz': f'{published / max(window, 1e-9):.2f}',
            'groups_emitted': emitted,
            'groups_fused': self.totals['fused'],
            'groups_without_person': self.totals['empty'],
            **values,
            'fusion_errors': self.totals['errors'],
            'fits_diverged': self.totals['diverged'],
            'outputs_ahead_of_clock': self.totals['ahead_of_clock'],
            **latency,
        }, self.hardware_id)


def bag_statuses(camera_names: Iterable[str], stats, ready: Sequence[str],
                 sync: Mapping[str, int], engine, detector: str) -> list:
    """Return the statuses of ``skelsplat bag``: frames per camera, groups fused in the run.

    Args:
        camera_names: the configured cameras.
        stats: the run's :class:`skelsplat_ros.ros.bag.BagStats` so far.
        ready: the calibrated cameras.
        sync: the synchroniser's counters (``SyncStats`` fields).
        engine: the fusion engine.
        detector: the detector parameter.
    """
    statuses = []
    for name in camera_names:
        calibrated = name in ready
        dropped = stats.frames_dropped[name]
        level = DiagnosticStatus.OK if calibrated and not dropped else (
            DiagnosticStatus.WARN if calibrated else DiagnosticStatus.ERROR)
        message = 'ok' if level == DiagnosticStatus.OK else \
            f'{dropped} frames dropped' if calibrated else 'not calibrated'
        statuses.append(status(f'skelsplat bag: camera {name}', level, message, {
            'frames': stats.frames_in[name], 'frames_dropped': dropped,
            'calibrated': calibrated}, 'skelsplat_bag'))
    level = DiagnosticStatus.OK if stats.groups_with_person else DiagnosticStatus.WARN
    statuses.append(status('skelsplat bag: fusion', level, f'{stats.groups} groups fused', {
        'groups_fused': stats.groups_with_person,
        'groups_without_person': stats.groups - stats.groups_with_person,
        **sync_values(sync), **engine_values(engine, detector)}, 'skelsplat_bag'))
    return statuses


def _milliseconds(values, quantile):
    return f'{np.quantile(values, quantile) * 1e3:.1f}' if len(values) else ''


def detector_statuses(stamp, node_name: str, config, cameras: Mapping[str, object],
                      detections: Mapping[str, object], stats, now: float) -> DiagnosticArray:
    """Build the detector node's report (one status per camera) and start the next window.

    Args:
        stamp: ``builtin_interfaces/Time`` of the report.
        node_name: the node's name, the prefix of the status names.
        config: its :class:`skelsplat_ros.ros.params.DetectorNodeConfig`.
        cameras: name -> its state (``last_arrival``, ``last_error``, ``frame_id``,
            ``not_ready``).
        detections: name -> its :class:`skelsplat_ros.ros.detection.CameraDetection`.
        stats: the node's window counters (``frames/``, ``detected/``, ``errors/<camera>``).
        now: monotonic seconds.
    """
    window, counts, _ = stats.take()
    window = max(window, 1e-9)
    statuses = []
    for name, state in cameras.items():
        detection = detections[name]
        _, _, latencies = detection.latencies.take()
        _, _, durations = detection.durations.take()
        frames = counts.get(f'frames/{name}', 0)
        faults = counts.get(f'errors/{name}', 0)
        since = None if state.last_arrival is None else now - state.last_arrival
        if since is None:
            level, message = 'ERROR', 'no image received yet'
        elif since > config.input_timeout:
            level, message = 'ERROR', f'stalled: no image for {since:.1f} s'
        elif faults:
            level, message = 'WARN', f'{faults} frames dropped: {state.last_error}'
        else:
            level, message = 'OK', 'detecting'
        statuses.append(status(f'{node_name}: camera {name}', LEVELS[level], message, {
            'input_rate_hz': f'{frames / window:.2f}',
            'output_rate_hz': f"{counts.get(f'detected/{name}', 0) / window:.2f}",
            'frames_dropped_busy': detection.mailbox.dropped,
            'latency_median_ms': _milliseconds(latencies, 0.5),
            'latency_p95_ms': _milliseconds(latencies, 0.95),
            'detection_median_ms': _milliseconds(durations, 0.5),
            'faults_in_window': faults,
            'last_fault': state.last_error,
            'people_in_view': detection.people_in_view,
            'frame_id': state.frame_id,
            'camera_info': state.not_ready or 'ok',
            'detector': config.detector,
        }, node_name))
    return DiagnosticArray(header=Header(stamp=stamp), status=statuses)
