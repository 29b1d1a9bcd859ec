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


def _cond(seed: int, tokens: int, dim: int, **extra) -> list:
    gen = torch.Generator().manual_seed(seed)
    return [[torch.randn((1, tokens, dim), generator=gen), dict(extra)]]


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


def _unet(config_class, context: int, adm=None, **extra) -> object:
    """A one-level UNet (ComfyUI's openaimodel) config of base width 64, for the SD1.x/SD2.x/SDXL families."""
    cfg = {"in_channels": 4, "out_channels": 4, "model_channels": 64, "num_res_blocks": [1], "channel_mult": [1],
           "transformer_depth": [1], "transformer_depth_output": [1, 1], "transformer_depth_middle": 1,
           "use_spatial_transformer": True, "context_dim": context, "use_temporal_attention": False,
           "image_size": 32, "legacy": False, "adm_in_channels": adm,
           "num_classes": "sequential" if adm else None, **extra}
    return _config(config_class, cfg)


def _unet_family(name: str, config, model_class: str, seed: int, context: int, detect: dict | None = None,
                 pooled: int = 0) -> TinyFamily:
    """A UNet family from its config; ``detect``: state-dict keys for ComfyUI's own ``model_type`` detection
    (which also sets the config's sigma range for the EDM kinds)."""
    import comfy.model_base

    model_type = config.model_type(detect or {})
    base = getattr(comfy.model_base, model_class)(config, model_type=model_type, device=CPU)
    _initialise(base.diffusion_model, seed)
    cond = {}
    if pooled:  # SDXL's ADM: pooled text embedding + size conditioning
        gen = torch.Generator().manual_seed(seed + 3)
        cond = {"pooled_output": torch.randn((1, pooled), generator=gen), "width": 256, "height": 256,
                "crop_w": 0, "crop_h": 0, "target_width": 256, "target_height": 256}
    pos, neg = _cond(seed + 1, 4, context, **cond), _cond(seed + 2, 4, context, **cond)
    return TinyFamily(name, _patcher(base), pos, neg, {"model_type": model_type.name})


def sd15(seed: int = 0) -> TinyFamily:
    """SD1.5: discrete EPS (ModelSamplingDiscrete, scaled-linear betas), SD latents (4 channels, x8 VAE)."""
    import comfy.supported_models

    config = _unet(comfy.supported_models.SD15, 32, use_linear_in_transformer=False)
    return _unet_family("sd15", config, "BaseModel", seed, 32)


def sd2_v(seed: int = 0) -> TinyFamily:
    """SD2.x 768-v: discrete v-prediction, detected by ComfyUI's own SD20.model_type rule."""
    import comfy.supported_models

    config = _unet(comfy.supported_models.SD20, 32, use_linear_in_transformer=True)
    marker = {"output_blocks.11.1.transformer_blocks.0.norm1.bias": torch.tensor([0.0, 1.0])}  # std 0.5 > 0.09
    return _unet_family("sd2_v", config, "BaseModel", seed, 32, detect=marker)


def _sdxl(name: str, seed: int, detect: dict | None = None) -> TinyFamily:
    import comfy.supported_models

    config = _unet(comfy.supported_models.SDXL, 32, adm=2816, use_linear_in_transformer=True)
    return _unet_family(name, config, "SDXL", seed, 32, detect=detect, pooled=1280)


def sdxl(seed: int = 0) -> TinyFamily:
    """SDXL base: discrete EPS, ADM of pooled output + size conditioning (2816 = 1280 + 6 x 256)."""
    return _sdxl("sdxl", seed)


def sdxl_edm(seed: int = 0) -> TinyFamily:
    """An SDXL UNet detected as Playground v2.5 (ComfyUI's SDXL.model_type): EDM, ModelSamplingContinuousEDM."""
    marker = torch.zeros(1)
    return _sdxl("sdxl_edm", seed, {"edm_mean": marker, "edm_std": marker})


