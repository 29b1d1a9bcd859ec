"""The tiled denoiser (issue 9): blend weights, the model wrapper, exactness, the Boomerang law and seams.

Truths: the blend weights' closed form (linear cross-fades summing to 1); the Gaussian oracle is exact and
independent per position, so tiling must leave every output value unchanged and the closed-form law of
testkit/oracle_law.py must hold with the tolerances of tests/test_oracle.py; for seams, the same gradient
measure must pass on the tiled run and fail on naive stitching, in one test.
"""
import logging
import math

import pytest
import torch

from boomerang.imaging import feather, tile_grid
from testkit import graphs, report
from testkit.oracle_law import algorithm1_law, boomerang_law, errors, sd_alpha_bars
from testkit.runtime import GraphError, tiny_checkpoint, write_photo

MU, S, X0 = 0.3, 1.0, 1.8  # as in tests/test_oracle.py
PIXEL_VAE = {"class_type": "VAELoader", "inputs": {"vae_name": "pixel_space"}}  # ratio 1: 1 px = 1 latent


# ---------------------------------------------------------------- blend weights (pure math, no ComfyUI)

@pytest.mark.parametrize("height,width,tile,overlap", [(176, 176, 64, 8), (100, 37, 32, 10), (64, 200, 64, 0),
                                                       (13, 13, 64, 8), (97, 130, 40, 19)])
def test_weights_sum_to_one_everywhere(height, width, tile, overlap):
    grid = tile_grid(height, width, tile, overlap)
    weights = grid.weights()
    total = torch.zeros(height, width, dtype=torch.float64)
    covered = torch.zeros(height, width, dtype=torch.int64)
    for (y, x), w in zip(grid.boxes, weights):
        assert w.shape == (min(tile, height), min(tile, width))
        total[y:y + grid.tile_h, x:x + grid.tile_w] += w.double()
        covered[y:y + grid.tile_h, x:x + grid.tile_w] += 1
    assert (covered >= 1).all()  # borders and corners included
    assert float((total - 1.0).abs().max()) < 1e-6
    assert bool((weights > 0).all())


def test_weights_closed_form_cross_fade():
    """Tiles 64 wide at stride 56 (overlap 8): in an overlap the weights are cos^2 and sin^2 of
    pi/2 (p - 55)/9, a raised-cosine cross-fade; alone, a tile has weight 1 (border ramps normalise away)."""
    grid = tile_grid(176, 176, 64, 8)
    assert grid.ys == grid.xs == (0, 56, 112) and len(grid) == 9
    w = grid.weights().double()
    angle = math.pi / 2 * (torch.arange(56, 64, dtype=torch.float64) - 55) / 9
    row = 30  # inside tile row 0 only
    torch.testing.assert_close(w[0, row, 56:64], torch.cos(angle) ** 2, rtol=0, atol=1e-6)
    torch.testing.assert_close(w[1, row, 0:8], torch.sin(angle) ** 2, rtol=0, atol=1e-6)
    torch.testing.assert_close(w[0, :56, :56], torch.ones(56, 56, dtype=torch.float64), rtol=0, atol=1e-6)
    # where four tiles meet: products of the two 1-D cross-fades
    expected = (torch.cos(angle) ** 2)[:, None] * (torch.cos(angle) ** 2)[None, :]
    torch.testing.assert_close(w[0, 56:64, 56:64], expected, rtol=0, atol=1e-6)
    assert float(feather(10, 3)[0]) == pytest.approx(math.sin(math.pi / 8) ** 2)  # (0 + 1) / (3 + 1) of the ramp
    assert float(feather(10, 3)[4]) == 1.0


def test_grid_tiles_are_equal_and_reach_the_end():
    grid = tile_grid(100, 37, 32, 10)
    assert (grid.tile_h, grid.tile_w) == (32, 32)
    assert grid.ys[-1] + 32 == 100 and grid.xs[-1] + 32 == 37
    assert all(b - a <= 32 - 10 for a, b in zip(grid.ys, grid.ys[1:]))  # at least the overlap is shared


