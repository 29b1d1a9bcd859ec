"""Noise levels of Boomerang: integer timestep grids, the automatic t_boom rule, per-pass schedules."""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from .checks import BoomerangInputError, check_int_range

# Paper, section 6.2 (Patched Diffusion, T = 250): 4x -> t_boom = 50 (0.2 T), 8x -> t_boom = 100 (0.4 T).
# Between and beyond those anchors t_boom/T is linear in log2(factor): 1x -> 0, 2x -> 0.1, 4x -> 0.2,
# 8x -> 0.4, 16x -> 0.6, 32x and up -> 0.8 (the cap: above it a pass is close to a global sample).
_AUTO_ANCHORS = ((0.0, 0.0), (1.0, 0.1), (2.0, 0.2), (3.0, 0.4), (4.0, 0.6), (5.0, 0.8))
# Cascaded PRE uses small passes: the paper's cascades run at t_boom = 50 of 250 (0.2 T) per pass.
CASCADE_PASS_FRACTION = 0.2


def auto_fraction(factor: float) -> float:
    """t_boom/T chosen for an upscale ``factor`` (>= 1) by the rule above."""
    if not (factor >= 1.0) or math.isinf(factor):
        raise BoomerangInputError("factor", "a finite number >= 1", factor)
    x = math.log2(factor)
    for (x0, f0), (x1, f1) in zip(_AUTO_ANCHORS, _AUTO_ANCHORS[1:]):
        if x <= x1:
            return f0 + (f1 - f0) * (x - x0) / (x1 - x0)
    return _AUTO_ANCHORS[-1][1]


def auto_pass_fraction(factor: float, passes: int = 1) -> float:
    """t_boom/T of each pass for PRE at ``factor``: ``auto_fraction(factor)`` for one pass; a cascade of several
    passes uses the smaller of that and the paper's cascade level 0.2 T per pass."""
    fraction = auto_fraction(factor)
    return min(fraction, CASCADE_PASS_FRACTION) if passes > 1 else fraction


def auto_t_boom(factor: float, total: int, passes: int = 1) -> int:
    """Automatic per-pass t_boom for PRE at ``factor`` on a model with a DDPM table of ``total`` = T timesteps."""
    return int(round(auto_pass_fraction(factor, passes) * total))


# The reference for automatic levels on models without a DDPM timestep table (flow, EDM): Stable Diffusion's
# "scaled linear" schedule, beta from 0.00085 to 0.012 linear in sqrt(beta), 1000 steps.
SD_BETA_RANGE, SD_T = (0.00085, 0.012), 1000


def sd_log_snr(fraction: float) -> float:
    """log(alpha_bar / (1 - alpha_bar)) of Stable Diffusion's schedule at timestep ``fraction`` x 1000 (rounded)."""
    t = int(round(fraction * SD_T))
    if t <= 0:
        return math.inf
    root = np.linspace(math.sqrt(SD_BETA_RANGE[0]), math.sqrt(SD_BETA_RANGE[1]), SD_T, dtype=np.float64)
    alpha_bar = float(np.prod(1.0 - root[:t] ** 2))
    return math.log(alpha_bar / (1.0 - alpha_bar))


def same_snr_level(log_snr_at: Callable[[int], float], target: float, total: int) -> int:
    """The integer level in [0, total] whose log SNR (``log_snr_at``, falling as the level rises) is closest to
    ``target``: how a fraction of Stable Diffusion's schedule reads on another model's schedule."""
    if math.isinf(target):
        return 0
    lo, hi = 1, total
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if log_snr_at(mid) > target:
            lo = mid
        else:
            hi = mid
    return min((lo, hi), key=lambda t: abs(log_snr_at(t) - target))


def integer_grid(sigma_at: Callable[[int], float], t_boom: int, total: int) -> torch.Tensor:
    """Sigmas of Algorithm 1: one level per integer timestep t_boom, ..., 1, then 0 (float64, descending)."""
    check_int_range("t_boom", t_boom, 0, total)
    levels = [float(sigma_at(t)) for t in range(t_boom, 0, -1)]
    return torch.tensor(levels + [0.0], dtype=torch.float64)


def check_fast_schedule(sigmas: torch.Tensor, sigma_start: float, scheduler: str,
                        rel_tol: float = 1e-4) -> torch.Tensor:
    """Pin a fast-path schedule to start exactly at the t_boom level; check it descends strictly to 0.

    A scheduler computed on the levels 1..t_boom starts at the top level, except ones that skip it by
    construction (``ddim_uniform`` strides from the bottom); their first level is moved up to t_boom.
    """
    s = sigmas.detach().to(torch.float64).flatten().clone()
    if s.numel() < 2:
        raise BoomerangInputError("steps", "at least 1", s.numel() - 1)
    if float(s[0]) > sigma_start * (1.0 + rel_tol):
        raise BoomerangInputError(
            "scheduler", f"a scheduler whose schedule can start at sigma {sigma_start:.6g}", scheduler,
            f"It started above, at sigma {float(s[0]):.6g}")
    s[0] = sigma_start
    if float(s[-1]) != 0.0 or bool((s[1:] >= s[:-1]).any()):
        raise BoomerangInputError(
            "scheduler", "a scheduler giving strictly descending sigmas that end at 0", scheduler,
            f"It gave {[round(float(v), 6) for v in s]}")
    return s