def sdxl_v_edm(seed: int = 0) -> TinyFamily:
    """An SDXL UNet detected as CosXL-style v-prediction on a continuous EDM range (V_PREDICTION_EDM)."""
    return _sdxl("sdxl_v_edm", seed, {"edm_vpred.sigma_max": torch.tensor(120.0),
                                      "edm_vpred.sigma_min": torch.tensor(0.002)})


def _dit(name: str, config_class, model_class, unet_config: dict, seed: int, context: int, notes=None,
         **cond) -> TinyFamily:
    import comfy.model_base

    base = getattr(comfy.model_base, model_class)(_config(config_class, unet_config), device=CPU)
    _initialise(base.diffusion_model, seed)
    pos, neg = _cond(seed + 1, 4, context, **cond), _cond(seed + 2, 4, context, **cond)
    return TinyFamily(name, _patcher(base), pos, neg, dict(notes or {}, model_type=base.model_type.name))


def sd35(seed: int = 0) -> TinyFamily:
    """SD3.5 (Medium-style MMDiT-X: RMS qk-norm, a self-attention x-block): discrete flow (shift 3), SD3 latents."""
    import comfy.supported_models

    width = 16
    pooled = torch.randn((1, width), generator=torch.Generator().manual_seed(seed + 3))
    return _dit("sd35", comfy.supported_models.SD3, "SD3", {
        "in_channels": 16, "out_channels": 16, "patch_size": 2, "depth": 1, "input_size": None,
        "adm_in_channels": width, "num_patches": 32 * 32, "pos_embed_max_size": 32, "qk_norm": "rms",
        "pos_embed_scaling_factor": None, "x_block_self_attn_layers": [0],
        "context_embedder_config": {"target": "torch.nn.Linear", "params": {"in_features": width,
                                                                            "out_features": 64}}},
        seed, width, pooled_output=pooled)


def flux_dev(seed: int = 0) -> TinyFamily:
    """Flux dev: ModelSamplingFlux (resolution-dependent shift), guidance embedding (cond ``guidance``), pooled
    vector input, 16-channel Flux latents, 2x2 patchify inside the network."""
    import comfy.supported_models

    width = 16
    pooled = torch.randn((1, width), generator=torch.Generator().manual_seed(seed + 3))
    return _dit("flux_dev", comfy.supported_models.Flux, "Flux", {
        "image_model": "flux", "in_channels": 16, "out_channels": 16, "patch_size": 2, "vec_in_dim": width,
        "context_in_dim": width, "hidden_size": 32, "mlp_ratio": 2.0, "num_heads": 2, "depth": 1,
        "depth_single_blocks": 1, "axes_dim": [4, 6, 6], "theta": 10000, "qkv_bias": True,
        "guidance_embed": True}, seed, width, pooled_output=pooled, guidance=3.5)


def chroma_radiance(seed: int = 0) -> TinyFamily:
    """Chroma Radiance: a pixel-space flow model (ModelSamplingFlux, multiplier 1; latents are RGB pixels,
    patch 16 inside the network), NeRF-style pixel decoder head."""
    import comfy.supported_models

    width = 16
    return _dit("chroma_radiance", comfy.supported_models.ChromaRadiance, "ChromaRadiance", {
        "image_model": "chroma_radiance", "in_channels": 3, "out_channels": 3, "patch_size": 16,
        "context_in_dim": width, "hidden_size": 32, "mlp_ratio": 2.0, "num_heads": 2, "depth": 1,
        "depth_single_blocks": 1, "axes_dim": [4, 6, 6], "theta": 10000, "qkv_bias": True, "in_dim": 64,
        "out_dim": 32, "hidden_dim": 32, "n_layers": 1, "nerf_hidden_size": 16, "nerf_mlp_ratio": 2,
        "nerf_depth": 1, "nerf_max_freqs": 4, "nerf_tile_size": 0, "nerf_final_head_type": "conv",
        "nerf_embedder_dtype": torch.float32}, seed, width, notes={"patch": 16},
        pooled_output=None)  # T5-only conditioning: no pooled vector, as ComfyUI's T5 encoders give


