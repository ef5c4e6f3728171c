# Copyright 2026 The skelsplat_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Tests of the Gaussian heatmap renderers against gsplat's reference implementations."""

import math
import sys
import types

import pytest
from skelsplat_ros import render
from skelsplat_ros.render import (
    available_backends, default_backend, rasterize_heatmap_windows, rasterize_heatmaps,
    RendererUnavailable)
from skelsplat_ros.render import torch_backend
from skelsplat_ros.render.gsplat_backend import padded_channel_count
import torch

gsplat_torch_impl = pytest.importorskip('gsplat.cuda._torch_impl')


def _look_at(eye, target, up=(0.0, 0.0, 1.0)):
    """World-to-camera (4, 4) for an OpenCV camera (x right, y down, z forward), float64."""
    eye, target, up = (torch.tensor(v, dtype=torch.float64) for v in (eye, target, up))
    forward = torch.nn.functional.normalize(target - eye, dim=0)
    right = torch.nn.functional.normalize(torch.linalg.cross(forward, up), dim=0)
    down = torch.linalg.cross(forward, right)
    viewmat = torch.eye(4, dtype=torch.float64)
    viewmat[:3, :3] = torch.stack([right, down, forward])
    viewmat[:3, 3] = -viewmat[:3, :3] @ eye
    return viewmat


def _intrinsics(focal, cx, cy):
    return torch.tensor([[focal, 0.0, cx], [0.0, focal, cy], [0.0, 0.0, 1.0]],
                        dtype=torch.float64)


def _cameras(width, height):
    """Three views of the origin: frontal, oblique with an off-centre principal point, close.

    The close camera at 0.25 m sees some Gaussians far outside its field of view (so the
    Jacobian clamp acts) and has some behind its near plane.
    """
    viewmats = torch.stack([
        _look_at((0.0, -2.5, 0.2), (0.0, 0.0, 0.0)),
        _look_at((2.0, 1.5, 1.0), (0.1, 0.0, -0.1)),
        _look_at((0.0, 0.0, 0.25), (0.0, 0.3, -1.0)),
    ])
    Ks = torch.stack([
        _intrinsics(1.1 * width, width / 2, height / 2),
        _intrinsics(0.9 * width, 0.4 * width, 0.6 * height),
        _intrinsics(0.5 * width, width / 2, height / 2),
    ])
    return viewmats, Ks


def _random_scene(n_gaussians, channels, seed, dtype=torch.float64):
    """Overlapping Gaussians within 0.4 m of the origin, plus an opaque cluster of three."""
    generator = torch.Generator().manual_seed(seed)
    means = 0.4 * (2 * torch.rand(n_gaussians, 3, generator=generator) - 1)
    means[:3] = torch.tensor([0.02, 0.0, 0.05]) + 0.01 * torch.arange(3.0)[:, None]
    quats = torch.randn(n_gaussians, 4, generator=generator)
    scales = 0.03 + 0.12 * torch.rand(n_gaussians, 3, generator=generator)
    opacities = 0.2 + 0.8 * torch.rand(n_gaussians, generator=generator)
    opacities[:3] = 1.0
    colors = torch.rand(n_gaussians, channels, generator=generator)
    return tuple(t.to(dtype) for t in (means, quats, scales, opacities, colors))


