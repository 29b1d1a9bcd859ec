"""Model families beyond SD1.5 through ComfyUI's executor (issue 18, first part: three bugs it found).

Tiny random-weight models of real families (testkit/families.py: ComfyUI's own supported_models config
and model_base classes) and a tiny Wan 2.1 video VAE. Truths, none taken from the pack's code:
- the family's sigma_max as its ComfyUI config class states it (80 for Cosmos Predict2 and Playground-style EDM);
- the closed form of the forward noise in user latent units: the model-space level x0 + sigma * eps (EDM) or
  sigma * eps (flow, from an empty latent) mapped through the latent format's documented affine map
  (latent * std / scale + mean); eps is the pack's documented per-item noise (seed + i, forward stream);
- Flux-style time shift (Qwen-Image, shift 1.15 from its config): sigma(t) = e^mu / (e^mu + 1/t - 1);
- the IMAGE contract: exactly (batch, round(f * H), round(f * W), 3), item i equal to that item run alone at
  seed + i (a VAE folding a batch into one clip mixes the items, so item 1 would differ).
"""
from __future__ import annotations

import math

import pytest
import torch

from boomerang import noise as bnoise
from testkit.runtime import TEST_PACK

T = 1000  # Boomerang's T for models without a discrete timestep table


@pytest.fixture(scope="module")
def fam(comfy):
    from testkit import families

    return families


def put(rt, key: str, **objects) -> list:
    """Register in-memory objects for a BoomerangTestObject node; returns the node's graph entry."""
    rt.pack_module(TEST_PACK.name).OBJECTS[key] = objects
    return {"class_type": "BoomerangTestObject", "inputs": {"key": key}}


def capture(tag, **links):
    return {"class_type": "BoomerangTestCapture", "inputs": {"tag": tag, **links}}


def user_noise(x0, sigma, eps, latent_format, empty=False):
    """x_t in user latent units: model-space x0 + sigma * eps (x0 = 0 for an empty latent), mapped out through
    the latent format's affine map latent * std / scale + mean."""
    std = latent_format.latents_std.double()
    mean = latent_format.latents_mean.double()
    scale = float(latent_format.scale_factor)
    if empty:
        return sigma * eps.double() * std / scale + mean
    return x0.double() + sigma * eps.double() * std / scale


def forward_eps(shape, seed):
    return bnoise.per_item_normal(shape, bnoise.item_seeds(seed, shape[0]), bnoise.STREAM_FORWARD)


# ------------------------------------------------------------------ bug 3: EDM start level at t_boom = T

@pytest.mark.parametrize("family,config_class", [("cosmos_predict2", "CosmosT2IPredict2"), ("sdxl_edm", "SDXL")])
def test_edm_start_level_at_T_is_sigma_max(comfy, fam, family, config_class):
    """Regression (issue 18): EDM-range models (ModelSamplingContinuousEDM and Cosmos' RFlow) at t_boom = T
    started from 999999999.9, ComfyUI's 'infinite' placeholder of percent_to_sigma(0), not sigma_max."""
    from comfy import supported_models

    tiny = fam.build(family, seed=3)
    sigma_max = getattr(supported_models, config_class).sampling_settings.get("sigma_max", 80.0)
    if family == "sdxl_edm":
        assert tiny.notes["model_type"] == "EDM"
    lf = tiny.latent_format
    shape = (2, lf.latent_channels) + (1,) * (lf.latent_dimensions - 2) + (6, 6)
    x0 = torch.randn(shape, generator=torch.Generator().manual_seed(5))
    seed = 41
    graph = {
        "obj": put(comfy, family, model=tiny.model, latent={"samples": x0}),
        "noise": {"class_type": "BoomerangNoise", "inputs": {"model": ["obj", 0], "latent": ["obj", 5],
                                                             "t_boom": T, "seed": seed}},
        "exact": {"class_type": "BoomerangSigmas", "inputs": {"model": ["obj", 0], "t_boom": T,
                                                              "sampler": "boomerang_exact", "scheduler": "simple",
                                                              "steps": 20}},
        "fast": {"class_type": "BoomerangSigmas", "inputs": {"model": ["obj", 0], "t_boom": T, "sampler": "euler",
                                                             "scheduler": "karras", "steps": 8}},
        "c1": capture("noisy", latent=["noise", 0], number=["noise", 1]),
        "c2": capture("exact", sigmas=["exact", 0]),
        "c3": capture("fast", sigmas=["fast", 0]),
    }
    out = comfy.run(graph)
    assert sigma_max == 80.0
    assert out["noisy"]["number"] == pytest.approx(sigma_max, rel=1e-6)
    assert float(out["exact"]["sigmas"][0]) == pytest.approx(sigma_max, rel=1e-6)
    assert float(out["fast"]["sigmas"][0]) == pytest.approx(sigma_max, rel=1e-6)
    expected = user_noise(x0, sigma_max, forward_eps(shape, seed), lf)
    got = out["noisy"]["latent"]["samples"].double()
    assert got.shape == shape
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5 * sigma_max)