def parse_pass_schedule(text: str, passes: int, default_t_boom: int, total: int,
                        input_name: str = "t_boom_schedule") -> list[int]:
    """Per-pass t_boom values from ``"50,50,30"`` (empty: ``default_t_boom`` for every pass).

    A schedule of one value is used for every pass; otherwise it must have exactly ``passes`` values.
    """
    check_int_range("passes", passes, 1, 1000)
    text = (text or "").strip()
    if not text:
        return [check_int_range("t_boom", default_t_boom, 0, total)] * passes
    values = []
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        try:
            value = int(part)
        except ValueError:
            raise BoomerangInputError(input_name, f"comma-separated integers in [0, {total}]", text,
                                      f"{part!r} is not an integer") from None
        if not 0 <= value <= total:
            raise BoomerangInputError(input_name, f"comma-separated integers in [0, {total}]", text,
                                      f"{value} is out of range")
        values.append(value)
    if len(values) == 1:
        return values * passes
    if len(values) != passes:
        raise BoomerangInputError(input_name, f"1 or passes = {passes} values", text,
                                  f"it has {len(values)} values")
    return values


LEVEL_KINDS = ("discrete", "flow", "continuous")  # integer timesteps / flow time / EDM-style log-sigma range


def describe_level(t_boom: int, total: int, sigma: float, kind: str = "discrete") -> str:
    """A one-line human description of a start level in the model's own terms, e.g.
    ``timestep 400/1000 (40%), sigma 2.43 - local sample`` (discrete), ``flow time 0.40 (t_boom 400/1000), sigma
    0.667 - local sample`` (flow), ``t_boom 400/1000 (40% of the log-sigma range), sigma 0.29 - local sample``
    (continuous EDM-style models)."""
    if kind not in LEVEL_KINDS:
        raise ValueError(f"kind must be one of {LEVEL_KINDS}, got {kind!r}")
    frac = t_boom / total if total else 0.0
    if t_boom == 0:
        what = "identity (no noise)"
    elif t_boom >= total:
        what = "global sample"
    else:
        what = "local sample"
    if kind == "flow":
        where = f"flow time {frac:.2f} (t_boom {t_boom}/{total})"
    elif kind == "continuous":
        where = f"t_boom {t_boom}/{total} ({frac:.0%} of the log-sigma range)"
    else:
        where = f"timestep {t_boom}/{total} ({frac:.0%})"
    return f"{where}, sigma {sigma:.4g} - {what}"


class LevelTable:
    """A model's noise levels 1..t_boom as a discrete table, for running stock schedulers from t_boom.

    Offers what ComfyUI's schedulers (``comfy.samplers.calculate_sigmas``) read from a ``model_sampling``
    (``sigmas``, ``sigma_min``, ``sigma_max``, ``sigma(timestep)``, ``timestep(sigma)``, ``percent_to_sigma``)
    with timestep k meaning level k + 1 and
    log-linear interpolation between levels, so a schedule computed on it starts exactly at ``sigma_max``,
    the t_boom level, for discrete, flow and continuous models alike.
    """

    def __init__(self, level_sigmas):
        exact = torch.as_tensor(level_sigmas, dtype=torch.float64).flatten()
        s = exact.float()
        if s.numel() < 1 or bool((s <= 0).any()) or bool((s[1:] <= s[:-1]).any()):
            raise ValueError("level sigmas must be positive and strictly increasing")
        self.sigmas = s
        self.log_sigmas = s.log()
        self._log_np = self.log_sigmas.double().numpy()
        self._top = exact[-1]  # the t_boom level as given (float64): schedules start exactly there

    @property
    def sigma_min(self) -> torch.Tensor:
        return self.sigmas[0]

    @property
    def sigma_max(self) -> torch.Tensor:
        return self._top

    def sigma(self, timestep) -> torch.Tensor:
        t = torch.as_tensor(timestep, dtype=torch.float32).clamp(0, len(self.sigmas) - 1)
        low, high = t.floor().long(), t.ceil().long()
        w = t.frac()
        return ((1 - w) * self.log_sigmas[low] + w * self.log_sigmas[high]).exp()

    def timestep(self, sigma) -> torch.Tensor:
        s = torch.as_tensor(sigma, dtype=torch.float64)
        idx = np.interp(s.log().numpy(), self._log_np, np.arange(len(self._log_np), dtype=np.float64))
        return torch.as_tensor(idx, dtype=torch.float32).view(s.shape)

    def percent_to_sigma(self, percent: float) -> float:
        if percent <= 0.0:
            return float(self.sigma_max)
        if percent >= 1.0:
            return 0.0
        return float(self.sigma(torch.tensor((1.0 - percent) * (len(self.sigmas) - 1))))
