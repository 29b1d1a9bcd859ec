"""VAE internals: images in and out of ComfyUI VAEs (also video VAEs), checked for non-finite values."""
from __future__ import annotations

import torch

from ...boomerang.checks import check_finite

VAE_FIX = "run the VAE in float32: start ComfyUI with --fp32-vae"


def vae_dtype(vae) -> str:
    return str(getattr(vae, "vae_dtype", "an unknown dtype")).replace("torch.", "")


def vae_encode(vae, pixels: torch.Tensor, encode=None) -> torch.Tensor:
    """``vae_encode_images`` (or ``encode(vae, pixels)``), checked for NaN/inf."""
    samples = vae_encode_images(vae, pixels) if encode is None else encode(vae, pixels)
    return check_finite(samples, "VAE encode", vae_dtype(vae), VAE_FIX)


def vae_decode(vae, samples: torch.Tensor, decode=None) -> torch.Tensor:
    """``vae_decode_images`` (or ``decode(vae, samples)``), checked for NaN/inf."""
    pixels = vae_decode_images(vae, samples) if decode is None else decode(vae, samples)
    return check_finite(pixels, "VAE decode", vae_dtype(vae), VAE_FIX)


def vae_encode_images(vae, pixels: torch.Tensor) -> torch.Tensor:
    """IMAGE [B, H, W, C] -> latent samples with one entry per image. A VAE of 3-D latents (Wan, LTXV, ...)
    takes a batch of images as the frames of one clip; here each image is encoded as a one-frame clip."""
    if getattr(vae, "latent_dim", 2) != 3 or pixels.shape[0] == 1:
        return vae.encode(pixels)
    return torch.cat([vae.encode(pixels[i:i + 1]) for i in range(pixels.shape[0])])


def vae_decode_images(vae, samples: torch.Tensor) -> torch.Tensor:
    """Latent samples -> IMAGE [B, H, W, C]; a video VAE's [B, frames, H, W, C] becomes B * frames images, as
    ComfyUI's VAEDecode combines them (one-frame clips from ``vae_encode_images`` give B images)."""
    images = vae.decode(samples)
    if images.ndim == 5:
        images = images.reshape((-1,) + tuple(images.shape[-3:]))
    return images
