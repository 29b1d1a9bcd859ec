"""Pixel helpers for perceptual resolution enhancement (paper section 6): sizes, plain interpolation, colour."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .checks import BoomerangInputError

INTERPOLATIONS = ("bilinear", "bicubic", "lanczos", "nearest-exact", "area")


def target_size(width: int, height: int, factor: float) -> tuple[int, int]:
    """Output size of an upscale: round(factor * width) x round(factor * height), halves rounded up."""
    if not (factor >= 1.0) or math.isinf(factor):
        raise BoomerangInputError("factor", "a finite number >= 1", factor)
    return int(math.floor(factor * width + 0.5)), int(math.floor(factor * height + 0.5))


def _lanczos(images: torch.Tensor, width: int, height: int) -> torch.Tensor:
    from PIL import Image

    out = []
    for item in images.detach().cpu().clamp(0.0, 1.0).numpy():
        channels = []
        for c in range(item.shape[-1]):  # per channel in 32-bit float mode: no 8-bit quantisation
            img = Image.fromarray(item[..., c].astype(np.float32), mode="F")
            channels.append(np.asarray(img.resize((width, height), Image.Resampling.LANCZOS)))
        out.append(np.stack(channels, axis=-1))
    return torch.from_numpy(np.stack(out)).to(images.device, images.dtype)


def resize_image(images: torch.Tensor, width: int, height: int, method: str) -> torch.Tensor:
    """Resize ComfyUI IMAGE tensors [B, H, W, C] in [0, 1] to ``width`` x ``height`` with plain interpolation."""
    if method not in INTERPOLATIONS:
        raise BoomerangInputError("interpolation", f"one of {', '.join(INTERPOLATIONS)}", method)
    if images.ndim != 4:
        raise BoomerangInputError("image", "a batch of images [B, H, W, C]", tuple(images.shape))
    if (images.shape[2], images.shape[1]) == (width, height):
        return images.clone()
    if method == "lanczos":
        out = _lanczos(images, width, height)
    else:
        x = images.movedim(-1, 1).float()
        kwargs = {"align_corners": False} if method in ("bilinear", "bicubic") else {}
        x = F.interpolate(x, size=(height, width), mode=method, **kwargs)
        out = x.movedim(1, -1).to(images.dtype)
    return out.clamp(0.0, 1.0)


def mirror_index(size: int, padded: int, device=None) -> torch.Tensor:
    """Indices 0..size-1 then back and forth (symmetric, edge sample repeated: a b c | c b a a b c ...), for any
    ``padded`` >= ``size``, even when the padding is longer than the image (a 1-pixel side repeats its pixel)."""
    i = torch.arange(padded, device=device) % (2 * size)
    return torch.where(i >= size, 2 * size - 1 - i, i)


def pad_to_multiple(images: torch.Tensor, multiple: int) -> tuple[torch.Tensor, int, int]:
    """Mirror-pad [B, H, W, C] images on the right and bottom to multiples of ``multiple``.

    The padding continues the image's content (no black bars, no smeared edge), for any size including 1x1.
    Returns the padded images and the original width and height, for cropping back after decoding.
    """
    height, width = images.shape[1], images.shape[2]
    pad_h = (-height) % multiple
    pad_w = (-width) % multiple
    if pad_h == 0 and pad_w == 0:
        return images, width, height
    rows = mirror_index(height, height + pad_h, images.device)
    cols = mirror_index(width, width + pad_w, images.device)
    return images.index_select(1, rows).index_select(2, cols), width, height


def match_channel_stats(x: torch.Tensor, reference: torch.Tensor, channel_dim: int, mode: str = "mean_std",
                        eps: float = 1e-6) -> torch.Tensor:
    """Shift (``mean``) or shift and scale (``mean_std``) each channel of each item of ``x`` to ``reference``.

    Stops the colour drift of repeated img2img passes: item i, channel c of the result has the mean (and
    standard deviation) of item i, channel c of ``reference`` (item 0 if ``reference`` has one item).
    """
    if mode == "off":
        return x
    if mode not in ("mean", "mean_std"):
        raise BoomerangInputError("color_match", "one of off, mean, mean_std", mode)
    if reference.shape[0] not in (1, x.shape[0]):
        raise BoomerangInputError("reference batch", f"1 or {x.shape[0]} items", reference.shape[0])
    channel_dim = channel_dim % x.ndim
    dims = tuple(d for d in range(1, x.ndim) if d != channel_dim)
    xf, rf = x.float(), reference.float().to(x.device)
    x_mean, r_mean = xf.mean(dim=dims, keepdim=True), rf.mean(dim=dims, keepdim=True)
    if mode == "mean":
        out = xf - x_mean + r_mean
    else:
        x_std, r_std = xf.std(dim=dims, keepdim=True), rf.std(dim=dims, keepdim=True)
        out = (xf - x_mean) * (r_std / (x_std + eps)) + r_mean
    return out.to(x.dtype)


def tile_starts(length: int, tile: int, overlap: int, unit: int = 1) -> list[int]:
    """Start offsets of overlapping tiles covering ``length`` (all multiples of ``unit``)."""
    if length <= tile:
        return [0]
    stride = max(tile - overlap, unit)
    starts = list(range(0, length - tile + 1, stride))
    last = ((length - tile) // unit) * unit
    if starts[-1] < last:
        starts.append(last)
    if starts[-1] + tile < length:  # length not a multiple of unit: the last tile reaches the end
        starts.append(length - tile)
    return starts


def feather(n: int, ramp: int, device=None) -> torch.Tensor:
    """1-D tile weight: a raised-cosine ramp sin^2(pi/2 * (i + 1) / (ramp + 1)) over the first and last
    ``ramp`` samples, 1 inside.

    Two neighbours overlapping by exactly ``ramp`` samples get cos^2 and sin^2 of the same angle there, a
    cross-fade summing to 1 whose slope vanishes at both ends (a tile's outermost samples, the least
    reliable ones, weigh almost nothing); other overlaps are normalised by the sum (TileGrid.weights).
    """
    i = torch.arange(n, device=device, dtype=torch.float64)
    ramp = max(int(ramp), 1)
    u = torch.clamp(torch.minimum((i + 1) / (ramp + 1), (n - i) / (ramp + 1)), max=1.0)
    return (torch.sin(0.5 * math.pi * u) ** 2).float()



@dataclass(frozen=True)
class TileGrid:
    """Equal overlapping tiles covering a ``height`` x ``width`` plane: tile (y, x) is
    ``[y, y + tile_h) x [x, x + tile_w)`` for y in ``ys``, x in ``xs`` (rows first)."""
    height: int
    width: int
    tile_h: int
    tile_w: int
    overlap: int
    ys: tuple[int, ...]
    xs: tuple[int, ...]

    @property
    def boxes(self) -> list[tuple[int, int]]:
        return [(y, x) for y in self.ys for x in self.xs]

    def __len__(self) -> int:
        return len(self.ys) * len(self.xs)

    def raw_weight(self, device=None) -> torch.Tensor:
        """The feathered [tile_h, tile_w] weight of every tile before normalisation."""
        return feather(self.tile_h, self.overlap, device)[:, None] * feather(self.tile_w, self.overlap, device)[None, :]

    def weights(self, device=None) -> torch.Tensor:
        """[tiles, tile_h, tile_w] blend weights, normalised so that at every position of the plane the
        weights of the tiles covering it sum to 1 (borders and corners included)."""
        raw = self.raw_weight(device)
        total = torch.zeros(self.height, self.width, dtype=torch.float32, device=device)
        for y, x in self.boxes:
            total[y:y + self.tile_h, x:x + self.tile_w] += raw
        return torch.stack([raw / total[y:y + self.tile_h, x:x + self.tile_w] for y, x in self.boxes])


def tile_grid(height: int, width: int, tile: int, overlap: int, unit: int = 1) -> TileGrid:
    """The tiles (side ``tile``, or the plane's side where smaller) that cover the plane with at least
    ``overlap`` samples shared between neighbours; starts and sizes are multiples of ``unit``."""
    tile = max(unit, (tile // unit) * unit)
    overlap = (overlap // unit) * unit
    th, tw = min(tile, height), min(tile, width)
    return TileGrid(height, width, th, tw, overlap, tuple(tile_starts(height, th, overlap, unit)),
                    tuple(tile_starts(width, tw, overlap, unit)))


def tiled_map(x: torch.Tensor, fn, tile: int, overlap: int, scale_num: int = 1, scale_den: int = 1,
              unit: int = 1) -> torch.Tensor:
    """Apply ``fn`` to overlapping tiles of ``x`` [B, C, H, W] and blend the results with feathered weights.

    ``fn`` maps a [B, C, h, w] tile to [B, C', h * scale_num / scale_den, w * ...]; tile starts and sizes are
    multiples of ``unit`` (the VAE factor when encoding). One pass, weights normalised to sum to 1, so a
    position-wise ``fn`` gives exactly the untiled result.
    """
    height, width = x.shape[-2], x.shape[-1]
    grid = tile_grid(height, width, tile, overlap, unit)
    th, tw = grid.tile_h, grid.tile_w
    out = weights = None
    for y0, x0 in grid.boxes:
        piece = fn(x[..., y0:y0 + th, x0:x0 + tw])
        oy, ox = y0 * scale_num // scale_den, x0 * scale_num // scale_den
        ph, pw = piece.shape[-2], piece.shape[-1]
        if out is None:
            out = torch.zeros(piece.shape[:-2] + (height * scale_num // scale_den, width * scale_num // scale_den),
                              dtype=torch.float32, device=piece.device)
            weights = torch.zeros(out.shape[-2:], dtype=torch.float32, device=piece.device)
        ramp = grid.overlap * scale_num // scale_den
        w = feather(ph, ramp, piece.device)[:, None] * feather(pw, ramp, piece.device)[None, :]
        out[..., oy:oy + ph, ox:ox + pw] += piece.float() * w
        weights[oy:oy + ph, ox:ox + pw] += w
    return out / weights
