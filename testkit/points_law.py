"""A third oracle: data uniform over N training points in D dimensions (a model that has memorized its training
set), with its exact denoiser, and the exact chain of Algorithm 1 on it.

Independent of the pack's code (torch only): for x_t = a x0 + s eps, p(x0 = p_i | x_t) is proportional to
exp(-|x_t - a p_i|^2 / (2 s^2)), so E[x0 | x_t] is that softmax's average of the points. Boomerang from point 0
ends at some point; the share of outputs nearest to *another* point is the mode-switch share of a space with many
modes, and the RMS distance to the source is the paper's pixel distance. The one-dimensional two-mode oracle
(testkit/mixture_law.py) cannot show how a sampler spreads its switches over many directions.
"""
from __future__ import annotations

import math

import torch


def points(n: int, dims: int, seed: int = 1) -> torch.Tensor:
    """n points with independent N(0, 1) values (float64)."""
    return torch.randn(n, dims, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def denoise(pts: torch.Tensor, x: torch.Tensor, a: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """E[x0 | x_t] for x (B, D); a and s (B, 1) or scalars."""
    a = torch.as_tensor(a, dtype=x.dtype).reshape(-1, 1)
    s = torch.as_tensor(s, dtype=x.dtype).reshape(-1, 1)
    d2 = ((x[:, None, :] - a[:, :, None] * pts[None]) ** 2).sum(-1)
    return torch.softmax(-d2 / (2 * s * s), dim=1) @ pts


def algorithm1(pts: torch.Tensor, alpha_bars, t_boom: int, batch: int, seed: int) -> torch.Tensor:
    """Outputs of the paper's Algorithm 1 from point 0 (VP coordinates, beta~ variance, no noise on the last step)."""
    gen = torch.Generator().manual_seed(seed)
    ab = torch.as_tensor(alpha_bars, dtype=torch.float64)
    x0 = pts[0].expand(batch, -1)
    z = ab[t_boom - 1].sqrt() * x0 + (1 - ab[t_boom - 1]).sqrt() * torch.randn(x0.shape, generator=gen,
                                                                                 dtype=torch.float64)
    for t in range(t_boom, 0, -1):
        a_t = ab[t - 1]
        a_s = ab[t - 2] if t > 1 else torch.ones((), dtype=torch.float64)
        beta = 1 - a_t / a_s
        x0_hat = denoise(pts, z, a_t.sqrt(), (1 - a_t).sqrt())
        z = ((1 - beta).sqrt() * (1 - a_s) * z + a_s.sqrt() * beta * x0_hat) / (1 - a_t)
        if t > 1:
            z = z + (beta * (1 - a_s) / (1 - a_t)).sqrt() * torch.randn(x0.shape, generator=gen, dtype=torch.float64)
    return z


def summary(pts: torch.Tensor, out: torch.Tensor) -> dict:
    """Share of outputs nearest to a point other than point 0, and mean RMS distance to point 0, with SEs."""
    nearest = ((out[:, None, :] - pts[None]) ** 2).sum(-1).argmin(1)
    switched = (nearest != 0).double()
    dist = ((out - pts[0]) ** 2).mean(1).sqrt()
    n = out.shape[0]
    p = float(switched.mean())
    return {"switch": p, "switch_se": math.sqrt(max(p * (1 - p), 1.0 / n) / n),
            "dist": float(dist.mean()), "dist_se": float(dist.std()) / math.sqrt(n)}