def test_projection_matches_gsplat_torch_impl():
    width, height = 64, 48
    means, quats, scales, _, _ = _random_scene(40, 1, seed=0)
    viewmats, Ks = _cameras(width, height)

    ours = torch_backend.project_gaussians(means, quats, scales, viewmats, Ks, width, height)
    covars, _ = gsplat_torch_impl._quat_scale_to_covar_preci(quats, scales, compute_preci=False)
    radii, means2d, depths, conics, _ = gsplat_torch_impl._fully_fused_projection(
        means, covars, viewmats, Ks, width, height, eps2d=0.3)

    torch.testing.assert_close(ours.depths, depths, rtol=1e-12, atol=1e-12)
    visible = radii.gt(0).all(dim=-1)
    assert visible.sum() > 60
    # Everything gsplat keeps, we keep; we also keep in-front Gaussians outside the image
    # (they cannot touch a pixel) and drop exactly those outside [near, far].
    assert torch.all(ours.valid[visible])
    assert torch.equal(ours.valid, depths > torch_backend.NEAR_PLANE)
    assert (~ours.valid).any()
    torch.testing.assert_close(ours.means2d[ours.valid], means2d[ours.valid],
                               rtol=1e-10, atol=1e-9)
    torch.testing.assert_close(ours.conics[ours.valid], conics[ours.valid],
                               rtol=1e-10, atol=1e-12)

    # The clamp of x/z in the Jacobian must have been exercised by the close camera.
    means_c = means @ viewmats[2, :3, :3].T + viewmats[2, :3, 3]
    in_front = means_c[:, 2] > torch_backend.NEAR_PLANE
    x_over_z = (means_c[:, 0] / means_c[:, 2])[in_front]
    limit = Ks[2, 0, 2] / Ks[2, 0, 0] + 0.3 * 0.5 * width / Ks[2, 0, 0]
    assert (x_over_z.abs() > limit).any()


class _CudaKernelStandIns:
    """Literal Python ports of the two pieces of gsplat's torch path that need CUDA or nerfacc.

    ``rasterize_to_indices_in_range`` follows gsplat's RasterizeToIndices3DGS.cu pixel by
    pixel (tile-ordered Gaussians, skip below 1/255, stop when T would reach 1e-4), and
    nerfacc's ``render_weight_from_alpha``/``accumulate_along_rays`` are the plain sums.
    """

    def __init__(self):
        self.terminated_pixels = 0

    def rasterize_to_indices_in_range(self, range_start, range_end, transmittances, means2d,
                                      conics, opacities, image_width, image_height,
                                      tile_size, isect_offsets, flatten_ids):
        n_images, tile_height, tile_width = isect_offsets.shape
        n_gaussians = means2d.shape[-2]
        block = tile_size * tile_size
        offsets = isect_offsets.flatten().tolist() + [len(flatten_ids)]
        ids = flatten_ids.tolist()
        xy = means2d.reshape(-1, 2).tolist()
        conic = conics.reshape(-1, 3).tolist()
        opacity = opacities.reshape(-1).tolist()
        hits = []
        for image in range(n_images):
            for tile_y in range(tile_height):
                for tile_x in range(tile_width):
                    tile = (image * tile_height + tile_y) * tile_width + tile_x
                    start = offsets[tile] + range_start * block
                    end = min(offsets[tile + 1], offsets[tile] + range_end * block)
                    for y in range(tile_y * tile_size, min((tile_y + 1) * tile_size,
                                                           image_height)):
                        for x in range(tile_x * tile_size, min((tile_x + 1) * tile_size,
                                                               image_width)):
                            pixel_index = (image * image_height + y) * image_width + x
                            hits += self._pixel_hits(
                                pixel_index, x + 0.5, y + 0.5,
                                float(transmittances[image, y, x]), ids[start:end], xy,
                                conic, opacity, n_gaussians)
        hits.sort(key=lambda hit: hit[0])  # stable: keeps each pixel's depth order
        pixel_index, gaussian = zip(*hits)
        pixel_index = torch.tensor(pixel_index)
        n_pixels = image_width * image_height
        return torch.tensor(gaussian), pixel_index % n_pixels, pixel_index // n_pixels

    def _pixel_hits(self, pixel_index, px, py, transmittance, ids, xy, conic, opacity, n):
        hits = []
        for g in ids:
            dx, dy = xy[g][0] - px, xy[g][1] - py
            a, b, c = conic[g]
            sigma = 0.5 * (a * dx * dx + c * dy * dy) + b * dx * dy
            alpha = min(0.999, opacity[g] * math.exp(-sigma))
            if sigma < 0 or alpha < 1 / 255:
                continue
            if transmittance * (1 - alpha) <= 1e-4:
                self.terminated_pixels += 1
                break
            hits.append((pixel_index, g % n))
            transmittance *= 1 - alpha
        return hits

    @staticmethod
    def render_weight_from_alpha(alphas, ray_indices, n_rays):
        rays, alpha = ray_indices.tolist(), alphas.tolist()
        transmittance = [1.0] * len(alpha)
        for k in range(1, len(alpha)):
            if rays[k] == rays[k - 1]:
                transmittance[k] = transmittance[k - 1] * (1 - alpha[k - 1])
        transmittance = torch.tensor(transmittance, dtype=alphas.dtype)
        return alphas * transmittance, transmittance

    @staticmethod
    def accumulate_along_rays(weights, values, ray_indices, n_rays):
        source = weights[:, None] if values is None else weights[:, None] * values
        out = torch.zeros(n_rays, source.shape[-1], dtype=source.dtype)
        return out.index_add_(0, ray_indices, source)


