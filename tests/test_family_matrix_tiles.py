"""The family matrix (issue 18), part 2: Boomerang Tiled Model, UpscaleThenBoomerang and bad input on every tiny
family (testkit/families.py, testkit/families_video.py), through ComfyUI's executor.

Truths, none taken from the pack's code:
- one tile covering the latent is the unpatched model (the blend of one tile with weight 1), to 1e-5;
- with several tiles, what the network receives (seen by a forward pre-hook on ComfyUI's diffusion_model, no
  patching) is never larger than one tile batch: at most tile_batch x batch items, each at most one tile high
  and wide, and never the whole latent;
- the IMAGE contract of UpscaleThenBoomerang: exactly (batch, round(f * H), round(f * W), 3), values in [0, 1];
- a latent or tile a family cannot take is a BoomerangInputError naming the input, the family, what is allowed
  and the value received.
"""
from __future__ import annotations

import pytest
import torch

from testkit import family_matrix as fm
from testkit.runtime import GraphError

# The tiling and upscale checks exercise the network, its conditioning and the VAE: SDXL's EDM and v-EDM variants
# share SDXL's UNet, conditioning and VAE (only their sampling differs, checked in test_family_matrix.py).
NETWORKS = tuple(n for n in fm.ALL if n not in ("sdxl_edm", "sdxl_v_edm"))
SETTINGS = {"cfg": 1.0, "sampler": "euler", "scheduler": "simple", "steps": 2, "seed": 9, "t_boom": 300}


def tiled_node(tile_size: int, tile_batch: int = 1, overlap: int = 0) -> dict:
    return {"class_type": "BoomerangTiledModel", "inputs": {"model": ["obj", 0], "vae": ["obj", 1],
                                                            "tile_size": tile_size, "overlap": overlap,
                                                            "tile_batch": tile_batch}}


def boom_node(model) -> dict:
    return {"class_type": "Boomerang", "inputs": {"model": model, "positive": ["obj", 2], "negative": ["obj", 3],
                                                  "latent": ["obj", 5], **SETTINGS}}


class ShapeLog:
    """A forward pre-hook on the family's diffusion model that records the shape of every input it receives."""

    def __init__(self, network: torch.nn.Module):
        self.shapes: list[tuple] = []
        self.handle = network.register_forward_pre_hook(self.hook)

    def hook(self, module, args):
        self.shapes.append(tuple(args[0].shape))

    def close(self):
        self.handle.remove()


def ratio(name: str) -> int:
    return int(fm.vae(name).spacial_compression_encode())


@pytest.mark.parametrize("name", NETWORKS)
def test_one_tile_is_the_model_and_many_tiles_one_batch_at_a_time(comfy, name):
    tiny = fm.family(name)
    r = ratio(name)
    tile_px = max(64, 4 * r)  # the smallest tile of at least 4 latent samples (64 px: the node's minimum)
    tile = tile_px // r
    height, width = 3 * tile // 2 + 2, 2 * tile + 2  # several tiles each way, edges not on the tile grid (even:
    # Cosmos' network takes only multiples of its 2-sample patch)
    x0 = fm.random_latent(name, 1, seed=8, height=height, width=width)
    one_tile_px = 8 * max(height, width) * r  # one tile covers the latent
    graph = {
        "obj": fm.put(comfy, f"tile_{name}", model=tiny.model, vae=fm.vae(name), positive=tiny.positive,
                      negative=tiny.negative, latent={"samples": x0}),
        "one": tiled_node(min(one_tile_px, 8192)),
        "many": tiled_node(tile_px, tile_batch=2),
        "plain": boom_node(["obj", 0]),
        "b1": boom_node(["one", 0]),
        "c1": fm.capture("plain", latent=["plain", 0]),
        "c2": fm.capture("one", latent=["b1", 0]),
    }
    out = comfy.run(graph)
    torch.testing.assert_close(out["one"]["latent"]["samples"], out["plain"]["latent"]["samples"], rtol=1e-5,
                               atol=1e-5)
    graph = {"obj": graph["obj"], "many": graph["many"], "b2": boom_node(["many", 0]),
             "c3": fm.capture("many", latent=["b2", 0])}
    log = ShapeLog(tiny.model.model.diffusion_model)
    try:
        out = comfy.run(graph)
    finally:
        log.close()
    got = out["many"]["latent"]["samples"]
    assert tuple(got.shape) == tuple(x0.shape) and torch.isfinite(got).all()
    assert log.shapes, "the network was never called"
    assert len(log.shapes) > SETTINGS["steps"]  # more than one call per step: the latent went in tiles
    for shape in log.shapes:
        assert shape[0] <= 2, shape  # tile_batch 2 x batch 1 x one chunk (cfg 1: no uncond)
        assert shape[-2] <= tile and shape[-1] <= tile, (shape, tile)
    assert any(shape[0] == 2 for shape in log.shapes)  # two tiles in one call


