"""The pure package (no ComfyUI): closed-form checks of the sampler step, noise, schedules and imaging."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from boomerang import noise, schedule
from boomerang.checks import BoomerangInputError
from boomerang.imaging import match_channel_stats, pad_to_multiple, resize_image, target_size, tiled_map
from boomerang.sampler import posterior_mean_std, sample_boomerang_exact
from testkit.oracle_law import algorithm1_law, sd_alpha_bars

AB = sd_alpha_bars()


@pytest.mark.parametrize("t", [2, 17, 500, 1000])
def test_step_is_the_papers_posterior_in_vp_coordinates(t):
    a_t, a_s = AB[t - 1], AB[t - 2]
    beta = 1 - a_t / a_s
    c_xt, c_x0, std = posterior_mean_std(math.sqrt(a_t), math.sqrt(1 - a_t), math.sqrt(a_s), math.sqrt(1 - a_s))
    assert c_xt == pytest.approx(math.sqrt(1 - beta) * (1 - a_s) / (1 - a_t), rel=1e-12)
    assert c_x0 == pytest.approx(math.sqrt(a_s) * beta / (1 - a_t), rel=1e-12)
    assert std ** 2 == pytest.approx((1 - a_s) / (1 - a_t) * beta, rel=1e-10)  # beta~_t of Algorithm 1


def test_step_in_comfy_eps_coordinates_is_the_same_step():
    """x_ve = x_vp / sqrt(a_bar): the step in (a=1, s=sigma) coordinates is the VP step rescaled."""
    t = 300
    a_t, a_s = AB[t - 1], AB[t - 2]
    vp = posterior_mean_std(math.sqrt(a_t), math.sqrt(1 - a_t), math.sqrt(a_s), math.sqrt(1 - a_s))
    ve = posterior_mean_std(1.0, math.sqrt((1 - a_t) / a_t), 1.0, math.sqrt((1 - a_s) / a_s))
    assert ve[0] == pytest.approx(vp[0] * math.sqrt(a_t) / math.sqrt(a_s), rel=1e-10)
    assert ve[1] == pytest.approx(vp[1] / math.sqrt(a_s), rel=1e-10)
    assert ve[2] == pytest.approx(vp[2] / math.sqrt(a_s), rel=1e-10)


def test_last_step_returns_the_denoised_estimate_without_noise():
    c_xt, c_x0, std = posterior_mean_std(1.0, 0.03, 1.0, 0.0)
    assert (c_xt, c_x0, std) == (0.0, 1.0, 0.0)


def test_exact_sampler_alone_follows_the_algorithm1_chain_law():
    """sample_boomerang_exact with VP coefficients and the exact Gaussian denoiser, no ComfyUI at all."""
    mu, s, x0, t_boom = -0.4, 0.7, 0.9, 120
    vp = {0.0: (1.0, 0.0)}
    levels = [math.sqrt((1 - AB[t - 1]) / AB[t - 1]) for t in range(t_boom, 0, -1)] + [0.0]
    for lv in levels[:-1]:
        a_bar = 1 / (1 + lv * lv)
        vp[lv] = (math.sqrt(a_bar), math.sqrt(1 - a_bar))
    sigmas = torch.tensor(levels, dtype=torch.float64)

    def denoiser(x, sigma_vec):
        a, sn = vp[float(sigma_vec[0])]
        precision = 1 / s ** 2 + a * a / sn ** 2
        return (mu / s ** 2 + a * x / sn ** 2) / precision

    gen = torch.Generator().manual_seed(0)
    a, sn = vp[levels[0]]
    x = a * x0 + sn * torch.randn(200_000, generator=gen, dtype=torch.float64)
    out = sample_boomerang_exact(lambda x, sig: denoiser(x, sig), x.view(1, -1), sigmas, disable=True,
                                 noise_sampler=lambda *_: torch.randn((1, 200_000), generator=gen, dtype=torch.float64),
                                 coeffs=lambda sig: vp[sig])
    mean, var = algorithm1_law(AB, t_boom, mu, s, x0)
    assert abs(float(out.mean()) - mean) < 0.01 * math.sqrt(var)
    assert abs(float(out.var()) / var - 1) < 0.01


def test_item_noise_does_not_depend_on_batch_size_and_streams_are_independent():
    eight = noise.per_item_normal((8, 4, 16, 16), noise.item_seeds(11, 8), noise.STREAM_FORWARD)
    alone = noise.per_item_normal((1, 4, 16, 16), noise.item_seeds(14, 1), noise.STREAM_FORWARD)
    assert torch.equal(eight[3:4], alone)
    other = noise.per_item_normal((1, 4, 16, 16), noise.item_seeds(14, 1), noise.STREAM_ANCESTRAL)
    corr = float(torch.corrcoef(torch.stack([alone.flatten(), other.flatten()]))[0, 1])
    assert abs(corr) < 0.05  # 1024 values: sd of a null correlation is 0.031
    assert noise.item_seeds(2 ** 64 - 1, 2) == [2 ** 64 - 1, 0]
    assert noise.item_seeds(5, 2, batch_index=[3, 9]) == [8, 14]
    sampler = noise.PerItemNoiseSampler(torch.zeros(2, 3), [1, 2])
    assert not torch.equal(sampler(), sampler())  # each call draws new noise


@pytest.mark.parametrize("factor,total,expected", [(4, 250, 50), (8, 250, 100), (4, 1000, 200), (8, 1000, 400),
                                                   (16, 1000, 600), (1, 1000, 0), (2, 1000, 100), (64, 1000, 800)])
def test_auto_t_boom_follows_the_papers_anchors(factor, total, expected):
    assert schedule.auto_t_boom(factor, total) == expected


def test_auto_t_boom_is_monotone_and_cascades_use_small_passes():
    values = [schedule.auto_fraction(f) for f in np.linspace(1, 40, 200)]
    assert all(b >= a for a, b in zip(values, values[1:]))
    assert schedule.auto_t_boom(16, 1000, passes=4) == 200 and schedule.auto_t_boom(2, 1000, passes=4) == 100


def test_pass_schedule_parsing():
    assert schedule.parse_pass_schedule("50, 50,30", 3, 10, 1000) == [50, 50, 30]
    assert schedule.parse_pass_schedule("", 2, 10, 1000) == [10, 10]
    assert schedule.parse_pass_schedule("70", 3, 10, 1000) == [70, 70, 70]
    with pytest.raises(BoomerangInputError, match=r"passes must be an integer in \[1, 1000\]; received 0"):
        schedule.parse_pass_schedule("", 0, 10, 1000)


def test_integer_grid_and_level_table():
    table = [0.1 * (k + 1) ** 1.5 for k in range(50)]
    grid = schedule.integer_grid(lambda t: table[t - 1], 20, 50)
    assert grid.tolist() == pytest.approx(table[19::-1] + [0.0])
    levels = schedule.LevelTable(table[:20])
    assert float(levels.sigma_max) == pytest.approx(table[19], rel=1e-6)
    assert float(levels.sigma(torch.tensor(7.0))) == pytest.approx(table[7], rel=1e-6)
    for sig in (0.13, 1.0, 5.5):
        assert float(levels.sigma(levels.timestep(torch.tensor(sig)))) == pytest.approx(sig, rel=1e-5)
    with pytest.raises(BoomerangInputError, match=r"t_boom must be an integer in \[0, 50\]; received 51"):
        schedule.integer_grid(lambda t: 1.0, 51, 50)


def test_fast_schedule_is_pinned_to_t_boom():
    pinned = schedule.check_fast_schedule(torch.tensor([2.9, 1.0, 0.0]), 3.0, "ddim_uniform")
    assert pinned.tolist() == [3.0, 1.0, 0.0]
    with pytest.raises(BoomerangInputError, match="scheduler must be"):
        schedule.check_fast_schedule(torch.tensor([3.5, 1.0, 0.0]), 3.0, "x")
    with pytest.raises(BoomerangInputError, match="strictly descending"):
        schedule.check_fast_schedule(torch.tensor([3.0, 1.0, 1.0, 0.0]), 3.0, "x")


@pytest.mark.parametrize("w,h,factor,expected", [(64, 64, 4, (256, 256)), (64, 64, 16, (1024, 1024)),
                                                 (50, 30, 2.5, (125, 75)), (3, 5, 1.5, (5, 8)), (7, 7, 1, (7, 7))])
def test_target_size_rounds_half_up(w, h, factor, expected):
    assert target_size(w, h, factor) == expected


def test_target_size_rejects_factor_below_one():
    with pytest.raises(BoomerangInputError, match=r"factor must be a finite number >= 1; received 0.9"):
        target_size(8, 8, 0.9)


@pytest.mark.parametrize("method", ["bilinear", "bicubic", "lanczos", "nearest-exact", "area"])
def test_resize_gives_exact_sizes_and_keeps_constants(method):
    img = torch.full((2, 10, 14, 3), 0.25)
    out = resize_image(img, 35, 25, method)
    assert out.shape == (2, 25, 35, 3)
    torch.testing.assert_close(out, torch.full_like(out, 0.25), rtol=0, atol=1e-5)


def test_pad_to_multiple_mirrors_edges():
    img = torch.rand(1, 10, 13, 3)
    padded, w, h = pad_to_multiple(img, 8)
    assert padded.shape == (1, 16, 16, 3) and (w, h) == (13, 10)
    # symmetric padding: rows 10..15 are rows 9..4, columns 13..15 are columns 12..10 (content, no black bars)
    assert torch.equal(padded[:, :10, :13], img) and torch.equal(padded[:, 15, 15], img[:, 4, 10])
    assert torch.equal(padded[:, 10:, :13], img.flip(1)[:, :6])
    # padding longer than the image (issue 20: 1x1 and 1000x10 inputs): it repeats back and forth
    one, w, h = pad_to_multiple(img[:, :1, :1], 8)
    assert one.shape == (1, 8, 8, 3) and (w, h) == (1, 1) and torch.equal(one, img[:, :1, :1].expand(1, 8, 8, 3))
    thin, _, _ = pad_to_multiple(img[:, :3, :1], 8)
    assert torch.equal(thin[0, :, 0], img[0, [0, 1, 2, 2, 1, 0, 0, 1], 0])


@pytest.mark.parametrize("mode", ["mean", "mean_std"])
def test_channel_stats_match_the_reference(mode):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(3, 4, 16, 16, generator=gen) * 2 + 1
    ref = torch.randn(3, 4, 16, 16, generator=gen) * 0.5 - 0.3
    out = match_channel_stats(x, ref, channel_dim=1, mode=mode)
    torch.testing.assert_close(out.mean(dim=(2, 3)), ref.mean(dim=(2, 3)), rtol=0, atol=1e-5)
    if mode == "mean_std":
        torch.testing.assert_close(out.std(dim=(2, 3)), ref.std(dim=(2, 3)), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("tile,overlap", [(16, 4), (24, 8), (64, 8)])
def test_tiled_map_equals_the_untiled_result_for_positionwise_maps(tile, overlap):
    x = torch.rand(2, 3, 40, 56)
    up = lambda t: F.interpolate(t, scale_factor=8, mode="nearest") * 2.0  # noqa: E731 - a decoder stand-in
    torch.testing.assert_close(tiled_map(x, up, tile, overlap, scale_num=8), up(x), rtol=0, atol=1e-6)
    down = lambda t: F.avg_pool2d(t, 8)  # noqa: E731 - an encoder stand-in, exact on 8-aligned tiles
    img = torch.rand(1, 3, 64, 80)
    torch.testing.assert_close(tiled_map(img, down, tile * 2, overlap * 2, scale_den=8, unit=8), down(img),
                               rtol=0, atol=1e-6)