# ---------------------------------------------------------------- the wrapper on its own

def tiling_module(comfy):
    """The tiled denoiser (the model wrapper), as ComfyUI loaded it with the pack."""
    return comfy.pack_module("comfyui-boomerang").nodes.comfy.tiling


def test_wrapper_cuts_conditioning_and_chains_the_previous_wrapper(comfy):
    """One tile batch per call; c_concat cut like the latent, per-item tensors repeated, the earlier
    wrapper called once per tile batch, and a position-wise model gives back the untiled output."""
    tiling = tiling_module(comfy)
    seen, previous_calls = [], []

    def apply_model(x, t, c_concat=None, c_crossattn=None, transformer_options=None, control=None):
        seen.append((tuple(x.shape), tuple(t.shape), tuple(c_concat.shape), tuple(c_crossattn.shape),
                     list(transformer_options["cond_or_uncond"])))
        assert torch.equal(c_concat, x * 10)  # the concat channels were cut at the same place as x
        return x * 2 + t.view(-1, 1, 1, 1)

    def previous(apply, args):
        previous_calls.append(args["input"].shape[0])
        return apply(args["input"], args["timestep"], **args["c"])

    x = torch.randn(2, 4, 40, 30)
    t = torch.tensor([5.0, 5.0])
    c = {"c_concat": x * 10, "c_crossattn": torch.randn(2, 77, 16),
         "transformer_options": {"cond_or_uncond": [0, 1], "uuids": ["a", "b"]}, "control": None}
    wrapper = tiling.TiledDenoiser(16, 4, 3, previous)
    out = wrapper(apply_model, {"input": x, "timestep": t, "c": c, "cond_or_uncond": [0, 1]})
    grid = tile_grid(40, 30, 16, 4)
    assert len(grid) == 3 * 3  # rows at 0, 12, 24; columns at 0, 12, 14
    assert previous_calls == [6, 6, 6]  # 9 tiles, 3 per call, 2 items each
    assert all(s[0] == (6, 4, 16, 16) and s[1] == (6,) and s[2] == (6, 4, 16, 16) and s[3] == (6, 77, 16)
               and s[4] == [0, 1] * 3 for s in seen)
    torch.testing.assert_close(out, x * 2 + 5.0, rtol=0, atol=1e-5)
    assert c["transformer_options"]["cond_or_uncond"] == [0, 1]  # the caller's dicts are not modified


def test_per_item_model_keeps_an_earlier_wrapper(comfy):
    """Regression (merge of issues 9 and 11): BoomerangPerItemModel after Boomerang Tiled Model used to replace
    the tiling wrapper. Now the earlier wrapper is called once per item, with that item's cond and uncond rows."""
    glue = comfy.pack_module("comfyui-boomerang").nodes.comfy.per_item
    previous_rows = []

    def apply_model(x, t, c_crossattn=None):
        return x * 3 + c_crossattn.mean(dim=(1, 2)).view(-1, 1, 1, 1) + t.view(-1, 1, 1, 1)

    def previous(apply, args):
        previous_rows.append((args["input"].shape[0], list(args["cond_or_uncond"])))
        return apply(args["input"], args["timestep"], **args["c"])

    x = torch.randn(6, 4, 8, 8)  # 3 items, cond rows 0-2 then uncond rows 3-5
    t = torch.arange(6, dtype=torch.float32)
    c = {"c_crossattn": torch.randn(6, 5, 7)}
    out = glue.per_item_wrapper(previous)(apply_model, {"input": x, "timestep": t, "c": c, "cond_or_uncond": [0, 1]})
    assert previous_rows == [(2, [0, 1])] * 3
    expected = x * 3 + c["c_crossattn"].mean(dim=(1, 2)).view(-1, 1, 1, 1) + t.view(-1, 1, 1, 1)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)


