"""Shared by the family-matrix tests (issue 18): every tiny family of testkit/families.py and
testkit/families_video.py with a VAE of its kind, built once per process, latents of the right shape, the
graph entries that hand in-memory objects to ComfyUI's executor, and each family's level at t_boom in closed form
(independent of the pack's own level code).

Needs a booted ComfyUI when a family is built (``comfy`` is imported inside the builders)."""
from __future__ import annotations

import math
from functools import lru_cache

import torch

from testkit import families, families_video
from testkit.runtime import TEST_PACK

IMAGE = tuple(families.FAMILIES)
VIDEO = tuple(families_video.FAMILIES)
ALL = IMAGE + VIDEO
T = 1000  # Boomerang's T for models without a timestep table (and the discrete models' 1000 steps)
FRAMES = {"wan22": 2, "ltxv": 2}  # latent frames of the video families' clips (image families: 1 where 5-D)


@lru_cache(maxsize=None)
def family(name: str):
    """The tiny family ``name`` (seed 0), built once per process."""
    return families.build(name) if name in families.FAMILIES else families_video.build(name)


@lru_cache(maxsize=None)
def _vae_of_kind(kind: str):
    return families.vae_for({v: k for k, v in families.VAE_KIND.items()}[kind], tiny=True)


def vae(name: str):
    """A random VAE of the kind ``name`` uses, one per kind per process (for the SD kinds a TAESD of the same
    latents: the full autoencoder costs ~10 s per upscale check on the CPU)."""
    if name in families.FAMILIES:
        return _vae_of_kind(families.VAE_KIND[name])
    return _video_vae(name)


@lru_cache(maxsize=None)
def _video_vae(name: str):
    return family(name).vae(0)


def latent_side(name: str) -> tuple[int, int]:
    """A small latent (height, width): 6 x 8 samples (48 x 64 px through a x8 VAE); a pixel-space model's latent
    is the image itself, so 32 x 48 pixels there (2 x 3 patches of 16)."""
    return (32, 48) if families.VAE_KIND.get(name) == "pixel" else (6, 8)


def latent_shape(name: str, batch: int, height: int | None = None, width: int | None = None) -> tuple:
    lf = family(name).latent_format
    if height is None:
        height, width = latent_side(name)
    frames = (FRAMES.get(name, 1),) if getattr(lf, "latent_dimensions", 2) == 3 else ()
    return (batch, lf.latent_channels) + frames + (height, width)


def random_latent(name: str, batch: int, seed: int, height=None, width=None) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(latent_shape(name, batch, height, width), generator=gen)


def put(rt, key: str, **objects) -> dict:
    """Register in-memory objects for a BoomerangTestObject node (outputs: 0 model, 1 vae, 2 positive,
    3 negative, 4 image, 5 latent); returns the node's graph entry."""
    rt.pack_module(TEST_PACK.name).OBJECTS[key] = objects
    return {"class_type": "BoomerangTestObject", "inputs": {"key": key}}


def capture(tag, **links) -> dict:
    return {"class_type": "BoomerangTestCapture", "inputs": {"tag": tag, **links}}


def expected_sigma(model, t: int) -> float:
    """The model's own noise level at integer timestep t of T = 1000, in closed form where ComfyUI's sampling class
    has one (discrete DDPM betas, discrete-flow and Flux time shifts); else ComfyUI's ``percent_to_sigma`` (the
    EDM-range classes; log-linear between sigma_min and sigma_max)."""
    import comfy.model_sampling as cms

    ms = model.get_model_object("model_sampling")
    u = t / T
    if isinstance(ms, cms.ModelSamplingDiscrete) and not isinstance(ms, cms.StableCascadeSampling):
        settings = model.model.model_config.sampling_settings
        start, end = settings.get("linear_start", 0.00085), settings.get("linear_end", 0.012)
        betas = torch.linspace(start ** 0.5, end ** 0.5, T, dtype=torch.float64) ** 2  # scaled-linear schedule
        abar = torch.cumprod(1.0 - betas, dim=0)[t - 1]
        return float(((1.0 - abar) / abar) ** 0.5)
    if isinstance(ms, cms.ModelSamplingFlux):
        return math.exp(ms.shift) / (math.exp(ms.shift) + (1.0 / u - 1.0))
    if isinstance(ms, cms.ModelSamplingDiscreteFlow):
        return ms.shift * u / (1.0 + (ms.shift - 1.0) * u)
    return float(ms.percent_to_sigma(1.0 - u))
