"""Full-size SD1.5 and SDXL networks with random weights, built in memory from ComfyUI's own model configs.

Timing does not depend on the weights, so the GPU check needs no checkpoint: ``comfy.supported_models.SD15`` /
``SDXL`` with the published UNet sizes, the network class ComfyUI picks for them (``config.get_model``), the
weight dtype ComfyUI would choose on this device (``model_management.unet_dtype``), every tensor filled from a
local generator, wrapped in ComfyUI's ``ModelPatcher``; the VAE is ``comfy.sd.VAE`` from a state dict with the
standard SD autoencoder keys; the prompts are random embeddings of the text encoders' output shapes (the check
measures the denoiser and the VAE, not text encoding). ``size="tiny"`` keeps the families' classes and
conditioning with a few channels, for the CPU smoke run. Needs a booted ComfyUI (imports ``comfy`` lazily).
"""
from __future__ import annotations

import math

# Published UNet sizes (Rombach et al. 2022; Podell et al. 2023), in ComfyUI's unet_config terms.
SD15_UNET = {"image_size": 32, "in_channels": 4, "out_channels": 4, "model_channels": 320,
             "num_res_blocks": [2, 2, 2, 2], "channel_mult": [1, 2, 4, 4],
             "transformer_depth": [1, 1, 1, 1, 1, 1, 0, 0],
             "transformer_depth_middle": 1, "transformer_depth_output": [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0],
             "num_heads": 8, "context_dim": 768, "use_linear_in_transformer": False, "adm_in_channels": None,
             "use_spatial_transformer": True, "legacy": False, "use_checkpoint": False,
             "use_temporal_attention": False, "use_temporal_resblock": False}
SDXL_UNET = {"image_size": 32, "in_channels": 4, "out_channels": 4, "model_channels": 320,
             "num_res_blocks": [2, 2, 2], "channel_mult": [1, 2, 4], "transformer_depth": [0, 0, 2, 2, 10, 10],
             "transformer_depth_middle": 10, "transformer_depth_output": [0, 0, 0, 2, 2, 2, 10, 10, 10],
             "num_head_channels": 64, "context_dim": 2048, "use_linear_in_transformer": True, "adm_in_channels": 2816,
             "num_classes": "sequential", "use_spatial_transformer": True, "legacy": False, "use_checkpoint": False,
             "use_temporal_attention": False, "use_temporal_resblock": False}
# Tiny variants for the CPU smoke run: same classes and conditioning (SDXL's 2816-wide size embedding), few
# blocks; SD1.5 keeps 320 channels and 768-wide context, so that ComfyUI's checkpoint detection still reads it as
# SD1.5 when it is saved as a checkpoint file.
TINY = {
    "sd15": {**SD15_UNET, "num_res_blocks": [1], "channel_mult": [1], "transformer_depth": [1],
             "transformer_depth_middle": 1, "transformer_depth_output": [1, 1]},  # 320 channels: still read as SD1.5
    "sdxl": {**SDXL_UNET, "model_channels": 64, "num_res_blocks": [1, 1], "channel_mult": [1, 2],
             "transformer_depth": [0, 1], "transformer_depth_middle": 1, "transformer_depth_output": [0, 1, 1, 1],
             "context_dim": 64},  # ComfyUI's SDXL config keeps 64 channels per attention head
}
FAMILIES = ("sd15", "sdxl")
POOLED_WIDTH = 1280  # SDXL's pooled CLIP-G embedding
TOKENS = 77


def unet_config(family: str, size: str = "full") -> dict:
    if family not in FAMILIES or size not in ("full", "tiny"):
        raise ValueError(f"family must be one of {FAMILIES} and size 'full' or 'tiny'; received {family!r}, {size!r}")
    if size == "tiny":
        return dict(TINY[family])
    return dict(SD15_UNET if family == "sd15" else SDXL_UNET)


def model_config(family: str, size: str = "full"):
    """ComfyUI's supported-model config (``comfy.supported_models.SD15`` / ``SDXL``) for these UNet sizes."""
    import comfy.supported_models

    cls = comfy.supported_models.SD15 if family == "sd15" else comfy.supported_models.SDXL
    return cls(unet_config(family, size))


def fill_(module, seed: int) -> int:
    """Every floating tensor of ``module`` from one local generator on its device: weights of 2+ dims N(0, 1/fan_in),
    1-d weights (norms) 1, everything else 0. Returns the number of parameters."""
    import torch

    count = 0
    generators = {}
    with torch.no_grad():
        for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
            if not tensor.is_floating_point():
                continue
            if tensor.device not in generators:
                generators[tensor.device] = torch.Generator(device=tensor.device).manual_seed(seed)
            if tensor.ndim >= 2:
                values = torch.randn(tensor.shape, generator=generators[tensor.device], device=tensor.device,
                                     dtype=torch.float32) / math.sqrt(math.prod(tensor.shape[1:]))
                tensor.copy_(values)
            elif name.endswith("weight"):
                tensor.fill_(1.0)
            else:  # biases and the rest (e.g. CLIP's logit_scale): 0, never the uninitialised memory left by
                tensor.zero_()  # ComfyUI's disable_weight_init layers
            count += tensor.numel() if isinstance(tensor, torch.nn.Parameter) else 0
    return count


