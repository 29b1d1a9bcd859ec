"""BoomerangNoise, PartialReverseSampler, the one-node Boomerang shortcut and the exact SAMPLER."""
from __future__ import annotations

import torch

from comfy_api.latest import io, ui

from ..boomerang import checks
from . import inputs
from .comfy import pack_samplers, sampling

LEVEL_UI = "boomerang_level"  # BoomerangNoise's UI output key for {t_boom, T, sigma}


class BoomerangNoise(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return inputs.schema(
            node_id="BoomerangNoise",
            display_name="Boomerang Noise (forward to t_boom)",
            description="Boomerang step 1 (Luzi et al. 2024): add forward-diffusion noise to a latent in one "
                        "shot, up to timestep t_boom of the model's own schedule. Feed the result to "
                        "PartialReverseSampler; it carries its start level and seed.",
            search_aliases=["boomerang", "forward noise", "add noise", "local sampling", "noise to timestep"],
            inputs=[
                io.Model.Input("model", tooltip="The model whose schedule defines t_boom; use the same one "
                                                "in PartialReverseSampler."),
                io.Latent.Input("latent", tooltip="The clean latent x0 (e.g. from VAE Encode)."),
                inputs.t_boom(),
                inputs.seed(what="forward noise"),
            ],
            outputs=[
                io.Latent.Output("noisy_latent", display_name="noisy_latent",
                                 tooltip="x_t at t_boom; decode it to see the noise level."),
                io.Float.Output("sigma", display_name="sigma", tooltip="The model's sigma at t_boom."),
                io.String.Output("level", display_name="level", tooltip="t_boom, t_boom/T and sigma in words."),
            ],
        )

    @classmethod
    def execute(cls, model, latent, t_boom, seed) -> io.NodeOutput:
        out, level = sampling.add_forward_noise(model, latent, t_boom, seed)
        text = level.describe()
        # The level text for the node's preview, and the level as numbers for API clients (headless demo).
        numbers = {"t_boom": level.t_boom, "T": level.total, "sigma": level.sigma}
        return io.NodeOutput(out, level.sigma, text, ui={**ui.PreviewText(text).as_dict(), LEVEL_UI: (numbers,)})


class PartialReverseSampler(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return inputs.schema(
            node_id="PartialReverseSampler",
            display_name="Partial Reverse Sampler (Boomerang)",
            description="Boomerang step 2: run the model's ordinary reverse process from the latent's t_boom "
                        "level back to 0: a fast schedule that starts exactly at t_boom, or boomerang_exact, the "
                        "paper's Algorithm 1 (t_boom model calls).",
            search_aliases=["boomerang", "partial denoise", "reverse diffusion", "img2img exact"],
            inputs=[
                *inputs.sampling_inputs(),
                io.Latent.Input("latent", tooltip="The output of BoomerangNoise."),
                *inputs.pass_settings(),
                inputs.seed(what="ancestral noise of the reverse process"),
            ],
            outputs=[io.Latent.Output(display_name="latent")],
        )

    @classmethod
    def validate_inputs(cls, sampler, steps):
        return checks.check_fast_path(checks.MAX_T, sampler, steps)

    @classmethod
    def execute(cls, model, positive, negative, latent, cfg, sampler, scheduler, steps, seed) -> io.NodeOutput:
        out, level = sampling.reverse(model, positive, negative, latent, cfg, sampler, scheduler, steps, seed)
        return io.NodeOutput(out, ui=ui.PreviewText(level.line(sampler, scheduler, steps)))


class Boomerang(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return inputs.schema(
            node_id="Boomerang",
            display_name="Boomerang (local sample)",
            description="Boomerang local sampling in one node: noise a latent to t_boom, then reverse it "
                        "back to 0. Small t_boom gives near copies, large t_boom new images; each seed gives "
                        "a different local sample.",
            search_aliases=["boomerang", "local sample", "variation", "anonymize", "augment"],
            inputs=[
                *inputs.sampling_inputs(),
                io.Latent.Input("latent", tooltip="The clean latent x0 (e.g. from VAE Encode)."),
                inputs.t_boom(),
                *inputs.pass_settings(),
                inputs.seed(what="forward and ancestral noise"),
            ],
            outputs=[io.Latent.Output(display_name="latent")],
        )

    @classmethod
    def validate_inputs(cls, t_boom, sampler, steps):
        return checks.check_fast_path(t_boom, sampler, steps)

    @classmethod
    def execute(cls, model, positive, negative, latent, t_boom, cfg, sampler, scheduler, steps, seed) -> io.NodeOutput:
        out, level = sampling.boomerang(model, positive, negative, latent, t_boom, cfg, sampler, scheduler, steps,
                                        seed)
        return io.NodeOutput(out, ui=ui.PreviewText(level.line(sampler, scheduler, steps)))


class BoomerangExactSampler(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return inputs.schema(
            node_id="BoomerangExactSampler",
            display_name="Sampler boomerang_exact",
            description="The paper's exact ancestral DDPM step (posterior variance beta~, no noise on the "
                        "last step) as a SAMPLER for SamplerCustom / SamplerCustomAdvanced. Give it one sigma "
                        "per integer timestep (BoomerangSigmas) to get Algorithm 1.",
            search_aliases=["boomerang", "ddpm exact", "sampler"],
            inputs=[],
            outputs=[io.Sampler.Output()],
        )

    @classmethod
    def execute(cls) -> io.NodeOutput:
        return io.NodeOutput(pack_samplers.exact_ksampler())


class BoomerangFastSampler(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return inputs.schema(
            node_id="BoomerangFastSampler",
            display_name="Sampler boomerang_fast",
            description="The pack's fast Boomerang sampler as a SAMPLER for SamplerCustom / "
                        "SamplerCustomAdvanced: len(sigmas) - 1 model calls (10 recommended) from the first sigma, "
                        "on its own grid of levels down to the model's lowest level (only the first sigma and the "
                        "count are read). At 10 calls it holds the exact law of a Boomerang pass (spread, share of "
                        "outputs that change mode) at t_boom 0.2 T - 0.8 T, EPS and flow (docs/FRONTIER.md).",
            search_aliases=["boomerang", "fast sampler", "10 steps", "sampler"],
            inputs=[],
            outputs=[io.Sampler.Output()],
        )

    @classmethod
    def execute(cls) -> io.NodeOutput:
        return io.NodeOutput(pack_samplers.fast_ksampler())


class BoomerangSigmas(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return inputs.schema(
            node_id="BoomerangSigmas",
            display_name="Boomerang Sigmas (from t_boom)",
            description="The sigmas of a Boomerang pass: with boomerang_exact one per integer timestep "
                        "t_boom..1 then 0, otherwise `steps` of `scheduler` starting exactly at t_boom.",
            search_aliases=["boomerang", "sigmas", "schedule from timestep"],
            inputs=[
                io.Model.Input("model"),
                inputs.t_boom(),
                inputs.sampler(),
                inputs.scheduler(),
                inputs.steps(),
            ],
            outputs=[io.Sigmas.Output()],
        )

    @classmethod
    def validate_inputs(cls, t_boom, sampler, steps):
        return checks.check_fast_path(t_boom, sampler, steps)

    @classmethod
    def execute(cls, model, t_boom, sampler, scheduler, steps) -> io.NodeOutput:
        level = sampling.level_for(model, t_boom)
        if t_boom == 0:
            return io.NodeOutput(torch.FloatTensor([]))
        return io.NodeOutput(sampling.schedule(model, level, sampler, scheduler, steps))
