"""Tiny random-weight video model families (Wan 2.2 TI2V 5B, LTXV) with their VAEs, for graph-level tests.

As in testkit/families.py: each network is ComfyUI's own ``comfy.supported_models`` config class (model_sampling,
latent format, conditioning rules) and the ``model_base`` class that config's ``get_model`` picks (the real
network class), at tiny sizes, wrapped in a ``ModelPatcher`` on the CPU; every tensor comes from a local
``torch.Generator``.

VAEs:
- LTXV: ``comfy.sd.VAE(sd=..., metadata=...)``, detected from the keys as ComfyUI detects a downloaded file; the
  tiny block layout travels in the file's ``config`` metadata, which ComfyUI reads (128 latent channels, 8x frames,
  32x pixels, as in the real VAE).
- Wan 2.2: ComfyUI 0.3.x builds the 48-channel Wan 2.2 VAE only at its full width 160 (705 M parameters, too big
  for CPU tests), ignoring the sizes in the state dict. So the tiny one is ComfyUI's Wan 2.2 network class
  (``comfy.ldm.wan.vae2_2.WanVAE``, 48 channels, 4x frames, 16x pixels) at width 16, seated in a ``comfy.sd.VAE``
  that ComfyUI built from a tiny Wan 2.1 VAE file (the same 3-D VAE machinery: encode/decode, tiling, the frame
  count formulas), with the Wan 2.2 branch's ratios. Its ``temporal_compression_decode()`` and
  ``spacial_compression_encode()`` answer 4 and 16 as ComfyUI's full-size one does.

Needs a booted ComfyUI (``comfy`` importable). Registry: ``FAMILIES`` (name -> builder(seed) -> TinyVideoFamily).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Callable

import torch

from testkit.families import CPU, TinyFamily, _cond, _config, _patcher, random_state, wan21_vae


@dataclass
class TinyVideoFamily(TinyFamily):
    """A tiny video model with conditioning (cfg 1 needs only ``positive``) and a matching VAE factory."""
    make_vae: Callable[[int], object] | None = None  # seed -> comfy.sd.VAE of this family's latents

    def vae(self, seed: int = 0):
        return self.make_vae(seed)

    def latent_shape(self, batch: int, frames: int, height: int, width: int) -> tuple[int, ...]:
        return (batch, self.latent_format.latent_channels, frames, height, width)


def _initialise(module: torch.nn.Module, seed: int) -> None:
    module.load_state_dict(random_state(module, seed))


# ------------------------------------------------------------------ Wan 2.2 TI2V 5B

WAN22_TEXT = 16


def wan22(seed: int = 0) -> TinyVideoFamily:
    """Wan 2.2 TI2V 5B: WAN22_T2V config (48-channel Wan22 latents, ModelSamplingDiscreteFlow shift 8), WAN22
    model_base (WanModel, patch (1, 2, 2)), at width 32 with one block."""
    import comfy.supported_models

    config = _config(comfy.supported_models.WAN22_T2V, {
        "image_model": "wan2.1", "model_type": "t2v", "in_dim": 48, "out_dim": 48, "dim": 32, "ffn_dim": 64,
        "num_heads": 2, "num_layers": 1, "patch_size": (1, 2, 2), "freq_dim": 32, "text_dim": WAN22_TEXT,
        "window_size": (-1, -1), "qk_norm": True, "cross_attn_norm": True, "eps": 1e-6})
    base = config.get_model({}, device=CPU)  # ComfyUI's own choice: WAN22(image_to_video=True)
    _initialise(base.diffusion_model, seed)
    pos, neg = _cond(seed + 1, 4, WAN22_TEXT), _cond(seed + 2, 4, WAN22_TEXT)
    return TinyVideoFamily("wan22", _patcher(base), pos, neg, {"model_base": type(base).__name__}, make_vae=wan22_vae)


# The Wan 2.2 VAE branch of comfy.sd.VAE.__init__ (ComfyUI 0.3.64 .. 0.3.75): frames 4n+1 <-> n+1, pixels 16x.
def _wan22_up(frames):
    return max(0, frames * 4 - 3)


def _wan22_down(frames):
    return max(0, math.floor((frames + 3) / 4))


def wan22_vae(seed: int = 0, dim: int = 16):
    """ComfyUI's Wan 2.2 VAE network (48 channels) at width ``dim`` in a ``comfy.sd.VAE`` (see the module text)."""
    import comfy.ldm.wan.vae2_2
    import comfy.model_patcher

    vae = wan21_vae(seed=seed + 1000, dim=8)
    net = comfy.ldm.wan.vae2_2.WanVAE(dim=dim, dec_dim=dim, z_dim=48, dim_mult=[1, 2, 4, 4], num_res_blocks=1,
                                      attn_scales=[], temperal_downsample=[False, True, True], dropout=0.0)
    _initialise(net, seed)
    net = net.eval().to(vae.vae_dtype)
    vae.first_stage_model = net
    vae.latent_channels = 48
    vae.upscale_ratio, vae.upscale_index_formula = (_wan22_up, 16, 16), (4, 16, 16)
    vae.downscale_ratio, vae.downscale_index_formula = (_wan22_down, 16, 16), (4, 16, 16)
    vae.patcher = comfy.model_patcher.ModelPatcher(net, load_device=vae.device, offload_device=vae.device)
    if hasattr(vae, "model_size"):  # 0.3.75 caches the network's size; 0.3.64's VAE has no such method
        vae.size = None
        vae.model_size()
    return vae