def test_flow_start_level_at_T_stays_one(comfy, fam):
    """Flow models' percent_to_sigma(0) is 1.0 already (pure noise); the fix must not change it."""
    tiny = fam.build("qwen_image")
    graph = {"obj": put(comfy, "qwen_T", model=tiny.model),
             "s": {"class_type": "BoomerangSigmas", "inputs": {"model": ["obj", 0], "t_boom": T,
                                                               "sampler": "boomerang_exact", "scheduler": "simple",
                                                               "steps": 20}},
             "c": capture("s", sigmas=["s", 0])}
    assert float(comfy.run(graph)["s"]["sigmas"][0]) == 1.0


# ------------------------------------------------------------------ bug 2: empty 4-D latents of video-latent models

def flux_shift_sigma(shift: float, t: float) -> float:
    return math.exp(shift) / (math.exp(shift) + (1.0 / t - 1.0))


def test_qwen_image_takes_an_empty_sd3_latent(comfy, fam):
    """Regression (issue 18): EmptySD3LatentImage -> Boomerang on Qwen-Image was refused ("latent must be the
    batch BoomerangNoise produced"): the 4-D empty latent never got its time axis, as KSampler gives it."""
    from comfy import supported_models

    tiny = fam.build("qwen_image", seed=1)
    shift = supported_models.QwenImage.sampling_settings["shift"]
    t_boom, seed, batch = 600, 7, 2
    settings = {"cfg": 1.0, "sampler": "euler", "scheduler": "simple", "steps": 2}
    graph = {
        "obj": put(comfy, "qwen", model=tiny.model, positive=tiny.positive, negative=tiny.negative),
        "empty": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 64, "height": 48, "batch_size": batch}},
        "noise": {"class_type": "BoomerangNoise", "inputs": {"model": ["obj", 0], "latent": ["empty", 0],
                                                             "t_boom": t_boom, "seed": seed}},
        "boom": {"class_type": "Boomerang", "inputs": {"model": ["obj", 0], "positive": ["obj", 2],
                                                       "negative": ["obj", 3], "latent": ["empty", 0],
                                                       "t_boom": t_boom, "seed": seed, **settings}},
        "cascade": {"class_type": "CascadeLoop", "inputs": {"model": ["obj", 0], "positive": ["obj", 2],
                                                            "negative": ["obj", 3], "latent": ["empty", 0],
                                                            "t_boom": 100, "seed": seed, "passes": 2,
                                                            "color_match": "off", **settings}},
        "c1": capture("noisy", latent=["noise", 0], number=["noise", 1]),
        "c2": capture("boom", latent=["boom", 0]),
        "c3": capture("cascade", latent=["cascade", 1]),
    }
    out = comfy.run(graph)
    shape = (batch, 16, 1, 6, 8)
    sigma = flux_shift_sigma(shift, t_boom / T)
    assert out["noisy"]["number"] == pytest.approx(sigma, rel=1e-4)
    noisy = out["noisy"]["latent"]["samples"]
    assert tuple(noisy.shape) == shape
    expected = user_noise(None, sigma, forward_eps(shape, seed), tiny.latent_format, empty=True)
    torch.testing.assert_close(noisy.double(), expected, rtol=1e-5, atol=1e-5)
    assert tuple(out["boom"]["latent"]["samples"].shape) == shape
    assert torch.isfinite(out["boom"]["latent"]["samples"]).all()
    assert tuple(out["cascade"]["latent"]["samples"].shape) == (2 * batch,) + shape[1:]


