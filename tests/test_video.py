"""Video latents [batch, channels, frames, height, width] through the Boomerang nodes (issue 18, part 2).

Models: tiny random-weight Wan 2.2 TI2V 5B and LTXV (testkit/families_video.py: ComfyUI's own supported_models
configs and model_base classes, their VAEs), and a closed-form frame-local model (the exact flow denoiser of
Gaussian data, testkit/families_video.GaussianFlowOracle). Truths, none taken from the pack's code:
- Wan 2.2's level: ModelSamplingDiscreteFlow with the WAN22_T2V config's shift s, sigma(u) = s u / (1 + (s - 1) u);
  the forward noise in user units through the latent format's documented affine map;
- the Gaussian oracle's posterior mean E[x0 | x_t] in closed form (one Euler step to 0 returns it exactly);
- ComfyUI's own VAEEncode -> Boomerang -> VAEDecode chain for the clip node;
- what the network received, recorded by a forward pre-hook on the diffusion model.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from boomerang import noise as bnoise
from testkit.graphs import capture, put
from testkit.runtime import GraphError

T = 1000
PIXEL_VAE = {"class_type": "VAELoader", "inputs": {"vae_name": "pixel_space"}}  # ratio 1: 1 px = 1 latent sample


@pytest.fixture(scope="module")
def fv(comfy):
    from testkit import families_video

    return families_video


@pytest.fixture(scope="module")
def wan(fv):
    return fv.build("wan22", seed=0)


def record_calls(model):
    """Shapes of every input the diffusion model receives (a forward pre-hook); remove with ``.remove()``."""
    shapes = []

    def hook(module, args):
        shapes.append(tuple(args[0].shape))

    return shapes, model.model.diffusion_model.register_forward_pre_hook(hook)


def boomerang_node(model, latent, t_boom=400, seed=5, sampler="euler", steps=2, **extra):
    return {"class_type": "Boomerang", "inputs": {"model": model, "positive": ["obj", 2], "negative": ["obj", 3],
                                                  "latent": latent, "t_boom": t_boom, "seed": seed, "cfg": 1.0,
                                                  "sampler": sampler, "scheduler": "simple", "steps": steps,
                                                  **extra}}


def tiled_node(model, vae, tile_size, overlap, tile_batch=1, window=0, window_overlap=1):
    return {"class_type": "BoomerangTiledModel",
            "inputs": {"model": model, "vae": vae, "tile_size": tile_size, "overlap": overlap,
                       "tile_batch": tile_batch, "temporal_window": window, "temporal_overlap": window_overlap}}


def clip_latent(shape, seed):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * 0.5


# ------------------------------------------------------------------ levels and per-clip noise

def test_wan22_level_and_one_noise_tensor_per_clip(comfy, wan):
    """BoomerangNoise on a batch of two clips: sigma is Wan 2.2's shifted flow level (1e-4), the noisy clips are
    the closed form with one noise tensor per clip (clip i: seed + i), t_boom 0 returns the input bit for bit;
    Boomerang's clip 1 of the batch equals clip 1 alone at seed + 1."""
    from comfy import supported_models

    shift = supported_models.WAN22_T2V.sampling_settings["shift"]
    x0 = clip_latent((2, 48, 3, 4, 4), 1)
    t_boom, seed = 600, 21
    graph = {
        "obj": put(comfy, "wan_noise", model=wan.model, positive=wan.positive, negative=wan.negative,
                   latent={"samples": x0}),
        "noise": {"class_type": "BoomerangNoise", "inputs": {"model": ["obj", 0], "latent": ["obj", 5],
                                                             "t_boom": t_boom, "seed": seed}},
        "zero": {"class_type": "BoomerangNoise", "inputs": {"model": ["obj", 0], "latent": ["obj", 5],
                                                            "t_boom": 0, "seed": seed}},
        "rev": {"class_type": "PartialReverseSampler",
                "inputs": {"model": ["obj", 0], "positive": ["obj", 2], "negative": ["obj", 3],
                           "latent": ["noise", 0], "cfg": 1.0, "sampler": "euler", "scheduler": "simple",
                           "steps": 2, "seed": seed}},
        "boom": boomerang_node(["obj", 0], ["obj", 5], t_boom, seed),
        "c1": capture("noisy", latent=["noise", 0], number=["noise", 1]),
        "c2": capture("zero", latent=["zero", 0]),
        "c3": capture("rev", latent=["rev", 0]),
        "c4": capture("boom", latent=["boom", 0]),
    }
    out = comfy.run(graph)
    u = t_boom / T
    sigma = shift * u / (1 + (shift - 1) * u)
    assert out["noisy"]["number"] == pytest.approx(sigma, rel=1e-4)
    lf = wan.latent_format
    mean, std, scale = lf.latents_mean.double(), lf.latents_std.double(), float(lf.scale_factor)
    eps = bnoise.per_item_normal(x0.shape, [seed, seed + 1], bnoise.STREAM_FORWARD).double()
    x0_model = (x0.double() - mean) * scale / std
    expected = ((1 - sigma) * x0_model + sigma * eps) * std / scale + mean
    torch.testing.assert_close(out["noisy"]["latent"]["samples"].double(), expected, rtol=1e-5, atol=1e-5)
    assert torch.equal(out["zero"]["latent"]["samples"], x0)
    assert out["rev"]["latent"]["samples"].shape == x0.shape and out["boom"]["latent"]["samples"].shape == x0.shape
    torch.testing.assert_close(out["rev"]["latent"]["samples"], out["boom"]["latent"]["samples"], rtol=0, atol=1e-5)
    # clip 1 alone at seed + 1 (its own noise tensor)
    graph["obj"] = put(comfy, "wan_noise1", model=wan.model, positive=wan.positive, negative=wan.negative,
                       latent={"samples": x0[1:2].clone()})
    graph["boom"]["inputs"]["seed"] = graph["noise"]["inputs"]["seed"] = seed + 1
    alone = comfy.run(graph)
    torch.testing.assert_close(alone["noisy"]["latent"]["samples"], out["noisy"]["latent"]["samples"][1:2],
                               rtol=0, atol=1e-6)
    torch.testing.assert_close(alone["boom"]["latent"]["samples"], out["boom"]["latent"]["samples"][1:2],
                               rtol=0, atol=1e-4)