@pytest.mark.parametrize('channels, seed', [(1, 1), (3, 2), (17, 3)])
def test_rasterization_matches_gsplat_torch_impl(monkeypatch, channels, seed):
    width, height, tile_size = 40, 36, 16
    means, quats, scales, opacities, colors = _random_scene(12, channels, seed, torch.float32)
    viewmats, Ks = (t.float() for t in _cameras(width, height))
    n_views = len(viewmats)

    stand_ins = _CudaKernelStandIns()
    monkeypatch.setattr('gsplat.cuda._wrapper.rasterize_to_indices_in_range',
                        stand_ins.rasterize_to_indices_in_range)
    fake_nerfacc = types.ModuleType('nerfacc')
    fake_nerfacc.render_weight_from_alpha = stand_ins.render_weight_from_alpha
    fake_nerfacc.accumulate_along_rays = stand_ins.accumulate_along_rays
    monkeypatch.setitem(sys.modules, 'nerfacc', fake_nerfacc)

    covars, _ = gsplat_torch_impl._quat_scale_to_covar_preci(quats, scales, compute_preci=False)
    radii, means2d, depths, conics, _ = gsplat_torch_impl._fully_fused_projection(
        means, covars, viewmats, Ks, width, height, eps2d=0.3)
    tile_width, tile_height = math.ceil(width / tile_size), math.ceil(height / tile_size)
    _, isect_ids, flatten_ids = gsplat_torch_impl._isect_tiles(
        means2d, radii, depths, tile_size, tile_width, tile_height)
    isect_offsets = gsplat_torch_impl._isect_offset_encode(
        isect_ids, n_views, tile_width, tile_height)
    expected_colors, expected_alphas = gsplat_torch_impl._rasterize_to_pixels(
        means2d, conics, colors.expand(n_views, -1, -1), opacities.expand(n_views, -1),
        width, height, tile_size, isect_offsets, flatten_ids)

    rendered, alphas = torch_backend.rasterize(
        means, quats, scales, opacities, colors, viewmats, Ks, width, height)

    assert stand_ins.terminated_pixels > 0
    assert rendered.shape == (n_views, height, width, channels)
    assert expected_alphas.max() > 0.99
    torch.testing.assert_close(alphas, expected_alphas, rtol=0, atol=2e-6)
    torch.testing.assert_close(rendered, expected_colors, rtol=0, atol=2e-6)


def _frontal_camera(width, height, focal, cx, cy, dtype=torch.float64):
    """Camera at the origin looking along +z (world = camera frame)."""
    return torch.eye(4, dtype=dtype)[None], _intrinsics(focal, cx, cy).to(dtype)[None]


def _isotropic(means, sigma_m, opacities, colors, dtype=torch.float64):
    means = torch.as_tensor(means, dtype=dtype).reshape(-1, 3)
    n = len(means)
    quats = torch.tensor([[1.0, 0.0, 0.0, 0.0]], dtype=dtype).expand(n, 4)
    scales = torch.full((n, 3), sigma_m, dtype=dtype)
    return (means, quats, scales, torch.as_tensor(opacities, dtype=dtype).reshape(n),
            torch.as_tensor(colors, dtype=dtype).reshape(n, -1))


def test_opaque_gaussian_on_pixel_centre_gives_max_alpha():
    viewmats, Ks = _frontal_camera(21, 15, focal=20.0, cx=10.5, cy=7.5)
    scene = _isotropic([0.0, 0.0, 2.0], 0.05, [1.0], [[2.0]])
    rendered, alphas = rasterize_heatmaps(*scene, viewmats, Ks, 21, 15)
    assert alphas[0, 7, 10, 0].item() == pytest.approx(0.999, abs=1e-12)
    assert rendered[0, 7, 10, 0].item() == pytest.approx(2 * 0.999, abs=1e-12)
    assert alphas.max() == alphas[0, 7, 10, 0]


