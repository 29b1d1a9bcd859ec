"""The tiled denoiser's settings: modes, tile bounds, input names and their checks (no ComfyUI).

The model wrapper that evaluates the model tile by tile is in ``comfy/tiling.py``.
"""
from __future__ import annotations

from ..boomerang.errors import BoomerangInputError, check_int_range

MODES = ("off", "auto", "on")
MIN_TILE, MAX_TILE = 64, 8192
DEFAULT_TILE, DEFAULT_OVERLAP = 512, 64  # 1/8 overlap
MAX_TILE_BATCH = 64
SAME_CONDITIONING = ("Every tile gets the same conditioning (the whole prompt): a prompt naming one object can "
                     "draw it in every tile, so describe the whole picture's style and texture.")


MODEL_NAMES = ("tile_size", "overlap", "tile_batch")  # input names on Boomerang Tiled Model
NODE_NAMES = ("denoise_tile", "denoise_overlap", "tile_batch")  # on UpscaleThenBoomerang and CascadeLoop


def _overlap_allowed(names, tile_size) -> str:
    return f"an integer in [0, {names[0]} / 2) = [0, {tile_size / 2:g}) pixels"


def validate(tile_size, overlap, tile_batch, names=MODEL_NAMES) -> bool | str:
    """validate_inputs messages for the tiling inputs (None: a linked input, checked when the node runs)."""
    for name, value, low, high in ((names[0], tile_size, MIN_TILE, MAX_TILE),
                                   (names[2], tile_batch, 1, MAX_TILE_BATCH)):
        if value is not None and not low <= value <= high:
            return f"{name} must be an integer in [{low}, {high}]; received {value}"
    if tile_size is not None and overlap is not None and not 0 <= overlap < tile_size / 2:
        return f"{names[1]} must be {_overlap_allowed(names, tile_size)}; received {overlap}"
    return True


def check(tile_size: int, overlap: int, tile_batch: int, names=MODEL_NAMES) -> None:
    """BoomerangInputError for a tile outside [64, 8192] px, an overlap of half a tile or more, tile_batch < 1."""
    check_int_range(names[0], tile_size, MIN_TILE, MAX_TILE, "Tile sides are in pixels")
    if isinstance(overlap, bool) or not isinstance(overlap, int) or not 0 <= overlap < tile_size / 2:
        raise BoomerangInputError(names[1], _overlap_allowed(names, tile_size), overlap,
                                  "Neighbouring tiles share this many pixels; half a tile or more would "
                                  "evaluate positions three or more times")
    check_int_range(names[2], tile_batch, 1, MAX_TILE_BATCH)
