"""Repeated Boomerang passes (cascaded PRE, paper section 6.3), shared by CascadeLoop and UpscaleThenBoomerang."""
from __future__ import annotations

import logging

import torch

from ..boomerang import noise as bnoise
from ..boomerang.imaging import match_channel_stats
from .comfy import sampling

log = logging.getLogger("boomerang")

COLOR_MATCH = ("off", "mean", "mean_std")


def run_passes(model, positive, negative, latent: dict, t_booms: list[int], cfg: float, sampler: str,
               scheduler: str, steps: int, seed: int, color_match: str = "off") -> tuple[dict, list[torch.Tensor]]:
    """B(B(...B(x0))) with one t_boom per pass; returns the final latent and every pass's samples.

    Pass p draws its forward and ancestral noise from streams of its own, so pass 0 equals a single
    Boomerang with the same seed. With ``color_match`` each pass's output is matched per item and channel
    to the input latent's mean (and standard deviation), which stops the drift of repeated passes.
    """
    current = sampling.model_latent(model, latent)
    reference = current["samples"]
    intermediates = []
    for p, t_boom in enumerate(t_booms):
        current, level = sampling.boomerang(model, positive, negative, current, t_boom, cfg, sampler, scheduler,
                                            steps, seed, bnoise.pass_stream(bnoise.STREAM_FORWARD, p),
                                            bnoise.pass_stream(bnoise.STREAM_ANCESTRAL, p))
        log.info("Boomerang pass %d/%d: %s", p + 1, len(t_booms), level.describe())
        if color_match != "off" and t_boom > 0:
            current = current.copy()
            current["samples"] = match_channel_stats(current["samples"], reference, channel_dim=1, mode=color_match)
        intermediates.append(current["samples"])
    return current, intermediates
