"""The tiled denoiser: ComfyUI's model-function wrapper evaluates the model one batch of overlapping tiles at
a time and blends the tiles' denoised predictions into one full-size prediction for the unchanged sampler.

Memory: only one tile batch of model activations exists at a time; the full-size tensors are the model's
input (the latent), the output buffer and the precomputed [tiles, h, w] blend weights (one float per
latent position and tile, about (tile / stride)^2 latent planes of one channel).

Every ComfyUI internal the tiling relies on is here: the ``model_function_wrapper`` call convention, the
layout of the conditioning dict it receives, ``ModelPatcher.set_model_unet_function_wrapper`` and the VAE's
compression ratio.
"""
from __future__ import annotations

import copy
import logging
import threading

import torch

from ...boomerang.checks import BoomerangInputError, check_tile_patch, check_tiling
from ...boomerang.imaging import TileGrid, tile_grid
from ..tiling import MODES, NODE_NAMES
from .family import family_name, network_patch

log = logging.getLogger("boomerang")
MAX_LAYOUTS = 8  # cached (shape, device) blend layouts per wrapper: one per GPU of a multi-GPU run, and then some


def latent_tile(vae, tile_size: int, overlap: int, model=None, names=NODE_NAMES) -> tuple[int, int]:
    """Tile side and overlap in latent samples: the pixel values over the VAE's own compression ratio; with
    ``model``, a tile smaller than one patch of its network is refused (input ``names[0]``)."""
    ratio = int(vae.spacial_compression_encode())
    if model is not None:
        check_tile_patch(names[0], tile_size, ratio, network_patch(model), family_name(model))
    return max(tile_size // ratio, 1), overlap // ratio


def _cut(value, name: str, grid: TileGrid, boxes, batch: int):
    """One conditioning entry for a batch of tiles (tile-major: tile 0's items, tile 1's items, ...)."""
    if name == "control" and value is not None:
        raise BoomerangInputError(
            "positive", "conditioning without a ControlNet while denoise tiling is on (a ControlNet's "
            "residuals are computed for the whole latent and cannot be cut per tile)", "conditioning with a "
            "ControlNet", "Set denoise_tiling to off, or remove Boomerang Tiled Model, for ControlNet graphs")
    if name == "transformer_options" and isinstance(value, dict):
        out = dict(value)
        for key in ("cond_or_uncond", "uuids"):  # one entry per batch chunk: repeated per tile
            if isinstance(out.get(key), list):
                out[key] = out[key] * len(boxes)
        return out
    if not isinstance(value, torch.Tensor) or value.ndim == 0:
        return value
    if value.ndim >= 3 and tuple(value.shape[-2:]) == (grid.height, grid.width):  # spatial (c_concat, masks)
        return torch.cat([value[..., y:y + grid.tile_h, x:x + grid.tile_w] for y, x in boxes])
    if value.shape[0] == batch:  # per batch item (c_crossattn, y, ...): the same for every tile
        return torch.cat([value] * len(boxes))
    return value  # batch 1: broadcast by the model as before


class TiledDenoiser:
    """A ``model_function_wrapper``: the model on overlapping latent tiles, ``tile_batch`` tiles per call.

    All tiles of one call share sigma, and ComfyUI's ``apply_model`` returns the denoised prediction, which
    is affine in the raw model output with coefficients set by sigma alone; so a blend with weights summing
    to 1 is the same whether taken of raw outputs or of denoised predictions. An earlier wrapper on the
    model (another node's) is kept and called once per tile batch.

    Thread-safe: ComfyUI 0.38's multi-GPU path calls one shared wrapper from worker threads, one per device.
    The only state kept between calls is the cache of blend layouts, read and filled under a lock; everything
    else of a call is local to it.
    """

    def __init__(self, tile: int, overlap: int, tile_batch: int, previous=None):
        self.tile, self.overlap, self.tile_batch, self.previous = tile, overlap, tile_batch, previous
        self._cache: dict = {}
        self._lock = threading.Lock()

    def __deepcopy__(self, memo):
        """ComfyUI 0.3.x's ``ModelPatcher.clone()`` deep-copies model_options: the copy gets the same settings,
        a copy of the earlier wrapper, an empty cache and its own lock (a lock cannot be copied)."""
        return TiledDenoiser(self.tile, self.overlap, self.tile_batch, copy.deepcopy(self.previous, memo))

    def to(self, device):  # ModelPatcher moves a wrapper that has .to() with the model
        if hasattr(self.previous, "to"):
            self.previous = self.previous.to(device)
        return self

    def layout(self, height: int, width: int, device) -> tuple[TileGrid, torch.Tensor]:
        key = (height, width, str(device))
        with self._lock:
            entry = self._cache.get(key)
            if entry is None:
                if len(self._cache) >= MAX_LAYOUTS:
                    self._cache.pop(next(iter(self._cache)))  # the oldest
                grid = tile_grid(height, width, self.tile, self.overlap)
                entry = self._cache[key] = (grid, grid.weights(device))
        return entry

    def __call__(self, apply_model, args: dict) -> torch.Tensor:
        x, timestep, c, chunks = args["input"], args["timestep"], args["c"], args["cond_or_uncond"]
        grid, weights = self.layout(x.shape[-2], x.shape[-1], x.device)
        batch, boxes = x.shape[0], grid.boxes
        out = None
        for first in range(0, len(boxes), self.tile_batch):
            group = boxes[first:first + self.tile_batch]
            tiles = torch.cat([x[..., y:y + grid.tile_h, x0:x0 + grid.tile_w] for y, x0 in group])
            call = {"input": tiles, "timestep": torch.cat([timestep] * len(group)),
                    "c": {k: _cut(v, k, grid, group, batch) for k, v in c.items()},
                    "cond_or_uncond": list(chunks) * len(group)}
            if self.previous is not None:
                result = self.previous(apply_model, call)
            else:
                result = apply_model(call["input"], call["timestep"], **call["c"])
            if out is None:
                out = torch.zeros((batch,) + result.shape[1:-2] + x.shape[-2:], dtype=result.dtype, device=x.device)
            for j, (y, x0) in enumerate(group):
                w = weights[first + j].to(result.dtype)
                out[..., y:y + grid.tile_h, x0:x0 + grid.tile_w] += result[j * batch:(j + 1) * batch] * w
            del result, tiles
        return out


def tiled_model(model, tile: int, overlap: int, tile_batch: int):
    """A clone of ``model`` whose every model call goes through TiledDenoiser (tile and overlap in latent units)."""
    patched = model.clone()
    previous = patched.model_options.get("model_function_wrapper")
    patched.set_model_unet_function_wrapper(TiledDenoiser(tile, overlap, tile_batch, previous))
    return patched


def for_latent(model, vae, samples: torch.Tensor, mode: str, tile_size: int, overlap: int, tile_batch: int,
               node: str, names=NODE_NAMES):
    """The model a node samples ``samples`` with: tiled when ``mode`` is on/auto and the latent is larger
    than one tile, else ``model`` itself (with a log line saying why when ``mode`` is on)."""
    if mode not in MODES:
        raise BoomerangInputError("denoise_tiling", f"one of {', '.join(MODES)}", mode)
    if mode == "off":
        return model
    check_tiling(tile_size, overlap, tile_batch, names)
    if vae is None:
        if mode == "on":
            raise BoomerangInputError("vae", "a VAE when denoise_tiling is on (its compression ratio turns the "
                                      "pixel tile size into latent samples)", "nothing connected",
                                      "Connect the VAE of the model, or set denoise_tiling to auto or off")
        log.info("%s: denoise tiling auto without a VAE: untiled (the latent tile size needs the VAE's ratio)",
                 node)
        return model
    tile, lap = latent_tile(vae, tile_size, overlap, model, names)
    height, width = samples.shape[-2], samples.shape[-1]
    if height <= tile and width <= tile:
        if mode == "on":
            log.info("%s: denoise_tiling on, but the %dx%d latent fits in one %d-sample tile (%d px): untiled",
                     node, width, height, tile, tile_size)
        return model
    grid = tile_grid(height, width, tile, lap)
    log.info("%s: tiled denoiser, %d tiles of %dx%d latent samples (overlap %d), %d per model call", node,
             len(grid), grid.tile_w, grid.tile_h, lap, tile_batch)
    return tiled_model(model, tile, lap, tile_batch)
