"""Boomerang Tiled Model: the tiled denoiser as a MODEL patch, for every Boomerang node and ComfyUI's KSampler."""
from __future__ import annotations

import logging

from comfy_api.latest import io

from ..boomerang import checks
from . import inputs, tiling
from .comfy import vae_io
from .comfy.tiling import latent_tile, tiled_model

log = logging.getLogger("boomerang")


def time_inputs() -> list:
    """The temporal window inputs (optional: API graphs saved before them keep running, windows off)."""
    return [
        io.Int.Input("temporal_window", default=0, min=0, max=checks.MAX_WINDOW, optional=True,
                     tooltip="Video latents only: latent frames per model call, in overlapping windows over time "
                             "blended like the tiles (memory set by the window, not the clip). 0: off, every "
                             "model call holds all frames. Counted in latent frames: the VAE packs several video "
                             "frames into one (Wan: 4, LTXV: 8; the log line gives the video frames)."),
        io.Int.Input("temporal_overlap", default=1, min=0, max=checks.MAX_WINDOW // 2 - 1, optional=True,
                     tooltip="Latent frames shared by neighbouring windows, cross-faded; below half the window. "
                             "0: windows only touch (a jump between windows is possible)."),
    ]


class BoomerangTiledModel(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return inputs.schema(
            node_id="BoomerangTiledModel",
            display_name="Boomerang Tiled Model",
            description="Patch a MODEL so that every model call runs on overlapping tiles, one batch of tiles at "
                        "a time, blended into one prediction with weights summing to 1 (no seams; memory set by "
                        "the tile, not the image). Works with every Boomerang node and with KSampler; the "
                        "sampler itself is unchanged. Video latents: each tile holds every frame of the clip, "
                        "or, with temporal_window, every frame of one window over time. "
                        + tiling.SAME_CONDITIONING,
            search_aliases=["tiled diffusion", "tile", "large image", "multidiffusion", "boomerang", "upscale",
                            "video", "context window", "temporal window"],
            inputs=[
                io.Model.Input("model", tooltip="The model to patch (it is cloned; the input is unchanged)."),
                io.Vae.Input("vae", tooltip="The model's VAE: only its compression ratios are used, to turn the "
                                            "pixel tile size into latent samples (and to log windows in frames)."),
                *inputs.tiling_inputs(tiling.MODEL_NAMES, with_mode=False),
                *time_inputs(),
            ],
            outputs=[io.Model.Output(display_name="MODEL")],
        )

    @classmethod
    def validate_inputs(cls, tile_size, overlap, tile_batch, temporal_window=0, temporal_overlap=1):
        return checks.first_problem(checks.validate_tiling(tile_size, overlap, tile_batch, tiling.MODEL_NAMES),
                                    checks.validate_time_window(temporal_window, temporal_overlap))

    @classmethod
    def execute(cls, model, vae, tile_size, overlap, tile_batch, temporal_window=0,
                temporal_overlap=1) -> io.NodeOutput:
        checks.check_tiling(tile_size, overlap, tile_batch, tiling.MODEL_NAMES)
        checks.check_time_window(temporal_window, temporal_overlap)
        tile, lap = latent_tile(vae, tile_size, overlap, model, tiling.MODEL_NAMES)
        if temporal_window:
            ratio = vae_io.temporal_ratio(vae)
            log.info("BoomerangTiledModel: temporal windows of %d latent frames (%s video frames), overlap %d",
                     temporal_window, "?" if ratio is None else temporal_window * ratio, temporal_overlap)
        return io.NodeOutput(tiled_model(model, tile, lap, tile_batch, temporal_window, temporal_overlap))
