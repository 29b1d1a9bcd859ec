"""Sampling internals: noise levels, forward coefficients, sigma schedules, sampler objects.

Everything model-specific goes through the model's own ``model_sampling`` (its sigma table,
``percent_to_sigma`` and ``noise_scaling``) and ``latent_format``, so EPS, v-prediction and flow models
(SD1.x, SD2.x, SDXL, SD3, Flux) share one code path.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass

import torch

import comfy.model_management
import comfy.model_sampling
import comfy.sample
import comfy.samplers
import comfy.utils
import latent_preview
from comfy.k_diffusion import sampling as k_sampling

from ...boomerang import noise as bnoise
from ...boomerang.checks import EXACT, FAST, BoomerangInputError, check_finite, check_int_range
from ...boomerang.frontier import level_line
from ...boomerang.schedule import (
    LevelTable,
    auto_pass_fraction,
    check_fast_schedule,
    describe_level,
    integer_grid,
    same_snr_level,
    sd_log_snr,
)
from .family import family_name, network_multiple
from .pack_samplers import exact_function, fast_function, forward_coeffs
from .vae_io import VAE_FIX

META = "boomerang"  # key of the start-level metadata BoomerangNoise adds to a LATENT dict
FLOW_T = 1000  # T used for models without a discrete timestep table (flow, continuous EDM/v)


def model_sampling(model):
    return model.get_model_object("model_sampling")


def is_discrete(ms) -> bool:
    """Whether the model samples on an integer timestep table (DDPM-style SD1.x/SD2.x/SDXL)."""
    return isinstance(ms, comfy.model_sampling.ModelSamplingDiscrete) and not isinstance(
        ms, comfy.model_sampling.StableCascadeSampling)


def total_timesteps(ms) -> int:
    return int(len(ms.sigmas)) if is_discrete(ms) else FLOW_T


def sigma_at(ms, t: int) -> float:
    """Sigma of integer timestep t (0 = clean) on the model's own schedule.

    At t = T, ``percent_to_sigma(0)`` is ComfyUI's "infinite" placeholder 999999999.9 for the EDM-range
    samplings (continuous EDM and v, Cosmos' RFlow, Stable Cascade): the start level there is the model's own
    ``sigma_max``. Flow models' ``percent_to_sigma(0)`` is already their top level, 1.0."""
    if t <= 0:
        return 0.0
    if is_discrete(ms):
        return float(ms.sigmas[t - 1])
    sigma = float(ms.percent_to_sigma(1.0 - t / FLOW_T))
    if t >= FLOW_T:
        top = getattr(ms, "sigma_max", None)
        if top is not None and sigma > float(top):
            return float(top)
    return sigma


def level_kind(ms) -> str:
    """How t_boom reads for this model: "discrete" (integer timesteps), "flow" (flow time t_boom/T, shifted) or
    "continuous" (EDM-style models: t_boom/T along the log-sigma range)."""
    if is_discrete(ms):
        return "discrete"
    if isinstance(ms, (comfy.model_sampling.ModelSamplingDiscreteFlow, comfy.model_sampling.ModelSamplingFlux)):
        return "flow"
    return "continuous"


@dataclass(frozen=True)
class Level:
    t_boom: int
    total: int
    sigma: float
    kind: str  # boomerang.schedule.LEVEL_KINDS

    @property
    def discrete(self) -> bool:
        return self.kind == "discrete"

    def describe(self) -> str:
        return describe_level(self.t_boom, self.total, self.sigma, self.kind)

    def line(self, sampler: str, scheduler: str, steps: int) -> str:
        """The level line of a reverse pass: the level, the pass's model evaluations and the frontier's verdict."""
        return level_line(self.t_boom, self.total, self.sigma, self.kind, sampler, scheduler, steps)


def timesteps(model) -> int:
    """The model's T, from its own sampling object (1000 for SD; FLOW_T for models without a timestep table)."""
    return total_timesteps(model_sampling(model))


def level_for(model, t_boom: int) -> Level:
    """The start level t_boom of ``model``, checked against its T (the check that needs the model)."""
    ms = model_sampling(model)
    total = total_timesteps(ms)
    check_int_range("t_boom", t_boom, 0, total, f"This model has T = {total} timesteps")
    return Level(t_boom, total, sigma_at(ms, t_boom), level_kind(ms))


def auto_level(model, factor: float, passes: int = 1) -> tuple[int, str]:
    """Upscale-then-Boomerang's automatic per-pass t_boom and how it was chosen. The paper's rule is a fraction of a
    DDPM timestep table, used as is on such models; flow and EDM models get the level with the same
    signal-to-noise ratio as Stable Diffusion's timestep at that fraction (their t_boom/T is much stronger)."""
    ms = model_sampling(model)
    total = total_timesteps(ms)
    fraction = auto_pass_fraction(factor, passes)
    if is_discrete(ms):
        return int(round(fraction * total)), f"auto: {fraction:.2g} T"

    def log_snr(t: int) -> float:
        a, s = forward_coeffs(ms, sigma_at(ms, t))
        return 2.0 * (math.log(a) - math.log(s)) if a > 0 else -math.inf

    sd_t = int(round(fraction * 1000))
    return same_snr_level(log_snr, sd_log_snr(fraction), total), f"auto: the noise of SD's timestep {sd_t}"


def latent_in(model, samples: torch.Tensor) -> torch.Tensor:
    """A user-space latent in the model's sampling space, with the rule ComfyUI's CFGGuider applies."""
    if torch.count_nonzero(samples) > 0:
        return model.model.process_latent_in(samples)
    return samples


MODEL_FIX = ("run the model in float32 (the loader's weight_dtype float32, or start ComfyUI with --force-fp32), "
             "or lower cfg")
PADS_FOR_YOU = ("Encode with Boomerang VAE Encode (it pads the image to the model's multiple; Boomerang VAE Decode "
                "crops it back), or use UpscaleThenBoomerang, or the dataset presets, which pad for you")


def image_multiple(model, vae) -> int:
    """The multiple, in pixels, that an image's height and width must be for ``vae`` then ``model``: the VAE's
    own compression ratio (``spacial_compression_encode``) times the network's multiple."""
    return int(vae.spacial_compression_encode()) * network_multiple(model)


def model_dtype(model) -> str:
    """The dtype the model's network computes in (its weights' dtype, or the manual cast dtype)."""
    base = getattr(model, "model", None)
    cast = getattr(base, "manual_cast_dtype", None)
    weights = model.model_dtype() if hasattr(model, "model_dtype") else None
    return str(cast or weights or "an unknown dtype").replace("torch.", "")


def check_model_output(model, samples: torch.Tensor) -> torch.Tensor:
    return check_finite(samples, "the model", model_dtype(model), MODEL_FIX)


EMPTY_LATENT_EXTRAS = ("downscale_ratio_spacial", "downscale_ratio_temporal")  # newer ComfyUI's empty latents


def fix_empty(model, latent: dict, fix=None) -> torch.Tensor:
    """The LATENT's samples through ``comfy.sample.fix_empty_latent_channels`` (or ``fix``) as the installed
    ComfyUI's KSampler applies it: the ratios a newer empty latent carries (EMPTY_LATENT_EXTRAS) go by name, and
    only those the installed function takes. 0.3.64 and 0.3.75 take neither (their KSampler ignores the keys);
    0.38 takes both. Passed by position, a latent with only the temporal ratio gave it as the spatial one, and a
    release taking fewer raised a TypeError."""
    fix = comfy.sample.fix_empty_latent_channels if fix is None else fix
    samples = latent["samples"]
    if samples.ndim < 3:
        return samples
    try:
        accepted = inspect.signature(fix).parameters
    except (TypeError, ValueError):  # not introspectable: pass no extras, as the oldest releases take
        accepted = {}
    extras = {k: latent[k] for k in EMPTY_LATENT_EXTRAS if k in accepted and latent.get(k) is not None}
    return fix(model, samples, **extras)


def model_latent(model, latent: dict, input_name: str = "latent") -> dict:
    """The LATENT as this model samples it, checked. An empty latent gets the model's channel count and, for a
    model of video latents (Wan, Qwen-Image, Cosmos, ...), its time axis, by ComfyUI's own
    ``comfy.sample.fix_empty_latent_channels`` as KSampler applies it. A new dict when anything changed."""
    samples = latent.get("samples") if isinstance(latent, dict) else None
    if not isinstance(samples, torch.Tensor) or samples.is_nested:
        raise BoomerangInputError(input_name, "a LATENT with a 'samples' tensor", type(samples).__name__)
    if samples.shape[0] == 0:
        raise BoomerangInputError(input_name, "a batch of at least 1 latent", "an empty batch (0 items)")
    fixed = fix_empty(model, latent)
    if fixed is not samples or any(k in latent for k in EMPTY_LATENT_EXTRAS):  # KSampler drops the ratios too
        latent = {k: v for k, v in latent.items() if k not in EMPTY_LATENT_EXTRAS}
        latent["samples"] = fixed
    latent_format = model.get_model_object("latent_format")
    channels = latent_format.latent_channels
    if fixed.ndim < 3 or fixed.shape[1] != channels:
        raise BoomerangInputError(
            input_name, f"a latent with {channels} channels (what this {family_name(model)} model uses)",
            f"shape {tuple(samples.shape)}", "Encode the image with this model's VAE")
    dims = getattr(latent_format, "latent_dimensions", 2)
    if fixed.ndim != dims + 2:
        kind = {3: f"[batch, channels, frames, height, width] (a {family_name(model)} model's video latents)",
                2: f"[batch, channels, height, width] (a {family_name(model)} model's image latents)"}.get(
                    dims, f"{dims + 2}-D")
        raise BoomerangInputError(input_name, f"a latent of shape {kind}", f"shape {tuple(samples.shape)}",
                                  "Encode the image with this model's VAE")
    multiple = network_multiple(model)
    height, width = fixed.shape[-2], fixed.shape[-1]
    if height % multiple or width % multiple:
        raise BoomerangInputError(
            input_name, f"a latent whose height and width are multiples of {multiple} (what this model's network "
            f"takes)", f"{height} x {width} (height x width)", PADS_FOR_YOU)
    check_finite(fixed, f"VAE encode (or the node that made this node's {input_name})", fixed.dtype,
                 f"if it came from VAE Encode, {VAE_FIX}")
    return latent


def check_latent(model, latent: dict, input_name: str = "latent") -> torch.Tensor:
    """The samples of ``model_latent``."""
    return model_latent(model, latent, input_name)["samples"]


def batch_indices(latent: dict) -> list[int] | None:
    index = latent.get("batch_index")
    return None if index is None else [int(i) for i in index]


def _noised(model, latent: dict, x0: torch.Tensor, level: Level, seed: int, stream: int) -> dict:
    """A copy of ``latent`` whose samples are x_t = noise_scaling(sigma(t_boom), eps, x0), in one shot."""
    out = latent.copy()
    if level.t_boom == 0:
        return out
    ms = model_sampling(model)
    seeds = bnoise.item_seeds(seed, x0.shape[0], batch_indices(latent))
    eps = bnoise.per_item_normal(x0.shape, seeds, stream, dtype=torch.float32)
    x0_in = latent_in(model, x0.float())
    x_t = ms.noise_scaling(torch.tensor([level.sigma]), eps, x0_in.clone(), max_denoise=False)
    out["samples"] = model.model.process_latent_out(x_t).to(x0.dtype)
    return out


def add_forward_noise(model, latent: dict, t_boom: int, seed: int, stream: int = bnoise.STREAM_FORWARD):
    """BoomerangNoise: the noised latent, carrying its start level for PartialReverseSampler; (latent, level)."""
    latent = model_latent(model, latent)
    x0 = latent["samples"]
    level = level_for(model, t_boom)
    out = _noised(model, latent, x0, level, seed, stream)
    out[META] = {"t_boom": t_boom, "T": level.total, "sigma": level.sigma, "seed": seed, "x0": x0}
    return out, level


def read_meta(model, latent: dict) -> tuple[dict, Level]:
    """The start level BoomerangNoise attached to a latent, checked against this model."""
    samples = check_latent(model, latent)
    meta = latent.get(META)
    if not isinstance(meta, dict) or "t_boom" not in meta:
        raise BoomerangInputError(
            "latent", "a LATENT produced by BoomerangNoise (it carries the start level t_boom)",
            "a latent without Boomerang metadata", "Put a BoomerangNoise node before PartialReverseSampler")
    level = level_for(model, int(meta["t_boom"]))
    if abs(level.sigma - float(meta["sigma"])) > 1e-5 * max(1.0, level.sigma):
        raise BoomerangInputError(
            "model", f"the model the latent was noised with (sigma {float(meta['sigma']):.6g} at t_boom "
            f"{level.t_boom})", f"a model with sigma {level.sigma:.6g} there",
            "Give BoomerangNoise and PartialReverseSampler the same model")
    if tuple(meta["x0"].shape) != tuple(samples.shape):
        raise BoomerangInputError(
            "latent", f"the batch BoomerangNoise produced (shape {tuple(meta['x0'].shape)})",
            f"shape {tuple(samples.shape)}", "Batch operations between the two nodes are not supported")
    return meta, level


class _StartAtLevel(comfy.samplers.KSAMPLER):
    """A KSAMPLER that noises to sigmas[0] as given, never to ComfyUI's 'max denoise' sqrt(1 + sigma^2)."""

    def max_denoise(self, model_wrap, sigmas):
        return False


def sampler_names() -> list[str]:
    return [EXACT, FAST] + list(comfy.samplers.SAMPLER_NAMES)


def scheduler_names() -> list[str]:
    return list(comfy.samplers.SCHEDULER_HANDLERS)


def _noise_sampler_for(name: str, x_like: torch.Tensor, sigmas: torch.Tensor, seeds: list[int], stream: int):
    item = [bnoise.stream_seed(s, stream) for s in seeds]
    if "sde" in name and name.startswith("dpmpp"):
        positive = sigmas[sigmas > 0]
        return k_sampling.BrownianTreeNoiseSampler(x_like, positive.min(), positive.max(), seed=item, cpu=True)
    return bnoise.PerItemNoiseSampler(x_like, seeds, stream)


def make_sampler(name: str, x_like: torch.Tensor, sigmas: torch.Tensor, seeds: list[int],
                 stream: int = bnoise.STREAM_ANCESTRAL) -> comfy.samplers.KSAMPLER:
    """A sampler starting at sigmas[0] whose ancestral noise for item i depends on seeds[i] only."""
    own = {EXACT: exact_function, FAST: fast_function}
    if name in own:
        return _StartAtLevel(own[name], {"noise_sampler": bnoise.PerItemNoiseSampler(x_like, seeds, stream)})
    if name not in comfy.samplers.SAMPLER_NAMES:
        raise BoomerangInputError("sampler", f"{EXACT}, {FAST} or one of ComfyUI's samplers", name)
    base = comfy.samplers.sampler_object(name)
    if not isinstance(base, comfy.samplers.KSAMPLER):
        raise BoomerangInputError("sampler", "a k-diffusion style sampler", name)
    options = dict(base.extra_options)
    if "noise_sampler" in inspect.signature(base.sampler_function).parameters:
        options["noise_sampler"] = _noise_sampler_for(name, x_like, sigmas, seeds, stream)
    return _StartAtLevel(base.sampler_function, options, base.inpaint_options)


def schedule(model, level: Level, sampler: str, scheduler: str, steps: int) -> torch.Tensor:
    """The sigmas a pass runs: the integer grid for boomerang_exact, else ``steps`` of ``scheduler`` from t_boom."""
    ms = model_sampling(model)
    if sampler == EXACT:
        return integer_grid(lambda t: sigma_at(ms, t), level.t_boom, level.total).float()
    check_int_range("steps", steps, 1, level.t_boom,
                    f"The fast path ({sampler}) takes at most one step per timestep below t_boom = {level.t_boom}")
    if scheduler not in comfy.samplers.SCHEDULER_HANDLERS:
        raise BoomerangInputError("scheduler", f"one of {', '.join(comfy.samplers.SCHEDULER_HANDLERS)}", scheduler)
    table = LevelTable([sigma_at(ms, t) for t in range(1, level.t_boom + 1)])  # sigma_max: the t_boom level
    sigmas = comfy.samplers.calculate_sigmas(table, scheduler, steps)
    return check_fast_schedule(torch.as_tensor(sigmas), level.sigma, scheduler).float()


def progress_callback(model, steps: int):
    """ComfyUI's progress bar and live preview, plus a check for the user's interrupt between steps."""
    preview = latent_preview.prepare_callback(model, steps)

    def callback(step, x0, x, total_steps):
        comfy.model_management.throw_exception_if_processing_interrupted()
        preview(step, x0, x, total_steps)

    return callback


def reverse(model, positive, negative, latent: dict, cfg: float, sampler: str, scheduler: str, steps: int,
            seed: int, stream: int = bnoise.STREAM_ANCESTRAL) -> tuple[dict, Level]:
    """PartialReverseSampler: run the reverse process from the latent's t_boom level (BoomerangNoise's
    metadata) down to 0; (latent, level)."""
    meta, level = read_meta(model, latent)
    return _reverse_from(model, positive, negative, latent, meta["x0"], level, cfg, sampler, scheduler, steps,
                         seed, stream), level


def boomerang(model, positive, negative, latent: dict, t_boom: int, cfg: float, sampler: str, scheduler: str,
              steps: int, seed: int, forward_stream: int = bnoise.STREAM_FORWARD,
              ancestral_stream: int = bnoise.STREAM_ANCESTRAL) -> tuple[dict, Level]:
    """One Boomerang inside one node: noise ``latent`` to t_boom, reverse to 0; (latent, level). The same
    values as BoomerangNoise -> PartialReverseSampler, without the metadata round trip."""
    latent = model_latent(model, latent)
    x0 = latent["samples"]
    level = level_for(model, t_boom)
    noisy = _noised(model, latent, x0, level, seed, forward_stream)
    return _reverse_from(model, positive, negative, noisy, x0, level, cfg, sampler, scheduler, steps, seed,
                         ancestral_stream), level


def _reverse_from(model, positive, negative, latent: dict, x0: torch.Tensor, level: Level, cfg: float,
                  sampler: str, scheduler: str, steps: int, seed: int, stream: int) -> dict:
    """The reverse process from ``latent`` (noised from ``x0`` to ``level``) down to 0."""
    samples = latent["samples"]
    out = {k: v for k, v in latent.items() if k != META}
    if level.t_boom == 0:
        out["samples"] = samples.clone()
        return out
    sigmas = schedule(model, level, sampler, scheduler, steps)
    ms = model_sampling(model)
    x0 = x0.to(samples.device)
    a, s = forward_coeffs(ms, level.sigma)
    # The eps that makes noise_scaling(sigma, eps, x0) equal the given noisy latent (edits are kept).
    eps = (latent_in(model, samples.float()) - a * latent_in(model, x0.float())) / s
    seeds = bnoise.item_seeds(seed, samples.shape[0], batch_indices(latent))
    device = model.load_device
    x_like = torch.zeros(samples.shape, device=device, dtype=torch.float32)
    ksampler = make_sampler(sampler, x_like, sigmas, seeds, stream)
    guider = comfy.samplers.CFGGuider(model)
    guider.set_conds(positive, negative)
    guider.set_cfg(cfg)
    callback = progress_callback(model, len(sigmas) - 1)
    result = guider.sample(eps, x0.float(), ksampler, sigmas, denoise_mask=latent.get("noise_mask"),
                           callback=callback, disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED, seed=seed)
    out["samples"] = check_model_output(model, result).to(comfy.model_management.intermediate_device())
    return out
