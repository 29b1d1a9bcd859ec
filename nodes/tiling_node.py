"""Boomerang Tiled Model: the tiled denoiser as a MODEL patch, for every Boomerang node and ComfyUI's KSampler."""
from __future__ import annotations

from comfy_api.latest import io

from ..boomerang import checks
from . import inputs, tiling
from .comfy.tiling import latent_tile, tiled_model


class BoomerangTiledModel(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return inputs.schema(
            node_id="BoomerangTiledModel",
            display_name="Boomerang Tiled Model",
            description="Patch a MODEL so that every model call runs on overlapping tiles, one batch of tiles at "
                        "a time, blended into one prediction with weights summing to 1 (no seams; memory set by "
                        "the tile, not the image). Works with every Boomerang node and with KSampler; the "
                        "sampler itself is unchanged. " + tiling.SAME_CONDITIONING,
            search_aliases=["tiled diffusion", "tile", "large image", "multidiffusion", "boomerang", "upscale"],
            inputs=[
                io.Model.Input("model", tooltip="The model to patch (it is cloned; the input is unchanged)."),
                io.Vae.Input("vae", tooltip="The model's VAE: only its compression ratio is used, to turn the "
                                            "pixel tile size into latent samples."),
                *inputs.tiling_inputs(tiling.MODEL_NAMES, with_mode=False),
            ],
            outputs=[io.Model.Output(display_name="MODEL")],
        )

    @classmethod
    def validate_inputs(cls, tile_size, overlap, tile_batch):
        return checks.validate_tiling(tile_size, overlap, tile_batch, tiling.MODEL_NAMES)

    @classmethod
    def execute(cls, model, vae, tile_size, overlap, tile_batch) -> io.NodeOutput:
        checks.check_tiling(tile_size, overlap, tile_batch, tiling.MODEL_NAMES)
        tile, lap = latent_tile(vae, tile_size, overlap, model, tiling.MODEL_NAMES)
        return io.NodeOutput(tiled_model(model, tile, lap, tile_batch))
