"""The Gaussian oracle as a diffusers-format model, for the pixel-model loader's tests.

``GaussianOracleUNet`` is a diffusers ``ModelMixin``: the exact denoiser of data x0 ~ N(mu, s^2) (elementwise),
under the alpha_bar table it carries as a weight. Saved with ``save_pretrained`` next to a
``scheduler/scheduler_config.json``, it is a model folder like google/ddpm-*, so the loader node reads its
schedule and prediction type from the scheduler config exactly as for a trained UNet2DModel.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.configuration_utils import register_to_config
from diffusers.models.unets.unet_2d import UNet2DOutput

from .oracle_law import closed_form_alpha_bars


class GaussianOracleUNet(ModelMixin, ConfigMixin):
    @register_to_config
    def __init__(self, mu: float = 0.0, s: float = 1.0, prediction_type: str = "epsilon",
                 num_train_timesteps: int = 1000, in_channels: int = 3, out_channels: int = 3):
        super().__init__()
        self.register_buffer("alphas_cumprod", torch.ones(num_train_timesteps, dtype=torch.float64))
        self.calls = 0

    def forward(self, sample, timestep, return_dict=True):
        """E[x0 | x_t] turned into the configured prediction; fractional timesteps interpolate log sigma."""
        self.calls += 1
        x = sample.double()
        a_table = self.alphas_cumprod
        log_sigma = 0.5 * torch.log((1 - a_table) / a_table)
        t = torch.as_tensor(timestep, dtype=torch.float64).reshape(-1).expand(x.shape[0])
        low = t.floor().long().clamp(0, len(a_table) - 1)
        high = (low + 1).clamp(max=len(a_table) - 1)
        w = t - low
        sigma2 = torch.exp(2 * ((1 - w) * log_sigma[low] + w * log_sigma[high])).view(-1, 1, 1, 1)
        a = 1.0 / (1.0 + sigma2)
        var = self.config.s ** 2
        precision = 1.0 / var + a / (1.0 - a)
        x0 = (self.config.mu / var + a.sqrt() * x / (1.0 - a)) / precision
        eps = (x - a.sqrt() * x0) / (1.0 - a).sqrt()
        out = eps if self.config.prediction_type == "epsilon" else a.sqrt() * eps - (1.0 - a).sqrt() * x0
        out = out.to(sample.dtype)
        return UNet2DOutput(sample=out) if return_dict else (out,)


def write_scheduler(folder: Path, **config) -> None:
    (folder / "scheduler").mkdir(parents=True, exist_ok=True)
    (folder / "scheduler" / "scheduler_config.json").write_text(
        json.dumps({"_class_name": "DDPMScheduler", **config}, indent=2))


def write_oracle(folder: Path, beta_schedule: str, prediction_type: str, mu: float, s: float,
                 beta_start: float, beta_end: float, total: int = 1000) -> Path:
    model = GaussianOracleUNet(mu=mu, s=s, prediction_type=prediction_type, num_train_timesteps=total)
    model.alphas_cumprod.copy_(torch.from_numpy(closed_form_alpha_bars(beta_schedule, total, beta_start, beta_end)))
    model.save_pretrained(folder / "unet", safe_serialization=True)
    # clip_sample false: the oracle's data law reaches beyond [-1, 1] (diffusers' default clips x0 there)
    write_scheduler(folder, num_train_timesteps=total, beta_schedule=beta_schedule, beta_start=beta_start,
                    beta_end=beta_end, prediction_type=prediction_type, clip_sample=False)
    (folder / "model_index.json").write_text(json.dumps(
        {"_class_name": "DDPMPipeline", "unet": ["tests", "GaussianOracleUNet"],
         "scheduler": ["diffusers", "DDPMScheduler"]}))
    return folder