def test_per_item_wrapper_indexes_conds_on_their_own_device(comfy):
    """Regression (GPU check, issue 17): on CUDA the per-item wrapper indexed every cond with an index tensor made on
    x's device; a cond ComfyUI keeps on the CPU then failed ("indices should be either on cpu or on the same device
    as the indexed tensor"), so every fast dataset batch fell back to one item at a time. Here x lives on the
    "meta" device and the cond on the CPU, the same mismatch without a GPU: each call gets that item's rows."""
    glue = comfy.pack_module("comfyui-boomerang").nodes.comfy.per_item
    received = []

    def apply_model(x, t, y=None):
        received.append((x.device.type, t.device.type, y.clone()))
        return x

    x = torch.empty(6, 4, 8, 8, device="meta")  # 3 items: cond rows 0-2, uncond rows 3-5
    t = torch.empty(6, device="meta")
    y = torch.arange(6, dtype=torch.float32).view(6, 1) * 10
    out = glue.per_item_wrapper(None)(apply_model, {"input": x, "timestep": t, "c": {"y": y}, "cond_or_uncond": [0, 1]})
    assert out.shape == (6, 4, 8, 8) and out.device.type == "meta"
    assert [r[:2] for r in received] == [("meta", "meta")] * 3
    assert [r[2].flatten().tolist() for r in received] == [[0.0, 30.0], [10.0, 40.0], [20.0, 50.0]]


def test_shared_wrapper_gives_sequential_results_when_called_from_threads(comfy):
    """Regression (issue 17): ComfyUI 0.38's multi-GPU path calls one shared wrapper from worker threads. The
    layout cache held one (shape, device) at a time and was cleared and refilled without a lock: threads on two
    devices threw each other's layout away on every call, and a thread could lose the entry it had just made (a
    KeyError; a window of a few bytecodes, not hit reliably here, hence the interleaving check below).
    Truth: a position-wise model x -> 2x + t gives back the untiled output exactly (weights sum to 1), for every
    shape and every thread, as in a sequential run."""
    import copy
    import sys
    import threading

    tiling = tiling_module(comfy)
    wrapper = tiling.TiledDenoiser(16, 4, 2)
    shapes = [(40, 30), (33, 47), (24, 64), (50, 18)] * 3  # more (shape, device) keys than MAX_LAYOUTS
    gen = torch.Generator().manual_seed(3)
    inputs = [torch.randn(2, 3, h, w, generator=gen) for h, w in shapes]

    def call(x):
        return wrapper(lambda tiles, t, **c: tiles * 2 + t.view(-1, 1, 1, 1),
                       {"input": x, "timestep": torch.full((2,), 0.5), "c": {}, "cond_or_uncond": [0]})

    first = wrapper.layout(40, 30, torch.device("cpu"))
    wrapper.layout(33, 47, torch.device("cpu"))  # another thread's shape (or device) in between ...
    assert wrapper.layout(40, 30, torch.device("cpu")) is first  # ... no longer throws the first layout away
    sequential = [call(x) for x in inputs]
    for x, out in zip(inputs, sequential):
        torch.testing.assert_close(out, x * 2 + 0.5, rtol=0, atol=1e-5)
    results, errors_seen = {}, []

    def worker(k):
        try:
            for _ in range(20):
                for i in range(k % 4, len(inputs), 2):
                    results.setdefault((k, i), []).append(call(inputs[i]))
        except Exception as err:  # noqa: BLE001 - reported below
            errors_seen.append(repr(err))

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: the race needs a switch inside layout()
    try:
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    finally:
        sys.setswitchinterval(switch)
    assert errors_seen == []
    assert results and all(torch.equal(out, sequential[i]) for (_, i), outs in results.items() for out in outs)
    assert len(wrapper._cache) <= tiling.MAX_LAYOUTS
    clone = copy.deepcopy(wrapper)  # what ComfyUI 0.3.x's ModelPatcher.clone() does to model_options
    assert (clone.tile, clone.overlap, clone.tile_batch) == (16, 4, 2) and clone._lock is not wrapper._lock
    assert torch.equal(clone(lambda tiles, t, **c: tiles * 2 + t.view(-1, 1, 1, 1),
                             {"input": inputs[0], "timestep": torch.full((2,), 0.5), "c": {},
                              "cond_or_uncond": [0]}), sequential[0])


