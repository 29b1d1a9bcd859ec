"""UpscaleClipThenBoomerang: perceptual resolution enhancement (paper section 6) of one video clip."""
from __future__ import annotations

import logging

from comfy_api.latest import io, ui

from ..boomerang.checks import BoomerangInputError
from ..boomerang.imaging import INTERPOLATIONS, match_channel_stats, pad_to_multiple, resize_image, target_size
from ..boomerang.video import clip_frames, pad_frames
from . import inputs, tiling
from .cascade_node import color_match_input
from .comfy import sampling, vae_io
from .comfy.tiling import for_latent
from .passes import run_passes
from .upscale_node import MAX_FACTOR, UpscaleThenBoomerang, auto_steps, check_upscale_inputs

log = logging.getLogger("boomerang")


class UpscaleClipThenBoomerang(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return inputs.schema(
            node_id="UpscaleClipThenBoomerang",
            display_name="Upscale Clip then Boomerang",
            description="Perceptual resolution enhancement of a video clip: the IMAGE frames are one clip, "
                        "upscaled with plain interpolation, encoded by the video VAE as one clip (its own "
                        "temporal compression), refined by Boomerang on the video latent (every frame in each "
                        "model call, so the detail added is coherent over time), decoded back. Output: the same "
                        "number of frames, each exactly round(factor x width) by round(factor x height).",
            search_aliases=["boomerang", "video upscale", "clip", "PRE", "enhance", "video super resolution",
                            "wan", "ltxv"],
            inputs=[
                io.Image.Input("image", tooltip="The frames of one low-resolution clip, in order (e.g. from Load "
                                                "Video); any frame count."),
                io.Vae.Input("vae", tooltip="The video model's VAE (Wan, LTXV, ...): it encodes the frames as one "
                                            "clip; its temporal compression sets the latent frame count."),
                *inputs.sampling_inputs(),
                io.Float.Input("factor", default=2.0, min=1.0, max=MAX_FACTOR, step=0.5,
                               tooltip="Spatial upscale factor (>= 1). 1 keeps the size (a clip variation)."),
                io.Combo.Input("interpolation", options=list(INTERPOLATIONS), default="bilinear",
                               tooltip="Plain interpolation of every frame before Boomerang; the paper used "
                                       "bilinear."),
                inputs.t_boom(default=0, tooltip_extra=" Here 0 means automatic from the factor, as in Upscale "
                              "then Boomerang (t_boom/T = 0.2 at 4x)."),
                io.Int.Input("passes", default=1, min=1, max=100,
                             tooltip="1: vanilla PRE; more: cascaded PRE with small t_boom per pass."),
                *inputs.pass_settings(),
                inputs.seed(what="noise"),
                io.Int.Input("tile_size", default=512, min=0, max=8192, step=64,
                             tooltip="VAE tile size in pixels for large frames (less memory; every frame in each "
                                     "tile); 0 never tiles."),
                color_match_input("RGB"),
                *inputs.tiling_inputs(),
            ],
            outputs=[io.Image.Output(display_name="image")],
        )

    validate_inputs = classmethod(UpscaleThenBoomerang.validate_inputs.__func__)  # the same widget checks

    @classmethod
    def execute(cls, image, vae, model, positive, negative, factor, interpolation, t_boom, passes, cfg, sampler,
                scheduler, steps, seed, tile_size, color_match, denoise_tiling="auto",
                denoise_tile=tiling.DEFAULT_TILE, denoise_overlap=tiling.DEFAULT_OVERLAP,
                tile_batch=1) -> io.NodeOutput:
        if image.shape[0] == 0:
            raise BoomerangInputError("image", "a clip of at least 1 frame", "an empty batch (0 frames)")
        check_upscale_inputs(factor, passes, tile_size, denoise_tiling, denoise_tile, denoise_overlap, tile_batch)
        formulas = vae_io.frame_formulas(vae)
        if formulas is None:
            raise BoomerangInputError("vae", "a video VAE (3-D latents with a time axis: Wan, LTXV, ...)",
                                      f"a VAE of {vae_io.latent_dims(vae)}-D latents",
                                      "For image batches use Upscale then Boomerang (PRE)")
        frames = image.shape[0]
        padded_frames, latent_frames = clip_frames(frames, *formulas)
        width, height = target_size(image.shape[2], image.shape[1], factor)
        upscaled = resize_image(image[..., :3], width, height, interpolation)
        padded, _, _ = pad_to_multiple(pad_frames(upscaled, padded_frames), sampling.image_multiple(model, vae))
        latent = {"samples": vae_io.encode_clip(vae, padded, tile_size)}
        total = sampling.timesteps(model)
        per_pass, how = (t_boom, "") if t_boom > 0 else sampling.auto_level(model, factor, passes)
        steps = auto_steps(t_boom, per_pass, steps)
        log.info("UpscaleClipThenBoomerang: %d frames (%d encoded, %d latent frames), %dx%d -> %dx%d, %d pass(es) "
                 "at t_boom %d/%d", frames, padded_frames, latent_frames, image.shape[2], image.shape[1], width,
                 height, passes, per_pass, total)
        model = for_latent(model, vae, latent["samples"], denoise_tiling, denoise_tile, denoise_overlap, tile_batch,
                           "UpscaleClipThenBoomerang")
        final, _ = run_passes(model, positive, negative, latent, [per_pass] * passes, cfg, sampler, scheduler,
                              steps, seed)
        pixels = vae_io.decode_clip(vae, final["samples"], tile_size)[:frames, :height, :width, :3]
        if color_match != "off":
            pixels = match_channel_stats(pixels, upscaled, channel_dim=-1, mode=color_match).clamp(0.0, 1.0)
        line = sampling.level_for(model, per_pass).line(sampler, scheduler, steps)
        line += (f" ({how})" if how else "") + (f" x {passes} passes" if passes > 1 else "")
        return io.NodeOutput(pixels, ui=ui.PreviewText(line))