def test_alpha_below_threshold_is_skipped_and_eps2d_widens():
    width, height, focal, depth, sigma_m, opacity = 31, 31, 40.0, 2.0, 0.04, 0.6
    viewmats, Ks = _frontal_camera(width, height, focal, cx=15.2, cy=15.7)
    scene = _isotropic([0.0, 0.0, depth], sigma_m, [opacity], [[1.0]])
    _, alphas = rasterize_heatmaps(*scene, viewmats, Ks, width, height)

    # Facing the camera on the axis, the 2D covariance is (f s / z)^2 + eps2d, isotropic.
    variance = (focal * sigma_m / depth) ** 2 + 0.3
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float64) + 0.5,
                            torch.arange(width, dtype=torch.float64) + 0.5, indexing='ij')
    raw = opacity * torch.exp(-0.5 * ((xs - 15.2) ** 2 + (ys - 15.7) ** 2) / variance)
    expected = torch.where(raw >= 1 / 255, raw, torch.zeros_like(raw))
    assert ((raw > 0.5 / 255) & (raw < 1 / 255)).any()
    torch.testing.assert_close(alphas[0, ..., 0], expected, rtol=1e-9, atol=1e-12)

    faint = _isotropic([0.0, 0.0, depth], sigma_m, [0.9 / 255], [[1.0]])
    rendered, alphas = rasterize_heatmaps(*faint, viewmats, Ks, width, height)
    assert torch.count_nonzero(alphas) == 0 and torch.count_nonzero(rendered) == 0


def test_opaque_stack_terminates_before_transmittance_reaches_1e_minus_4():
    viewmats, Ks = _frontal_camera(9, 9, focal=20.0, cx=4.5, cy=4.5)
    depths = torch.tensor([3.0, 1.0, 5.0, 2.0, 4.0])  # shuffled: sorting must fix the order
    means = torch.stack([torch.zeros(5), torch.zeros(5), depths], dim=-1)
    scene = _isotropic(means, 0.05, [0.95] * 5, torch.eye(5))
    rendered, alphas = rasterize_heatmaps(*scene, viewmats, Ks, 9, 9)

    # At the centre every alpha is 0.95; T goes 1, .05, .0025, 1.25e-4 and the fourth
    # Gaussian (next T 6.25e-6 <= 1e-4) is not composited and ends the pixel.
    front_to_back = torch.argsort(depths)
    transmittance = 1.0
    expected = torch.zeros(5, dtype=torch.float64)
    for gaussian in front_to_back.tolist():
        if transmittance * 0.05 <= 1e-4:
            break
        expected[gaussian] = 0.95 * transmittance
        transmittance *= 0.05
    assert torch.count_nonzero(expected) == 3
    torch.testing.assert_close(rendered[0, 4, 4], expected, rtol=1e-9, atol=1e-12)
    assert alphas[0, 4, 4, 0].item() == pytest.approx(1 - transmittance, abs=1e-12)