def test_wrapper_refuses_a_controlnet(comfy):
    tiling = tiling_module(comfy)
    x = torch.zeros(1, 4, 20, 20)
    with pytest.raises(ValueError) as err:
        tiling.TiledDenoiser(8, 2, 1)(lambda *a, **k: a[0], {"input": x, "timestep": torch.ones(1),
                                                              "c": {"control": {"output": []}}, "cond_or_uncond": [0]})
    assert "ControlNet" in str(err.value) and "denoise_tiling" in str(err.value)


# ---------------------------------------------------------------- the Gaussian oracle through the executor

def oracle_graph(t_boom, tile, overlap=16, tile_batch=1, size=160, batch=4, with_extras=False,
                 sampler="boomerang_exact", steps=20, tag="oracle"):
    """Oracle -> (Boomerang Tiled Model) -> BoomerangNoise -> PartialReverseSampler; tile 0 = untiled."""
    g = graphs.oracle_boomerang("eps", t_boom, x0=X0, mu=MU, s=S, batch=batch, size=size, with_extras=with_extras,
                                sampler=sampler, steps=steps)
    g["1"]["inputs"]["tag"] = tag
    if tile:
        g["vae"] = PIXEL_VAE
        g["tiled"] = {"class_type": "BoomerangTiledModel", "inputs": {"model": ["1", 0], "vae": ["vae", 0],
                                                                       "tile_size": tile, "overlap": overlap,
                                                                       "tile_batch": tile_batch}}
        g["4"]["inputs"]["model"] = ["tiled", 0]
    return g


def test_tiled_oracle_equals_untiled_and_keeps_the_noise_mask(comfy):
    """The oracle is position-wise, so 3x3 tiles (2 per call) must give the untiled values; the mask's
    bottom half stays x0 exactly; 9 tiles in 5 calls per step."""
    untiled = comfy.run(oracle_graph(50, 0, batch=2, with_extras=True))["out"]["latent"]
    tiled = comfy.run(oracle_graph(50, 64, tile_batch=2, batch=2, with_extras=True))["out"]["latent"]
    assert comfy.calls("oracle") == 50 * 5
    assert tiled["batch_index"] == [10, 11] and "noise_mask" in tiled
    assert float((tiled["samples"] - untiled["samples"]).abs().max()) <= 1e-5
    assert torch.equal(tiled["samples"][..., 80:, :], torch.full((2, 4, 80, 160), X0))
    assert float((tiled["samples"][..., :80, :] - X0).abs().mean()) > 0.1  # the top half was resampled


def test_ksampler_through_boomerang_tiled_model(comfy):
    """ComfyUI's own KSampler on the patched MODEL: the same values as unpatched, 9 model calls per step."""
    def graph(tiled):
        g = {"1": graphs.oracle(), "2": graphs.const_latent(X0, 2, 4, 160, 160), "vae": PIXEL_VAE,
             "ks": {"class_type": "KSampler", "inputs": {"model": ["1", 0], "positive": ["1", 1], "negative": ["1", 1],
                                                         "latent_image": ["2", 0], "seed": 3, "steps": 8, "cfg": 1.0,
                                                         "sampler_name": "euler_ancestral", "scheduler": "normal",
                                                         "denoise": 0.5}},
             "cap": graphs.capture("out", latent=["ks", 0])}
        if tiled:
            g["tiled"] = {"class_type": "BoomerangTiledModel",
                          "inputs": {"model": ["1", 0], "vae": ["vae", 0], "tile_size": 64, "overlap": 16,
                                     "tile_batch": 1}}
            g["ks"]["inputs"]["model"] = ["tiled", 0]
        return g

    plain = comfy.run(graph(False))["out"]["latent"]["samples"]
    plain_calls = comfy.calls("oracle")
    tiled = comfy.run(graph(True))["out"]["latent"]["samples"]
    assert comfy.calls("oracle") == 9 * plain_calls and plain_calls > 0
    assert float((tiled - plain).abs().max()) <= 1e-5


