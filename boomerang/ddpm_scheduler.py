"""A diffusers ``DDPMScheduler`` config, read as diffusers samples it: every key is honoured or refused by name.

diffusers' ``DDPMScheduler.step`` (v0.42) turns the model's output into a prediction of x0 by its
``prediction_type`` (epsilon, v_prediction or sample), then either thresholds it dynamically (``thresholding``:
per item, s = the ``dynamic_thresholding_ratio`` quantile of |x0| clamped to [1, ``sample_max_value``], and
x0 -> clamp(x0, -s, s) / s; Saharia et al. 2022) or clips it to [-``clip_sample_range``, ``clip_sample_range``]
(``clip_sample``, on by default), and adds noise of variance ``variance_type``: ``fixed_small`` = beta~_t (Ho et
al. 2020 eq. 7, Algorithm 1 of the Boomerang paper), ``fixed_large`` = beta_t, none at the last step (t = 0).
This module reads those settings and applies the x0 rule; the noise schedule itself (``beta_schedule``,
``beta_start``, ``beta_end``, ``trained_betas``, ``num_train_timesteps``) is computed by diffusers in
``pixel_model.schedule``. Nothing here imports ComfyUI or diffusers.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from .checks import BoomerangInputError

SCHEDULER_CLASS = "DDPMScheduler"
PREDICTIONS = ("epsilon", "v_prediction", "sample")
FIXED_SMALL, FIXED_LARGE = "fixed_small", "fixed_large"
# variance_type values read as the step variance they give in DDPMScheduler.step: fixed_small_log draws with
# exp(0.5 log beta~) = sqrt(beta~), the same standard deviation as fixed_small.
VARIANCES = {FIXED_SMALL: FIXED_SMALL, "fixed_small_log": FIXED_SMALL, FIXED_LARGE: FIXED_LARGE}
REFUSED_VARIANCES = {
    "fixed_large_log": "DDPMScheduler.step multiplies the noise by sqrt(log beta_t), which is NaN",
    "learned": "the model's own variance output would have to reach the sampler, which ComfyUI models lack",
    "learned_range": "the model's own variance output would have to reach the sampler, which ComfyUI models lack",
}
# Keys that define the noise schedule; pixel_model.schedule hands them to diffusers' DDPMScheduler.
SCHEDULE_KEYS = ("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas",
                 "rescale_betas_zero_snr")
# Keys that only choose diffusers' inference subsequence of timesteps (DDPMScheduler.set_timesteps). In
# ComfyUI the graph's scheduler input chooses it; boomerang_exact runs every timestep, where the three
# spacings give the same grid.
INFERENCE_GRID_KEYS = ("timestep_spacing", "steps_offset")
SPACINGS = ("leading", "linspace", "trailing")
STEP_KEYS = ("prediction_type", "variance_type", "clip_sample", "clip_sample_range", "thresholding",
             "dynamic_thresholding_ratio", "sample_max_value")


@dataclass(frozen=True)
class StepSettings:
    """What DDPMScheduler.step does with the model's output, besides the schedule."""
    prediction_type: str = "epsilon"
    variance: str = FIXED_SMALL  # the step variance: FIXED_SMALL (beta~_t) or FIXED_LARGE (beta_t)
    clip_sample: bool = False
    clip_sample_range: float = 1.0
    thresholding: bool = False
    dynamic_thresholding_ratio: float = 0.995
    sample_max_value: float = 1.0

    def x0_rule(self, x0: torch.Tensor) -> torch.Tensor:
        """The predicted x0 as DDPMScheduler.step passes it on: thresholded, else clipped, else as is."""
        if self.thresholding:
            return dynamic_threshold(x0, self.dynamic_thresholding_ratio, self.sample_max_value)
        if self.clip_sample:
            return x0.clamp(-self.clip_sample_range, self.clip_sample_range)
        return x0

    def describe(self) -> str:
        if self.thresholding:
            rule = f"dynamic thresholding (ratio {self.dynamic_thresholding_ratio}, max {self.sample_max_value})"
        elif self.clip_sample:
            rule = f"x0 clipped to +-{self.clip_sample_range}"
        else:
            rule = "x0 not clipped"
        return f"{self.prediction_type}, {rule}, {self.variance} variance"


