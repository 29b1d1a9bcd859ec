"""Independent closed-form truths for the tests: SD's noise schedule and the Gaussian Boomerang law."""
from __future__ import annotations

import numpy as np


def closed_form_alpha_bars(beta_schedule: str, total: int = 1000, beta_start: float = 1e-4,
                           beta_end: float = 0.02) -> np.ndarray:
    """alpha_bar of the three standard DDPM schedules, from their definitions (not from diffusers)."""
    if beta_schedule == "linear":  # Ho et al. 2020
        betas = np.linspace(beta_start, beta_end, total, dtype=np.float64)
    elif beta_schedule == "scaled_linear":  # Stable Diffusion / LDM
        betas = np.linspace(beta_start ** 0.5, beta_end ** 0.5, total, dtype=np.float64) ** 2
    elif beta_schedule == "squaredcos_cap_v2":  # Nichol & Dhariwal 2021, s = 0.008, betas capped at 0.999

        def f(t):
            return np.cos((t / total + 0.008) / 1.008 * np.pi / 2) ** 2

        i = np.arange(total, dtype=np.float64)
        betas = np.minimum(1 - f(i + 1) / f(i), 0.999)
    else:
        raise ValueError(beta_schedule)
    return np.cumprod(1.0 - betas)


def sd_alpha_bar(t: int) -> float:
    """alpha_bar_t of Stable Diffusion's 'scaled linear' schedule (beta_1 = 0.00085, beta_1000 = 0.012)."""
    return 1.0 if t <= 0 else float(sd_alpha_bars()[t - 1])


def sd_snr(t: int) -> float:
    a = sd_alpha_bar(t)
    return a / (1.0 - a)


def flow_sigma(t: int, shift: float, total: int = 1000) -> float:
    """SD3-style shifted flow time: sigma = shift tau / (1 + (shift - 1) tau), tau = t / T."""
    tau = t / total
    return shift * tau / (1.0 + (shift - 1.0) * tau)


def flow_snr(t: int, shift: float) -> float:
    sigma = flow_sigma(t, shift)
    return ((1.0 - sigma) / sigma) ** 2


def boomerang_law(mu: float, s: float, x0: float, snr: float) -> tuple[float, float]:
    """Mean and variance of Boomerang from fixed x0 on N(mu, s^2) data at SNR a^2 / s_n^2 of t_boom.

    x_t = a x0 + s_n eps and an exact reverse process give x0' ~ p(x0 | x_t): with v = 1/(1/s^2 + snr),
    E = v (mu/s^2 + snr x0) and Var = v + v^2 snr.
    """
    v = 1.0 / (1.0 / (s * s) + snr)
    return v * (mu / (s * s) + snr * x0), v + v * v * snr


def errors(samples, mean: float, var: float) -> tuple[float, float]:
    """(mean error in units of the law's sd, relative variance error) of a tensor of samples."""
    x = samples.double().flatten()
    return abs(float(x.mean()) - mean) / var ** 0.5, abs(float(x.var()) - var) / var


def sd_alpha_bars() -> np.ndarray:
    return closed_form_alpha_bars("scaled_linear", 1000, 0.00085, 0.012)


def flow_alpha_bars(shift: float) -> np.ndarray:
    """alpha_bar of the flow levels t/T in variance-preserving terms: (1-sigma)^2 / ((1-sigma)^2 + sigma^2)."""
    sig = np.array([flow_sigma(t, shift) for t in range(1, 1001)])
    return (1.0 - sig) ** 2 / ((1.0 - sig) ** 2 + sig ** 2)


def algorithm1_law(alpha_bars: np.ndarray, t_boom: int, mu: float, s: float, x0: float) -> tuple[float, float]:
    """Exact mean and variance of the paper's Algorithm 1 (discrete DDPM, variance beta~, no last-step noise)
    with the exact denoiser of N(mu, s^2) data, by propagating the linear-Gaussian chain step by step."""
    a = alpha_bars[t_boom - 1]
    m, v = np.sqrt(a) * x0, 1.0 - a
    for t in range(t_boom, 0, -1):
        a_t = alpha_bars[t - 1]
        a_s = alpha_bars[t - 2] if t > 1 else 1.0
        beta = 1.0 - a_t / a_s
        precision = 1.0 / s ** 2 + a_t / (1.0 - a_t)
        k, c = np.sqrt(a_t) / (1.0 - a_t) / precision, (mu / s ** 2) / precision  # E[x0|x_t] = c + k x_t
        c_xt = np.sqrt(1.0 - beta) * (1.0 - a_s) / (1.0 - a_t)
        c_x0 = np.sqrt(a_s) * beta / (1.0 - a_t)
        beta_tilde = beta * (1.0 - a_s) / (1.0 - a_t) if t > 1 else 0.0
        m = (c_xt + c_x0 * k) * m + c_x0 * c
        v = (c_xt + c_x0 * k) ** 2 * v + beta_tilde
    return float(m), float(v)


def ode_law(mu: float, s: float, x0: float, snr: float) -> tuple[float, float]:
    """Law of a deterministic (probability-flow ODE) reverse pass from x_t = a x0 + s_n eps, N(mu, s^2) data.

    For Gaussian data the flow is the affine map that transports N(mu, s^2 + 1/snr) (x_t in data units)
    onto N(mu, s^2): x0' = mu + (x_t/a - mu) s / sqrt(s^2 + 1/snr).
    """
    r = s / (s * s + 1.0 / snr) ** 0.5
    return mu + (x0 - mu) * r, r * r / snr