# ------------------------------------------------------------------ LTXV

LTXV_TEXT = 16
# A tiny CausalVideoAutoencoder layout: patch 4 x three compress_all (x2 in frames, height and width each) = 8x
# frames and 32x pixels, as the real one; the deepest block is a res_x block, as ComfyUI's detection expects.
LTXV_VAE_CONFIG = {
    "_class_name": "CausalVideoAutoencoder", "dims": 3, "in_channels": 3, "out_channels": 3, "latent_channels": 128,
    "blocks": [["compress_all", 1], ["compress_all", 1], ["compress_all", 1], ["res_x", 1]],
    "scaling_factor": 1.0, "norm_layer": "pixel_norm", "patch_size": 4, "latent_log_var": "uniform",
    "use_quant_conv": False, "causal_decoder": False,
}


def ltxv(seed: int = 0) -> TinyVideoFamily:
    """LTXV: LTXV config (128-channel LTXV latents, ModelSamplingFlux-style shift), LTXV model_base (LTXVModel),
    two heads of width 8, one block."""
    import comfy.supported_models

    config = _config(comfy.supported_models.LTXV, {
        "image_model": "ltxv", "num_layers": 1, "attention_head_dim": 8, "num_attention_heads": 2,
        "cross_attention_dim": 16, "caption_channels": LTXV_TEXT})
    base = config.get_model({}, device=CPU)
    _initialise(base.diffusion_model, seed)
    mask = torch.ones((1, 4), dtype=torch.long)  # the T5 encoder's integer attention mask LTXVModel.forward needs
    pos = _cond(seed + 1, 4, LTXV_TEXT, attention_mask=mask)
    neg = _cond(seed + 2, 4, LTXV_TEXT, attention_mask=mask)
    return TinyVideoFamily("ltxv", _patcher(base), pos, neg, {"model_base": type(base).__name__}, make_vae=ltxv_vae)


def ltxv_vae(seed: int = 0):
    """ComfyUI's LTXV VideoVAE from a state dict plus the ``config`` metadata, detected by ``comfy.sd.VAE``."""
    import comfy.ldm.lightricks.vae.causal_video_autoencoder as ltx_vae
    import comfy.sd

    net = ltx_vae.VideoVAE(version=0, config=LTXV_VAE_CONFIG)
    state = random_state(net, seed)
    for name in state:
        if name.endswith("std-of-means"):
            state[name] = torch.ones_like(state[name])  # the latent normaliser divides by it
    return comfy.sd.VAE(sd=state, metadata={"config": json.dumps({"vae": LTXV_VAE_CONFIG})})


FAMILIES: dict[str, Callable[[int], TinyVideoFamily]] = {
    "wan22": wan22,
    "ltxv": ltxv,
}


def build(name: str, seed: int = 0) -> TinyVideoFamily:
    return FAMILIES[name](seed)


# ------------------------------------------------------------------ a frame-local closed-form video model

class GaussianFlowOracle(torch.nn.Module):
    """The exact flow-model output for data x0 ~ N(mu, s^2) per value: E[x0 | x_t] = (mu / s^2 + (1 - sigma) x_t /
    sigma^2) / (1 / s^2 + (1 - sigma)^2 / sigma^2), returned as ComfyUI's CONST output (x_t - E[x0 | x_t]) / sigma.
    Each output value depends on the input value at the same place only: frame-local and position-local."""

    def __init__(self, mu: float, s: float, multiplier: float):
        super().__init__()
        self.mu, self.var, self.multiplier = mu, s * s, multiplier
        self.dtype = torch.float32

    def forward(self, x, timesteps, context=None, **kwargs):
        x = x.double()
        sigma = (timesteps.double() / self.multiplier).view(-1, *([1] * (x.ndim - 1)))
        a = 1.0 - sigma
        x0 = (self.mu / self.var + a * x / sigma ** 2) / (1.0 / self.var + a * a / sigma ** 2)
        return ((x - x0) / sigma).float()


def gaussian_video_oracle(mu: float = 0.3, s: float = 1.0, channels: int = 4, shift: float = 1.0):
    """A ComfyUI MODEL of 5-D video latents (a unit latent format with a time axis, ``channels`` channels) whose
    network is GaussianFlowOracle: exact, closed form and frame-local."""
    import comfy.latent_formats
    import comfy.model_base
    import comfy.supported_models_base

    class UnitVideoLatent(comfy.latent_formats.LatentFormat):
        latent_channels = channels
        latent_dimensions = 3

    class UnitVideoConfig(comfy.supported_models_base.BASE):
        unet_config = {"disable_unet_model_creation": True}
        unet_extra_config = {}
        latent_format = UnitVideoLatent
        memory_usage_factor = 1.0
        sampling_settings = {"shift": shift, "multiplier": 1000}

    config = UnitVideoConfig({"disable_unet_model_creation": True})
    base = comfy.model_base.BaseModel(config, model_type=comfy.model_base.ModelType.FLOW, device=CPU)
    base.diffusion_model = GaussianFlowOracle(mu, s, 1000.0)
    return _patcher(base)
