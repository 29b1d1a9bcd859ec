"""CascadeLoop: cascaded Boomerang (paper section 6.3) with every pass kept for picking."""
from __future__ import annotations

import torch

from comfy_api.latest import io

from ..boomerang import checks
from ..boomerang.schedule import parse_pass_schedule
from . import inputs, tiling
from .comfy import sampling
from .comfy.tiling import for_latent
from .passes import COLOR_MATCH, run_passes


def color_match_input(space: str) -> io.Combo.Input:
    return io.Combo.Input(
        "color_match", options=list(COLOR_MATCH), default="off",
        tooltip=f"Match each pass's per-channel {space} statistics to the input's, against the colour drift "
                "of repeated passes. off: no change; mean: shift only; mean_std: shift and scale.")


class CascadeLoop(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return inputs.schema(
            node_id="CascadeLoop",
            display_name="Boomerang Cascade Loop",
            description="Cascaded Boomerang: repeat noise-to-t_boom + reverse `passes` times, each pass on the "
                        "previous result (small t_boom per pass). Returns the final latent and every pass as "
                        "one batch, so you can pick the best pass.",
            search_aliases=["boomerang", "cascade", "repeat", "iterate", "cascaded PRE"],
            inputs=[
                *inputs.sampling_inputs(),
                io.Latent.Input("latent", tooltip="The clean latent to start from."),
                inputs.t_boom(default=50),
                *inputs.pass_settings(),
                inputs.seed(what="noise of all passes"),
                io.Int.Input("passes", default=4, min=1, max=100,
                             tooltip="Number of Boomerang passes: 1 is a single Boomerang; the paper's "
                                     "cascades picked the best of up to 8."),
                io.String.Input("t_boom_schedule", default="", multiline=False, optional=True,
                                tooltip="Optional per-pass t_boom, e.g. '50,50,30' (one value per pass, or "
                                        "one value for all). Empty: t_boom for every pass."),
                color_match_input("latent"),
                *inputs.tiling_inputs(),
                io.Vae.Input("vae", optional=True,
                             tooltip="Optional, for denoise tiling only: the model's VAE, whose compression "
                                     "ratio turns the pixel tile size into latent samples. Without it, auto "
                                     "runs untiled and on is an error."),
            ],
            outputs=[
                io.Latent.Output("result", display_name="latent", tooltip="The result of the last pass."),
                io.Latent.Output("all_passes", display_name="all_passes",
                                 tooltip="Every pass's result as one batch: pass 1's items, then pass 2's..."),
            ],
        )

    @classmethod
    def validate_inputs(cls, t_boom, sampler, steps, passes, denoise_tile=tiling.DEFAULT_TILE,
                        denoise_overlap=tiling.DEFAULT_OVERLAP, tile_batch=1):
        return checks.first_problem(checks.check_range("passes", passes, 1, 100),
                                    checks.check_fast_path(t_boom, sampler, steps),
                                    checks.validate_tiling(denoise_tile, denoise_overlap, tile_batch,
                                                           tiling.NODE_NAMES))

    @classmethod
    def execute(cls, model, positive, negative, latent, t_boom, cfg, sampler, scheduler, steps, seed, passes,
                color_match, t_boom_schedule="", denoise_tiling="auto", denoise_tile=tiling.DEFAULT_TILE,
                denoise_overlap=tiling.DEFAULT_OVERLAP, tile_batch=1, vae=None) -> io.NodeOutput:
        total = sampling.timesteps(model)
        t_booms = parse_pass_schedule(t_boom_schedule, passes, t_boom, total)
        samples = sampling.check_latent(model, latent)
        model = for_latent(model, vae, samples, denoise_tiling, denoise_tile, denoise_overlap, tile_batch,
                                  "CascadeLoop")
        final, intermediates = run_passes(model, positive, negative, latent, t_booms, cfg, sampler, scheduler,
                                          steps, seed, color_match)
        return io.NodeOutput(final, {"samples": torch.cat(intermediates, dim=0)})