# ------------------------------------------------------------------ tiles and temporal windows

def test_one_tile_and_one_window_equal_the_untiled_model(comfy, fv, wan):
    """A tile covering the latent and a window covering the clip change nothing (1e-5), on Wan 2.2 and LTXV."""
    for tiny, shape in ((wan, (1, 48, 3, 4, 4)), (fv.build("ltxv", seed=1), (1, 128, 3, 2, 2))):
        vae = tiny.vae(2)
        x0 = clip_latent(shape, 3)
        graph = {"obj": put(comfy, f"{tiny.name}_one", model=tiny.model, vae=vae, positive=tiny.positive,
                            negative=tiny.negative, latent={"samples": x0}),
                 "tiled": tiled_node(["obj", 0], ["obj", 1], 8192, 64, window=shape[2]),
                 "a": boomerang_node(["obj", 0], ["obj", 5]), "b": boomerang_node(["tiled", 0], ["obj", 5]),
                 "c1": capture("a", latent=["a", 0]), "c2": capture("b", latent=["b", 0])}
        out = comfy.run(graph)
        assert out["a"]["latent"]["samples"].shape == shape
        torch.testing.assert_close(out["b"]["latent"]["samples"], out["a"]["latent"]["samples"], rtol=1e-5,
                                   atol=1e-5)