def build_unet(family: str, size: str = "full", seed: int = 0, device=None):
    """A ``ModelPatcher`` of the family's network with random weights, in ComfyUI's dtype for ``device``
    (default: ComfyUI's torch device). Returns (patcher, {"parameters", "dtype", "class"})."""
    import comfy.model_management as mm
    import comfy.model_patcher

    config = model_config(family, size)
    device = device or mm.get_torch_device()
    params = _count_parameters(family, size)
    dtype = mm.unet_dtype(device=device, model_params=params, supported_dtypes=list(config.supported_inference_dtypes))
    config.set_inference_dtype(dtype, mm.unet_manual_cast(dtype, device, config.supported_inference_dtypes))
    model = config.get_model({}, "", device=device)
    filled = fill_(model.diffusion_model, seed)
    patcher = comfy.model_patcher.ModelPatcher(model, load_device=mm.get_torch_device(),
                                               offload_device=mm.unet_offload_device())
    return patcher, {"parameters": filled, "dtype": str(dtype).replace("torch.", ""), "class": type(model).__name__}


def _count_parameters(family: str, size: str) -> int:
    """Parameter count of the UNet, from a copy on the meta device (no memory)."""
    import torch

    config = model_config(family, size)
    config.set_inference_dtype(torch.float16, None)
    model = config.get_model({}, "", device=torch.device("meta"))
    return sum(p.numel() for p in model.diffusion_model.parameters())


def build_vae(seed: int = 0, size: str = "full"):
    """``comfy.sd.VAE`` with random weights: the standard SD autoencoder (4 latent channels, x8), or with
    ``size="tiny"`` ComfyUI's own tiny autoencoder class (TAESD, also 4 channels and x8) for the smoke run."""
    import torch

    import comfy.sd
    import comfy.taesd.taesd
    from comfy.ldm.models.autoencoder import AutoencoderKL

    if size == "tiny":
        module = comfy.taesd.taesd.TAESD(latent_channels=4)
        fill_(module, seed)
        sd = module.state_dict()
        sd["vae_scale"], sd["vae_shift"] = torch.tensor(1.0), torch.tensor(0.0)
        return comfy.sd.VAE(sd=sd)
    ddconfig = {"double_z": True, "z_channels": 4, "resolution": 256, "in_channels": 3, "out_ch": 3, "ch": 128,
                "ch_mult": [1, 2, 4, 4], "num_res_blocks": 2, "attn_resolutions": [], "dropout": 0.0}
    with torch.device("meta"):
        shapes = AutoencoderKL(ddconfig=ddconfig, embed_dim=4).state_dict()
    gen = torch.Generator().manual_seed(seed)
    sd = {}
    for name, t in shapes.items():
        if t.ndim >= 2:
            sd[name] = torch.randn(t.shape, generator=gen) / math.sqrt(math.prod(t.shape[1:]))
        else:
            sd[name] = torch.ones(t.shape) if name.endswith("weight") else torch.zeros(t.shape)
    return comfy.sd.VAE(sd=sd)


def conditioning(family: str, size: str = "full", seed: int = 0) -> list:
    """A CONDITIONING of the family's text-encoder output shapes (SDXL: plus the pooled embedding), random."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    context = torch.randn(1, TOKENS, unet_config(family, size)["context_dim"], generator=gen)
    extra = {"pooled_output": torch.randn(1, POOLED_WIDTH, generator=gen)} if family == "sdxl" else {}
    return [[context, extra]]


def write_checkpoint(path, size: str = "full", seed: int = 0):
    """An SD1.5 checkpoint file of random weights (UNet in ComfyUI's dtype, the SD VAE, CLIP-L), for
    ``CheckpointLoaderSimple`` (dataset jobs load their model from a file). Returns the path."""
    from pathlib import Path

    import safetensors.torch

    import comfy.model_management
    import comfy.sd1_clip

    unet, _ = build_unet("sd15", size, seed)
    sd = {"model.diffusion_model." + k: v for k, v in unet.model.diffusion_model.state_dict().items()}
    del unet
    sd.update({"first_stage_model." + k: v for k, v in build_vae(seed + 1).first_stage_model.state_dict().items()})
    clip = comfy.sd1_clip.SD1ClipModel(device="cpu")
    fill_(clip, seed + 2)
    sd.update({"cond_stage_model." + k[len("clip_l."):]: v for k, v in clip.state_dict().items()
               if k.startswith("clip_l.")})
    half = {k: (v.half() if v.is_floating_point() else v).contiguous().cpu() for k, v in sd.items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file(half, str(path))
    del sd, half
    comfy.model_management.soft_empty_cache()
    return path
