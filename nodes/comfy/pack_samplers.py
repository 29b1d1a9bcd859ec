"""The pack's own samplers as ComfyUI sampler functions: ``boomerang_exact`` (Algorithm 1) and ``boomerang_fast``
(the 10-call pass of boomerang/fast_sampler.py), both in the model's own forward coefficients (EPS, v, flow)."""
from __future__ import annotations

import torch

import comfy.samplers
from comfy.k_diffusion import sampling as k_sampling

from ...boomerang import noise as bnoise
from ...boomerang.fast_sampler import sample_boomerang_fast
from ...boomerang.sampler import FIXED_SMALL, sample_boomerang_exact

# Attribute of a model_sampling object naming boomerang_exact's step variance ("fixed_small" = Algorithm 1's
# beta~, "fixed_large" = beta_t). Pixel models set it from their scheduler config (comfy/pixel.py); others lack it.
VARIANCE_ATTR = "boomerang_variance"


def forward_coeffs(ms, sigma: float) -> tuple[float, float]:
    """(a, s) with noise_scaling(sigma, eps, x0) = a * x0 + s * eps, read off the model's own noise_scaling."""
    sig = torch.tensor([float(sigma)], dtype=torch.float64)
    one, zero = torch.ones(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
    a = float(ms.noise_scaling(sig, zero.clone(), one.clone(), max_denoise=False))
    s = float(ms.noise_scaling(sig, one.clone(), zero.clone(), max_denoise=False))
    return a, s


def _cached_coeffs(ms):
    cache: dict[float, tuple[float, float]] = {}

    def coeffs(sigma: float) -> tuple[float, float]:
        if sigma not in cache:
            cache[sigma] = forward_coeffs(ms, sigma)
        return cache[sigma]

    return coeffs


def _model_sampling(model):
    return model.inner_model.model_patcher.get_model_object("model_sampling")


def _plain_noise_sampler(x, extra_args):
    """The noise of a plain SAMPLER (SamplerCustom/SamplerCustomAdvanced). Not k-diffusion's default: seeded like
    ComfyUI's initial noise, its first draw would be that very noise again, correlating the first step with x_t
    (variance +7% at t_boom 200; issue 16)."""
    seed = (extra_args or {}).get("seed")
    if seed is None:
        return k_sampling.default_noise_sampler(x, seed=None)
    return bnoise.PerItemNoiseSampler(x, bnoise.item_seeds(seed, x.shape[0]), bnoise.STREAM_ANCESTRAL)


def exact_function(model, x, sigmas, extra_args=None, callback=None, disable=None, noise_sampler=None):
    """Algorithm 1 of Luzi et al. (2024) as a ComfyUI sampler function (any sigma grid, any model type)."""
    ms = _model_sampling(model)
    if noise_sampler is None:
        noise_sampler = _plain_noise_sampler(x, extra_args)
    variance = getattr(ms, VARIANCE_ATTR, FIXED_SMALL)
    return sample_boomerang_exact(model, x, sigmas, extra_args, callback, disable, noise_sampler,
                                  coeffs=_cached_coeffs(ms), variance=variance)


def fast_function(model, x, sigmas, extra_args=None, callback=None, disable=None, noise_sampler=None):
    """boomerang_fast as a ComfyUI sampler function: len(sigmas) - 1 model calls from sigmas[0], on its own grid
    (the scheduler's levels in between are not used)."""
    ms = _model_sampling(model)
    if noise_sampler is None:
        noise_sampler = _plain_noise_sampler(x, extra_args)
    floor = float(getattr(ms, "sigma_min", 0.0) or 0.0)  # the model's lowest level (a schedule may stop above)
    return sample_boomerang_fast(model, x, sigmas, extra_args, callback, disable, noise_sampler,
                                 coeffs=_cached_coeffs(ms), sigma_floor=floor if floor > 0 else None)


def exact_ksampler() -> comfy.samplers.KSAMPLER:
    """``boomerang_exact`` as a plain SAMPLER for SamplerCustom / SamplerCustomAdvanced."""
    return comfy.samplers.KSAMPLER(exact_function)


def fast_ksampler() -> comfy.samplers.KSAMPLER:
    """``boomerang_fast`` as a plain SAMPLER for SamplerCustom / SamplerCustomAdvanced."""
    return comfy.samplers.KSAMPLER(fast_function)
