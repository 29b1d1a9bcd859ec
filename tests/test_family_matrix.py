"""The family matrix (issue 18), part 1: noise levels and sampling on every tiny family, through ComfyUI's executor.

Families: testkit/families.py (SD1.5, SD2-v, SDXL, SD3.5, Flux dev, Qwen-Image, Chroma Radiance, Lumina 2,
Cosmos Predict2, SDXL as Playground-style EDM and as CosXL-style v-EDM) and testkit/families_video.py (Wan 2.2
TI2V 5B, LTXV), each built through ComfyUI's own supported_models config and model_base classes.

Truths, none taken from the pack's code:
- the level at t_boom in closed form from the family's ComfyUI sampling settings (testkit.family_matrix.
  expected_sigma: DDPM betas, discrete-flow and Flux time shifts; ComfyUI's percent_to_sigma for EDM ranges);
- the noisy latent as ComfyUI's own model_sampling.noise_scaling and latent format in/out make it from the pack's
  documented per-item noise (item i: seed + i, forward stream);
- t_boom 0 is the identity; item i of a batch at seed s is that item alone at seed s + i;
- with a noise_mask, ComfyUI's inpainting rule keeps the masked-out latent samples at x0.
"""
from __future__ import annotations

import pytest
import torch

from boomerang import noise as bnoise
from boomerang.advice import RECOMMENDED
from testkit import family_matrix as fm

T_BOOM = 600
SEED = 41


def noise_node(obj: str, t_boom: int, seed: int, latent_output: int = 5) -> dict:
    return {"class_type": "BoomerangNoise", "inputs": {"model": [obj, 0], "latent": [obj, latent_output],
                                                       "t_boom": t_boom, "seed": seed}}


def comfy_noised(model, x0: torch.Tensor, sigma: float, seed: int) -> torch.Tensor:
    """x_t in user latent units from ComfyUI's own functions: latent format in, noise_scaling, latent format out."""
    ms = model.get_model_object("model_sampling")
    eps = bnoise.per_item_normal(x0.shape, bnoise.item_seeds(seed, x0.shape[0]), bnoise.STREAM_FORWARD)
    x_in = model.model.process_latent_in(x0.float())
    return model.model.process_latent_out(ms.noise_scaling(torch.tensor([sigma]), eps.float(), x_in,
                                                           max_denoise=False))


@pytest.mark.parametrize("name", fm.ALL)
def test_level_identity_and_per_item_noise(comfy, name):
    """BoomerangNoise on each family: sigma is the model's own level at t_boom (1e-4 relative), the noisy latent is
    ComfyUI's noise_scaling of the documented noise, t_boom 0 returns the input bit for bit, and item 1 of a batch
    at seed s equals that item alone at seed s + 1."""
    tiny = fm.family(name)
    x0 = fm.random_latent(name, 2, seed=5)
    graph = {
        "obj": fm.put(comfy, f"lvl_{name}", model=tiny.model, latent={"samples": x0}),
        "one": fm.put(comfy, f"lvl1_{name}", model=tiny.model, latent={"samples": x0[1:2].clone()}),
        "noise": noise_node("obj", T_BOOM, SEED),
        "zero": noise_node("obj", 0, SEED),
        "alone": noise_node("one", T_BOOM, SEED + 1),
        "c1": fm.capture("noisy", latent=["noise", 0], number=["noise", 1]),
        "c2": fm.capture("zero", latent=["zero", 0], number=["zero", 1]),
        "c3": fm.capture("alone", latent=["alone", 0]),
    }
    out = comfy.run(graph)
    sigma = fm.expected_sigma(tiny.model, T_BOOM)
    assert out["noisy"]["number"] == pytest.approx(sigma, rel=1e-4)
    noisy = out["noisy"]["latent"]["samples"]
    assert tuple(noisy.shape) == tuple(x0.shape)
    torch.testing.assert_close(noisy, comfy_noised(tiny.model, x0, sigma, SEED), rtol=1e-5, atol=1e-5)
    assert out["zero"]["number"] == 0.0
    assert torch.equal(out["zero"]["latent"]["samples"], x0)
    assert torch.equal(noisy[1:2], out["alone"]["latent"]["samples"])