def test_latent_of_the_wrong_dimensionality_is_refused_by_name(comfy, fam):
    """A video (5-D) latent into an image model: a BoomerangInputError naming the input, the allowed shape and
    the shape received, never a traceback from inside the network."""
    from testkit.runtime import GraphError

    tiny = fam.build("sdxl_edm")
    x0 = torch.ones((1, 4, 1, 6, 6))
    graph = {"obj": put(comfy, "sdxl_5d", model=tiny.model, latent={"samples": x0}),
             "noise": {"class_type": "BoomerangNoise", "inputs": {"model": ["obj", 0], "latent": ["obj", 5],
                                                                  "t_boom": 10, "seed": 0}},
             "c": capture("noisy", latent=["noise", 0])}
    with pytest.raises(GraphError) as err:
        comfy.run(graph)
    text = str(err.value.details)
    assert "latent must be a latent of shape [batch, channels, height, width]" in text
    assert "(1, 4, 1, 6, 6)" in text


def test_empty_latent_gets_the_models_channels_as_in_ksampler(comfy, fam):
    """An all-zero 4-channel latent (EmptyLatentImage) into a 16-channel video-latent model: KSampler's
    fix_empty_latent_channels gives it 16 channels and a time axis; so do the Boomerang nodes."""
    tiny = fam.build("cosmos_predict2")
    graph = {"obj": put(comfy, "cosmos_empty", model=tiny.model),
             "empty": {"class_type": "EmptyLatentImage", "inputs": {"width": 32, "height": 32, "batch_size": 1}},
             "noise": {"class_type": "BoomerangNoise", "inputs": {"model": ["obj", 0], "latent": ["empty", 0],
                                                                  "t_boom": 500, "seed": 3}},
             "c": capture("noisy", latent=["noise", 0], number=["noise", 1])}
    from comfy import supported_models

    out = comfy.run(graph)["noisy"]
    settings = supported_models.CosmosT2IPredict2.sampling_settings
    sigma = math.sqrt(settings["sigma_min"] * settings["sigma_max"])  # t/T = 1/2 on a log-linear EDM range
    assert out["number"] == pytest.approx(sigma, rel=1e-4)
    shape = (1, 16, 1, 4, 4)
    assert tuple(out["latent"]["samples"].shape) == shape
    expected = user_noise(None, sigma, forward_eps(shape, 3), tiny.latent_format, empty=True)
    torch.testing.assert_close(out["latent"]["samples"].double(), expected, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ bug 1: UpscaleThenBoomerang with a video VAE

def upscale_graph(rt, key, tiny, vae, image, factor, seed, tile_size):
    return {
        "obj": put(rt, key, model=tiny.model, vae=vae, positive=tiny.positive, negative=tiny.negative, image=image),
        "up": {"class_type": "UpscaleThenBoomerang",
               "inputs": {"image": ["obj", 4], "vae": ["obj", 1], "model": ["obj", 0], "positive": ["obj", 2],
                          "negative": ["obj", 3], "factor": factor, "interpolation": "bilinear", "t_boom": 80,
                          "passes": 1, "cfg": 1.0, "sampler": "euler", "scheduler": "simple", "steps": 2,
                          "seed": seed, "tile_size": tile_size, "color_match": "off", "denoise_tiling": "off"}},
        "c": capture("up", image=["up", 0]),
    }


@pytest.mark.parametrize("factor,tile_size", [(2.0, 0), (2.5, 64)])
def test_upscale_through_a_video_vae_keeps_each_image(comfy, fam, factor, tile_size):
    """Regression (issue 18): with a VAE of 3-D latents (Wan 2.1/2.2, so Qwen-Image and Cosmos too) the node
    returned [batch, frames, H, W, C] cropped as if 4-D, and a batch of 2 images came back as 1 (the VAE
    folded the batch into one clip). Now each image is its own one-frame clip; tile_size 64 runs the VAE in
    tiles (the 50x60 output is larger than one tile)."""
    tiny = fam.build("qwen_image", seed=2)
    vae = fam.wan21_vae(seed=4)
    assert vae.latent_dim == 3
    height, width, seed = 20, 24, 11
    image = torch.rand((2, height, width, 3), generator=torch.Generator().manual_seed(9))
    batch = comfy.run(upscale_graph(comfy, "up2", tiny, vae, image, factor, seed, tile_size))["up"]["image"]
    alone = comfy.run(upscale_graph(comfy, "up1", tiny, vae, image[1:2], factor, seed + 1, tile_size))["up"]["image"]
    assert tuple(batch.shape) == (2, round(factor * height), round(factor * width), 3)
    assert tuple(alone.shape) == (1, round(factor * height), round(factor * width), 3)
    assert torch.isfinite(batch).all() and float(batch.min()) >= 0.0 and float(batch.max()) <= 1.0
    torch.testing.assert_close(batch[1:2], alone, rtol=0, atol=1e-4)