def dynamic_threshold(x0: torch.Tensor, ratio: float, max_value: float) -> torch.Tensor:
    """Dynamic thresholding of a batch of x0 predictions (per item over all other dimensions)."""
    dtype = x0.dtype
    flat = x0.reshape(x0.shape[0], -1)
    if dtype not in (torch.float32, torch.float64):
        flat = flat.float()  # quantile needs float32/64
    s = torch.quantile(flat.abs(), ratio, dim=1).clamp(min=1, max=max_value).unsqueeze(1)
    return (torch.clamp(flat, -s, s) / s).reshape(x0.shape).to(dtype)


def _bool(config: dict, key: str, where: Path) -> bool:
    value = config[key]
    if not isinstance(value, bool):
        raise BoomerangInputError(key, "true or false", value, f"(read from {where})")
    return value


def _number(config: dict, key: str, allowed: str, ok, where: Path) -> float:
    value = config[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not ok(float(value)):
        raise BoomerangInputError(key, allowed, value, f"(read from {where})")
    return float(value)


def read_step_settings(given: dict, full: dict, where: Path) -> StepSettings:
    """Check every key of a scheduler config and return its step settings.

    ``given`` is the config as written (to find keys no DDPM setting knows); ``full`` is the same config with
    DDPMScheduler's defaults filled in (e.g. ``DDPMScheduler.from_config(given).config``), so a key left out
    means what it means to diffusers (``clip_sample`` defaults to true).
    """
    cls = given.get("_class_name", SCHEDULER_CLASS)
    if cls != SCHEDULER_CLASS:
        raise BoomerangInputError("_class_name", SCHEDULER_CLASS, cls,
                                  f"The pack samples a pixel model as diffusers' DDPMScheduler does (read from "
                                  f"{where}); if the model was trained as a DDPM, name DDPMScheduler there")
    known = set(SCHEDULE_KEYS) | set(INFERENCE_GRID_KEYS) | set(STEP_KEYS)
    for key in given:
        if not key.startswith("_") and key not in known:
            raise BoomerangInputError(f"scheduler setting {key!r}", f"one of DDPMScheduler's settings "
                                      f"({', '.join(sorted(known))})", given[key],
                                      f"A setting the pack cannot honour is refused, never ignored (read from {where})")
    prediction = full["prediction_type"]
    if prediction not in PREDICTIONS:
        raise BoomerangInputError("prediction_type", " or ".join(PREDICTIONS), prediction, f"(read from {where})")
    variance_type = full["variance_type"]
    if variance_type in REFUSED_VARIANCES:
        raise BoomerangInputError("variance_type", " or ".join(VARIANCES), variance_type,
                                  f"Not supported: {REFUSED_VARIANCES[variance_type]} (read from {where})")
    if variance_type not in VARIANCES:
        raise BoomerangInputError("variance_type", " or ".join(VARIANCES), variance_type, f"(read from {where})")
    if full["timestep_spacing"] not in SPACINGS:
        raise BoomerangInputError("timestep_spacing", " or ".join(SPACINGS), full["timestep_spacing"],
                                  f"(read from {where})")
    offset = full["steps_offset"]
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise BoomerangInputError("steps_offset", "an integer >= 0", offset, f"(read from {where})")
    return StepSettings(
        prediction_type=prediction, variance=VARIANCES[variance_type],
        clip_sample=_bool(full, "clip_sample", where),
        clip_sample_range=_number(full, "clip_sample_range", "a number > 0", lambda v: v > 0, where),
        thresholding=_bool(full, "thresholding", where),
        dynamic_thresholding_ratio=_number(full, "dynamic_thresholding_ratio", "a number in (0, 1]",
                                           lambda v: 0 < v <= 1, where),
        sample_max_value=_number(full, "sample_max_value", "a number > 0", lambda v: v > 0, where))
