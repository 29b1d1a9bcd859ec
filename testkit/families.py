"""Tiny random-weight models of real ComfyUI model families, for graph-level tests (the family matrix, issue 18).

Each family is built through ComfyUI's own classes: the ``comfy.supported_models`` config class (its
model_sampling settings, latent format and conditioning rules) and the ``comfy.model_base`` class (the real
network class), at tiny sizes, wrapped in a ``ModelPatcher`` on the CPU. VAEs go through ``comfy.sd.VAE(sd=...)``,
so ComfyUI detects their kind from the keys as it does for a downloaded file. Every tensor is initialised here
from a local ``torch.Generator`` (ComfyUI's ``disable_weight_init`` layers leave uninitialised memory).

Needs a booted ComfyUI (``comfy`` importable): ComfyUI modules are imported inside the builders.
Add a family by writing one builder and listing it in ``FAMILIES``.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Callable

import torch

log = logging.getLogger("boomerang.tests.families")

CPU = torch.device("cpu")


@dataclass
class TinyFamily:
    """A tiny model of one family with conditioning it accepts (cfg 1 needs only ``positive``)."""
    name: str
    model: object  # comfy.model_patcher.ModelPatcher
    positive: list  # CONDITIONING
    negative: list
    notes: dict = field(default_factory=dict)

    @property
    def model_sampling(self):
        return self.model.get_model_object("model_sampling")

    @property
    def latent_format(self):
        return self.model.get_model_object("latent_format")


def random_state(module: torch.nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """Random values for every floating tensor of ``module``'s state dict: weights N(0, 1/fan_in), norm scales 1,
    biases 0 (finite, activations of order 1, whatever ComfyUI's layers left in memory)."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, tensor in module.state_dict().items():
        if not tensor.is_floating_point():
            out[name] = tensor.clone()
        elif name.endswith("gamma") or (tensor.ndim == 1 and name.endswith("weight")):
            out[name] = torch.ones(tensor.shape)
        elif tensor.ndim >= 2:
            fan_in = max(1, math.prod(tensor.shape[1:]))
            out[name] = torch.randn(tensor.shape, generator=gen) / math.sqrt(fan_in)
        else:
            out[name] = torch.zeros(tensor.shape)
    return out


def _initialise(module: torch.nn.Module, seed: int) -> None:
    module.load_state_dict(random_state(module, seed))


def _patcher(base):
    import comfy.model_patcher

    return comfy.model_patcher.ModelPatcher(base, load_device=CPU, offload_device=CPU)


def _config(config_class, unet_config: dict):
    config = config_class(unet_config)
    config.set_inference_dtype(torch.float32, None)
    return config


def _cond(seed: int, tokens: int, width: int, **extra) -> list:
    gen = torch.Generator().manual_seed(seed)
    return [[torch.randn((1, tokens, width), generator=gen), dict(extra)]]


def qwen_image(seed: int = 0) -> TinyFamily:
    """Qwen-Image: flow matching with ModelSamplingFlux (shift 1.15), Wan 2.1 latents (16 channels, 5-D)."""
    import comfy.model_base
    import comfy.supported_models

    width = 16
    config = _config(comfy.supported_models.QwenImage, {
        "image_model": "qwen_image", "patch_size": 2, "in_channels": 64, "out_channels": 16, "num_layers": 1,
        "attention_head_dim": 16, "num_attention_heads": 2, "joint_attention_dim": width,
        "axes_dims_rope": (4, 6, 6)})
    base = comfy.model_base.QwenImage(config, device=CPU)
    _initialise(base.diffusion_model, seed)
    pos, neg = _cond(seed + 1, 4, width), _cond(seed + 2, 4, width)
    return TinyFamily("qwen_image", _patcher(base), pos, neg)


def cosmos_predict2(seed: int = 0) -> TinyFamily:
    """Cosmos Predict2: ModelSamplingCosmosRFlow (EDM sigma range, sigma_max 80), Wan 2.1 latents (5-D)."""
    import comfy.model_base
    import comfy.supported_models

    context = 16
    config = _config(comfy.supported_models.CosmosT2IPredict2, {
        "image_model": "cosmos_predict2", "max_img_h": 64, "max_img_w": 64, "max_frames": 8, "in_channels": 16,
        "out_channels": 16, "patch_spatial": 2, "patch_temporal": 1, "concat_padding_mask": True,
        "model_channels": 32, "num_blocks": 1, "num_heads": 2, "crossattn_emb_channels": context,
        "pos_emb_cls": "rope3d", "pos_emb_learnable": True, "pos_emb_interpolation": "crop", "min_fps": 1,
        "max_fps": 30, "use_adaln_lora": True, "adaln_lora_dim": 8})
    base = comfy.model_base.CosmosPredict2(config, device=CPU)
    _initialise(base.diffusion_model, seed)
    pos, neg = _cond(seed + 1, 4, context), _cond(seed + 2, 4, context)
    return TinyFamily("cosmos_predict2", _patcher(base), pos, neg)


def sdxl_edm(seed: int = 0) -> TinyFamily:
    """An SDXL UNet detected as Playground v2.5 (ComfyUI's SDXL.model_type): EDM, ModelSamplingContinuousEDM."""
    import comfy.model_base
    import comfy.supported_models

    context = 32
    config = _config(comfy.supported_models.SDXL, {
        "in_channels": 4, "out_channels": 4, "model_channels": 64, "num_res_blocks": [1], "channel_mult": [1],
        "transformer_depth": [1], "transformer_depth_output": [1, 1], "transformer_depth_middle": 1,
        "use_spatial_transformer": True, "use_linear_in_transformer": True, "context_dim": context,
        "adm_in_channels": 2816, "num_classes": "sequential", "use_temporal_attention": False,
        "image_size": 32, "legacy": False})
    marker = torch.zeros(1)
    model_type = config.model_type({"edm_mean": marker, "edm_std": marker})  # ComfyUI's own detection
    base = comfy.model_base.SDXL(config, model_type=model_type, device=CPU)
    _initialise(base.diffusion_model, seed)
    gen = torch.Generator().manual_seed(seed + 3)
    pooled = torch.randn((1, 1280), generator=gen)
    pos = _cond(seed + 1, 4, context, pooled_output=pooled)
    neg = _cond(seed + 2, 4, context, pooled_output=pooled)
    return TinyFamily("sdxl_edm", _patcher(base), pos, neg, {"model_type": model_type.name})


FAMILIES: dict[str, Callable[[int], TinyFamily]] = {
    "qwen_image": qwen_image,
    "cosmos_predict2": cosmos_predict2,
    "sdxl_edm": sdxl_edm,
}


def build(name: str, seed: int = 0) -> TinyFamily:
    return FAMILIES[name](seed)


def wan21_vae(seed: int = 0, dim: int = 8):
    """A Wan 2.1 video VAE (also Qwen-Image's and Cosmos Predict2's) with base width ``dim``.

    ComfyUI 0.3.75 reads the width from ``decoder.head.0.gamma``; 0.3.64 always builds width 96, so there the
    state dict is made at 96 (about 127 M parameters, slower)."""
    import comfy.ldm.wan.vae
    import comfy.sd

    def state(width: int) -> dict[str, torch.Tensor]:
        net = comfy.ldm.wan.vae.WanVAE(dim=width, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2,
                                       attn_scales=[], temperal_downsample=[False, True, True], dropout=0.0)
        return random_state(net, seed)

    try:
        return comfy.sd.VAE(sd=state(dim))
    except RuntimeError as err:  # size mismatch: this ComfyUI builds the Wan 2.1 VAE at a fixed width
        log.info("Wan 2.1 VAE at width %d refused (%s); building it at width 96", dim, str(err)[:80])
        return comfy.sd.VAE(sd=state(96))