@pytest.mark.parametrize("t_boom", [200, 500, 800])
def test_oracle_law_holds_with_tiling_on(comfy, t_boom):
    """tests/test_oracle.py's law and tolerances on a 160x160 latent in 3x3 tiles of 64 (overlap 16);
    1 x 4 x 160 x 160 = 102,400 values (the untiled tests use 65,536)."""
    out = comfy.run(oracle_graph(t_boom, 64, tile_batch=3, batch=1))
    samples = out["out"]["latent"]["samples"]
    assert samples.shape == (1, 4, 160, 160) and comfy.calls("oracle") == 3 * t_boom
    a = sd_alpha_bars()[t_boom - 1]
    law_mean, law_var = errors(samples, *boomerang_law(MU, S, X0, a / (1.0 - a)))
    chain_mean, chain_var = errors(samples, *algorithm1_law(sd_alpha_bars(), t_boom, MU, S, X0))
    report.append("tiling.txt", f"oracle tiled 3x3 t_boom={t_boom}: vs law mean {law_mean:.4f} sd, var "
                                f"{100 * law_var:.2f}% | vs chain mean {chain_mean:.4f} sd, var {100 * chain_var:.2f}%")
    assert chain_mean < 0.02 and chain_var < 0.02
    assert law_mean < 0.03 and law_var < 0.03


def test_cascade_loop_tiling_modes(comfy, caplog):
    """CascadeLoop: on with the (ratio 1) VAE tiles, equal to off on the oracle; on without a VAE is an
    error naming vae; on with a latent inside one tile runs untiled and says why."""
    def graph(mode, vae=True, size=160):
        g = {"1": graphs.oracle(), "2": graphs.const_latent(X0, 1, 4, size, size), "vae": PIXEL_VAE,
             "c": {"class_type": "CascadeLoop", "inputs": {
                 "model": ["1", 0], "positive": ["1", 1], "negative": ["1", 1], "latent": ["2", 0], "t_boom": 30,
                 **graphs.pass_settings(), "seed": 5, "passes": 2, "t_boom_schedule": "", "color_match": "off",
                 "denoise_tiling": mode, "denoise_tile": 64, "denoise_overlap": 16, "tile_batch": 9}},
             "cap": graphs.capture("out", latent=["c", 0])}
        if vae:
            g["c"]["inputs"]["vae"] = ["vae", 0]
        return g

    off = comfy.run(graph("off"))["out"]["latent"]["samples"]
    assert comfy.calls("oracle") == 60
    on = comfy.run(graph("on"))["out"]["latent"]["samples"]
    assert comfy.calls("oracle") == 60  # 9 tiles in one call per step
    assert float((on - off).abs().max()) <= 1e-5
    with pytest.raises(GraphError) as err:
        comfy.run(graph("on", vae=False))
    assert "vae must be a VAE when denoise_tiling is on" in str(err.value.details)
    auto = comfy.run(graph("auto", vae=False))["out"]["latent"]["samples"]
    assert torch.equal(auto, off)
    with caplog.at_level(logging.INFO, logger="boomerang"):
        comfy.run(graph("on", size=48))
    assert "fits in one 64-sample tile (64 px): untiled" in caplog.text


