"""PixelDiffusionLoader samples as diffusers does (issue 16, item 2).

Truth: diffusers' own ``DDPMScheduler.step`` loop, run here on a tiny random ``UNet2DModel`` from the x_t that
BoomerangNoise produced, with the same per-item ancestral noise (a CPU generator per item seeded as the pack's
per-item noise streams are, which is what diffusers' ``randn_tensor`` draws with a list of generators).
Boomerang level t is diffusers' timestep t - 1, so a pass from t_boom runs diffusers' steps t_boom - 1, ..., 0.
The pack runs in ComfyUI's executor: PixelDiffusionLoader -> VAEEncode -> RepeatLatentBatch -> BoomerangNoise
-> PartialReverseSampler (boomerang_exact).
"""
import json
import logging

import numpy as np
import pytest
import torch
from PIL import Image

from testkit import graphs

T, BETA_END, SIDE, SEED = 40, 0.1, 8, 11  # a short, steep schedule: x0 predictions spread past +-1 by t = 20
T_BOOMS = (1, 2, 5, 20)
BASE = {"_class_name": "DDPMScheduler", "num_train_timesteps": T, "beta_schedule": "linear", "beta_start": 1e-4,
        "beta_end": BETA_END}
# name: (scheduler settings, a setting that must change diffusers' result, so that the test can fail)
CASES = {
    "eps-noclip-small": ({"clip_sample": False, "variance_type": "fixed_small"}, {"variance_type": "fixed_large"}),
    "eps-clip-range": ({"clip_sample": True, "clip_sample_range": 0.8}, {"clip_sample": False}),
    "eps-default-large": ({"variance_type": "fixed_large"}, {"clip_sample": False}),  # clip_sample defaults true
    "eps-threshold": ({"thresholding": True, "dynamic_thresholding_ratio": 0.9, "sample_max_value": 1.6},
                      {"thresholding": False}),
    "v-clip-large": ({"prediction_type": "v_prediction", "clip_sample": True, "variance_type": "fixed_large"},
                     {"variance_type": "fixed_small"}),
    "sample-small-log": ({"prediction_type": "sample", "clip_sample": False, "variance_type": "fixed_small_log"},
                         {"variance_type": "fixed_large"}),
}


