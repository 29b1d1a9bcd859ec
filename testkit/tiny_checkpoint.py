"""Make a tiny random-weight checkpoint that ComfyUI loads as Stable Diffusion 1.5 (for tests and the demo).

UNet: model_channels 320 and context_dim 768 (what ComfyUI's detection keys on), three levels of one res
block each at 320 channels, attention only at 1/4 resolution (so a 128x128 latent stays cheap on a CPU).
VAE: the standard SD autoencoder (ch 128, ch_mult
1-2-4-4, or 1-2-4 for a x4 VAE). Text encoder: ComfyUI's own SD1 CLIP-L. Weights are random with fixed
seeds; sampling it gives noise-like pictures of the right sizes, fast. Needs ComfyUI on sys.path.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path

import torch

log = logging.getLogger("boomerang.tiny")

NAME = "boomerang-tiny-sd15-v2.safetensors"
NAME_X4_VAE = "boomerang-tiny-sd15-v2-x4vae.safetensors"


def _init(module: torch.nn.Module, seed: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, tensor in module.state_dict().items():
        if not tensor.is_floating_point():
            out[name] = tensor
        elif tensor.ndim >= 2:
            fan_in = math.prod(tensor.shape[1:])
            out[name] = torch.randn(tensor.shape, generator=gen) / math.sqrt(fan_in)
        elif name.endswith("weight"):
            out[name] = torch.ones(tensor.shape)
        else:
            out[name] = torch.zeros(tensor.shape)
    return out


def build_state_dict(vae_ch_mult=(1, 2, 4, 4), seed: int = 0) -> dict[str, torch.Tensor]:
    import comfy.ops
    import comfy.sd1_clip
    from comfy.ldm.models.autoencoder import AutoencoderKL
    from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel

    ops = comfy.ops.disable_weight_init
    unet = UNetModel(image_size=32, in_channels=4, model_channels=320, out_channels=4, num_res_blocks=[1, 1, 1],
                     channel_mult=(1, 1, 1), num_heads=8, use_spatial_transformer=True, transformer_depth=[0, 0, 1],
                     transformer_depth_middle=1, transformer_depth_output=[0] * 6, context_dim=768,
                     use_linear_in_transformer=False, legacy=False, operations=ops, device="cpu")
    ddconfig = {"double_z": True, "z_channels": 4, "resolution": 256, "in_channels": 3, "out_ch": 3, "ch": 128,
                "ch_mult": list(vae_ch_mult), "num_res_blocks": 2, "attn_resolutions": [], "dropout": 0.0}
    vae = AutoencoderKL(ddconfig=ddconfig, embed_dim=4)
    clip = comfy.sd1_clip.SD1ClipModel(device="cpu")
    sd = {}
    for prefix, module, offset in (("model.diffusion_model.", unet, 1), ("first_stage_model.", vae, 2)):
        sd.update({prefix + k: v for k, v in _init(module, seed + offset).items()})
    for k, v in _init(clip, seed + 3).items():
        if k.startswith("clip_l."):
            sd["cond_stage_model." + k[len("clip_l."):]] = v
    return {k: v.half() if v.is_floating_point() else v for k, v in sd.items()}


def ensure(directory: Path, x4_vae: bool = False) -> Path:
    """Create the checkpoint in ``directory`` once per machine; return its path."""
    import safetensors.torch

    path = Path(directory) / (NAME_X4_VAE if x4_vae else NAME)
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    log.info("making %s", path)
    sd = build_state_dict(vae_ch_mult=(1, 2, 4) if x4_vae else (1, 2, 4, 4))
    tmp = path.with_suffix(".partial")
    safetensors.torch.save_file(sd, str(tmp))
    tmp.rename(path)
    return path