def test_every_call_holds_all_frames_of_a_window_and_one_tile_batch(comfy, wan):
    """Wan 2.2, a 5-frame 8x8 latent, 64 px tiles (4 latent samples at the VAE's 16x), 2 tiles per call: without
    windows each call holds all 5 frames; with 3-frame windows (overlap 1), all 3 frames of one window. Never
    more than tile_batch tiles of one clip; CascadeLoop's own tiling too."""
    vae = wan.vae(2)
    x0 = clip_latent((1, 48, 5, 8, 8), 4)
    shapes, handle = record_calls(wan.model)
    try:
        graph = {"obj": put(comfy, "wan_tiles", model=wan.model, vae=vae, positive=wan.positive,
                            negative=wan.negative, latent={"samples": x0}),
                 "tiled": tiled_node(["obj", 0], ["obj", 1], 64, 16, tile_batch=2),
                 "b": boomerang_node(["tiled", 0], ["obj", 5], steps=1), "c": capture("b", latent=["b", 0])}
        comfy.run(graph)
        whole = list(shapes)
        shapes.clear()
        graph["tiled"] = tiled_node(["obj", 0], ["obj", 1], 64, 16, tile_batch=2, window=3, window_overlap=1)
        windowed = comfy.run(graph)["b"]["latent"]["samples"]
        in_windows = list(shapes)
        shapes.clear()
        graph["cascade"] = {"class_type": "CascadeLoop", "inputs": {
            "model": ["obj", 0], "positive": ["obj", 2], "negative": ["obj", 3], "latent": ["obj", 5],
            "t_boom": 300, "seed": 1, "passes": 1, "color_match": "off", "cfg": 1.0, "sampler": "euler",
            "scheduler": "simple", "steps": 1, "denoise_tiling": "on", "denoise_tile": 64, "denoise_overlap": 16,
            "tile_batch": 2, "vae": ["obj", 1]}}
        graph["c2"] = capture("cascade", latent=["cascade", 0])
        del graph["c"]
        comfy.run(graph)
        cascade = list(shapes)
    finally:
        handle.remove()
    # 3 x 3 tiles (starts 0, 3, 4) per call of the model; 2 windows (starts 0, 2) of 3 frames
    assert len(whole) == 5 and all(s[0] <= 2 and s[1:] == (48, 5, 4, 4) for s in whole)
    assert len(in_windows) == 9 and all(s[0] <= 2 and s[1:] == (48, 3, 4, 4) for s in in_windows)
    assert len(cascade) == 5 and all(s[0] <= 2 and s[1:] == (48, 5, 4, 4) for s in cascade)
    assert windowed.shape == x0.shape and torch.isfinite(windowed).all()


def oracle_graph(rt, key, model, x0, vae_link, tiled: dict | None, seed=9, t_boom=500):
    graph = {"obj": put(rt, key, model=model, positive=[[torch.zeros(1, 1, 8), {}]],
                        negative=[[torch.zeros(1, 1, 8), {}]], latent={"samples": x0}),
             "vae": PIXEL_VAE,
             "b": boomerang_node(["tiled", 0] if tiled else ["obj", 0], ["obj", 5], t_boom, seed, steps=1),
             "c": capture("b", latent=["b", 0])}
    if tiled:
        graph["tiled"] = tiled
    return graph


def test_windows_and_tiles_blend_to_the_exact_frame_local_model(comfy, fv):
    """The exact Gaussian flow denoiser (frame- and position-local, closed form) on a 2-clip, 7-frame, 80x80 latent,
    64-sample tiles and 3-frame windows overlapping by 1 (windows at 0, 2, 4; frames in 1, 2 or 3 windows): one
    Euler step to 0 returns E[x0 | x_t], the closed form, at every frame and position (1e-5)."""
    mu, s, seed, t_boom = 0.3, 1.0, 9, 500
    model = fv.gaussian_video_oracle(mu, s)
    x0 = clip_latent((2, 4, 7, 80, 80), 6)
    shapes, handle = record_calls(model)
    try:
        tiled = tiled_node(["obj", 0], ["vae", 0], 64, 16, tile_batch=3, window=3, window_overlap=1)
        out = comfy.run(oracle_graph(comfy, "oracle_win", model, x0, ["vae", 0], tiled, seed, t_boom))
    finally:
        handle.remove()
    sigma = t_boom / T  # shift 1: sigma = t
    eps = bnoise.per_item_normal(x0.shape, [seed, seed + 1], bnoise.STREAM_FORWARD).double()
    x_t = (1 - sigma) * x0.double() + sigma * eps
    a = 1 - sigma
    expected = (mu / s ** 2 + a * x_t / sigma ** 2) / (1 / s ** 2 + a * a / sigma ** 2)
    torch.testing.assert_close(out["b"]["latent"]["samples"].double(), expected, rtol=1e-5, atol=1e-5)
    # 3 windows x 4 tiles (starts 0, 16 per side) = 12 pairs, 3 per call, 2 clips each
    assert len(shapes) == 4 and all(shape == (6, 4, 3, 64, 64) for shape in shapes)


