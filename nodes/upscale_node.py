"""UpscaleThenBoomerang: perceptual resolution enhancement (paper section 6)."""
from __future__ import annotations

import logging

from comfy_api.latest import io, ui

from ..boomerang import checks
from ..boomerang.checks import BoomerangInputError, check_int_range
from ..boomerang.imaging import (
    INTERPOLATIONS,
    match_channel_stats,
    pad_to_multiple,
    resize_image,
    target_size,
    tiled_map,
)
from . import inputs, tiling
from .cascade_node import color_match_input
from .comfy import sampling, vae_io
from .comfy.family import family_name
from .comfy.tiling import for_latent
from .passes import run_passes

log = logging.getLogger("boomerang")

MAX_FACTOR = 64.0


def encode(vae, pixels, tile_size: int):
    """VAE-encode [B, H, W, C] pixels to one latent per image (video VAEs included), in one pass of feathered
    tiles when larger than ``tile_size``."""
    ratio = vae_io.spatial_ratios(vae)[0]
    if not tile_size or max(pixels.shape[1], pixels.shape[2]) <= tile_size:
        return vae_io.vae_encode_images(vae, pixels)
    return tiled_map(pixels.movedim(-1, 1), lambda t: vae_io.vae_encode_images(vae, t.movedim(1, -1)), tile_size,
                     max(tile_size // 8, ratio), scale_num=1, scale_den=ratio, unit=ratio)


def decode(vae, samples, tile_size: int):
    """VAE-decode a latent to [B, H, W, C], in one pass of feathered tiles when the output exceeds ``tile_size``."""
    ratio = vae_io.spatial_ratios(vae)[1]
    tile = max(tile_size // ratio, 1)
    if not tile_size or max(samples.shape[-1], samples.shape[-2]) <= tile:
        return vae_io.vae_decode_images(vae, samples)
    return tiled_map(samples, lambda t: vae_io.vae_decode_images(vae, t).movedim(-1, 1), tile, max(tile // 8, 1),
                     scale_num=ratio).movedim(1, -1)


def check_upscale_inputs(factor, passes, tile_size, denoise_tiling, denoise_tile, denoise_overlap, tile_batch):
    """The run-time checks Upscale then Boomerang and Upscale Clip then Boomerang share (a linked value skips
    validate_inputs)."""
    if not 1.0 <= factor <= MAX_FACTOR:
        raise BoomerangInputError("factor", f"a number in [1, {MAX_FACTOR:g}]", factor)
    check_int_range("passes", passes, 1, 100)
    check_int_range("tile_size", tile_size, 0, 8192)
    if denoise_tiling != "off":
        checks.check_tiling(denoise_tile, denoise_overlap, tile_batch, tiling.NODE_NAMES)


def auto_steps(t_boom: int, per_pass: int, steps: int) -> int:
    """The fast path's steps when the node chose t_boom itself: at most one per timestep of that level (a small
    factor gives a small level, e.g. 1.1x -> 14/1000; the user's steps were not chosen for it). A t_boom the user
    set keeps the usual refusal of steps > t_boom."""
    if t_boom == 0 and 0 < per_pass < steps:
        log.info("automatic t_boom %d is below steps %d: %d steps", per_pass, steps, per_pass)
        return per_pass
    return steps


class UpscaleThenBoomerang(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return inputs.schema(
            node_id="UpscaleThenBoomerang",
            display_name="Upscale then Boomerang (PRE)",
            description="Perceptual resolution enhancement: upscale with plain interpolation, then Boomerang "
                        "(optionally cascaded) to add plausible detail. Output is exactly round(factor x "
                        "width) by round(factor x height).",
            search_aliases=["boomerang", "upscale", "super resolution", "PRE", "enhance", "hires fix"],
            inputs=[
                io.Image.Input("image", tooltip="The low-resolution image(s)."),
                io.Vae.Input("vae"),
                *inputs.sampling_inputs(),
                io.Float.Input("factor", default=4.0, min=1.0, max=MAX_FACTOR, step=0.5,
                               tooltip="Upscale factor (>= 1; 4, 8 and 16 as in the paper). 1 keeps the size."),
                io.Combo.Input("interpolation", options=list(INTERPOLATIONS), default="bilinear",
                               tooltip="Plain interpolation before Boomerang; the paper used bilinear."),
                inputs.t_boom(default=0, tooltip_extra=" Here 0 means automatic from the factor: t_boom/T = "
                              "0.2 at 4x, 0.4 at 8x, 0.6 at 16x (log-linear; cascades use at most 0.2 per pass) on "
                              "DDPM-table models; flow and EDM models get the level with Stable Diffusion's noise "
                              "at that fraction."),
                io.Int.Input("passes", default=1, min=1, max=100,
                             tooltip="1: vanilla PRE; more: cascaded PRE with small t_boom per pass."),
                *inputs.pass_settings(),
                inputs.seed(what="noise"),
                io.Int.Input("tile_size", default=512, min=0, max=8192, step=64,
                             tooltip="VAE tile size in pixels for large images (less memory); 0 never tiles."),
                color_match_input("RGB"),
                *inputs.tiling_inputs(),
            ],
            outputs=[io.Image.Output(display_name="image")],
        )

    @classmethod
    def validate_inputs(cls, factor, t_boom, sampler, steps, passes, tile_size, denoise_tile=tiling.DEFAULT_TILE,
                        denoise_overlap=tiling.DEFAULT_OVERLAP, tile_batch=1):
        return checks.first_problem(checks.check_range("factor", factor, 1.0, MAX_FACTOR, "a number"),
                                    checks.check_range("passes", passes, 1, 100),
                                    checks.check_range("tile_size", tile_size, 0, 8192),
                                    checks.check_fast_path(t_boom, sampler, steps),
                                    checks.validate_tiling(denoise_tile, denoise_overlap, tile_batch,
                                                           tiling.NODE_NAMES))

    @classmethod
    def execute(cls, image, vae, model, positive, negative, factor, interpolation, t_boom, passes, cfg, sampler,
                scheduler, steps, seed, tile_size, color_match, denoise_tiling="auto",
                denoise_tile=tiling.DEFAULT_TILE, denoise_overlap=tiling.DEFAULT_OVERLAP,
                tile_batch=1) -> io.NodeOutput:
        if image.shape[0] == 0:
            raise BoomerangInputError("image", "a batch of at least 1 image", "an empty batch (0 items)")
        check_upscale_inputs(factor, passes, tile_size, denoise_tiling, denoise_tile, denoise_overlap, tile_batch)
        checks.check_vae_scales(*vae_io.spatial_ratios(vae), family_name(model))
        width, height = target_size(image.shape[2], image.shape[1], factor)
        upscaled = resize_image(image[..., :3], width, height, interpolation)
        padded, _, _ = pad_to_multiple(upscaled, sampling.image_multiple(model, vae))  # cropped back after decoding
        latent = {"samples": vae_io.vae_encode(vae, padded, lambda v, p: encode(v, p, tile_size))}
        total = sampling.timesteps(model)
        per_pass, how = (t_boom, "") if t_boom > 0 else sampling.auto_level(model, factor, passes)
        steps = auto_steps(t_boom, per_pass, steps)
        log.info("UpscaleThenBoomerang: %dx%d -> %dx%d, %d pass(es) at t_boom %d/%d", image.shape[2],
                 image.shape[1], width, height, passes, per_pass, total)
        model = for_latent(model, vae, latent["samples"], denoise_tiling, denoise_tile, denoise_overlap,
                                  tile_batch, "UpscaleThenBoomerang")
        final, _ = run_passes(model, positive, negative, latent, [per_pass] * passes, cfg, sampler, scheduler,
                              steps, seed)
        pixels = vae_io.vae_decode(vae, final["samples"], lambda v, x: decode(v, x, tile_size))
        pixels = pixels[:, :height, :width, :3]
        if color_match != "off":
            pixels = match_channel_stats(pixels, upscaled, channel_dim=-1, mode=color_match).clamp(0.0, 1.0)
        line = sampling.level_for(model, per_pass).line(sampler, scheduler, steps)
        line += (f" ({how})" if how else "") + (f" x {passes} passes" if passes > 1 else "")
        return io.NodeOutput(pixels, ui=ui.PreviewText(line))