@pytest.mark.parametrize("field,value,expected", [
    ("denoise_tile", 32, "denoise_tile must be an integer in [64, 8192]; received 32"),
    ("denoise_tile", 9000, "denoise_tile must be an integer in [64, 8192]; received 9000"),
    ("denoise_overlap", 32, "denoise_overlap must be an integer in [0, denoise_tile / 2) = [0, 32) pixels; received "
                            "32"),
    ("tile_batch", 0, "tile_batch must be an integer in [1, 64]; received 0"),
])
def test_bad_tiling_inputs(comfy, field, value, expected):
    settings = {"denoise_tiling": "on", "denoise_tile": 64, "denoise_overlap": 8, "tile_batch": 1, field: value}
    g = {"1": graphs.oracle(), "2": graphs.const_latent(X0, 1, 4, 8, 8), "vae": PIXEL_VAE,
         "c": {"class_type": "CascadeLoop", "inputs": {
             "model": ["1", 0], "positive": ["1", 1], "negative": ["1", 1], "latent": ["2", 0], "t_boom": 3,
             **graphs.pass_settings(), "seed": 5, "passes": 1, "color_match": "off", "vae": ["vae", 0], **settings}},
         "cap": graphs.capture("out", latent=["c", 0])}
    _, (ok, _, _, node_errors) = comfy.validate(g)
    assert not ok and expected in str(node_errors)
    pack = comfy.pack_module("comfyui-boomerang")
    with pytest.raises(ValueError) as err:  # the same check when the node runs (linked inputs)
        pack.boomerang.checks.check_tiling(settings["denoise_tile"], settings["denoise_overlap"],
                                           settings["tile_batch"], pack.nodes.tiling.NODE_NAMES)
    assert expected.split(";")[0] in str(err.value)
    assert f"received {value}" in str(err.value)


# ---------------------------------------------------------------- real UNets

def seam_ratio(images: torch.Tensor, borders: list[int]) -> float:
    """Mean |pixel gradient| across the tile borders over the same measure inside tiles.

    Gap k is the step between rows (and columns) k and k + 1. The digits model was trained on 8x8 digits
    upsampled 2x, so its pictures have a period of 2 pixels (gaps alternate by about +-20%); borders are
    therefore compared with the inside gaps of the same parity (all borders here are even)."""
    dx = (images[..., :, 1:] - images[..., :, :-1]).abs().mean(dim=(0, 1, 2))
    dy = (images[..., 1:, :] - images[..., :-1, :]).abs().mean(dim=(0, 1, 3))
    gaps = torch.tensor([b - 1 for b in borders])
    assert len({int(k) % 2 for k in gaps}) == 1
    inside = torch.zeros(dx.shape[0], dtype=torch.bool)
    inside[int(gaps[0]) % 2::2] = True
    inside[gaps] = False
    return float((dx[gaps].mean() + dy[gaps].mean()) / (dx[inside].mean() + dy[inside].mean()))


def test_seams_tiled_within_10_percent_and_naive_stitching_fails(comfy):
    """The built-in digits DDPM (a trained pixel-space UNet; VAE ratio 1, so latent = pixels in -1..1) on a
    192x192 grey picture, Boomerang at t_boom 500: tiled (64 px tiles, 16 px overlap: 4x4 tiles) against
    naive stitching of the 3x3 non-overlapping 64 px tiles, each sampled alone. Two seeds each."""
    side, batch, n = 192, 2, 3

    def boom(model, latent, seed):
        return {"class_type": "Boomerang", "inputs": {
            "model": model, "positive": ["load", 2], "negative": ["load", 2], "latent": latent, "t_boom": 500,
            **graphs.pass_settings(1.0, "dpmpp_2m_sde", "karras", 10), "seed": seed}}

    g = {"load": {"class_type": "PixelDiffusionLoader", "inputs": {"model_name": "digits-ddpm (built-in)",
                                                                    "weight_dtype": "float32"}},
         "tm": {"class_type": "BoomerangTiledModel", "inputs": {"model": ["load", 0], "vae": ["load", 1],
                                                                 "tile_size": 64, "overlap": 16, "tile_batch": 16}},
         "big": graphs.const_latent(-0.6, batch, 3, side, side),
         "small": graphs.const_latent(-0.6, batch * n * n, 3, 64, 64),  # item b * 9 + 3 i + j: tile (i, j)
         "bt": boom(["tm", 0], ["big", 0], 0), "bn": boom(["load", 0], ["small", 0], 100),
         "c1": graphs.capture("tiled", latent=["bt", 0]), "c2": graphs.capture("naive", latent=["bn", 0])}
    out = comfy.run(g)
    tiled = out["tiled"]["latent"]["samples"]
    naive = out["naive"]["latent"]["samples"].view(batch, n, n, 3, 64, 64).permute(0, 3, 1, 4, 2, 5)
    naive = naive.reshape(batch, 3, side, side)
    grid = tile_grid(side, side, 64, 16)
    assert len(grid) == 16
    edges = sorted({s for s in grid.xs if s > 0} | {s + 64 for s in grid.xs if s + 64 < side})
    tiled_ratio, naive_ratio = seam_ratio(tiled, edges), seam_ratio(naive, [64, 128])
    report.append("tiling.txt", f"seams (digits DDPM, 192 px, t_boom 500): tiled border/inside {tiled_ratio:.3f} "
                                f"at edges {edges}; naive stitching {naive_ratio:.3f} at [64, 128]")
    assert abs(tiled_ratio - 1.0) <= 0.10, tiled_ratio
    assert abs(naive_ratio - 1.0) > 0.10, naive_ratio  # the same check fails on naive stitching


