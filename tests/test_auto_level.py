"""UpscaleThenBoomerang's automatic t_boom on flow models (issue 18 part 4; found by the workflows work): the paper's
rule is a fraction of a DDPM timestep table (4x -> 0.2 T). Read as flow time it is far stronger (Wan's 0.2 T is
about SD's 570), so flow and EDM models now get the level with the same signal-to-noise ratio as Stable Diffusion's
timestep at that fraction; DDPM-table models keep the fraction. Truth: the SD schedule's SNR from
testkit.oracle_law (numpy closed form) and each family's level in closed form (testkit.family_matrix)."""
from __future__ import annotations

import math
import re

import pytest
import torch

from testkit import family_matrix as fm
from testkit.oracle_law import sd_snr


def flow_snr(model, t: int) -> float:
    sigma = fm.expected_sigma(model, t)
    return ((1.0 - sigma) / sigma) ** 2


def same_snr_t(model, sd_t: int) -> int:
    target = math.log(sd_snr(sd_t))
    return min(range(1, 1000), key=lambda t: abs(math.log(flow_snr(model, t)) - target))


def auto_level_line(comfy, name: str, factor: float, sampler: str = "euler", steps: int = 1) -> str:
    tiny = fm.family(name)
    image = torch.rand((1, 16, 16, 3), generator=torch.Generator().manual_seed(1))
    graph = {
        "obj": fm.put(comfy, f"auto_{name}", model=tiny.model, vae=fm.vae(name), positive=tiny.positive,
                      negative=tiny.negative, image=image),
        "up": {"class_type": "UpscaleThenBoomerang", "inputs": {
            "image": ["obj", 4], "vae": ["obj", 1], "model": ["obj", 0], "positive": ["obj", 2],
            "negative": ["obj", 3], "factor": factor, "interpolation": "bilinear", "t_boom": 0, "passes": 1,
            "cfg": 1.0, "sampler": sampler, "scheduler": "karras", "steps": steps, "seed": 5, "tile_size": 0,
            "color_match": "off", "denoise_tiling": "off", "denoise_tile": 512, "denoise_overlap": 64,
            "tile_batch": 1}},
        "c": fm.capture("up", image=["up", 0]),
    }
    out = comfy.run(graph)
    return str(out["_history"])


@pytest.mark.parametrize("name", ["sd35", "flux_dev", "wan22"])
def test_flow_models_get_the_level_of_sds_noise(comfy, name):
    """At 4x (SD's 200/1000) a flow model's automatic t_boom is the level whose SNR is closest to SD's at 200."""
    text = auto_level_line(comfy, name, 4.0)
    expected = same_snr_t(fm.family(name).model, 200)
    assert expected < 200  # flow time is stronger than SD's timestep at the same fraction
    found = re.search(r"t_boom (\d+)/1000\), sigma [^ ]+ - local sample", text)
    assert found, text
    assert int(found.group(1)) == expected, text
    assert "auto: the noise of SD's timestep 200" in text


def test_ddpm_table_models_keep_the_papers_fraction(comfy):
    text = auto_level_line(comfy, "sd15", 4.0)
    assert re.search(r"timestep 200/1000 \(20%\)", text) and "auto: 0.2 T" in text, text


def test_a_small_factor_with_the_default_steps_runs_at_one_step_per_timestep(comfy):
    """Regression: at 1.1x the automatic level is SD's 14/1000 (0.1 x log2(1.1) = 0.0138), below the default 20
    steps, and the node refused the run ("steps must be an integer in [1, 14]") though the user chose neither
    value. Now an automatic level takes at most one step per timestep: 14 model evaluations."""
    text = auto_level_line(comfy, "sd15", 1.1, sampler="dpmpp_3m_sde", steps=20)
    assert re.search(r"timestep 14/1000", text) and "14 model evaluations" in text, text