# ------------------------------------------------------------------ bad input

def test_clip_shorter_than_a_window_and_image_latents_are_refused_by_name(comfy, fv, wan):
    model = fv.gaussian_video_oracle()
    tiled = tiled_node(["obj", 0], ["vae", 0], 64, 16, window=3)
    with pytest.raises(GraphError) as err:
        comfy.run(oracle_graph(comfy, "short", model, clip_latent((1, 4, 2, 8, 8), 1), ["vae", 0], tiled))
    text = str(err.value.details)
    assert "temporal_window must be 0 (off) or an integer in [1, 2] (the clip's latent frames); received 3" in text
    # An image (4-D) latent into a video model: with the model's channels ComfyUI's own
    # fix_empty_latent_channels makes it a one-frame clip (as KSampler does); with other channels (an SD or Wan 2.1
    # image latent into Wan 2.2) it cannot work: named, with the channels the model needs and the shape received.
    one_frame = clip_latent((1, 48, 8, 8), 2)
    graph = {"obj": put(comfy, "wan_4d", model=wan.model, positive=wan.positive, negative=wan.negative,
                        latent={"samples": one_frame}),
             "b": boomerang_node(["obj", 0], ["obj", 5], steps=1), "c": capture("b", latent=["b", 0])}
    assert tuple(comfy.run(graph)["b"]["latent"]["samples"].shape) == (1, 48, 1, 8, 8)
    graph["obj"] = put(comfy, "wan_4d_16", model=wan.model, positive=wan.positive, negative=wan.negative,
                       latent={"samples": clip_latent((1, 16, 8, 8), 2)})
    with pytest.raises(GraphError) as err:
        comfy.run(graph)
    text = str(err.value.details)
    assert ("latent must be a latent with 48 channels (what this WAN22_T2V model uses); "
            "received 'shape (1, 16, 8, 8)'") in text
    # the window and overlap inputs themselves
    bad = oracle_graph(comfy, "bad_overlap", model, clip_latent((1, 4, 6, 8, 8), 1), ["vae", 0],
                       tiled_node(["obj", 0], ["vae", 0], 64, 16, window=4, window_overlap=2))
    with pytest.raises(GraphError) as err:
        comfy.run(bad)
    assert "temporal_overlap must be an integer in [0, temporal_window / 2) = [0, 2); received 2" in str(
        err.value.details)


# ------------------------------------------------------------------ clips through PRE

def clip_node(factor, seed, tiling="off", tile_size=0, t_boom=300):
    return {"class_type": "UpscaleClipThenBoomerang",
            "inputs": {"image": ["obj", 4], "vae": ["obj", 1], "model": ["obj", 0], "positive": ["obj", 2],
                       "negative": ["obj", 3], "factor": factor, "interpolation": "bilinear", "t_boom": t_boom,
                       "passes": 1, "cfg": 1.0, "sampler": "euler", "scheduler": "simple", "steps": 2, "seed": seed,
                       "tile_size": tile_size, "color_match": "off", "denoise_tiling": tiling, "denoise_tile": 64,
                       "denoise_overlap": 16, "tile_batch": 2}}


