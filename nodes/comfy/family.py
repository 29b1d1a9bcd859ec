"""What a loaded model's family and network can take: its name for messages, the multiple its network needs the
latent's sides to be, and the patch side its network cuts the latent into (read from the network object)."""
from __future__ import annotations


def family_name(model) -> str:
    """The model's family as ComfyUI detected it: the name of its ``supported_models`` config class (SD15, SDXL,
    Flux, ChromaRadiance, WAN22_T2V, ...), or its base class's name for models built without one."""
    base = getattr(model, "model", None)
    config = getattr(base, "model_config", None)
    return type(config).__name__ if config is not None else type(base).__name__


def network_multiple(model) -> int:
    """The multiple, in latent samples, that the model's network needs the latent's height and width to be.

    The one place this is read: a diffusion model that cannot take every size says so with an int attribute
    ``spatial_multiple`` (the pack's diffusers pixel UNets: 2 ** their downsampling blocks, read from the loaded
    network). ComfyUI's own networks take any size: its UNetModel upsamples each level to its skip connection's
    size, and most of its DiT models (SD3, Flux, ...) pad to their patch size inside ``forward``; so 1 for them.
    Cosmos' DiTs (``patch_spatial``) assert the size is a multiple of their patch instead: that patch."""
    network = model.get_model_object("diffusion_model")
    multiple = getattr(network, "spatial_multiple", getattr(network, "patch_spatial", 1))
    return int(multiple) if isinstance(multiple, int) and multiple >= 1 else 1


def network_patch(model) -> int:
    """The side, in latent samples, of the patches the model's network cuts a latent into: ComfyUI's DiTs name it
    ``patch_size`` (2 for SD3, Flux, Lumina 2, Qwen-Image; 16 for Chroma Radiance's pixels; Wan's (1, 2, 2): the
    last is the width) or ``patch_spatial`` (Cosmos); UNets have none (1)."""
    network = model.get_model_object("diffusion_model")
    for attr in ("patch_size", "patch_spatial"):
        value = getattr(network, attr, None)
        if isinstance(value, (tuple, list)) and value:
            value = value[-1]
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
    return 1
