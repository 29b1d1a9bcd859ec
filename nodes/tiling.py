"""The tiled denoiser's settings: modes, defaults and input names (no ComfyUI). Their checks are in
``boomerang/checks.py``; the model wrapper that evaluates the model tile by tile is in ``comfy/tiling.py``."""
from __future__ import annotations

MODES = ("off", "auto", "on")
DEFAULT_TILE, DEFAULT_OVERLAP = 512, 64  # 1/8 overlap
SAME_CONDITIONING = ("Every tile gets the same conditioning (the whole prompt): a prompt naming one object can "
                     "draw it in every tile, so describe the whole picture's style and texture.")

MODEL_NAMES = ("tile_size", "overlap", "tile_batch")  # input names on Boomerang Tiled Model
NODE_NAMES = ("denoise_tile", "denoise_overlap", "tile_batch")  # on UpscaleThenBoomerang and CascadeLoop

