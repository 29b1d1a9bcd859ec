"""Pixel-space diffusion models in diffusers format: find them, check them, load them (safetensors only).

A model folder is either a DDPMPipeline-style layout (``model_index.json``, ``unet/config.json``,
``unet/diffusion_pytorch_model.safetensors``, ``scheduler/scheduler_config.json``; e.g. google/ddpm-*)
or the flat layout (``config.json``, ``diffusion_pytorch_model.safetensors``, ``scheduler_config.json``).
The noise schedule is the model's own: diffusers' ``DDPMScheduler`` computes alpha_bar from the scheduler
config (linear, scaled_linear, squaredcos_cap_v2 = cosine, sigmoid, laplace or trained betas), and the rest of
the config (x0 clipping or thresholding, step variance, prediction type) is read by ``ddpm_scheduler``, which
honours or refuses every key by name. Nothing here imports ComfyUI; ``diffusers`` is imported only when a model
is loaded.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from .checks import BoomerangInputError
from .ddpm_scheduler import StepSettings, read_step_settings

WEIGHTS = "diffusion_pytorch_model.safetensors"
PICKLE_WEIGHTS = ("diffusion_pytorch_model.bin", "diffusion_pytorch_model.pt", "diffusion_pytorch_model.ckpt")
BETA_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2", "sigmoid", "laplace")

# Model classes besides diffusers' own that a config's ``_class_name`` may name: any ModelMixin whose
# forward(sample, timestep) returns an object with ``.sample`` (an unconditional denoiser, like UNet2DModel).
_EXTRA_CLASSES: dict[str, type] = {}


def register_model_class(cls: type) -> None:
    """Let configs whose ``_class_name`` is ``cls.__name__`` load with ``cls`` (e.g. an analytic model)."""
    _EXTRA_CLASSES[cls.__name__] = cls


@dataclass(frozen=True)
class Layout:
    root: Path
    unet_dir: Path
    scheduler_config: Path


@dataclass
class PixelDDPM:
    """A loaded pixel-space DDPM: the denoiser, its own schedule and what DDPMScheduler.step does with it."""
    unet: torch.nn.Module
    alphas_cumprod: torch.Tensor  # float64, [T]; timestep index i = 0..T-1 as the model was trained
    step: StepSettings  # prediction type, x0 clipping/thresholding, step variance
    channels: int
    sample_size: int | None
    beta_schedule: str

    @property
    def prediction_type(self) -> str:
        return self.step.prediction_type

    @property
    def num_timesteps(self) -> int:
        return int(self.alphas_cumprod.shape[0])

    def sigmas(self) -> torch.Tensor:
        """sqrt((1 - alpha_bar) / alpha_bar) per timestep: the noise levels of ComfyUI's EPS/v models."""
        a = self.alphas_cumprod
        return ((1.0 - a) / a).sqrt()


def layout(path: Path) -> Layout | None:
    """The layout of a model folder, or None when ``path`` holds no pixel-space diffusers model."""
    path = Path(path)
    if (path / "unet" / "config.json").is_file() and (path / "scheduler" / "scheduler_config.json").is_file():
        return Layout(path, path / "unet", path / "scheduler" / "scheduler_config.json")
    if (path / "config.json").is_file() and (path / "scheduler_config.json").is_file():
        return Layout(path, path, path / "scheduler_config.json")
    return None


def find_models(roots) -> dict[str, Path]:
    """{name relative to its root: folder} for every model folder under ``roots`` (links followed)."""
    found: dict[str, Path] = {}
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        for current, dirs, _files in os.walk(root, followlinks=True):
            here = Path(current)
            if layout(here) is not None:
                found.setdefault(here.relative_to(root).as_posix(), here)
                dirs[:] = []  # a model's own unet/ and scheduler/ are not models
            dirs.sort()
    return found


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise BoomerangInputError("model", "a diffusers model folder with readable JSON configs",
                                  str(path), f"Reading it failed: {err}") from err


def _model_class(name: str):
    if name in _EXTRA_CLASSES:
        return _EXTRA_CLASSES[name]
    import diffusers

    cls = getattr(diffusers, name, None)
    if cls is None or not hasattr(cls, "from_pretrained") or not name.endswith("Model"):
        raise BoomerangInputError("model", "a diffusers UNet2DModel (unconditional, pixel space)", name,
                                  "Latent models (with a VAE and text encoder) load with ComfyUI's own loaders.")
    return cls


