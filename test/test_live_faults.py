# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Faults of the live pipeline, tested in its ROS-free core (:mod:`skelsplat_ros.live`).

Real cameras and keypoints of the pose2sim demo go through the real :class:`FusionEngine`
and solver; only the failures themselves are injected (a CUDA out-of-memory error, a fit that
comes out NaN, a detector that raises), to test the code that must survive them.
"""

import dataclasses

import numpy as np
import pytest
from skelsplat_ros.cameras import CameraRig, load_calibration
from skelsplat_ros.fileio.openpose import list_openpose_files, read_openpose_json
from skelsplat_ros.imaging import ImageConversionError
from skelsplat_ros.live import CameraHealth, diagnose_camera, fuse_group, FusionEngine
from skelsplat_ros.live import nobody_message, person_from_estimate, SolverDiverged
from skelsplat_ros.live import stamp_offsets
from skelsplat_ros.skeletons import COCO17_JOINTS, to_coco17
from skelsplat_ros.solver import PoseEstimate, SkelSplatSolver, SolverConfig
from skelsplat_ros.sync import FrameSynchronizer
from skelsplat_ros.triangulation import triangulate_dlt
import torch

DEMO = 'pose2sim-0.4.15/Pose2Sim/Demo'
NAMES = ('cam_01', 'cam_02', 'cam_03', 'cam_04')
J = {name: i for i, name in enumerate(COCO17_JOINTS)}


@pytest.fixture(scope='module')
def demo(data_root):
    """Return (cameras by name, per frame the 4 views' COCO-17 keypoints (P, 17, 3))."""
    root = data_root / DEMO
    cameras = {c.name: c for c in load_calibration(root / 'calibration' / 'Calib_qualisys.toml')}
    frames = []
    files = [list_openpose_files(root / 'pose' / f'cam{v}_json')[:4] for v in range(1, 5)]
    for paths in zip(*files):
        frames.append({name: to_coco17(read_openpose_json(path, 25), 'body25b')
                       for name, path in zip(NAMES, paths)})
    return cameras, frames


def _engine(cameras, detector=None, **options):
    notes = []
    engine = FusionEngine(NAMES, detector=detector, notify=notes.append,
                          solver_config=SolverConfig(device='cpu'), **options)
    for name in NAMES:
        engine.set_camera(name, cameras[name])
    return engine, notes


def _main_person(views):
    """Keep the first person of every view: the main one (cam_01 also sees a bystander)."""
    return {name: people[:1] for name, people in views.items()}


def _given(keypoints):
    return lambda name, item: keypoints[name]


# -------------------------------------------------------------------------- solver faults
@pytest.mark.skipif(torch.cuda.is_available(), reason='tests the machine without CUDA')
def test_cuda_missing_falls_back_to_cpu_once(demo):
    """device:=cuda where torch has no CUDA at all: the real solver fails, the engine says so."""
    cameras, frames = demo
    engine, notes = _engine(cameras, device='cuda', cuda_available=True)
    assert engine.device == 'cuda'
    estimates = [engine.solve(_main_person(views))[0] for views in frames[:2]]
    assert engine.device == 'cpu'
    assert sum('falls back to the CPU' in note for note in notes) == 1
    reference, _ = _engine(cameras, device='cpu')
    expected = reference.solve(_main_person(frames[0]))[0]
    np.testing.assert_allclose(estimates[0].positions, expected.positions, atol=1e-9)


def test_cuda_out_of_memory_falls_back_to_cpu_once(demo):
    cameras, frames = demo
    built = []

    def factory(cams, config):
        built.append(config.device)
        solver = SkelSplatSolver(cams, SolverConfig(device='cpu'))
        if config.device != 'cpu':
            def out_of_memory(views, stamp=None):
                raise torch.cuda.OutOfMemoryError('CUDA out of memory. Tried to allocate 2 GiB')
            solver.solve = out_of_memory
        return solver

    engine, notes = _engine(cameras, device='cuda', cuda_available=True, solver_factory=factory)
    for views in frames[:3]:
        estimate, names = engine.solve(_main_person(views))
        assert names == NAMES and np.isfinite(estimate.positions).all()
    assert built == ['cuda', 'cpu'] and engine.device == 'cpu'
    fallbacks = [note for note in notes if 'falls back to the CPU' in note]
    assert len(fallbacks) == 1 and 'OutOfMemoryError' in fallbacks[0]


def test_other_solver_errors_are_not_mistaken_for_cuda(demo):
    cameras, frames = demo

    def factory(cams, config):
        solver = SkelSplatSolver(cams, SolverConfig(device='cpu'))
        solver.solve = lambda views, stamp=None: (_ for _ in ()).throw(
            RuntimeError('shape mismatch'))
        return solver

    engine, notes = _engine(cameras, device='cuda', cuda_available=True, solver_factory=factory)
    with pytest.raises(RuntimeError, match='shape mismatch'):
        engine.solve(_main_person(frames[0]))
    assert engine.device == 'cuda' and not any('falls back' in note for note in notes)


class _SabotagedSolver(SkelSplatSolver):
    """The real solver, whose results are corrupted on chosen calls (a diverged fit)."""

    corrupt = {}  # call number -> function applied to the positions

    def __init__(self, cameras, config):
        super().__init__(cameras, config)
        self.calls = 0
        self.resets = 0

    def reset(self):
        self.resets += 1
        super().reset()

    def solve(self, keypoints, stamp=None):
        estimate = super().solve(keypoints, stamp)
        self.calls += 1
        if self.calls in self.corrupt:
            estimate.positions = self.corrupt[self.calls](estimate.positions.copy())
        return estimate


def test_diverged_fit_is_not_published_and_resets(demo):
    cameras, frames = demo

    def nan_wrist(positions):
        positions[J['left_wrist']] = np.nan
        return positions

    _SabotagedSolver.corrupt = {2: nan_wrist, 3: lambda positions: positions * 1e6}
    solvers = []
    engine, _ = _engine(cameras, solver_factory=lambda c, cfg: solvers.append(
        _SabotagedSolver(c, cfg)) or solvers[-1])
    results = []
    for index in range(4):
        views = _main_person(frames[index % len(frames)])
        results.append(fuse_group(engine, views, _given(views)))
    assert [len(r.people) for r in results] == [1, 0, 0, 1]
    assert 'not finite' in results[1].diverged and 'from the origin' in results[2].diverged
    assert engine.divergences == 2 and solvers[0].resets == 2
    person = results[3].people[0]
    assert np.isfinite(person.positions).all() and person.known.all()
    with pytest.raises(SolverDiverged):
        _SabotagedSolver.corrupt = {5: nan_wrist}
        engine.solve(views)


def test_a_fit_beyond_the_workspace_is_diverged(demo):
    """A solver that breaks its own workspace bound is caught by the engine with that bound."""
    cameras, frames = demo
    _SabotagedSolver.corrupt = {2: lambda positions: positions + 30.0}
    engine, _ = _engine(cameras, solver_factory=_SabotagedSolver)
    views = _main_person(frames[0])
    results = [fuse_group(engine, views, _given(views)) for _ in range(3)]
    assert [len(result.people) for result in results] == [1, 0, 1]
    assert 'from the origin (workspace: 20 m)' in results[1].diverged


# ------------------------------------------------------------------------ detection faults
class _Detector:
    """A detector that fails on images marked as broken, else returns given keypoints."""

    def __init__(self, keypoints):
        self.keypoints = keypoints

    def detect(self, bgr):
        if bgr[0, 0, 0] == 255:
            raise RuntimeError('inference failed')
        return self.keypoints


def test_faulty_views_cost_only_themselves(demo):
    cameras, frames = demo
    views = _main_person(frames[0])
    detectors = {}

    def factory(name, **options):
        detectors[len(detectors)] = _Detector(views['cam_03'])
        return detectors[len(detectors) - 1]

    engine, _ = _engine(cameras, detector='fake', detector_factory=factory, detection_workers=1)
    broken = np.zeros((4, 4, 3), np.uint8)
    broken[0, 0, 0] = 255

    def to_keypoints(name, item):
        if name == 'cam_02':
            raise ImageConversionError("unsupported image encoding 'bogus16'")
        if name == 'cam_03':
            return engine.detect(name, item)
        return views[name]

    result = fuse_group(engine, {'cam_01': None, 'cam_02': None, 'cam_03': broken,
                                 'cam_04': None}, to_keypoints)
    assert result.faults == {'cam_02': "unsupported image encoding 'bogus16'",
                             'cam_03': 'RuntimeError: inference failed'}
    assert len(result.people) == 1 and max(result.people[0].num_views) == 2
    # The same detector, on a good image, contributes again.
    result = fuse_group(engine, {'cam_01': None, 'cam_03': np.zeros((4, 4, 3), np.uint8)},
                        to_keypoints)
    assert not result.faults and max(result.people[0].num_views) == 2


def test_nobody_in_view(demo):
    cameras, _ = demo
    engine, _ = _engine(cameras)
    empty = {name: np.zeros((0, 17, 3)) for name in NAMES}
    result = fuse_group(engine, empty, _given(empty))
    assert result.people == [] and result.estimate is None and not result.faults
    assert nobody_message(result, False, 3).startswith('nobody located: no camera sees')


def test_nobody_yet_while_the_tracks_are_unconfirmed(demo):
    # A lone person whom every camera sees is published from the first group: nothing is
    # ambiguous.  A group of ambiguous people gives nobody until their tracks are confirmed,
    # and the log says so, not that the cameras see too little.
    cameras, frames = demo
    engine, _ = _engine(cameras, multi_person=True)
    views = _main_person(frames[0])
    result = fuse_group(engine, views, _given(views))
    assert len(result.people) == 1 and len(result.keypoints) == 4
    message = nobody_message(dataclasses.replace(result, people=[]), True, 3)
    assert 'nobody published yet: 4 cameras see people' in message
    assert 'after 3 consecutive fused groups' in message and 'fewer than two' not in message
    alone = {name: views[name] if name == 'cam_02' else np.zeros((0, 17, 3)) for name in NAMES}
    result = fuse_group(engine, alone, _given(alone))
    assert nobody_message(result, True, 3).startswith('nobody located: only one camera sees')


def test_several_people_in_view(demo):
    cameras, frames = demo
    views = frames[0]
    assert len(views['cam_01']) >= 2  # the bystander
    engine, _ = _engine(cameras)
    crowded = fuse_group(engine, views, _given(views))
    engine, _ = _engine(cameras)
    alone = fuse_group(engine, _main_person(views), _given(_main_person(views)))
    assert crowded.crowded == {name: len(people) for name, people in views.items()
                               if len(people) > 1}
    assert 'cam_01' in crowded.crowded
    # The bystander does not move the fused person.
    np.testing.assert_allclose(crowded.people[0].positions, alone.people[0].positions,
                               atol=0.02)


def test_a_camera_that_follows_the_bystander_is_reported(demo):
    # A one-person-per-image detector (MediaPipe) in cam_01 locks onto the bystander: the
    # other cameras outvote it, the fit goes on without it, and the result says which camera.
    cameras, frames = demo
    views = _main_person(frames[0])
    engine, _ = _engine(cameras)
    assert fuse_group(engine, views, _given(views)).outvoted == ()
    views['cam_01'] = frames[0]['cam_01'][1:2]
    engine, _ = _engine(cameras)
    result = fuse_group(engine, views, _given(views))
    assert result.outvoted == ('cam_01',)
    without = {name: people for name, people in views.items() if name != 'cam_01'}
    engine, _ = _engine(cameras)
    alone = fuse_group(engine, without, _given(without))
    np.testing.assert_allclose(result.people[0].positions, alone.people[0].positions,
                               atol=0.02)


def _project_person(cameras, positions, confidence=0.9):
    """Keypoints (1, 17, 3) of a 3D skeleton in each camera (raw pixels)."""
    views = {}
    for name in NAMES:
        pixels = cameras[name].project(positions)
        inside = ((pixels >= 0) & (pixels < [cameras[name].width, cameras[name].height])).all(1)
        views[name] = np.concatenate([pixels, np.where(inside, confidence, 0.0)[:, None]],
                                     axis=1)[None]
    return views


def test_person_leaves_and_comes_back_elsewhere(demo):
    cameras, frames = demo
    first = _main_person(frames[0])
    P = CameraRig([cameras[name] for name in NAMES]).projections
    points = np.stack([cameras[name].undistort_points(first[name][0, :, :2]) for name in NAMES])
    skeleton = triangulate_dlt(P, points, np.stack([first[name][0, :, 2] for name in NAMES]))
    assert np.isfinite(skeleton).all()
    engine, _ = _engine(cameras)
    for _ in range(3):
        views = _project_person(cameras, skeleton)
        assert fuse_group(engine, views, _given(views)).people
    empty = {name: np.zeros((0, 17, 3)) for name in NAMES}
    for _ in range(3):  # gone for fewer frames than the solver would coast
        result = fuse_group(engine, empty, _given(empty))
        assert result.people == []  # no stale pose, no coasting prediction
    moved = skeleton + [0.6, -0.4, 0.0]
    views = _project_person(cameras, moved)
    # Coming back in view of two cameras only, the hardest case for the motion gate.
    two = {name: (views[name] if name in ('cam_01', 'cam_03') else empty[name])
           for name in NAMES}
    for group in (two, views):
        result = fuse_group(engine, group, _given(group))
        person = result.people[0]
        error = np.linalg.norm(person.positions - moved, axis=1)
        assert person.known.sum() >= 15
        assert error[person.known].max() < 0.03, error


# ------------------------------------------------------------------------------ evidence
def test_single_view_joint_has_large_covariance(demo):
    cameras, frames = demo
    views = {name: people.copy() for name, people in _main_person(frames[0]).items()}
    for name in NAMES[1:]:
        views[name][0, J['left_wrist'], 2] = 0.0  # only cam_01 sees the left wrist
    engine, _ = _engine(cameras)
    person = fuse_group(engine, views, _given(views)).people[0]
    single, many = J['left_wrist'], J['right_wrist']
    assert person.num_views[single] == 1 and person.num_views[many] >= 3
    sigma_single = np.sqrt(np.linalg.eigvalsh(person.covariance[single]))
    sigma_many = np.sqrt(np.linalg.eigvalsh(person.covariance[many]))
    # Along cam_01's ray only the depth borrowed from its neighbours constrains the joint;
    # across it, the view does (the real detections' noise, measured: 1-3 cm at 3-4 m).
    ray = cameras['cam_01'].center - person.positions[single]
    ray /= np.linalg.norm(ray)
    along = np.sqrt(ray @ person.covariance[single] @ ray)
    assert along > 0.9 * sigma_single.max()
    assert along == pytest.approx(SolverConfig().single_view_depth_sigma, rel=0.05)
    assert sigma_single.max() > 3 * sigma_many.max()
    assert sigma_single.min() < 0.05  # about depth * detection sigma / focal length
    assert person.confidence[single] < 0.5 * person.confidence[many]


def test_predicted_joints_are_not_published_as_located(demo):
    cameras, frames = demo
    engine, _ = _engine(cameras)
    views = _main_person(frames[0])
    estimate = engine.solve(views)[0]
    estimate.num_views = estimate.num_views.copy()
    estimate.num_views[J['nose']] = 0  # e.g. a coasting prediction
    person = person_from_estimate(estimate, 1)
    assert not person.known[J['nose']] and person.confidence[J['nose']] == 0
    np.testing.assert_allclose(person.covariance[J['nose']], np.eye(3))
    estimate.num_views[:] = 0
    assert person_from_estimate(estimate, 1) is None
    stub = PoseEstimate(positions=np.full((17, 3), np.nan), confidence=np.zeros(17),
                        covariance=np.tile(np.eye(3), (17, 1, 1)), num_views=np.zeros(17, int),
                        reprojection_error=np.full(17, np.nan),
                        inliers=np.zeros((4, 17), bool), person_index=np.full(4, -1))
    assert person_from_estimate(stub, 1) is None


# ----------------------------------------------------------------------------- diagnostics
def test_camera_diagnosis():
    cases = [
        (CameraHealth(ready=False, not_ready='CameraInfo rejected: K is all zeros'), 'ERROR',
         'not used: CameraInfo rejected'),
        (CameraHealth(ready=True), 'WARN', 'no frames received yet'),
        (CameraHealth(ready=True, seconds_since_frame=3.0, frames=0), 'WARN', 'stalled'),
        (CameraHealth(ready=True, seconds_since_frame=0.1, frames=30, grouped=30, faults=2,
                      last_fault='cam: frame dropped: truncated'), 'WARN', '2 faults: cam'),
        (CameraHealth(ready=True, seconds_since_frame=0.1, frames=30, grouped=0,
                      stamp_offset_s=0.25), 'WARN', '+0.250 s off'),
        (CameraHealth(ready=True, seconds_since_frame=0.1, frames=30, grouped=0), 'WARN',
         'too late or out of step'),
        (CameraHealth(ready=True, seconds_since_frame=0.1, frames=30, grouped=29), 'OK', 'ok'),
    ]
    for health, level, message in cases:
        got_level, got_message = diagnose_camera(health, input_timeout=1.0, slop=0.01,
                                                 others_grouped=True)
        assert got_level == level and message in got_message, (health, got_message)
    # Alone (nobody else groups either): not blamed on this camera.
    assert diagnose_camera(cases[-2][0], 1.0, 0.01, others_grouped=False)[0] == 'OK'
    offsets = stamp_offsets({'a': 10_000_000_000, 'b': 10_010_000_000, 'c': 10_500_000_000})
    assert offsets['c'] == pytest.approx(0.495) and offsets['a'] == pytest.approx(-0.255)


def test_synchroniser_says_why_it_dropped_a_frame():
    ms = 1_000_000
    sync = FrameSynchronizer(['a', 'b'], slop_s=0.01, max_wait_s=0.1, min_views=2)
    base = 100_000 * ms
    for frame in range(3):
        stamp = base + frame * 33 * ms
        sync.add('a', stamp, None, stamp)
        assert sync.last_drop is None
        assert sync.add('b', stamp, None, stamp) and sync.last_drop is None
    sync.add('a', base + 66 * ms, None, base + 70 * ms)
    assert sync.last_drop == 'duplicate'
    sync.add('b', base + 40 * ms, None, base + 70 * ms)
    assert sync.last_drop == 'late'
    sync.add('b', base - 5_000 * ms, None, base + 70 * ms)
    assert sync.last_drop == 'rewound'
    sync.add('b', base + 99 * ms, None, base + 100 * ms)
    assert sync.last_drop is None


def test_calibration_without_a_configured_camera_is_refused(data_root, tmp_path):
    from skelsplat_ros.ros.params import config_from_values, load_calibrated_cameras
    from skelsplat_ros.ros.params import ParameterError, PARAMETERS
    values = {name: default for name, (default, _) in PARAMETERS.items()}
    values.update(camera_names=['cam_01', 'cam_09'],
                  calibration_file=str(data_root / DEMO / 'calibration' / 'Calib_qualisys.toml'))
    with pytest.raises(ParameterError, match='has no camera cam_09'):
        load_calibrated_cameras(config_from_values(values))
    broken = tmp_path / 'broken.toml'
    broken.write_text('[cam_01]\nsize = [1088, 1920]\n'
                      'matrix = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]\n'
                      'distortions = [0, 0, 0, 0]\nrotation = [0, 0, 0]\ntranslation = [0, 0]\n')
    values.update(camera_names=['cam_01'], calibration_file=str(broken), min_views=1)
    with pytest.raises(ParameterError, match="broken.toml: camera 'cam_01': t needs 3"):
        load_calibrated_cameras(config_from_values(values))