def upscale_node(tiling: str) -> dict:
    return {"class_type": "UpscaleThenBoomerang", "inputs": {
        "image": ["obj", 4], "vae": ["obj", 1], "model": ["obj", 0], "positive": ["obj", 2], "negative": ["obj", 3],
        "factor": 1.5, "interpolation": "bilinear", "t_boom": 80, "passes": 1, "cfg": 1.0, "sampler": "euler",
        "scheduler": "simple", "steps": 2, "seed": 5, "tile_size": 0, "color_match": "off",
        "denoise_tiling": tiling, "denoise_tile": 64, "denoise_overlap": 0, "tile_batch": 1}}


REFUSED_UPSCALE = {"stable_cascade_c"}  # its stage C coder decodes a x8 preview of a x32 latent


@pytest.mark.parametrize("name", [n for n in NETWORKS if n not in REFUSED_UPSCALE])
def test_upscale_gives_the_exact_image_size(comfy, name):
    """UpscaleThenBoomerang on a batch of 2 images of 36 x 44 px at factor 1.5: (2, 54, 66, 3) in [0, 1], denoise
    tiling off and on (64 px tiles: the upscaled image is larger than one)."""
    tiny = fm.family(name)
    image = torch.rand((2, 36, 44, 3), generator=torch.Generator().manual_seed(3))
    graph = {
        "obj": fm.put(comfy, f"up_{name}", model=tiny.model, vae=fm.vae(name), positive=tiny.positive,
                      negative=tiny.negative, image=image),
        "off": upscale_node("off"), "on": upscale_node("on"),
        "c1": fm.capture("off", image=["off", 0]), "c2": fm.capture("on", image=["on", 0]),
    }
    out = comfy.run(graph)
    for tag in ("off", "on"):
        got = out[tag]["image"]
        assert tuple(got.shape) == (2, round(1.5 * 36), round(1.5 * 44), 3), tag
        assert torch.isfinite(got).all() and float(got.min()) >= 0.0 and float(got.max()) <= 1.0, tag


# ------------------------------------------------------------------ bad input: what a family cannot take

def refused(rt, graph) -> str:
    with pytest.raises(GraphError) as err:
        rt.run(graph)
    text = str(err.value.details)
    assert "Traceback" not in text.split("must be")[0]
    return text


def noise_graph(rt, key, model, samples) -> dict:
    return {"obj": fm.put(rt, key, model=model, latent={"samples": samples}),
            "noise": {"class_type": "BoomerangNoise", "inputs": {"model": ["obj", 0], "latent": ["obj", 5],
                                                                 "t_boom": 10, "seed": 0}},
            "c": fm.capture("noisy", latent=["noise", 0])}


def test_sixteen_channels_into_sd15_is_refused_by_name(comfy):
    """A 16-channel latent (SD3/Flux VAE) into SD1.5: names the input, the family, the allowed channels and the
    shape received."""
    samples = torch.ones((1, 16, 6, 8))
    text = refused(comfy, noise_graph(comfy, "bad_sd15", fm.family("sd15").model, samples))
    assert "latent must be a latent with 4 channels (what this SD15 model uses)" in text
    assert "(1, 16, 6, 8)" in text