def check_config(config: dict, where: Path) -> None:
    """Refuse a UNet config a ComfyUI pixel MODEL cannot honour, naming the setting, what works, what was read."""
    for key in ("num_class_embeds", "class_embed_type"):
        if config.get(key) is not None:
            raise BoomerangInputError(key, "null (an unconditional model)", config[key],
                                      f"Class-conditional models are not supported (read from {where}).")
    channels = config.get("in_channels", 3)
    if channels != 3:
        raise BoomerangInputError("in_channels", "3 (RGB, what ComfyUI's pixel-space VAE passes through)",
                                  channels, f"(read from {where})")
    out = config.get("out_channels", channels)
    if out != channels:
        raise BoomerangInputError("out_channels", f"{channels} (equal to in_channels)", out,
                                  f"Models with a learned variance output are not supported (read from {where}).")


def _ddpm_scheduler(scheduler_config: dict):
    """diffusers' DDPMScheduler built from the config (its defaults fill the keys left out)."""
    from diffusers import DDPMScheduler

    if scheduler_config.get("rescale_betas_zero_snr", False) is not False:
        raise BoomerangInputError("rescale_betas_zero_snr", "false", scheduler_config["rescale_betas_zero_snr"],
                                  "Zero terminal SNR needs infinite sigma at T, which ComfyUI's EPS/v models lack.")
    if scheduler_config.get("trained_betas") is None:
        kind = scheduler_config.get("beta_schedule", "linear")
        if kind not in BETA_SCHEDULES:
            raise BoomerangInputError("beta_schedule", " or ".join(BETA_SCHEDULES) + " (or trained_betas)", kind)
    return DDPMScheduler.from_config(scheduler_config)


def schedule(scheduler_config: dict) -> torch.Tensor:
    """alpha_bar (float64) of a diffusers scheduler config, computed by diffusers' DDPMScheduler."""
    alpha_bar = _ddpm_scheduler(scheduler_config).alphas_cumprod.double()
    if not bool((alpha_bar > 0).all()) or not bool((alpha_bar[1:] < alpha_bar[:-1]).all()):
        raise BoomerangInputError("beta_schedule", "a schedule with 0 < alpha_bar decreasing (no zero-SNR end)",
                                  scheduler_config.get("beta_schedule"),
                                  "Zero terminal SNR (rescale_betas_zero_snr) needs infinite sigma at T.")
    return alpha_bar


def load(path: Path, dtype: torch.dtype = torch.float32) -> PixelDDPM:
    """Load the pixel-space DDPM in folder ``path`` (only safetensors weights are ever read)."""
    where = layout(path)
    if where is None:
        raise BoomerangInputError("model", "a folder with unet/config.json and scheduler/scheduler_config.json "
                                  "(or config.json and scheduler_config.json)", str(path))
    if not (where.unet_dir / WEIGHTS).is_file():
        pickled = [name for name in PICKLE_WEIGHTS if (where.unet_dir / name).is_file()]
        hint = (f"It has {pickled[0]}, a pickle file, which is never loaded: convert it to safetensors first."
                if pickled else "")
        raise BoomerangInputError("model weights", f"{WEIGHTS} in {where.unet_dir}", "no such file", hint)
    config = _read_json(where.unet_dir / "config.json")
    scheduler_config = _read_json(where.scheduler_config)
    check_config(config, where.unet_dir)
    step = read_step_settings(scheduler_config, dict(_ddpm_scheduler(scheduler_config).config),
                              where.scheduler_config)
    cls = _model_class(config.get("_class_name", "UNet2DModel"))
    unet = cls.from_pretrained(str(where.unet_dir), use_safetensors=True, local_files_only=True,
                               torch_dtype=dtype, low_cpu_mem_usage=False)
    unet = unet.eval().requires_grad_(False)
    return PixelDDPM(unet=unet, alphas_cumprod=schedule(scheduler_config), step=step,
                     channels=int(config.get("in_channels", 3)), sample_size=config.get("sample_size"),
                     beta_schedule=str(scheduler_config.get("beta_schedule", "linear")))
