"""Input definitions shared by the Boomerang nodes, so every node explains a setting the same way."""
from __future__ import annotations

from dataclasses import fields

from comfy_api.latest import io

from ..boomerang import checks
from ..boomerang.advice import RECOMMENDED
from . import tiling
from .comfy import sampling

CATEGORY = "sampling/boomerang"


def schema(**kwargs) -> io.Schema:
    """io.Schema with ``search_aliases`` passed on only where this ComfyUI's Schema knows the field."""
    aliases = kwargs.pop("search_aliases", None)
    if aliases and "search_aliases" in {f.name for f in fields(io.Schema)}:
        kwargs["search_aliases"] = aliases
    return io.Schema(category=CATEGORY, **kwargs)


def t_boom(default: int = 250, tooltip_extra: str = "") -> io.Int.Input:
    return io.Int.Input(
        "t_boom", default=default, min=0, max=checks.MAX_T,
        tooltip="Start level of the reverse process, in timesteps of the model's own schedule (T = 1000 "
                "for SD models; flow models map t_boom/T to their sigma). 0 returns the input unchanged; "
                "small values give near copies; T gives a fresh global sample." + tooltip_extra)


def seed(name: str = "seed", what: str = "noise") -> io.Int.Input:
    return io.Int.Input(
        name, default=0, min=0, max=checks.MAX_SEED, control_after_generate=True,
        tooltip=f"Seed of the {what}. Batch item i uses seed + i, so it can be re-run alone with that seed.")


def cfg() -> io.Float.Input:
    return io.Float.Input(
        "cfg", default=7.5, min=0.0, max=100.0, step=0.1, round=0.01,
        tooltip="Classifier-free guidance scale. 1.0 uses the positive prompt alone (fastest); the paper "
                "used 7.5 with Stable Diffusion; very high values over-saturate.")


def _fast() -> str:
    fast = RECOMMENDED
    return f"{fast.sampler} + {fast.scheduler} + {fast.steps} steps"


def sampler() -> io.Combo.Input:
    return io.Combo.Input(
        "sampler", options=sampling.sampler_names(), default=RECOMMENDED.sampler,
        tooltip=f"Default: {_fast()}, the cheapest setting measured that holds Boomerang's law at t_boom 0.2 - 0.8 "
                "T on every model family measured (docs/FRONTIER.md, docs/FAMILIES.md). Any sampler other "
                "than the two pack samplers runs `steps` steps of `scheduler`, starting exactly at the t_boom level; "
                "the level line under the node says how many model evaluations that is and whether the setting "
                "holds the law. boomerang_fast: `steps` model calls on its own grid of levels (the scheduler is "
                "ignored); at 10 steps it holds the exact law (spread, share of outputs that change mode) at "
                "t_boom 0.2 - 0.8 T on unit-scale EPS and flow oracles (docs/FRONTIER.md). boomerang_exact: the "
                "paper's Algorithm 1, one DDPM step per timestep from t_boom to 1 (t_boom model calls; steps and "
                "scheduler are ignored). Deterministic samplers (euler, dpmpp_2m) give too little variety for "
                "local sampling.")


def scheduler() -> io.Combo.Input:
    return io.Combo.Input(
        "scheduler", options=sampling.scheduler_names(), default=RECOMMENDED.scheduler,
        tooltip=f"Fast path only: how the steps are spread between the t_boom level and 0 (default: {_fast()}).")


def steps() -> io.Int.Input:
    return io.Int.Input(
        "steps", default=RECOMMENDED.steps, min=1, max=checks.MAX_T,
        tooltip="Fast path only: number of sampler steps, at most t_boom. More steps follow the model "
                f"more closely (default: {_fast()}); boomerang_exact always takes t_boom steps.")


def sampling_inputs() -> list:
    """model, positive, negative: what every reverse pass needs besides the latent."""
    return [
        io.Model.Input("model", tooltip="The unmodified pretrained diffusion model."),
        io.Conditioning.Input("positive"),
        io.Conditioning.Input("negative"),
    ]


def pass_settings() -> list:
    return [cfg(), sampler(), scheduler(), steps()]


def tiling_inputs(names=tiling.NODE_NAMES, with_mode: bool = True) -> list:
    """The tiled denoiser's inputs: denoise_tiling (nodes only), tile side, overlap and tiles per model call.

    On the existing nodes they are optional, so API graphs saved before them keep running (with the defaults)."""
    tile_name, overlap_name, batch_name = names
    opt = with_mode
    mode = [io.Combo.Input(
        "denoise_tiling", options=list(tiling.MODES), default="auto", optional=True,
        tooltip="Run the model on overlapping tiles blended at every step (memory set by the tile, not the "
                "output). auto: only when the latent is larger than one tile; on: the same, and logs why "
                "when it is not; off: the whole latent at once. " + tiling.SAME_CONDITIONING)] if with_mode else []
    return mode + [
        io.Int.Input(tile_name, default=tiling.DEFAULT_TILE, min=checks.MIN_TILE, max=checks.MAX_TILE, step=8,
                     optional=opt,
                     tooltip="Denoiser tile side in pixels (the VAE's compression ratio gives the latent size). "
                             "64: least memory, most tiles and overlap work; 8192: one tile for nearly any "
                             "image. Use the model's training size (512 for SD1.5, 1024 for SDXL)."),
        io.Int.Input(overlap_name, default=tiling.DEFAULT_OVERLAP, min=0, max=checks.MAX_TILE // 2 - 1, step=8,
                     optional=opt,
                     tooltip="Pixels shared by neighbouring tiles, cross-faded with raised-cosine ramps; below half "
                             "the "
                             "tile. 0: tiles only touch (faint seams possible); larger: smoother, more tiles."),
        io.Int.Input(batch_name, default=1, min=1, max=checks.MAX_TILE_BATCH, optional=opt,
                     tooltip="Tiles per model call. 1: least memory; more: faster on a GPU with room to spare, "
                             "memory grows with it."),
    ]