def test_an_image_latent_of_other_channels_into_a_video_model_is_refused_by_name(comfy):
    """A 16-channel image latent (SD3/Flux VAE) into Wan 2.2 (48-channel video latents)."""
    text = refused(comfy, noise_graph(comfy, "bad_wan22", fm.family("wan22").model, torch.ones((1, 16, 6, 8))))
    assert "latent must be a latent with 48 channels (what this WAN22_T2V model uses)" in text
    assert "received 'shape (1, 16, 6, 8)'" in text  # the shape the user gave, not the one with a time axis added


def test_an_image_latent_of_the_right_channels_is_one_frame_as_in_ksampler(comfy):
    """A 4-D latent of the model's channels into Qwen-Image (5-D latents) is one frame: ComfyUI's KSampler gives
    it the time axis (comfy.sample.fix_empty_latent_channels), and so do the Boomerang nodes."""
    out = comfy.run(noise_graph(comfy, "one_frame", fm.family("qwen_image").model, torch.ones((1, 16, 6, 8))))
    assert tuple(out["noisy"]["latent"]["samples"].shape) == (1, 16, 1, 6, 8)


def test_cosmos_latent_of_odd_size_is_refused_not_a_traceback(comfy):
    """Regression (issue 18 matrix): Cosmos Predict2's network asserts that height and width are multiples of its
    2-sample patch (it does not pad, unlike Flux or Wan); a 7 x 9 latent was an AssertionError from inside the
    network, and UpscaleThenBoomerang did not pad images to 16 px for it. Now the pack reads the patch as the
    network's multiple: refused by name here, padded in UpscaleThenBoomerang (test_upscale_gives_the_exact_
    image_size[cosmos_predict2], 54 x 66 px)."""
    text = refused(comfy, noise_graph(comfy, "odd_cosmos", fm.family("cosmos_predict2").model,
                                      torch.ones((1, 16, 1, 7, 9))))
    assert "latent must be a latent whose height and width are multiples of 2" in text
    assert "7 x 9 (height x width)" in text


def test_a_video_latent_into_an_image_model_is_refused_by_name(comfy):
    samples = torch.ones((1, 16, 2, 6, 8))
    text = refused(comfy, noise_graph(comfy, "bad_flux5d", fm.family("flux_dev").model, samples))
    assert "latent must be a latent of shape [batch, channels, height, width] (a Flux model's image latents)" in text
    assert "(1, 16, 2, 6, 8)" in text


def test_upscale_refuses_a_vae_that_decodes_at_another_scale(comfy):
    """Stable Cascade's stage C coder (as ComfyUI loads it) encodes at 1/32 and decodes a x8 preview: the image
    could not come back at round(factor x size), so UpscaleThenBoomerang refuses it by name."""
    tiny = fm.family("stable_cascade_c")
    image = torch.rand((1, 64, 64, 3), generator=torch.Generator().manual_seed(3))
    graph = {"obj": fm.put(comfy, "up_sc", model=tiny.model, vae=fm.vae("stable_cascade_c"), positive=tiny.positive,
                           negative=tiny.negative, image=image),
             "up": upscale_node("off"), "c": fm.capture("up", image=["up", 0])}
    text = refused(comfy, graph)
    assert "vae must be a VAE that decodes at the scale it encodes" in text
    assert "encodes x32 and decodes x8, with a Stable_Cascade_C model" in text


def test_a_tile_smaller_than_one_patch_is_refused_by_name(comfy):
    """Chroma Radiance cuts its pixel latent into 16 x 16 patches; with an x8 VAE wired in by mistake, a 64 px tile
    is 8 samples, half a patch: refused, naming the family, the smallest tile (128 px) and the value."""
    tiny = fm.family("chroma_radiance")
    graph = {"obj": fm.put(comfy, "bad_tile", model=tiny.model, vae=fm.vae("sd15"), positive=tiny.positive,
                           negative=tiny.negative, latent={"samples": fm.random_latent("chroma_radiance", 1, 1)}),
             "many": tiled_node(64), "b": boom_node(["many", 0]), "c": fm.capture("x", latent=["b", 0])}
    text = refused(comfy, graph)
    assert "tile_size must be at least 128 pixels for this ChromaRadiance model" in text
    assert "patches of 16 samples" in text and "received 64" in text
