"""PixelDiffusionLoader: a diffusers pixel-space DDPM (UNet2DModel + its scheduler config) as MODEL + VAE."""
from __future__ import annotations

import logging

from comfy_api.latest import io

from . import inputs
from .comfy import pixel

log = logging.getLogger("boomerang")


class PixelDiffusionLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return inputs.schema(
            node_id="PixelDiffusionLoader",
            display_name="Load Pixel Diffusion Model (diffusers)",
            description="Load an unconditional pixel-space DDPM in diffusers format (a UNet2DModel folder with "
                        "its scheduler config and safetensors weights, e.g. the layout of google/ddpm-celebahq-256) "
                        "from models/diffusers. It samples as diffusers' DDPMScheduler does: the model's own beta "
                        "schedule, prediction type, x0 clipping or dynamic thresholding, and (for boomerang_exact) "
                        "step variance; a scheduler setting it cannot honour is refused by name. The VAE "
                        "is a pass-through (image <-> -1..1), so VAE Encode/Decode and every Boomerang node work "
                        "as with Stable Diffusion. `digits-ddpm (built-in)` is the pack's own 16x16 digit model.",
            search_aliases=["pixel diffusion", "ddpm", "diffusers unet", "UNet2DModel", "boomerang"],
            inputs=[
                io.Combo.Input("model_name", options=pixel.model_names(),
                               tooltip="A folder under models/diffusers holding unet/ and scheduler/ (or "
                                       "config.json + scheduler_config.json). Pickle (.bin) weights are refused."),
                io.Combo.Input("weight_dtype", options=list(pixel.DTYPES), default="float32",
                               tooltip="Precision of the weights. float32 is exact and right on CPU; "
                                       "float16/bfloat16 halve memory on a GPU at some loss of accuracy."),
            ],
            outputs=[
                io.Model.Output(display_name="MODEL"),
                io.Vae.Output(display_name="VAE", tooltip="Pass-through: pixels scaled to -1..1 and back."),
                io.Conditioning.Output(display_name="unconditional",
                                       tooltip="Empty conditioning: wire it to positive and negative and use "
                                               "cfg 1 (the model ignores it; cfg above 1 only costs time)."),
            ],
        )

    @classmethod
    def execute(cls, model_name, weight_dtype) -> io.NodeOutput:
        ddpm, model, vae, cond = pixel.load(model_name, weight_dtype)
        log.info("Boomerang: loaded pixel model %s (%s schedule, T = %d; %s)", model_name,
                 ddpm.beta_schedule, ddpm.num_timesteps, ddpm.step.describe())
        return io.NodeOutput(model, vae, cond)
