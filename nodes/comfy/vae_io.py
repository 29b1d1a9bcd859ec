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
    if latent_dims(vae) != 3 or pixels.shape[0] == 1:
        return vae.encode(pixels)
    return torch.cat([vae.encode(pixels[i:i + 1]) for i in range(pixels.shape[0])])


def vae_decode_images(vae, samples: torch.Tensor) -> torch.Tensor:
    """Latent samples -> IMAGE [B, H, W, C]; a video VAE's [B, frames, H, W, C] becomes B * frames images, as
    ComfyUI's VAEDecode combines them (one-frame clips from ``vae_encode_images`` give B images)."""
    images = vae.decode(samples)
    if images.ndim == 5:
        images = images.reshape((-1,) + tuple(images.shape[-3:]))
    return images


def spatial_ratios(vae) -> tuple[int, int]:
    """(pixels per latent value when encoding, when decoding): ComfyUI's ``spacial_compression_encode`` and
    ``spacial_compression_decode`` (they differ for Stable Cascade's stage C coder)."""
    return int(vae.spacial_compression_encode()), int(vae.spacial_compression_decode())


def latent_dims(vae) -> int:
    """2 for image latents, 3 for video latents with a time axis (ComfyUI's ``VAE.latent_dim``)."""
    return int(getattr(vae, "latent_dim", 2))


def temporal_ratio(vae) -> int | None:
    """Video frames per latent frame of a video VAE (ComfyUI's ``temporal_compression_decode``), else None."""
    read = getattr(vae, "temporal_compression_decode", None)
    ratio = read() if callable(read) else None
    return int(ratio) if ratio else None


def frame_formulas(vae):
    """(to_latent, to_pixels): a video VAE's own frame-count maps (``downscale_ratio[0]``, ``upscale_ratio[0]``,
    e.g. Wan's 4n + 1 -> n + 1 and back), or None for a VAE without a time axis."""
    down, up = getattr(vae, "downscale_ratio", None), getattr(vae, "upscale_ratio", None)
    if latent_dims(vae) != 3 or not isinstance(down, tuple) or not isinstance(up, tuple):
        return None
    if not callable(down[0]) or not callable(up[0]):
        return None
    return down[0], up[0]


def encode_clip(vae, frames: torch.Tensor, tile: int = 0) -> torch.Tensor:
    """IMAGE frames [F, H, W, C] of one clip -> a [1, C, f, h, w] latent through a video VAE, in spatial tiles of
    ``tile`` pixels (ComfyUI's own ``encode_tiled``, every frame in each tile) when the frames are larger."""
    if tile and max(frames.shape[1], frames.shape[2]) > tile:
        ratio = spatial_ratios(vae)[0]
        samples = vae.encode_tiled(frames, tile_x=tile, tile_y=tile, overlap=max(tile // 8, ratio))
    else:
        samples = vae.encode(frames)
    return check_finite(samples, "VAE encode", vae_dtype(vae), VAE_FIX)


def decode_clip(vae, samples: torch.Tensor, tile: int = 0) -> torch.Tensor:
    """A [1, C, f, h, w] latent -> IMAGE frames [F, H, W, C], in spatial tiles of ``tile`` pixels (ComfyUI's own
    ``decode_tiled``) when the output is larger."""
    ratio = spatial_ratios(vae)[1]
    if tile and max(samples.shape[-1], samples.shape[-2]) * ratio > tile:
        side = max(tile // ratio, 1)
        pixels = vae.decode_tiled(samples, tile_x=side, tile_y=side, overlap=max(side // 8, 1))
    else:
        pixels = vae.decode(samples)
    pixels = pixels.reshape((-1,) + tuple(pixels.shape[-3:]))
    return check_finite(pixels, "VAE decode", vae_dtype(vae), VAE_FIX)
