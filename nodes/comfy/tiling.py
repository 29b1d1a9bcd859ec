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

from ...boomerang.checks import BoomerangInputError, check_clip_for_window, check_tile_patch, check_tiling
from ...boomerang.imaging import TileGrid, tile_grid
from ...boomerang.video import Windows, windows
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


def _cut(value, name: str, grid: TileGrid, boxes, batch: int, frames: int, span: int):
    """One conditioning entry for a batch of (window start, y, x) boxes (box-major: box 0's items, box 1's
    items, ...); ``frames`` is the latent's frame count (0: no time axis), ``span`` a window's length."""
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
        timed = frames and value.ndim == 5 and value.shape[-3] == frames  # a clip's concat or mask: its window too
        return torch.cat([_piece(value, box, grid, span if timed else 0) for box in boxes])
    if value.shape[0] == batch:  # per batch item (c_crossattn, y, ...): the same for every tile
        return torch.cat([value] * len(boxes))
    return value  # batch 1: broadcast by the model as before


def _piece(x: torch.Tensor, box, grid: TileGrid, span: int) -> torch.Tensor:
    """The (window, tile) ``box`` = (t, y, x) of ``x``; all frames when ``span`` is 0 (no windows, or 4-D)."""
    t, y, x0 = box
    if span:
        return x[..., t:t + span, y:y + grid.tile_h, x0:x0 + grid.tile_w]
    return x[..., y:y + grid.tile_h, x0:x0 + grid.tile_w]


class TiledDenoiser:
    """A ``model_function_wrapper``: the model on overlapping latent tiles, ``tile_batch`` tiles per call.

    Every tile of a video latent [batch, channels, frames, h, w] holds all its frames, or, with temporal
    windows (``window`` latent frames, 0 = off), all the frames of one window: each model call gets at most
    ``tile_batch`` (window, tile) pairs, and the pairs are blended with the product of the window's and the
    tile's weights (each set summing to 1).

    All tiles of one call share sigma, and ComfyUI's ``apply_model`` returns the denoised prediction, which
    is affine in the raw model output with coefficients set by sigma alone; so a blend with weights summing
    to 1 is the same whether taken of raw outputs or of denoised predictions. An earlier wrapper on the
    model (another node's) is kept and called once per tile batch.

    Thread-safe: ComfyUI 0.38's multi-GPU path calls one shared wrapper from worker threads, one per device.
    The only state kept between calls is the cache of blend layouts, read and filled under a lock; everything
    else of a call is local to it.
    """

    def __init__(self, tile: int, overlap: int, tile_batch: int, previous=None, window: int = 0,
                 window_overlap: int = 0):
        self.tile, self.overlap, self.tile_batch, self.previous = tile, overlap, tile_batch, previous
        self.window, self.window_overlap = window, window_overlap
        self._cache: dict = {}
        self._lock = threading.Lock()

    def __deepcopy__(self, memo):
        """ComfyUI 0.3.x's ``ModelPatcher.clone()`` deep-copies model_options: the copy gets the same settings,
        a copy of the earlier wrapper, an empty cache and its own lock (a lock cannot be copied)."""
        return TiledDenoiser(self.tile, self.overlap, self.tile_batch, copy.deepcopy(self.previous, memo),
                             self.window, self.window_overlap)

    def to(self, device):  # ModelPatcher moves a wrapper that has .to() with the model
        if hasattr(self.previous, "to"):
            self.previous = self.previous.to(device)
        return self

    def _cached(self, key, make):
        with self._lock:
            entry = self._cache.get(key)
            if entry is None:
                if len(self._cache) >= MAX_LAYOUTS:
                    self._cache.pop(next(iter(self._cache)))  # the oldest
                entry = self._cache[key] = make()
        return entry

    def layout(self, height: int, width: int, device) -> tuple[TileGrid, torch.Tensor]:
        """The tile grid of a height x width latent and its [tiles, h, w] blend weights (cached)."""
        def make():
            grid = tile_grid(height, width, self.tile, self.overlap)
            return grid, grid.weights(device)

        return self._cached((height, width, str(device)), make)

    def time_layout(self, frames: int, device) -> tuple[Windows, torch.Tensor]:
        """The temporal windows of a clip of ``frames`` latent frames and their [windows, length] weights."""
        def make():
            spans = windows(frames, self.window, self.window_overlap)
            return spans, spans.weights(device)

        return self._cached(("frames", frames, str(device)), make)

    def __call__(self, apply_model, args: dict) -> torch.Tensor:
        x, timestep, c, chunks = args["input"], args["timestep"], args["c"], args["cond_or_uncond"]
        if self.window:
            check_clip_for_window(tuple(x.shape), self.window)
        grid, weights = self.layout(x.shape[-2], x.shape[-1], x.device)
        spans, time_weights = self.time_layout(x.shape[2], x.device) if self.window else (None, None)
        span = 0 if spans is None else spans.length
        starts = (0,) if spans is None else spans.starts
        boxes = [(t, y, x0) for t in starts for y, x0 in grid.boxes]
        batch, frames = x.shape[0], (x.shape[2] if span else 0)
        out = None
        for first in range(0, len(boxes), self.tile_batch):
            group = boxes[first:first + self.tile_batch]
            call = {"input": torch.cat([_piece(x, box, grid, span) for box in group]),
                    "timestep": torch.cat([timestep] * len(group)),
                    "c": {k: _cut(v, k, grid, group, batch, frames, span) for k, v in c.items()},
                    "cond_or_uncond": list(chunks) * len(group)}
            if self.previous is not None:
                result = self.previous(apply_model, call)
            else:
                result = apply_model(call["input"], call["timestep"], **call["c"])
            if out is None:
                out = torch.zeros((batch,) + result.shape[1:-2 - bool(span)] + x.shape[2 if span else -2:],
                                  dtype=result.dtype, device=x.device)
            for j, box in enumerate(group):
                k = first + j
                w = weights[k % len(grid)].to(result.dtype)
                if span:
                    w = time_weights[k // len(grid)].to(result.dtype)[:, None, None] * w
                _piece(out, box, grid, span).add_(result[j * batch:(j + 1) * batch] * w)
            del result, call
        return out


def tiled_model(model, tile: int, overlap: int, tile_batch: int, window: int = 0, window_overlap: int = 0):
    """A clone of ``model`` whose every model call goes through TiledDenoiser (tile and overlap in latent
    samples, the temporal window and its overlap in latent frames)."""
    patched = model.clone()
    previous = patched.model_options.get("model_function_wrapper")
    patched.set_model_unet_function_wrapper(TiledDenoiser(tile, overlap, tile_batch, previous, window,
                                                          window_overlap))
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