@pytest.mark.parametrize('window', [1, 5, 11])
def test_windows_equal_the_full_render_at_their_pixels(window):
    # Windows scattered over the image, many on overlapping Gaussians: the per-window culling
    # must not change a single value, colour or alpha.
    width, height = 64, 48
    means, quats, scales, opacities, colors = _random_scene(17, 17, seed=3)
    viewmats, Ks = _cameras(width, height)
    image, alpha = rasterize_heatmaps(means, quats, scales, opacities, colors, viewmats, Ks,
                                      width, height)
    generator = torch.Generator().manual_seed(4)
    corners = torch.stack([torch.randint(0, width - window + 1, (3, 9), generator=generator),
                           torch.randint(0, height - window + 1, (3, 9), generator=generator)],
                          dim=-1)                                                # (V, G, 2)
    offsets = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window),
                                         indexing='xy'), dim=-1).reshape(-1, 2)
    columns_rows = corners[:, :, None, :] + offsets                              # (V, G, P, 2)
    pixels = columns_rows.to(torch.float64) + 0.5
    windows, window_alpha = rasterize_heatmap_windows(
        means, quats, scales, opacities, colors, viewmats, Ks, width, height, pixels)
    views = torch.arange(3)[:, None, None]
    expected = image[views, columns_rows[..., 1], columns_rows[..., 0]]
    assert windows.shape == expected.shape
    torch.testing.assert_close(windows, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(window_alpha,
                               alpha[views, columns_rows[..., 1], columns_rows[..., 0]],
                               rtol=0, atol=1e-12)
    assert expected.abs().sum() > 1.0


def _scene_batch(count, width, height, window, per_scene_viewmats, dtype=torch.float64):
    """``count`` different scenes, each seen in its own crop, with windows per scene and view.

    Returns the batched Gaussians (B, ...), viewmats (B, V, 4, 4) or shared (V, 4, 4),
    Ks (B, V, 3, 3) and pixels (B, V, G, P, 2).
    """
    scenes = [_random_scene(17, 17, seed=20 + b, dtype=dtype) for b in range(count)]
    viewmats, Ks = (t.to(dtype) for t in _cameras(width, height))
    if per_scene_viewmats:
        viewmats = viewmats.repeat(count, 1, 1, 1)
        viewmats[:, :, 2, 3] += 0.1 * torch.arange(count, dtype=dtype)[:, None]
    shift = torch.tensor([[3.0, -2.0], [-4.0, 5.0], [0.0, 1.5]], dtype=dtype)[:count]
    Ks = Ks.repeat(count, 1, 1, 1)
    Ks[:, :, :2, 2] += shift[:, None, :]
    generator = torch.Generator().manual_seed(5)
    corners = torch.stack([torch.randint(0, width - window + 1, (count, 3, 9),
                                         generator=generator),
                           torch.randint(0, height - window + 1, (count, 3, 9),
                                         generator=generator)], dim=-1)
    offsets = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window),
                                         indexing='xy'), dim=-1).reshape(-1, 2)
    pixels = (corners[..., None, :] + offsets).to(dtype) + 0.5                 # (B, V, G, P, 2)
    batch = tuple(torch.stack(tensors) for tensors in zip(*scenes))
    return batch, viewmats, Ks, pixels


@pytest.mark.parametrize('per_scene_viewmats', [False, True])
def test_a_batch_of_scenes_renders_as_each_scene_alone(per_scene_viewmats):
    # One call for three scenes (say three people, each in its own crop) must give each scene
    # the values and gradients of its own call: no scene occludes or reaches another.
    width, height, window = 64, 48, 5
    (means, *rest), viewmats, Ks, pixels = _scene_batch(3, width, height, window,
                                                        per_scene_viewmats)
    means = means.clone().requires_grad_()
    weights = torch.rand(pixels.shape[:-1] + (17,), generator=torch.Generator().manual_seed(6),
                         dtype=means.dtype)
    windows, window_alpha = rasterize_heatmap_windows(means, *rest, viewmats, Ks, width, height,
                                                      pixels)
    (windows * weights).sum().backward()
    image, image_alpha = rasterize_heatmaps(means.detach(), *rest, viewmats, Ks, width, height)
    assert windows.shape == (3, 3, 9, window * window, 17)
    assert image.shape == (3, 3, height, width, 17)
    for b in range(3):
        scene = [t[b] for t in rest]
        cameras = (viewmats[b] if per_scene_viewmats else viewmats, Ks[b])
        alone_means = means.detach()[b].clone().requires_grad_()
        alone, alone_alpha = rasterize_heatmap_windows(alone_means, *scene, *cameras, width,
                                                       height, pixels[b])
        (alone * weights[b]).sum().backward()
        torch.testing.assert_close(windows[b], alone, rtol=0, atol=1e-12)
        torch.testing.assert_close(window_alpha[b], alone_alpha, rtol=0, atol=1e-12)
        torch.testing.assert_close(means.grad[b], alone_means.grad, rtol=1e-9, atol=1e-12)
        full, full_alpha = rasterize_heatmaps(means.detach()[b], *scene, *cameras, width,
                                              height)
        torch.testing.assert_close(image[b], full, rtol=0, atol=1e-12)
        torch.testing.assert_close(image_alpha[b], full_alpha, rtol=0, atol=1e-12)
        assert alone.abs().sum() > 1.0 and alone_means.grad.abs().sum() > 0


