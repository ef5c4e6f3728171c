# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Several people: cross-view association, per-person fitting and stable ids.

Synthetic (:mod:`scenes` of the benchmarks): three copies of the pose2sim motion, shifted by
about 1 m and time-offset, seen through the real cameras (joints outside an image, or behind a
nearer person's body there, are not detected).  Real: the pose2sim 0.8.4 multi-participant
trial, which has no 3D reference.
"""

import collections
import dataclasses
import importlib
import pathlib
import sys

import numpy as np
import pytest
from skelsplat_ros import tracking
from skelsplat_ros.association import associate, associate_detections, split_people
from skelsplat_ros.cameras import load_calibration
from skelsplat_ros.cli import load_keypoint_frames, main
from skelsplat_ros.live import FusionEngine
from skelsplat_ros.skeletons import COCO17, HALPE26
from skelsplat_ros.solver import SolverConfig
from skelsplat_ros.tracking import MultiPersonTracker

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / 'bench'))
protocols = importlib.import_module('protocols')
scenes = importlib.import_module('scenes')

OFFSETS = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.8, -0.7, 0.0]])   # metres
TIME_OFFSET = 25                                                              # frames
CALIBRATION = 'pose2sim-0.4.15/Pose2Sim/Demo/calibration/Calib_qualisys.toml'
TRIAL = ('pose2sim-0.8.4/Pose2Sim/S00_Demo_BatchSession/S00_P01_MultiParticipants/'
         'S00_P01_T02_Participants1-2/pose')


@pytest.fixture(scope='module')
def scene(data_root):
    cameras, truth, motion = protocols.load_demo(data_root)
    people = [scenes.Person(offset=offset, time_offset=TIME_OFFSET * p)
              for p, offset in enumerate(OFFSETS)]
    return scenes.Scene(cameras, truth, motion, people, noise_px=2.0, confidence=(0.9, 0.9))


def _views(scene, frame, people, rng, unseen=()):
    """Shuffled detections of ``people`` per view, and which person each detection is."""
    detected = scene.frame(frame, rng, present=people, unseen=unseen)
    return detected.views, detected.labels


def _groups(assignment, labels):
    """Return the person numbers that each associated person's detections come from."""
    return [{labels[v][i] for v, i in enumerate(row) if i >= 0} for row in assignment]


def test_association_recovers_each_person_from_shuffled_partial_views(scene):
    cameras = scene.cameras
    rng = np.random.default_rng(1)
    for frame in range(0, 100, 5):
        # Person 1 missing from view 0 and person 2 from view 3: different counts per view.
        views, labels = _views(scene, frame, [0, 1, 2], rng, unseen={(1, 0), (2, 3)})
        assignment = associate(cameras, views)
        groups = _groups(assignment, labels)
        assert sorted(len(g) for g in groups) == [1, 1, 1], (frame, groups)
        assert sorted(next(iter(g)) for g in groups) == [0, 1, 2]
        people = split_people(views, assignment)
        for row, person in zip(assignment, people):
            assert [len(p) for p in person] == [int(i >= 0) for i in row]


def test_association_keeps_a_person_seen_by_one_view_out(scene):
    cameras = scene.cameras
    rng = np.random.default_rng(2)
    views, labels = _views(scene, 0, [0, 1], rng,
                           unseen={(1, 1), (1, 2), (1, 3)})
    groups = _groups(associate(cameras, views), labels)
    assert groups == [{0}]


def test_tracks_keep_their_ids_and_a_returning_person_gets_its_id_back(scene):
    cameras = scene.cameras
    rng = np.random.default_rng(3)
    tracker = MultiPersonTracker(cameras, SolverConfig(objective='analytic'))
    ids_of = collections.defaultdict(list)            # person -> track id per reported frame
    errors_mm = collections.defaultdict(list)
    located = collections.defaultdict(list)
    reported = []
    for frame in range(100):
        people = [0, 2] if 40 <= frame < 50 else [0, 1, 2]    # person 1 leaves for 10 frames
        views, labels = _views(scene, frame, people, rng)
        results = tracker.update(views)
        reported.append(sorted(track_id for track_id, _ in results))
        for track_id, estimate in results:
            used = {labels[v][i] for v, i in enumerate(estimate.person_index) if i >= 0}
            assert len(used) == 1, 'a fit took detections of two people'
            person = used.pop()
            ids_of[person].append(track_id)
            truth_now = scene.truth_at(person, frame)
            # Joints triangulable here: seen by two views (one view only gives a ray).
            known = np.isfinite(truth_now).all(axis=1) & (estimate.num_views >= 2)
            located[person].append(known.sum())
            errors_mm[person].extend(
                1000 * np.linalg.norm(estimate.positions[known] - truth_now[known], axis=1))
    # Every person is confirmed after the birth frames and keeps one id: no switches, and the
    # person who left is re-identified by position under its old id.
    for person in range(3):
        assert len(set(ids_of[person])) == 1, (person, set(ids_of[person]))
    assert len({ids_of[p][0] for p in range(3)}) == 3
    assert all(len(ids) == 3 for ids in reported[5:40] + reported[52:])
    assert all(len(ids) == 2 for ids in reported[40:50])
    assert len(ids_of[1]) >= 100 - 10 - 5
    for person in range(3):
        print(f'person {person}: MPJPE {np.mean(errors_mm[person]):.1f} mm over '
              f'{np.mean(located[person]):.1f} of 13 joints, track id {ids_of[person][0]}')
        assert np.mean(errors_mm[person]) < 15.0, (person, np.mean(errors_mm[person]))


def test_a_view_without_detections_may_be_given_in_any_empty_shape(scene):
    # With people tracked (the merged-detection check runs over every view), an empty view
    # given as [] or as an empty 1-D array is a view that sees nobody, as (0, 17, 3) is.
    rng = np.random.default_rng(8)
    frames = [_views(scene, frame, [0, 1, 2], rng)[0] for frame in range(8)]
    results = {}
    for name, empty in (('shaped', np.zeros((0, 17, 3))), ('list', []),
                        ('flat', np.zeros((0,)))):
        tracker = MultiPersonTracker(scene.cameras, SolverConfig(objective='analytic'))
        for views in frames[:6]:
            tracker.update(views)
        assert len(tracker.active_ids) == 3
        results[name] = [tracker.update([empty] + list(views[1:])) for views in frames[6:]]
    for name in ('list', 'flat'):
        for got, expected in zip(results[name], results['shaped']):
            assert [i for i, _ in got] == [i for i, _ in expected]
            for (_, a), (_, b) in zip(got, expected):
                np.testing.assert_allclose(a.positions, b.positions, atol=1e-12)


def test_a_crowded_view_costs_bounded_time_and_keeps_the_confident_people(scene, monkeypatch):
    cameras = scene.cameras
    sizes = []

    def association_spy(rig, detections, *args, **options):
        sizes.append(max(len(conf) for _, conf in detections))
        return associate_detections(rig, detections, *args, **options)

    monkeypatch.setattr(tracking, 'associate_detections', association_spy)
    rng = np.random.default_rng(5)
    config = tracking.TrackerConfig(max_people_per_view=3)
    capped = MultiPersonTracker(cameras, SolverConfig(objective='analytic'), config)
    plain = MultiPersonTracker(cameras, SolverConfig(objective='analytic'))
    for frame in range(6):
        views, labels = _views(scene, frame, [0, 1, 2], rng)
        # 200 faint detections of nobody in view 0, shuffled in among the people.
        clutter = np.concatenate([rng.uniform(0, 1000, (200, 17, 2)),
                                  np.full((200, 17, 1), 0.2)], axis=-1)
        crowded = np.concatenate([clutter[:100], views[0], clutter[100:]])
        results = capped.update([crowded] + list(views[1:]))
        assert sizes.pop() == 3     # association, quadratic in detections, saw the 3 best
        expected = plain.update(views)
        assert [track_id for track_id, _ in results] == [track_id for track_id, _ in expected]
        for (_, estimate), (_, reference) in zip(results, expected):
            # The same people, fitted alike, and indexes into the detections as given.
            np.testing.assert_allclose(estimate.positions, reference.positions, atol=1e-9)
            index = estimate.person_index[0]
            assert index == -1 or (100 <= index < 100 + len(views[0]))
            assert index == (-1 if reference.person_index[0] < 0
                             else reference.person_index[0] + 100)


def test_a_larger_skeleton_tracks_the_joints_it_shares_alike(scene):
    # The scene's COCO-17 detections in the HALPE-26 layout (its other joints undetected),
    # with a person away for three frames: the same ids, and the shared joints where the
    # COCO-17 tracker puts them.
    config = SolverConfig(objective='analytic')
    coco = MultiPersonTracker(scene.cameras, config)
    halpe = MultiPersonTracker(scene.cameras, config, skeleton=HALPE26)
    shared = COCO17.index_in(HALPE26.joint_names)
    rng = np.random.default_rng(8)
    reported = 0
    for frame in range(14):
        people = [0, 2] if 6 <= frame < 9 else [0, 1, 2]
        views, _ = _views(scene, frame, people, rng)
        expected = coco.update(views)
        got = halpe.update([HALPE26.from_keypoints(view, COCO17.joint_names)
                            for view in views])
        assert [track_id for track_id, _ in got] == [track_id for track_id, _ in expected]
        for (_, estimate), (_, reference) in zip(got, expected):
            np.testing.assert_allclose(estimate.positions[shared], reference.positions,
                                       atol=1e-9)
            assert estimate.positions.shape == (HALPE26.num_joints, 3)
        reported += len(got)
    assert reported >= 20


def test_a_lost_track_is_forgotten_after_the_re_identification_window(scene):
    cameras = scene.cameras
    rng = np.random.default_rng(4)
    tracker = MultiPersonTracker(cameras, SolverConfig(objective='analytic'))
    tracker.config.max_missed_frames = 5
    for frame in range(5):
        tracker.update(_views(scene, frame, [0], rng)[0])
    assert tracker.active_ids == [0]
    for frame in range(5, 12):
        assert tracker.update(_views(scene, frame, [], rng)[0]) == []
    assert tracker.active_ids == []
    for frame in range(12, 16):
        results = tracker.update(_views(scene, frame, [0], rng)[0])
    assert [track_id for track_id, _ in results] == [1]     # ids are never reused


@pytest.fixture(scope='module')
def trial(data_root):
    cameras = load_calibration(data_root / CALIBRATION)
    directories = [data_root / TRIAL / f'cam0{i}_json' for i in range(1, 5)]
    return cameras, directories, load_keypoint_frames(directories, 'body25b')


def test_the_real_multi_participant_trial(trial):
    cameras, _, frames = trial
    tracker = MultiPersonTracker(cameras, SolverConfig(objective='analytic'))
    found, errors = [], collections.defaultdict(list)
    detections_of = collections.defaultdict(list)    # track id -> (view, detection) per frame
    for views in frames:
        results = tracker.update(views)
        found.append(len(results))
        for track_id, estimate in results:
            errors[track_id].append(estimate.mean_reprojection_error)
            detections_of[track_id].append(estimate.person_index)
    # Both participants are in all four views; cameras 1 and 2 also see a third person.
    visible_in_two_views = [sum(1 for _ in associate(cameras, views)) for views in frames]
    assert min(visible_in_two_views) >= 2
    assert np.mean(np.array(found[5:]) == np.array(visible_in_two_views[5:])) > 0.9
    # Few ids over the trial: each person keeps one (a new id would be a switch).
    assert len(errors) <= max(visible_in_two_views) + 1
    for track_id, values in errors.items():
        if len(values) > 20:
            assert np.nanmedian(values) < 20.0, (track_id, np.nanmedian(values))


def test_cli_multi_person_writes_one_track_per_person(trial, data_root, tmp_path):
    _, directories, _ = trial
    output = tmp_path / 'people.npz'
    assert main(['solve', '--calibration', str(data_root / CALIBRATION), '--keypoints',
                 *map(str, directories), '--output', str(output), '--multi-person',
                 '--frames', '30', '--quiet']) == 0
    with np.load(output) as data:
        positions, confidence, track_ids = data['positions'], data['confidence'], \
            data['track_ids']
    assert positions.shape == (30, len(track_ids), 17, 3)
    assert confidence.shape == (30, len(track_ids), 17)
    assert list(track_ids) == sorted(set(track_ids.tolist()))
    # Each frame after the birth frames has its people, and they stand apart.
    located = np.isfinite(positions).all(axis=-1).any(axis=-1)          # (F, T)
    assert (located[5:].sum(axis=1) >= 2).all()
    centres = np.nanmean(positions[10], axis=1)
    centres = centres[np.isfinite(centres).all(axis=1)]
    gaps = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    assert gaps[~np.eye(len(centres), dtype=bool)].min() > 0.3


def test_fitting_the_people_together_changes_no_id_and_no_position(scene, monkeypatch):
    # The rendered fits of a frame's people share one batched render per step; each person's
    # fit must come out as it would alone (the tracker fitted one person after the other), and
    # each solver's start, taken from the tracker's RANSAC, as the solver's own RANSAC; the
    # detections the tracker observed once, as each solver's own observation of them.
    def track():
        rng = np.random.default_rng(6)
        tracker = MultiPersonTracker(scene.cameras, SolverConfig(objective='rendered'))
        return [tracker.update(_views(scene, frame, [0, 1, 2], rng)[0]) for frame in range(6)]

    together = track()
    monkeypatch.setattr(tracking, 'solve_people',
                        lambda solvers, keypoints, stamp=None, earlier=None, observed=None: [
                            solver.solve(people) for solver, people in zip(solvers, keypoints)])
    alone = track()
    # Three people apart: each association is unambiguous, so each is reported at once.
    assert [len(results) for results in together] == [3, 3, 3, 3, 3, 3]
    for results, expected in zip(together, alone):
        assert [track_id for track_id, _ in results] == [track_id for track_id, _ in expected]
        for (_, estimate), (_, reference) in zip(results, expected):
            np.testing.assert_allclose(estimate.positions, reference.positions, rtol=0,
                                       atol=1e-6)


def test_ids_are_never_reused_after_a_reset_or_new_cameras(scene):
    cameras = scene.cameras
    rng = np.random.default_rng(5)

    def ids(update, frames):
        return {track_id for frame in frames for track_id, _ in
                update(_views(scene, frame, [0, 1], rng)[0])}

    tracker = MultiPersonTracker(cameras, SolverConfig(objective='analytic'))
    assert ids(tracker.update, range(5)) == {0, 1}
    tracker.reset()
    assert tracker.active_ids == []
    assert ids(tracker.update, range(5, 10)) == {2, 3} and tracker.next_id == 4

    # The live engine resets its tracker (clock jumps, diverged fits) and rebuilds it over new
    # cameras: either way the people afterwards get new ids.
    names = [camera.name for camera in cameras]
    engine = FusionEngine(names, detector=None, device='cpu', notify=lambda line: None,
                          solver_config=SolverConfig(objective='analytic'), multi_person=True)
    for camera in cameras:
        engine.set_camera(camera.name, camera)

    def engine_update(views):
        return engine.track(dict(zip(names, views)))[0]

    assert ids(engine_update, range(5)) == {0, 1}
    engine.reset()
    assert ids(engine_update, range(5, 10)) == {2, 3}
    engine.set_camera(names[0], dataclasses.replace(cameras[0]))    # recalibrated
    assert ids(engine_update, range(10, 15)) == {4, 5}


def _reference_tracks(cameras, frames):
    """Track id -> {frame: detection index per view} from a tracker on the unmodified trial."""
    tracker = MultiPersonTracker(cameras, SolverConfig(objective='analytic'))
    detections = collections.defaultdict(dict)
    positions = collections.defaultdict(dict)
    for frame, views in enumerate(frames):
        for track_id, estimate in tracker.update(views):
            detections[track_id][frame] = estimate.person_index
            positions[track_id][frame] = estimate.positions
    return detections, positions


def _drop(views, view, index):
    """Return the views with one detection's confidences zeroed (indexes kept): undetected."""
    views = [np.array(people, dtype=float) for people in views]
    views[view][index, :, 2] = 0.0
    return views


def test_people_are_published_at_once_unless_their_association_is_ambiguous(trial):
    cameras, _, frames = trial
    tracker = MultiPersonTracker(cameras, SolverConfig(objective='analytic'))
    # The real trial's people (two participants, a bystander in two views) are apart: every
    # one is published from the first frame.
    assert [track_id for track_id, _ in tracker.update(frames[0])] == [0, 1, 2]
    assert tracker.next_id == 3

    # A second detection of one person, 15 px off, in one view: either could be that
    # person's, so the person waits the birth frames; the others do not.
    detections, _ = _reference_tracks(cameras, frames[:6])
    doubled_id = 1
    tracker = MultiPersonTracker(cameras, SolverConfig(objective='analytic'))
    reported = []
    for frame in range(5):
        views = [np.array(people, dtype=float) for people in frames[frame]]
        index = detections[doubled_id][frame][0]
        copy = views[0][index].copy()
        copy[:, :2] += 15.0
        views[0] = np.concatenate([views[0], copy[None]])
        reported.append([track_id for track_id, _ in tracker.update(views)])
    birth = tracker.config.birth_frames
    assert all(len(ids) == 2 for ids in reported[:birth - 1]), reported
    assert all(len(ids) == 3 for ids in reported[birth - 1:]), reported
    # The delayed person got the next id: ids stay unique and increasing.
    assert reported[birth - 1] == [0, 1, 2] and tracker.next_id == 3


def test_a_person_seen_by_one_camera_is_reported_from_that_camera_alone(trial):
    cameras, _, frames = trial
    detections, positions = _reference_tracks(cameras, frames[:30])
    tracker = MultiPersonTracker(cameras, SolverConfig(objective='analytic'))
    person = 0
    kept = int(np.flatnonzero(detections[person][10] >= 0)[0])   # the camera that still sees
    for frame in range(30):
        views = frames[frame]
        alone = 10 <= frame < 20
        if alone:
            for view, index in enumerate(detections[person][frame]):
                if view != kept and index >= 0:
                    views = _drop(views, view, index)
        results = dict(tracker.update(views))
        assert sorted(results) == sorted(positions_id for positions_id in positions
                                         if frame in positions[positions_id])
        estimate = results[person]
        if not alone:
            assert (estimate.person_index >= 0).sum() >= 2
            assert tracker.notes.single_view == ()
            continue
        # The one camera, named by its detection; never another person's detection.
        expected = np.full(len(cameras), -1)
        expected[kept] = detections[person][frame][kept]
        np.testing.assert_array_equal(estimate.person_index, expected)
        assert tracker.notes.single_view == (person,)
        seen = estimate.num_views > 0
        assert seen.sum() >= 8 and estimate.num_views.max() == 1
        assert estimate.confidence.max() <= 0.25
        # Its joints lie on that camera's rays near where the four views put them.
        gaps = np.linalg.norm(estimate.positions[seen] - positions[person][frame][seen], axis=1)
        assert np.median(gaps) < 0.15, (frame, np.median(gaps))
        np.testing.assert_allclose(np.nanmax(estimate.reprojection_error), 0.0, atol=1e-6)
        # Uncertain along the ray (its depth is the prediction's), sharp across it.
        ray = estimate.positions[seen][0] - cameras[kept].center
        ray /= np.linalg.norm(ray)
        along = ray @ estimate.covariance[np.flatnonzero(seen)[0]] @ ray
        assert along > 100 * np.linalg.eigvalsh(estimate.covariance[np.flatnonzero(seen)[0]])[0]


def test_a_detection_of_two_merged_people_joins_neither(trial):
    cameras, _, frames = trial
    detections, positions = _reference_tracks(cameras, frames[:25])
    first, second = 0, 1
    view = 1
    for flagged_by_detector in (False, True):
        tracker = MultiPersonTracker(cameras, SolverConfig(objective='analytic'))
        for frame in range(25):
            views = [np.array(people, dtype=float) for people in frames[frame]]
            doubtful = None
            merged = 10 <= frame < 20
            if merged:
                a, b = detections[first][frame][view], detections[second][frame][view]
                # One detection with one person's upper body and the other's legs, where
                # the detector saw the two people: the other detection is gone.
                views[view][a, 11:] = views[view][b, 11:]
                views[view][b, :, 2] = 0.0
                if flagged_by_detector:
                    doubtful = [np.zeros(len(people), dtype=bool) for people in views]
                    doubtful[view][a] = True
            results = dict(tracker.update(views, doubtful=doubtful))
            # The same people under the same ids, the merged view in neither's fit.
            assert sorted(results) == [0, 1, 2]
            for track_id, estimate in results.items():
                if merged and track_id in (first, second):
                    assert estimate.person_index[view] == -1, (frame, track_id)
                    assert (estimate.person_index >= 0).sum() >= 2
                    gaps = np.linalg.norm(estimate.positions - positions[track_id][frame],
                                          axis=1)
                    assert np.nanmedian(gaps) < 0.05
            assert tracker.notes.merged[view] == int(merged), (frame, tracker.notes)


def test_nobody_in_view_gives_nobody_and_notes_nothing(trial):
    cameras, _, frames = trial
    tracker = MultiPersonTracker(cameras, SolverConfig(objective='analytic'))
    tracker.update(frames[0])
    empty = [np.zeros((0, 17, 3)) for _ in cameras]
    for _ in range(3):
        assert tracker.update(empty) == []
        assert tracker.notes.lone == (0, 0, 0, 0) and tracker.notes.merged == (0, 0, 0, 0)
