"""The two-mode oracle: data x0 ~ w N(m1, s1^2) + (1 - w) N(m2, s2^2) per value, in closed form.

Independent of ComfyUI and of the pack (numpy, and torch only for the model module):
* ``posterior``/``denoise``: p(x0 | x_t) for x_t = a x0 + sigma eps is a two-component Gaussian mixture,
  component k with weight r_k proportional to w_k N(x_t; a m_k, a^2 s_k^2 + sigma^2), mean
  v_k (m_k / s_k^2 + a x_t / sigma^2) and variance v_k = 1 / (1 / s_k^2 + a^2 / sigma^2);
* ``MixtureOracleNet``: that exact denoiser as the ``diffusion_model`` ComfyUI calls (EPS or flow output);
* ``continuous_law``: the law of Boomerang's output from a fixed x0 with an exact reverse process,
  p(x0' | x_t) averaged over the forward noise (closed form per component, 1-D quadrature over x_t);
* ``chain_samples``: the discrete chain of Algorithm 1 (beta~ variance, no noise on the last step) simulated
  in float64 numpy on the alpha_bar table, written from the paper's formulas, not from the pack's code.

"Mode" is the side of the threshold c between the two means where w1 N(c; m1, s1^2) = w2 N(c; m2, s2^2) (the
data's own posterior component flips there). A law is summarised by ``Summary``: the share of outputs on the
other side of c than x0 (mode switches), and the mean and standard deviation of the outputs on x0's side.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import ndtr


@dataclass(frozen=True)
class Mixture:
    w: float  # weight of component 1
    m1: float
    s1: float
    m2: float
    s2: float

    def arrays(self):
        return (np.array([self.w, 1.0 - self.w]), np.array([self.m1, self.m2]), np.array([self.s1, self.s2]))

    def threshold(self) -> float:
        """The point between the means where the two weighted component densities are equal (bisection)."""
        def diff(c):
            return (math.log(self.w) - math.log(self.s1) - 0.5 * ((c - self.m1) / self.s1) ** 2
                    - math.log(1.0 - self.w) + math.log(self.s2) + 0.5 * ((c - self.m2) / self.s2) ** 2)
        lo, hi = sorted((self.m1, self.m2))
        f_lo = diff(lo)
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if (diff(mid) > 0) == (f_lo > 0):
                lo, f_lo = mid, diff(mid)
            else:
                hi = mid
        return 0.5 * (lo + hi)


SYMMETRIC = Mixture(w=0.5, m1=-1.5, s1=0.5, m2=1.5, s2=0.5)  # two well-separated equal modes
ASYMMETRIC = Mixture(w=0.3, m1=-2.0, s1=0.4, m2=1.0, s2=0.8)  # a light narrow mode and a heavy wide one
CONFIGS = {"symmetric": (SYMMETRIC, 1.5), "asymmetric": (ASYMMETRIC, -2.0)}  # (mixture, x0): x0 at a mode


def posterior(mix: Mixture, xs, a, sigma):
    """(r, mu, v) of p(x0 | x_t = xs) with x_t = a x0 + sigma eps: weights (..., 2), means (..., 2), variances."""
    w, m, s = mix.arrays()
    xs = np.asarray(xs, dtype=np.float64)[..., None]
    var_x = a * a * s * s + sigma * sigma
    logr = np.log(w) - 0.5 * np.log(var_x) - 0.5 * (xs - a * m) ** 2 / var_x
    logr -= logr.max(axis=-1, keepdims=True)
    r = np.exp(logr)
    r /= r.sum(axis=-1, keepdims=True)
    v = 1.0 / (1.0 / (s * s) + a * a / (sigma * sigma))
    mu = v * (m / (s * s) + a * xs / (sigma * sigma))
    return r, mu, v


def denoise(mix: Mixture, xs, a, sigma) -> np.ndarray:
    r, mu, _ = posterior(mix, xs, a, sigma)
    return (r * mu).sum(axis=-1)


def denoise_torch(mix: Mixture, xs: torch.Tensor, a, sigma) -> torch.Tensor:
    """E[x0 | x_t] in torch (float64); a and sigma broadcast against xs."""
    out = []
    logr = []
    for w, m, s in ((mix.w, mix.m1, mix.s1), (1.0 - mix.w, mix.m2, mix.s2)):
        var_x = a * a * s * s + sigma * sigma
        logr.append(math.log(w) - 0.5 * torch.log(var_x) - 0.5 * (xs - a * m) ** 2 / var_x)
        v = 1.0 / (1.0 / (s * s) + a * a / (sigma * sigma))
        out.append(v * (m / (s * s) + a * xs / (sigma * sigma)))
    r = torch.softmax(torch.stack(logr), dim=0)
    return (r * torch.stack(out)).sum(dim=0)


class MixtureOracleNet(torch.nn.Module):
    """The exact denoiser as a ComfyUI ``diffusion_model`` for EPS or flow models.

    ``sigma_of(timesteps)`` gives the sigma ComfyUI samples at (the model's ``model_sampling``); an EPS model
    receives x / sqrt(1 + sigma^2) with x = x0 + sigma eps, a flow model x = (1 - sigma) x0 + sigma eps.
    """

    def __init__(self, kind: str, mix: Mixture, sigma_of, on_call=None):
        super().__init__()
        if kind not in ("eps", "flow"):
            raise ValueError(f"kind must be 'eps' or 'flow', got {kind!r}")
        self.kind, self.mix, self.sigma_of, self.on_call = kind, mix, sigma_of, on_call
        self.dtype = torch.float32

    def forward(self, x, timesteps, context=None, **kwargs):
        if self.on_call is not None:
            self.on_call()
        x = x.double()
        sigma = self.sigma_of(timesteps).double().view(-1, *([1] * (x.ndim - 1)))
        if self.kind == "flow":
            xs, a = x, 1.0 - sigma
        else:
            xs, a = x * torch.sqrt(sigma ** 2 + 1.0), torch.ones_like(sigma)
        x0 = denoise_torch(self.mix, xs, a, sigma)
        return ((xs - x0) / sigma).float()  # denoised = x - sigma * out: eps for EPS, eps - x0 for flow


@dataclass(frozen=True)
class Summary:
    switch: float  # share of outputs on the other side of the threshold than x0
    mean: float  # mean of the outputs on x0's side
    sd: float  # standard deviation of the outputs on x0's side


def _side_moments(mu, sd, c, upper: bool):
    """P, E[X 1_S], E[X^2 1_S] of N(mu, sd^2) on S = {x > c} (upper) or {x < c}."""
    alpha = (c - mu) / sd
    cdf, pdf = ndtr(alpha), np.exp(-0.5 * alpha * alpha) / math.sqrt(2 * math.pi)
    p0, p1, p2 = cdf, mu * cdf - sd * pdf, (mu * mu + sd * sd) * cdf - sd * pdf * (mu + c)
    if upper:
        p0, p1, p2 = 1.0 - p0, mu - p1, mu * mu + sd * sd - p2
    return p0, p1, p2


def continuous_law(mix: Mixture, x0: float, alpha_bar: float, points: int = 20001) -> Summary:
    """Law of x0' ~ p(x0 | x_t), x_t = sqrt(ab) x0 + sqrt(1 - ab) eps, averaged over eps (trapezoid on +-10 sd)."""
    a, sigma = math.sqrt(alpha_bar), math.sqrt(1.0 - alpha_bar)
    eps = np.linspace(-10.0, 10.0, points)
    weight = np.exp(-0.5 * eps * eps) / math.sqrt(2 * math.pi) * (eps[1] - eps[0])
    r, mu, v = posterior(mix, a * x0 + sigma * eps, a, sigma)
    c = mix.threshold()
    p0, p1, p2 = _side_moments(mu, np.sqrt(v), c, upper=x0 > c)
    stay = float((weight[:, None] * r * p0).sum())
    m1 = float((weight[:, None] * r * p1).sum()) / stay
    m2 = float((weight[:, None] * r * p2).sum()) / stay
    return Summary(1.0 - stay, m1, math.sqrt(m2 - m1 * m1))


def chain_samples(mix: Mixture, x0: float, alpha_bars: np.ndarray, t_boom: int, n: int = 10 ** 6,
                  seed: int = 0) -> np.ndarray:
    """Outputs of Algorithm 1 from x0 (VP coordinates: x_t = sqrt(ab_t) x0 + sqrt(1 - ab_t) eps), float64."""
    rng = np.random.default_rng(seed)
    ab = np.asarray(alpha_bars, dtype=np.float64)
    z = math.sqrt(ab[t_boom - 1]) * x0 + math.sqrt(1.0 - ab[t_boom - 1]) * rng.standard_normal(n)
    for t in range(t_boom, 0, -1):
        a_t = ab[t - 1]
        a_s = ab[t - 2] if t > 1 else 1.0
        beta = 1.0 - a_t / a_s
        x0_hat = denoise(mix, z, math.sqrt(a_t), math.sqrt(1.0 - a_t))
        z = (math.sqrt(1.0 - beta) * (1.0 - a_s) * z + math.sqrt(a_s) * beta * x0_hat) / (1.0 - a_t)
        if t > 1:
            z += math.sqrt(beta * (1.0 - a_s) / (1.0 - a_t)) * rng.standard_normal(n)
    return z


def chain_law(mix: Mixture, x0: float, alpha_bars: np.ndarray, t_boom: int, h: float = 0.025,
              span: float = 6.0) -> Summary:
    """The law of Algorithm 1's output by propagating the density of the chain on a grid (no sampling error).

    p_{t-1}(y) = int p_t(z) N(y; f_t(z), beta~_t) dz by the trapezoid rule on a grid of step h (the kernel is at
    least ~1 step wide, where the rule for a Gaussian integrand is accurate to ~1e-8); the last step (no noise,
    output f_1(z)) is summed on a 20x finer grid with the density interpolated.
    """
    ab = np.asarray(alpha_bars, dtype=np.float64)
    z = np.arange(-span, span + h / 2, h)
    a0, v0 = math.sqrt(ab[t_boom - 1]), 1.0 - ab[t_boom - 1]
    p = np.exp(-0.5 * (z - a0 * x0) ** 2 / v0) / math.sqrt(2 * math.pi * v0)
    for t in range(t_boom, 1, -1):
        a_t, a_s = ab[t - 1], ab[t - 2]
        beta = 1.0 - a_t / a_s
        f = (math.sqrt(1.0 - beta) * (1.0 - a_s) * z + math.sqrt(a_s) * beta
             * denoise(mix, z, math.sqrt(a_t), math.sqrt(1.0 - a_t))) / (1.0 - a_t)
        var = beta * (1.0 - a_s) / (1.0 - a_t)
        kernel = np.exp(-0.5 * (z[:, None] - f[None, :]) ** 2 / var) / math.sqrt(2 * math.pi * var)
        p = kernel @ (p * h)
    fine = np.arange(-span, span + h / 40, h / 20)
    pf = np.interp(fine, z, p) * (h / 20)
    a_1 = ab[0]
    y = denoise(mix, fine, math.sqrt(a_1), math.sqrt(1.0 - a_1))  # t = 1: the output is x0_hat
    c = mix.threshold()
    stay = (y > c) if x0 > c else (y < c)
    mass = pf.sum()
    k = pf[stay].sum()
    mean = float((pf[stay] * y[stay]).sum() / k)
    second = float((pf[stay] * y[stay] ** 2).sum() / k)
    return Summary(float(1.0 - k / mass), mean, math.sqrt(second - mean * mean))


def summarise(samples, mix: Mixture, x0: float) -> tuple[Summary, Summary]:
    """(estimate, standard errors) of a law's Summary from independent samples."""
    x = np.asarray(samples, dtype=np.float64).ravel()
    c = mix.threshold()
    stay = x[x > c] if x0 > c else x[x < c]
    n, k = x.size, stay.size
    p = 1.0 - k / n
    mean, var = float(stay.mean()), float(stay.var())
    m4 = float(((stay - mean) ** 4).mean())
    sd = math.sqrt(var)
    se_var = math.sqrt(max(m4 - var * var, 0.0) / k)
    return Summary(p, mean, sd), Summary(math.sqrt(max(p * (1 - p), 1.0 / n) / n), sd / math.sqrt(k), se_var / (2 * sd))