def lumina2(seed: int = 0) -> TinyFamily:
    """Lumina 2 (NextDiT): discrete flow (shift 6), 16-channel Flux latents, 2x2 patchify."""
    import comfy.supported_models

    width = 16
    return _dit("lumina2", comfy.supported_models.Lumina2, "Lumina2", {
        "image_model": "lumina2", "patch_size": 2, "in_channels": 16, "dim": 32, "cap_feat_dim": width,
        "n_layers": 1, "n_refiner_layers": 1, "n_heads": 2, "n_kv_heads": 1, "qk_norm": True,
        "axes_dims": [4, 6, 6], "axes_lens": [64, 64, 64], "multiple_of": 16}, seed, width,
        attention_mask=torch.ones((1, 4), dtype=torch.long))  # as its encoder gives (0.3.64 reads num_tokens from it)


FAMILIES: dict[str, Callable[[int], TinyFamily]] = {
    "sd15": sd15,
    "sd2_v": sd2_v,
    "sdxl": sdxl,
    "sd35": sd35,
    "flux_dev": flux_dev,
    "qwen_image": qwen_image,
    "chroma_radiance": chroma_radiance,
    "lumina2": lumina2,
    "cosmos_predict2": cosmos_predict2,
    "sdxl_edm": sdxl_edm,
    "sdxl_v_edm": sdxl_v_edm,
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


def sd_vae(channels: int = 4, seed: int = 0):
    """A random VAE of the Stable Diffusion autoencoder kind (ComfyUI's fixed width 128, x8): 4 latent channels
    with quant convs (SD1.x/SD2.x/SDXL) or 16 without (SD3, Flux, Lumina 2). ComfyUI detects it from the keys."""
    import comfy.ldm.modules.diffusionmodules.model as ae
    import comfy.sd

    ddconfig = {"double_z": True, "z_channels": channels, "resolution": 256, "in_channels": 3, "out_ch": 3,
                "ch": 128, "ch_mult": [1, 2, 4, 4], "num_res_blocks": 2, "attn_resolutions": [], "dropout": 0.0}
    parts = {"encoder": ae.Encoder(**ddconfig), "decoder": ae.Decoder(**ddconfig)}
    if channels == 4:
        parts["quant_conv"] = torch.nn.Conv2d(2 * channels, 2 * channels, 1)
        parts["post_quant_conv"] = torch.nn.Conv2d(channels, channels, 1)
    return comfy.sd.VAE(sd=random_state(torch.nn.ModuleDict(parts), seed))


def taesd_vae(channels: int = 4, seed: int = 0):
    """A random TAESD (ComfyUI's tiny autoencoder for the same x8 latents: taesd/taesdxl 4 channels, taesd3/taef1
    16), about 40x cheaper on the CPU than the full SD autoencoder; vae_scale 1 and vae_shift 0 (not random)."""
    import comfy.sd
    import comfy.taesd.taesd

    state = random_state(comfy.taesd.taesd.TAESD(latent_channels=channels), seed)
    state["vae_scale"], state["vae_shift"] = torch.tensor(1.0), torch.tensor(0.0)
    return comfy.sd.VAE(sd=state)


def pixel_vae():
    """ComfyUI's pass-through VAE of pixel-space models (Chroma Radiance): latents are the RGB pixels."""
    import comfy.sd

    return comfy.sd.VAE(sd={"pixel_space_vae": torch.tensor(1.0)})


VAE_KIND = {"sd15": "sd4", "sd2_v": "sd4", "sdxl": "sd4", "sdxl_edm": "sd4", "sdxl_v_edm": "sd4", "sd35": "sd16",
            "flux_dev": "sd16", "lumina2": "sd16", "qwen_image": "wan21", "cosmos_predict2": "wan21",
            "chroma_radiance": "pixel"}


def vae_for(name: str, seed: int = 0, tiny: bool = False):
    """The random VAE of the kind family ``name`` uses; ``tiny``: a TAESD of the same latents for the SD kinds."""
    kind = VAE_KIND[name]
    if kind == "pixel":
        return pixel_vae()
    if kind == "wan21":
        return wan21_vae(seed)
    channels = 4 if kind == "sd4" else 16
    return taesd_vae(channels, seed) if tiny else sd_vae(channels, seed)