def test_gradcheck_float64_tiny_scene():
    width, height = 10, 8
    viewmats, Ks = _frontal_camera(width, height, focal=12.0, cx=5.2, cy=3.9)
    second_view = _look_at((0.4, -0.1, 0.1), (0.0, 0.05, 2.0))
    viewmats = torch.cat([viewmats, second_view[None]])
    Ks = Ks.expand(2, 3, 3)
    means = torch.tensor([[0.05, 0.0, 2.0], [-0.1, 0.05, 2.3], [0.0, -0.1, 1.8]],
                         dtype=torch.float64)
    quats = torch.tensor([[1.0, 0.1, -0.2, 0.05], [0.9, 0.0, 0.3, 0.1], [0.8, -0.3, 0.1, 0.2]],
                         dtype=torch.float64)
    scales = torch.tensor([[0.5, 0.4, 0.3], [0.45, 0.6, 0.2], [0.6, 0.35, 0.5]],
                          dtype=torch.float64)
    opacities = torch.tensor([0.7, 0.5, 0.8], dtype=torch.float64)
    colors = torch.eye(3, dtype=torch.float64)

    # Precondition for a smooth function: every Gaussian stays well above 1/255 on every
    # pixel, and no pixel gets near the 0.999 clamp or the termination.
    for k in range(3):
        single = (means[k:k + 1], quats[k:k + 1], scales[k:k + 1], opacities[k:k + 1],
                  colors[k:k + 1, :1])
        _, alpha = torch_backend.rasterize(*single, viewmats, Ks, width, height)
        assert alpha.min() > 1.5 / 255 and alpha.max() < 0.99

    def render(means, quats, scales, opacities):
        return torch_backend.rasterize(means, quats, scales, opacities, colors, viewmats, Ks,
                                       width, height)

    inputs = tuple(t.clone().requires_grad_() for t in (means, quats, scales, opacities))
    assert torch.autograd.gradcheck(render, inputs, eps=1e-6, atol=1e-7, rtol=1e-5,
                                    fast_mode=True)


def test_gradient_descent_moves_mean_onto_target_heatmap():
    width, height = 48, 40
    viewmats, Ks = _cameras(width, height)
    viewmats, Ks = viewmats[:2].float(), Ks[:2].float()
    target_means, quats, scales, opacities, colors = (
        t.float() for t in _isotropic([[0.05, 0.0, 0.1], [-0.1, 0.05, -0.1]], 0.06,
                                      [0.9, 0.9], torch.eye(2)))
    target, _ = rasterize_heatmaps(target_means, quats, scales, opacities, colors,
                                   viewmats, Ks, width, height)

    means = (target_means + torch.tensor([[0.06, -0.04, 0.05], [0.0, 0.05, 0.04]])
             ).requires_grad_()
    optimizer = torch.optim.Adam([means], lr=0.005)
    losses = []
    for _ in range(60):
        optimizer.zero_grad()
        rendered, _ = rasterize_heatmaps(means, quats, scales, opacities, colors,
                                         viewmats, Ks, width, height)
        loss = torch.mean((rendered - target) ** 2)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.01 * losses[0]
    assert torch.linalg.norm(means.detach() - target_means, dim=-1).max() < 0.01


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA; run on a GPU machine')
@pytest.mark.parametrize('channels', [3, 17, 20])
def test_torch_matches_gsplat_cuda(channels):
    width, height = 64, 48
    scene = tuple(t.cuda() for t in _random_scene(17, channels, seed=7, dtype=torch.float32))
    viewmats, Ks = (t.float().cuda() for t in _cameras(width, height))
    target = torch.rand(len(viewmats), height, width, channels, device='cuda')

    results = {}
    for backend in ('torch', 'gsplat'):
        means = scene[0].clone().requires_grad_()
        rendered, alphas = rasterize_heatmaps(means, *scene[1:], viewmats, Ks, width, height,
                                              backend=backend)
        torch.mean((rendered - target) ** 2).backward()
        results[backend] = rendered.detach(), alphas.detach(), means.grad
    torch.testing.assert_close(results['torch'][0], results['gsplat'][0], rtol=0, atol=1e-4)
    torch.testing.assert_close(results['torch'][1], results['gsplat'][1], rtol=0, atol=1e-4)
    gradient_scale = results['gsplat'][2].abs().max().item()
    torch.testing.assert_close(results['torch'][2], results['gsplat'][2], rtol=1e-2,
                               atol=1e-3 * gradient_scale)


