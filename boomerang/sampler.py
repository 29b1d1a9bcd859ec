"""The exact Boomerang sampler: Algorithm 1 of Luzi et al. (TMLR 2024), in any Gaussian parameterisation.

A model's forward process is ``x_t = a_t * x0 + s_t * eps`` in the coordinates its sampler works in
(``a = 1, s = sigma`` for ComfyUI's EPS/v models, ``a = 1 - sigma, s = sigma`` for flow models,
``a = sqrt(alpha_bar), s = sqrt(1 - alpha_bar)`` in the paper). One ancestral DDPM step from level t to
level s draws from the forward posterior q(x_s | x_t, x0 = x0_hat) (Ho et al., 2020, eq. 6-7):

    a_ts = a_t / a_s,   s2_ts = s_t^2 - a_ts^2 s_s^2
    mean = (a_ts s_s^2 / s_t^2) x_t + (a_s s2_ts / s_t^2) x0_hat,   var = s2_ts s_s^2 / s_t^2

which for consecutive integer timesteps of the paper's schedule is exactly Algorithm 1
(``x_{t-1} = f(x_t, t) + eta``, ``eta ~ N(0, beta~_t)``, ``beta~_t = (1-a_{t-1})/(1-a_t) beta_t``) and at
the last step (s_s = 0) returns x0_hat with no noise.

``variance="fixed_large"`` draws with beta_t instead of beta~_t (diffusers' DDPMScheduler ``variance_type``
``fixed_large``; Ho et al. 2020 section 3.2), still with no noise at the last step, as diffusers does. beta_t is
the variance of a variance-preserving chain's step in its own coordinates (a^2 + s^2 = 1); in coordinates
scaled by k = 1 / sqrt(a^2 + s^2) it is ``s2_ts (a_s^2 + s_s^2) / (a_t^2 + s_t^2)`` at level s.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

try:  # a console progress bar like k-diffusion's samplers, when tqdm is there
    from tqdm.auto import trange as _trange
except ImportError:  # pragma: no cover - tqdm ships with ComfyUI
    def _trange(n, disable=None):
        return range(n)

Coeffs = Callable[[float], tuple[float, float]]
FIXED_SMALL, FIXED_LARGE = "fixed_small", "fixed_large"


def posterior_mean_std(a_t: float, s_t: float, a_s: float, s_s: float,
                       variance: str = FIXED_SMALL) -> tuple[float, float, float]:
    """Coefficients (c_xt, c_x0, std) of q(x_s | x_t, x0) = N(c_xt x_t + c_x0 x0, std^2); with ``variance``
    ``fixed_large`` the std is that of beta_t (the forward step's own variance) instead, zero at s_s = 0."""
    if s_t <= 0.0:
        raise ValueError(f"the start level of a step needs noise (s_t > 0), got s_t = {s_t}")
    a_ts = a_t / a_s
    s2_ts = max(s_t * s_t - a_ts * a_ts * s_s * s_s, 0.0)
    c_xt = a_ts * s_s * s_s / (s_t * s_t)
    c_x0 = a_s * s2_ts / (s_t * s_t)
    if variance == FIXED_SMALL or s_s <= 0.0:
        std = math.sqrt(s2_ts * s_s * s_s / (s_t * s_t))
    elif variance == FIXED_LARGE:
        std = math.sqrt(s2_ts * (a_s * a_s + s_s * s_s) / (a_t * a_t + s_t * s_t))
    else:
        raise ValueError(f"variance must be {FIXED_SMALL!r} or {FIXED_LARGE!r}, got {variance!r}")
    return c_xt, c_x0, std


@torch.no_grad()
def sample_boomerang_exact(model, x, sigmas, extra_args=None, callback=None, disable=None, noise_sampler=None,
                           coeffs: Coeffs | None = None, variance: str = FIXED_SMALL):
    """Ancestral DDPM on every level of ``sigmas`` with step variance beta~ (Luzi et al. 2024, Alg. 1) or,
    with ``variance="fixed_large"``, beta_t."""
    if coeffs is None:
        raise ValueError("sample_boomerang_exact needs coeffs(sigma) -> (a, s) of the model's forward process")
    extra_args = {} if extra_args is None else extra_args
    if noise_sampler is None:
        noise_sampler = lambda sigma, sigma_next: torch.randn_like(x)  # noqa: E731 - stand-alone use only
    s_in = x.new_ones([x.shape[0]])
    levels = [float(v) for v in sigmas]
    for i in _trange(len(levels) - 1, disable=disable):
        sigma, sigma_next = levels[i], levels[i + 1]
        denoised = model(x, sigmas[i] * s_in, **extra_args)
        if callback is not None:
            callback({"x": x, "i": i, "sigma": sigmas[i], "sigma_hat": sigmas[i], "denoised": denoised})
        a_t, s_t = coeffs(sigma)
        a_s, s_s = coeffs(sigma_next)
        c_xt, c_x0, std = posterior_mean_std(a_t, s_t, a_s, s_s, variance)
        x = c_xt * x + c_x0 * denoised
        if std > 0.0:
            x = x + std * noise_sampler(sigmas[i], sigmas[i + 1])
    return x