def test_single_tile_equals_untiled_on_the_tiny_sd_unet(comfy):
    """One 64 px tile covers the 8x8 latent of a 64 px picture: the patched model's output equals the
    unpatched one's (the wrapper path with one tile and weight 1)."""
    ckpt = tiny_checkpoint(comfy)
    photo = write_photo(comfy.folder_paths.get_input_directory(), 64)

    def graph(model):
        return {**graphs.checkpoint_nodes(ckpt), "img": {"class_type": "LoadImage", "inputs": {"image": photo}},
                "enc": {"class_type": "VAEEncode", "inputs": {"pixels": ["img", 0], "vae": ["ckpt", 2]}},
                "tm": {"class_type": "BoomerangTiledModel",
                       "inputs": {"model": ["ckpt", 0], "vae": ["ckpt", 2], "tile_size": 64, "overlap": 8,
                                  "tile_batch": 1}},
                "b": {"class_type": "Boomerang", "inputs": {"model": model, "positive": ["pos", 0],
                                                            "negative": ["neg", 0], "latent": ["enc", 0], "t_boom": 300,
                                                            **graphs.pass_settings(7.5, "dpmpp_2m_sde", "karras", 6),
                                                            "seed": 4}},
                "cap": graphs.capture("out", latent=["b", 0])}

    plain = comfy.run(graph(["ckpt", 0]))["out"]["latent"]["samples"]
    tiled = comfy.run(graph(["tm", 0]))["out"]["latent"]["samples"]
    assert plain.shape == (1, 4, 8, 8)
    assert float((tiled - plain).abs().max()) <= 1e-5


def test_upscale_then_boomerang_tiles_a_large_latent(comfy, caplog):
    """4x of a 64 px picture with 128 px denoiser tiles: a 32x32 latent in 3x3 tiles of 16 (ratio 8 from
    the VAE); the output keeps its exact size."""
    ckpt = tiny_checkpoint(comfy)
    photo = write_photo(comfy.folder_paths.get_input_directory(), 64)
    g = {**graphs.checkpoint_nodes(ckpt), "img": {"class_type": "LoadImage", "inputs": {"image": photo}},
         "up": {"class_type": "UpscaleThenBoomerang", "inputs": {
             "image": ["img", 0], "vae": ["ckpt", 2], "model": ["ckpt", 0], "positive": ["pos", 0],
             "negative": ["neg", 0], "factor": 4.0, "interpolation": "bilinear", "t_boom": 0, "passes": 1,
             **graphs.pass_settings(cfg=1.0, sampler="euler_ancestral", steps=2), "seed": 0, "tile_size": 512,
             "color_match": "off", "denoise_tiling": "auto", "denoise_tile": 128, "denoise_overlap": 32,
             "tile_batch": 4}},
         "cap": graphs.capture("up", image=["up", 0])}
    with caplog.at_level(logging.INFO, logger="boomerang"):
        image = comfy.run(g)["up"]["image"]
    assert image.shape == (1, 256, 256, 3) and torch.isfinite(image).all()
    assert "tiled denoiser, 9 tiles of 16x16 latent samples (overlap 4), 4 per model call" in caplog.text
