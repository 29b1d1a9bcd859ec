"""Batch invariance for whole-dataset runs: BoomerangItemSeeds (one seed per batch item, through the latent's
``batch_index``) and BoomerangPerItemModel (the network called once per item, so batch size changes no bit)."""
from __future__ import annotations

from comfy_api.latest import io

from ..boomerang import checks
from ..boomerang.checks import BoomerangInputError
from . import inputs
from .comfy import per_item, sampling


def parse_seeds(text: str, batch_size: int) -> list[int]:
    """The comma-separated seeds of ``text``, one per batch item, each in [0, 2**63 - 1]."""
    try:
        seeds = [int(s) for s in str(text).replace("\n", ",").split(",") if s.strip()]
    except ValueError:
        raise BoomerangInputError("seeds", "integers separated by commas", text) from None
    if len(seeds) != batch_size:
        raise BoomerangInputError("seeds", f"one seed per batch item ({batch_size})", f"{len(seeds)} seeds")
    bad = [s for s in seeds if not 0 <= s <= checks.MAX_ITEM_SEED]
    if bad:
        raise BoomerangInputError("seeds", f"integers in [0, {checks.MAX_ITEM_SEED}]", bad[0])
    return seeds


class BoomerangItemSeeds(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return inputs.schema(
            node_id="BoomerangItemSeeds",
            display_name="Boomerang Item Seeds (one per batch item)",
            description="Give each batch item its own seed: with seed 0 in BoomerangNoise and "
                        "PartialReverseSampler, item i then gets exactly the result of a batch of one with "
                        "seed seeds[i]. The dataset jobs use it so that outputs do not depend on batching. "
                        "Stored as the latent's batch_index, which the Boomerang nodes add to their seed; "
                        "use it with Boomerang nodes only (stock samplers read batch_index differently).",
            search_aliases=["boomerang", "seeds", "batch index", "per item seed", "dataset"],
            inputs=[
                io.Latent.Input("latent", tooltip="A batch of latents (e.g. from VAE Encode)."),
                io.String.Input("seeds", default="0", multiline=False,
                                tooltip="One integer seed per batch item, separated by commas, each in "
                                        f"[0, {checks.MAX_ITEM_SEED}]."),
            ],
            outputs=[io.Latent.Output(display_name="latent")],
        )

    @classmethod
    def execute(cls, latent, seeds) -> io.NodeOutput:
        samples = latent.get("samples") if isinstance(latent, dict) else None
        if samples is None:
            raise BoomerangInputError("latent", "a LATENT with a 'samples' tensor", type(latent).__name__)
        out = latent.copy()
        out["batch_index"] = parse_seeds(seeds, int(samples.shape[0]))
        out.pop(sampling.META, None)
        return io.NodeOutput(out)


class BoomerangPerItemModel(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return inputs.schema(
            node_id="BoomerangPerItemModel",
            display_name="Boomerang Per-Item Model (batch-size invariant)",
            description="Call the model once per batch item (cond and uncond of an item together), so a batched "
                        "result is bit-identical to the same item run alone. Batched float kernels round "
                        "differently for each batch size (about 1e-6, now and then one grey level in 8-bit "
                        "output); this trades the model's batch speed-up for exact reproducibility.",
            search_aliases=["boomerang", "batch invariant", "deterministic", "reproducible", "per item"],
            inputs=[io.Model.Input("model", tooltip="The diffusion model to wrap (a clone is returned).")],
            outputs=[io.Model.Output(display_name="model")],
        )

    @classmethod
    def execute(cls, model) -> io.NodeOutput:
        return io.NodeOutput(per_item.per_item_model(model))