@pytest.mark.skipif(not torch.cuda.is_available(),
                    reason="needs CUDA for gsplat's kernels; run on a GPU machine")
@pytest.mark.parametrize('per_scene_viewmats', [False, True])
def test_gsplat_batch_matches_the_torch_batch_and_each_scene_alone(per_scene_viewmats):
    width, height, window = 64, 48, 5
    (means, *rest), viewmats, Ks, pixels = (
        _scene_batch(3, width, height, window, per_scene_viewmats, dtype=torch.float32))
    rest, viewmats, Ks, pixels = ([t.cuda() for t in rest], viewmats.cuda(), Ks.cuda(),
                                  pixels.cuda())
    weights = torch.rand(pixels.shape[:-1] + (17,), device='cuda')
    results = {}
    for backend in ('torch', 'gsplat'):
        leaf = means.cuda().requires_grad_()
        windows, alphas = rasterize_heatmap_windows(leaf, *rest, viewmats, Ks, width, height,
                                                    pixels, backend=backend)
        (windows * weights).sum().backward()
        results[backend] = windows.detach(), alphas.detach(), leaf.grad
    for torch_value, gsplat_value in zip(results['torch'][:2], results['gsplat'][:2]):
        torch.testing.assert_close(torch_value, gsplat_value, rtol=0, atol=1e-4)
    gradient_scale = results['gsplat'][2].abs().max().item()
    torch.testing.assert_close(results['torch'][2], results['gsplat'][2], rtol=1e-2,
                               atol=1e-3 * gradient_scale)
    for b in range(3):
        cameras = (viewmats[b] if per_scene_viewmats else viewmats, Ks[b])
        alone, _ = rasterize_heatmap_windows(means[b].cuda(), *(t[b] for t in rest), *cameras,
                                             width, height, pixels[b], backend='gsplat')
        torch.testing.assert_close(results['gsplat'][0][b], alone, rtol=0, atol=1e-6)


def test_gsplat_backend_on_cpu_raises_renderer_unavailable():
    scene = _isotropic([0.0, 0.0, 2.0], 0.05, [1.0], [[1.0]])
    viewmats, Ks = _frontal_camera(8, 8, focal=10.0, cx=4.0, cy=4.0)
    with pytest.raises(RendererUnavailable, match='needs CUDA tensors'):
        rasterize_heatmaps(*scene, viewmats, Ks, 8, 8, backend='gsplat')
    with pytest.raises(ValueError, match='unknown renderer backend'):
        rasterize_heatmaps(*scene, viewmats, Ks, 8, 8, backend='opengl')
    assert issubclass(RendererUnavailable, RuntimeError)
    assert default_backend('cpu') == 'torch'
    assert available_backends()[0] == 'torch'


def test_padded_channel_count_follows_gsplat_kernels():
    assert [padded_channel_count(c) for c in (1, 3, 6, 17, 18, 33, 34)] == \
        [1, 3, 8, 17, 32, 33, 64]
    with pytest.raises(ValueError):
        padded_channel_count(514)


def test_render_sizes_are_bounded():
    """Sizes beyond what the solver renders are refused before any tensor is allocated."""
    means = torch.zeros(1, 3)
    args = (means, torch.tensor([[1.0, 0, 0, 0]]), torch.full((1, 3), 0.1), torch.ones(1),
            torch.ones(1, 1), torch.eye(4)[None], torch.eye(3)[None])
    for width, height in ((100000, 1), (1, render.MAX_SIDE + 1), (0, 5), (4.5, 4)):
        with pytest.raises(ValueError, match='render size'):
            rasterize_heatmaps(*args, width, height)
        with pytest.raises(ValueError, match='render size'):
            rasterize_heatmap_windows(*args, width, height, torch.zeros(1, 1, 1, 2))