@pytest.fixture(scope="module")
def tiny(comfy, tmp_path_factory):
    """The diffusers folder root (registered with ComfyUI), the random UNet, and an 8x8 input image."""
    from diffusers import UNet2DModel

    root = tmp_path_factory.mktemp("diffusers_step")
    comfy.folder_paths.add_model_folder_path("diffusers", str(root))
    unet = UNet2DModel(sample_size=SIDE, in_channels=3, out_channels=3, layers_per_block=1,
                       block_out_channels=(8, 16), down_block_types=("DownBlock2D", "AttnDownBlock2D"),
                       up_block_types=("AttnUpBlock2D", "UpBlock2D"), norm_num_groups=4, attention_head_dim=4)
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for p in unet.parameters():  # random, far from zero-init, so that every layer matters
            p.copy_(torch.randn(p.shape, generator=gen) * 0.05)
    unet.save_pretrained(root / "unet-weights", safe_serialization=True)
    pixels = (np.random.default_rng(3).random((SIDE, SIDE, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(f"{comfy.folder_paths.get_input_directory()}/pixel_step_input.png")
    return root, unet.eval()


def write_model(root, name, settings):
    folder = root / name
    (folder / "unet").mkdir(parents=True, exist_ok=True)
    for item in (root / "unet-weights").iterdir():
        (folder / "unet" / item.name).write_bytes(item.read_bytes())
    (folder / "scheduler").mkdir(exist_ok=True)
    (folder / "scheduler" / "scheduler_config.json").write_text(json.dumps({**BASE, **settings}))


def pack_outputs(comfy, name, sampler_seed):
    """{t_boom: (x_t as BoomerangNoise gave it, the pass's output)} for each of T_BOOMS, on a batch of 2."""
    g = {"load": {"class_type": "PixelDiffusionLoader", "inputs": {"model_name": name, "weight_dtype": "float32"}},
         "img": {"class_type": "LoadImage", "inputs": {"image": "pixel_step_input.png"}},
         "enc": {"class_type": "VAEEncode", "inputs": {"pixels": ["img", 0], "vae": ["load", 1]}},
         "rep": {"class_type": "RepeatLatentBatch", "inputs": {"samples": ["enc", 0], "amount": 2}}}
    for t in T_BOOMS:
        g[f"n{t}"] = {"class_type": "BoomerangNoise",
                      "inputs": {"model": ["load", 0], "latent": ["rep", 0], "t_boom": t, "seed": 3}}
        g[f"r{t}"] = {"class_type": "PartialReverseSampler",
                      "inputs": {"model": ["load", 0], "positive": ["load", 2], "negative": ["load", 2],
                                 "latent": [f"n{t}", 0], **graphs.pass_settings(1.0, "boomerang_exact"),
                                 "seed": sampler_seed}}
        g[f"c{t}"] = graphs.capture(f"t{t}", latent=[f"r{t}", 0])
        g[f"cn{t}"] = graphs.capture(f"noisy{t}", latent=[f"n{t}", 0])
    out = comfy.run(g)
    return {t: (out[f"noisy{t}"]["latent"]["samples"], out[f"t{t}"]["latent"]["samples"]) for t in T_BOOMS}


def diffusers_chain(unet, config, x_t_comfy, t_boom, item_generators, float64=True):
    """diffusers' DDPMScheduler.step from timestep t_boom - 1 down to 0, starting at ComfyUI's x_t.

    In float32 diffusers' own step rounds: 1 - alpha_bar_t / alpha_bar_(t-1) (beta_t) loses about 2e-5 of its
    value at t = 1 here, which moves the output by about 1e-5. The pack computes the step coefficients in float64
    from the same float32 schedule, so the reference runs step's arithmetic in float64 too (the float32 run is
    measured alongside and must stay within 5e-5)."""
    from diffusers import DDPMScheduler

    scheduler = DDPMScheduler.from_config(config)
    if float64:  # step's arithmetic in float64 on the same float32 schedule; the UNet and the noise stay float32
        scheduler.alphas_cumprod, scheduler.one = scheduler.alphas_cumprod.double(), scheduler.one.double()
    a = scheduler.alphas_cumprod[t_boom - 1]
    x = x_t_comfy.to(a.dtype) * a.sqrt()  # ComfyUI's EPS/v latent is x_t / sqrt(alpha_bar)
    with torch.no_grad():
        for t in range(t_boom - 1, -1, -1):
            out = unet(x.float(), torch.tensor([t] * x.shape[0])).sample  # float32: noise drawn in float32
            x = scheduler.step(out, t, x, generator=item_generators).prev_sample
    return x.float()


def generators(comfy, seed, batch):
    noise = comfy.pack_module("comfyui-boomerang").boomerang.noise
    return [torch.Generator().manual_seed(noise.stream_seed(seed + i, noise.STREAM_ANCESTRAL)) for i in range(batch)]


@pytest.mark.parametrize("case", list(CASES))
def test_boomerang_exact_equals_diffusers_ddpm_step(comfy, tiny, case):
    root, unet = tiny
    settings, contrast = CASES[case]
    name = f"step-{case}"
    write_model(root, name, settings)
    outputs = pack_outputs(comfy, name, sampler_seed=SEED)
    diffs, diffs32 = {}, {}
    for t_boom, (x_t, got) in outputs.items():
        want = diffusers_chain(unet, {**BASE, **settings}, x_t, t_boom, generators(comfy, SEED, 2))
        diffs[t_boom] = float((got - want).abs().max())
        want32 = diffusers_chain(unet, {**BASE, **settings}, x_t, t_boom, generators(comfy, SEED, 2), float64=False)
        diffs32[t_boom] = float((got - want32).abs().max())
    logging.getLogger("boomerang.tests").info("%s: max |pack - diffusers| %s (float32 step: %s)", case, diffs, diffs32)
    assert max(diffs.values()) <= 1e-5 and max(diffs32.values()) <= 5e-5, (case, diffs, diffs32)
    # The setting under test matters on these inputs: diffusers with it changed lands far from the pack.
    x_t, got = outputs[20]
    other = diffusers_chain(unet, {**BASE, **settings, **contrast}, x_t, 20, generators(comfy, SEED, 2))
    assert float((got - other).abs().max()) > 1e-3, (case, contrast)


REFUSED = [
    ({"variance_type": "fixed_large_log"}, r"variance_type must be .*received 'fixed_large_log'.*NaN"),
    ({"variance_type": "learned"}, r"variance_type must be .*received 'learned'"),
    ({"variance_type": "learned_range"}, r"variance_type must be .*received 'learned_range'"),
    ({"variance_type": "fixed_medium"}, r"variance_type must be .*received 'fixed_medium'"),
    ({"prediction_type": "x0"}, r"prediction_type must be epsilon or v_prediction or sample; received 'x0'"),
    ({"timestep_spacing": "uniform"}, r"timestep_spacing must be leading or linspace or trailing"),
    ({"steps_offset": -1}, r"steps_offset must be an integer >= 0; received -1"),
    ({"clip_sample": "yes"}, r"clip_sample must be true or false; received 'yes'"),
    ({"clip_sample_range": 0}, r"clip_sample_range must be a number > 0; received 0"),
    ({"thresholding": 1}, r"thresholding must be true or false; received 1"),
    ({"dynamic_thresholding_ratio": 1.5}, r"dynamic_thresholding_ratio must be a number in \(0, 1\]; received 1.5"),
    ({"sample_max_value": -1.0}, r"sample_max_value must be a number > 0; received -1.0"),
    ({"rescale_betas_zero_snr": True}, r"rescale_betas_zero_snr must be false; received True"),
    ({"beta_schedule": "exponential"}, r"beta_schedule must be linear or .*; received 'exponential'"),
    ({"set_alpha_to_one": False}, r"scheduler setting 'set_alpha_to_one' must be one of DDPMScheduler's settings"),
    ({"_class_name": "DDIMScheduler"}, r"_class_name must be DDPMScheduler; received 'DDIMScheduler'"),
]


@pytest.mark.parametrize("extra, message", REFUSED, ids=[next(iter(e)) + "=" + str(next(iter(e.values())))
                                                         for e, _ in REFUSED])
def test_loader_refuses_each_unhonoured_scheduler_setting_by_name(comfy, tmp_path, extra, message):
    pack = comfy.pack_module("comfyui-boomerang").boomerang
    folder = tmp_path / "model"
    (folder / "unet").mkdir(parents=True)
    (folder / "unet" / "config.json").write_text(json.dumps({"_class_name": "UNet2DModel", "in_channels": 3}))
    (folder / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"refused before it is read")
    (folder / "scheduler").mkdir()
    (folder / "scheduler" / "scheduler_config.json").write_text(json.dumps({**BASE, **extra}))
    with pytest.raises(pack.checks.BoomerangInputError, match=message):
        pack.pixel_model.load(folder)
