"""A diffusers pixel-space DDPM as a real ComfyUI MODEL, plus ComfyUI's own pass-through pixel VAE.

The MODEL is ComfyUI's ``BaseModel`` with the diffusers UNet as its diffusion model and a ``model_sampling``
(ComfyUI's ModelSamplingDiscrete with EPS or V_PREDICTION) given the model's own schedule, so every sampler,
scheduler and Boomerang node sees the same levels the model was trained on (timestep index t - 1 at Boomerang
level t, as in diffusers). What diffusers' DDPMScheduler.step does besides the schedule lives on that
model_sampling too: its ``calculate_denoised`` returns the x0 prediction as step forms it (``sample``
prediction, then dynamic thresholding or clipping), which every sampler uses, and it names the step
variance (fixed_small/fixed_large) that ``boomerang_exact`` draws with (``pack_samplers.VARIANCE_ATTR``).
ComfyUI's other samplers have their own step noise and do not read it. The VAE is ComfyUI's ``pixel_space``
VAE (IMAGE 0..1 <-> LATENT -1..1, BCHW).
"""
from __future__ import annotations

from pathlib import Path

import torch

import comfy.latent_formats
import comfy.model_base
import comfy.model_management
import comfy.model_patcher
import comfy.model_sampling
import comfy.sd
import comfy.supported_models_base
import folder_paths

from ...boomerang import pixel_model
from ...boomerang.ddpm_scheduler import StepSettings
from .pack_samplers import VARIANCE_ATTR

BUILTIN_DIR = Path(__file__).resolve().parents[2] / "models"
BUILTIN_SUFFIX = " (built-in)"
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


class PixelLatentFormat(comfy.latent_formats.LatentFormat):
    """RGB in -1..1: three latent channels that are the image itself (previews show them as colours)."""
    latent_channels = 3
    scale_factor = 1.0
    # One latent sample per pixel. Newer ComfyUI (0.38) sizes latents as pixels // spacial_downscale_ratio and its
    # LatentFormat defaults to 8; older releases do not read it.
    spacial_downscale_ratio = 1

    def __init__(self):
        self.latent_rgb_factors = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
        self.latent_rgb_factors_bias = [0.0, 0.0, 0.0]


class PixelModelConfig(comfy.supported_models_base.BASE):
    unet_config = {"disable_unet_model_creation": True}
    unet_extra_config = {}
    latent_format = PixelLatentFormat
    memory_usage_factor = 0.5  # rough, unmeasured: only steers ComfyUI's decisions to offload on a GPU
    supported_inference_dtypes = [torch.float32, torch.float16, torch.bfloat16]


class DiffusersDenoiser(torch.nn.Module):
    """ComfyUI's diffusion_model call convention over a diffusers ``forward(sample, timestep).sample``."""

    def __init__(self, unet: torch.nn.Module):
        super().__init__()
        self.unet = unet

    @property
    def spatial_multiple(self) -> int:
        """2 ** the network's downsampling blocks: diffusers' UNet2DModel upsamples by exactly 2 per level, so its
        input's height and width must be multiples of this (4 for the built-in digits model). Read by
        ``family.network_multiple``."""
        blocks = getattr(self.unet, "down_blocks", None) or []
        return 2 ** sum(1 for block in blocks if getattr(block, "downsamplers", None))

    @property
    def dtype(self) -> torch.dtype:
        return self.unet.dtype  # diffusers' ModelMixin: first floating parameter or buffer

    def forward(self, x, timesteps, context=None, control=None, transformer_options=None, **kwargs):
        return self.unet(x, timesteps).sample


class _DDPMStep:
    """Put before ComfyUI's model-sampling classes: the x0 prediction and step variance of DDPMScheduler.step."""
    step = StepSettings()

    def calculate_denoised(self, sigma, model_output, model_input):
        if self.step.prediction_type == "sample":
            denoised = model_output
        else:
            denoised = super().calculate_denoised(sigma, model_output, model_input)
        return self.step.x0_rule(denoised)


class PixelSamplingEPS(_DDPMStep, comfy.model_sampling.ModelSamplingDiscrete, comfy.model_sampling.EPS):
    pass


class PixelSamplingV(_DDPMStep, comfy.model_sampling.ModelSamplingDiscrete, comfy.model_sampling.V_PREDICTION):
    pass


def model_names() -> list[str]:
    names = [name + BUILTIN_SUFFIX for name in pixel_model.find_models([BUILTIN_DIR])]
    return names + sorted(pixel_model.find_models(folder_paths.get_folder_paths("diffusers")))


def model_path(name: str) -> Path:
    if name.endswith(BUILTIN_SUFFIX):
        found = pixel_model.find_models([BUILTIN_DIR])
        key = name[: -len(BUILTIN_SUFFIX)]
    else:
        found = pixel_model.find_models(folder_paths.get_folder_paths("diffusers"))
        key = name
    if key not in found:
        raise pixel_model.BoomerangInputError("model_name", "a model folder listed by the loader", name,
                                              "Put diffusers model folders in ComfyUI/models/diffusers.")
    return found[key]


def model_patcher(ddpm: pixel_model.PixelDDPM):
    """A ComfyUI MODEL (ModelPatcher) whose noise levels are ``ddpm``'s own schedule."""
    model_type = (comfy.model_base.ModelType.V_PREDICTION if ddpm.prediction_type == "v_prediction"
                  else comfy.model_base.ModelType.EPS)
    config = PixelModelConfig(PixelModelConfig.unet_config)
    offload = comfy.model_management.unet_offload_device()
    base = comfy.model_base.BaseModel(config, model_type=model_type, device=offload)
    base.diffusion_model = DiffusersDenoiser(ddpm.unet).to(offload)
    sampling_class = PixelSamplingV if ddpm.prediction_type == "v_prediction" else PixelSamplingEPS
    sampling = sampling_class(config)  # "sample" prediction: EPS noising, the output itself as x0
    sampling.step = ddpm.step
    setattr(sampling, VARIANCE_ATTR, ddpm.step.variance)  # read by boomerang_exact (pack_samplers.exact_function)
    sampling.set_sigmas(ddpm.sigmas().float())
    base.model_sampling = sampling
    return comfy.model_patcher.ModelPatcher(base, load_device=comfy.model_management.get_torch_device(),
                                            offload_device=offload)


def pixel_vae():
    """ComfyUI's own pass-through VAE for pixel-space models (the "pixel_space" entry of Load VAE)."""
    return comfy.sd.VAE(sd={"pixel_space_vae": torch.tensor(1.0)})


def unconditional(batch: int = 1):
    """An empty CONDITIONING for unconditional models: wire it to positive and negative, and use cfg 1."""
    return [[torch.zeros((batch, 1, 1)), {}]]


def load(name: str, dtype_name: str = "float32"):
    ddpm = pixel_model.load(model_path(name), dtype=DTYPES[dtype_name])
    return ddpm, model_patcher(ddpm), pixel_vae(), unconditional()