RUNS = {  # (t_boom, sampler, scheduler, steps): Algorithm 1 at a small t_boom; the recommended fast setting
    "exact": (4, "boomerang_exact", "simple", 20),
    "fast": (300, RECOMMENDED.sampler, RECOMMENDED.scheduler, RECOMMENDED.steps),
}


def half_mask(shape) -> torch.Tensor:
    """noise_mask [batch, 1, height, width]: 1 (resample) on the top half, 0 (keep) on the bottom half."""
    mask = torch.zeros((shape[0], 1) + tuple(shape[-2:]))
    mask[..., : shape[-2] // 2, :] = 1.0
    return mask


@pytest.mark.parametrize("run", list(RUNS))
@pytest.mark.parametrize("name", fm.ALL)
def test_boomerang_runs_and_keeps_the_masked_region(comfy, name, run):
    """Boomerang with boomerang_exact (t_boom 4) and with the recommended fast sampler (t_boom 300), with a
    noise_mask: finite output of the input's shape, the masked-out half still x0 (1e-5), the other half resampled."""
    tiny = fm.family(name)
    t_boom, sampler, scheduler, steps = RUNS[run]
    x0 = fm.random_latent(name, 1, seed=6)
    mask = half_mask(x0.shape)
    settings = {"cfg": 1.0, "sampler": sampler, "scheduler": scheduler, "steps": steps, "seed": 3, "t_boom": t_boom}
    graph = {
        "obj": fm.put(comfy, f"run_{name}", model=tiny.model, positive=tiny.positive, negative=tiny.negative,
                      latent={"samples": x0, "noise_mask": mask}),
        "masked": {"class_type": "Boomerang", "inputs": {"model": ["obj", 0], "positive": ["obj", 2],
                                                         "negative": ["obj", 3], "latent": ["obj", 5], **settings}},
        "c": fm.capture("masked", latent=["masked", 0]),
    }
    out = comfy.run(graph)
    masked = out["masked"]["latent"]["samples"]
    assert tuple(masked.shape) == tuple(x0.shape)
    assert torch.isfinite(masked).all()
    keep = x0.shape[-2] // 2
    torch.testing.assert_close(masked[..., keep:, :], x0[..., keep:, :], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(masked[..., :keep, :], x0[..., :keep, :], atol=1e-3)  # the top half was resampled


@pytest.mark.parametrize("name", fm.ALL)
def test_cascade_loop_runs(comfy, name):
    """CascadeLoop, 2 passes of euler: the final latent has the input's shape, all_passes holds both passes, and
    the last pass is the final result."""
    tiny = fm.family(name)
    x0 = fm.random_latent(name, 1, seed=7)
    graph = {
        "obj": fm.put(comfy, f"cas_{name}", model=tiny.model, positive=tiny.positive, negative=tiny.negative,
                      latent={"samples": x0}),
        "cas": {"class_type": "CascadeLoop", "inputs": {
            "model": ["obj", 0], "positive": ["obj", 2], "negative": ["obj", 3], "latent": ["obj", 5],
            "t_boom": 100, "cfg": 1.0, "sampler": "euler", "scheduler": "simple", "steps": 2, "seed": 4,
            "passes": 2, "color_match": "off"}},
        "c": fm.capture("final", latent=["cas", 0]),
        "c2": fm.capture("all", latent=["cas", 1]),
    }
    out = comfy.run(graph)
    final, every = out["final"]["latent"]["samples"], out["all"]["latent"]["samples"]
    assert tuple(final.shape) == tuple(x0.shape)
    assert tuple(every.shape) == (2,) + tuple(x0.shape[1:])
    assert torch.isfinite(every).all()
    assert torch.equal(every[1:2], final)
