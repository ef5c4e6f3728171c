# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Issue #20, class 5: a camera with a finite but absurd model costs only itself.

Three good cameras of the pose2sim rig see the motion-capture skeleton exactly; the fourth
keeps its real detections but gets an absurd model (intrinsics of 1e30 or a principal point of
1e300 or 1.7e308, a translation of 1e12 m, distortion of 1e30).  Its arithmetic overflows (NaN,
inf), and its weight 0 must not carry that into the good views' joints, the triangulation or
the renderer: the fit equals the three good cameras' fit, for both objectives.  A fit that
loses every joint to non-finite arithmetic is a fault reported as such (``SolverDiverged``),
not "nobody in view".
"""

import numpy as np
import pytest
from skelsplat_ros.cameras import make_camera
from skelsplat_ros.live import fuse_group, FusionEngine
from skelsplat_ros.skeletons import COCO17
from skelsplat_ros.solver import core, SkelSplatSolver, solve_frames_analytic, SolverConfig
from skelsplat_ros.solver import SolverDiverged
from skelsplat_ros.solver.problem import Fit
from solver_helpers import demo_rig, observe

J = COCO17.num_joints


@pytest.fixture(scope='module')
def rig(data_root):
    cameras, truth, coco_index = demo_rig(data_root)
    return cameras, truth[0], coco_index, observe(cameras, truth[0])


def _absurd(camera, kind):
    """``camera`` with a finite but absurd model of the given kind; make_camera accepts it."""
    K, dist, model, R, t = camera.K.copy(), camera.dist, camera.distortion_model, camera.R, \
        camera.t
    if kind == 'focal 1e30':
        K[0, 0] = K[1, 1] = 1e30
    elif kind == 'principal point 1e300':
        K[0, 2] = K[1, 2] = 1e300
    elif kind == 'principal point 1.7e308':   # the crop around it overflows too
        K[0, 2] = K[1, 2] = 1.7e308
    elif kind == 'translation 1e12':
        t = t + 1e12
    elif kind == 'distortion 1e30':
        dist, model = np.array([1e30, 1e30, 0.0, 0.0, 1e30]), 'plumb_bob'
    return make_camera(camera.name, K, dist, model, camera.width, camera.height, R, t)


KINDS = ('focal 1e30', 'principal point 1e300', 'principal point 1.7e308', 'translation 1e12',
         'distortion 1e30')


@pytest.mark.parametrize('objective', ['analytic', 'rendered'])
@pytest.mark.parametrize('kind', KINDS)
def test_an_absurd_camera_costs_only_itself(rig, objective, kind):
    cameras, truth, joints, views = rig
    config = SolverConfig(objective=objective)
    good = SkelSplatSolver(cameras[:3], config).solve(views[:3])
    with np.errstate(all='ignore'):
        estimate = SkelSplatSolver(cameras[:3] + [_absurd(cameras[3], kind)],
                                   config).solve(views)
    np.testing.assert_array_equal(estimate.num_views, good.num_views)
    assert not estimate.inliers[3].any()
    assert np.isfinite(estimate.positions[joints]).all()
    assert np.isfinite(estimate.covariance[joints]).all()
    difference = np.abs(estimate.positions[joints] - good.positions[joints]).max()
    if objective == 'analytic':
        assert difference < 1e-9
        np.testing.assert_allclose(estimate.covariance[joints], good.covariance[joints],
                                   rtol=1e-6, atol=1e-12)
    else:
        # The rendered fit renders every view (and starts its shapes from them): a good fourth
        # camera without detections moves the fit by 1.5 mm already.  It must still iterate.
        assert difference < 0.003 and np.isfinite(estimate.loss) and estimate.iterations > 1
    assert np.abs(estimate.positions[joints] - truth[joints]).max() < 0.005


@pytest.mark.parametrize('kind', KINDS)
def test_an_absurd_camera_costs_only_itself_in_the_batched_analytic_fit(rig, kind):
    cameras, truth, joints, views = rig
    good = solve_frames_analytic(cameras[:3], views[None, :3])
    with np.errstate(all='ignore'):
        mixed = solve_frames_analytic(cameras[:3] + [_absurd(cameras[3], kind)], views[None])
    assert np.isfinite(mixed[0, joints]).all()
    np.testing.assert_allclose(mixed[0, joints], good[0, joints], atol=1e-9)


def test_a_fit_that_loses_every_joint_is_a_fault_not_nobody(rig, monkeypatch):
    cameras, truth, joints, views = rig

    def fit_nothing(objective, device):
        return lambda problems: [Fit(means=np.full((J, 3), np.nan), log_scales=None,
                                     quats=None, iterations=1, loss=float('nan'),
                                     detection_sigma_px=np.ones(len(cameras)))
                                 for _ in problems]

    names = [camera.name for camera in cameras]
    engine = FusionEngine(names, detector=None, device='cpu', notify=lambda line: None,
                          cuda_available=False)
    for camera in cameras:
        engine.set_camera(camera.name, camera)
    frames = dict(zip(names, views[:, None]))
    assert len(fuse_group(engine, frames, lambda name, item: item).people) == 1
    monkeypatch.setattr(core, 'objective_fit', fit_nothing)
    with pytest.raises(SolverDiverged, match='non-finite'):
        SkelSplatSolver(cameras, SolverConfig(objective='analytic')).solve(views)
    result = fuse_group(engine, frames, lambda name, item: item)
    assert result.people == [] and 'non-finite' in result.diverged
    assert engine.divergences == 1
    monkeypatch.undo()
    assert len(fuse_group(engine, frames, lambda name, item: item).people) == 1
