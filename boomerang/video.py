"""Video clips, pure: overlapping windows over the frames of a latent clip and the frame counts a video VAE
round-trips (no ComfyUI; the VAE's own frame-count formulas are passed in).

Windows are the time analogue of the tiled denoiser's spatial tiles: equal windows covering the clip, weighted
with the same raised-cosine ramps (``imaging.feather``) and normalised so that the weights of the windows covering
a frame sum to 1. The weight of a (window, tile) pair is the product of its time and space weights; both sets sum
to 1, so their product does too.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from .imaging import feather, tile_starts


@dataclass(frozen=True)
class Windows:
    """Windows ``[t, t + length)`` for t in ``starts`` over ``frames`` latent frames."""
    frames: int
    length: int
    overlap: int
    starts: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.starts)

    def weights(self, device=None) -> torch.Tensor:
        """[windows, length] blend weights summing to 1 over the windows covering each frame."""
        raw = feather(self.length, self.overlap, device)
        total = torch.zeros(self.frames, dtype=torch.float32, device=device)
        for t in self.starts:
            total[t:t + self.length] += raw
        return torch.stack([raw / total[t:t + self.length] for t in self.starts])


def windows(frames: int, length: int, overlap: int) -> Windows:
    """Windows of ``length`` latent frames (0: one window of the whole clip) sharing at least ``overlap``."""
    length = frames if length <= 0 else min(length, frames)
    overlap = overlap if length < frames else 0
    return Windows(frames, length, overlap, tuple(tile_starts(frames, length, overlap)))


def clip_frames(frames: int, to_latent: Callable[[int], int], to_pixels: Callable[[int], int]) -> tuple[int, int]:
    """(pixel frames to encode, latent frames) for a clip of ``frames`` frames through a video VAE whose frame
    counts map by ``to_latent`` (encode) and ``to_pixels`` (decode), e.g. Wan's 4n + 1 <-> n + 1.

    The clip is padded (by the caller, repeating its last frame) to the smallest count the VAE gives back whole,
    ``to_pixels(n) >= frames``, so that no frame is dropped by the encoder; the caller crops back to ``frames``."""
    latent = max(1, to_latent(frames))
    while to_pixels(latent) < frames:
        latent += 1
    return to_pixels(latent), latent


def pad_frames(pixels: torch.Tensor, count: int) -> torch.Tensor:
    """[F, H, W, C] frames padded to ``count`` by repeating the last frame (unchanged when F >= count)."""
    missing = count - pixels.shape[0]
    if missing <= 0:
        return pixels
    return torch.cat([pixels, pixels[-1:].expand((missing,) + tuple(pixels.shape[1:]))])