def test_clip_pre_equals_comfyuis_own_encode_boomerang_decode(comfy, wan):
    """UpscaleClipThenBoomerang on 5 frames (a count Wan's VAE takes as is) = ComfyUI's VAEEncode of the
    bilinearly upscaled frames -> Boomerang -> VAEDecode (1e-4): the frames went through as one clip."""
    vae = wan.vae(3)
    frames = torch.rand((5, 16, 24, 3), generator=torch.Generator().manual_seed(2))
    up = F.interpolate(frames.movedim(-1, 1), size=(32, 48), mode="bilinear", align_corners=False).movedim(1, -1)
    graph = {"obj": put(comfy, "clip_ref", model=wan.model, vae=vae, positive=wan.positive, negative=wan.negative,
                        image=frames),
             "up": put(comfy, "clip_up", image=up.clamp(0, 1)),
             "clip": clip_node(2.0, 8),
             "enc": {"class_type": "VAEEncode", "inputs": {"pixels": ["up", 4], "vae": ["obj", 1]}},
             "b": boomerang_node(["obj", 0], ["enc", 0], 300, 8),
             "dec": {"class_type": "VAEDecode", "inputs": {"samples": ["b", 0], "vae": ["obj", 1]}},
             "c1": capture("clip", image=["clip", 0]), "c2": capture("ref", image=["dec", 0])}
    out = comfy.run(graph)
    got, ref = out["clip"]["image"], out["ref"]["image"]
    assert tuple(got.shape) == (5, 32, 48, 3)
    torch.testing.assert_close(got, ref.reshape(got.shape), rtol=0, atol=1e-4)


@pytest.mark.parametrize("family,frames,size,factor,tiling,tile_size", [
    ("wan22", 6, (40, 40), 2.0, "on", 64),  # 6 frames -> 9 encoded (4n + 1), 3 latent frames; 2x2 latent tiles
    ("wan22", 3, (20, 12), 1.5, "off", 0),
    ("ltxv", 10, (24, 24), 4.0, "on", 0),  # LTXV: 8n + 1 frames -> 17 encoded, 3 latent frames; 32x pixels
])
def test_clip_pre_keeps_every_frame_at_the_exact_size(comfy, fv, family, frames, size, factor, tiling, tile_size):
    tiny = fv.build(family, seed=4)
    vae = tiny.vae(5)
    image = torch.rand((frames,) + size + (3,), generator=torch.Generator().manual_seed(frames))
    shapes, handle = record_calls(tiny.model)
    try:
        out = comfy.run({"obj": put(comfy, f"clip_{family}", model=tiny.model, vae=vae, positive=tiny.positive,
                                    negative=tiny.negative, image=image),
                         "clip": clip_node(factor, 3, tiling, tile_size),
                         "c": capture("clip", image=["clip", 0])})["clip"]["image"]
    finally:
        handle.remove()
    height, width = round(factor * size[0]), round(factor * size[1])
    assert tuple(out.shape) == (frames, height, width, 3)
    assert torch.isfinite(out).all() and float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    latent_frames = {"wan22": (frames + 2) // 4 + 1, "ltxv": (frames + 6) // 8 + 1}[family]  # ceil((F - 1) / r) + 1
    assert shapes and all(s[2] == latent_frames for s in shapes)
    if tiling == "on":
        assert all(s[0] <= 2 for s in shapes) and len(shapes) > 2  # tiled: at most tile_batch tiles per call


def test_clip_node_refuses_an_image_vae(comfy, wan):
    graph = {"obj": put(comfy, "clip_img_vae", model=wan.model, positive=wan.positive, negative=wan.negative,
                        image=torch.rand((3, 16, 16, 3))),
             "pix": PIXEL_VAE, "clip": clip_node(2.0, 1), "c": capture("clip", image=["clip", 0])}
    graph["clip"]["inputs"]["vae"] = ["pix", 0]
    with pytest.raises(GraphError) as err:
        comfy.run(graph)
    assert "vae must be a video VAE (3-D latents with a time axis: Wan, LTXV, ...); received 'a VAE of 2-D " \
           "latents'" in str(err.value.details)
