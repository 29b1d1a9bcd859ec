"""Pixel-space diffusers models (issue 4): the loader node, its schedules, and the Boomerang nodes on them.

Truths: the three DDPM schedules from their definitions (not from diffusers), the exact Algorithm-1 chain law
of the Gaussian oracle, and DDIM (Song et al. 2021, eta = 0) computed here step by step with the diffusers
UNet called directly, which ComfyUI's euler sampler must reproduce on the same timesteps.
"""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from testkit import graphs
from testkit.oracle_law import algorithm1_law, closed_form_alpha_bars, errors
from testkit.oracle_unet import GaussianOracleUNet, write_oracle, write_scheduler

SCHEDULES = {"linear": (1e-4, 0.02), "scaled_linear": (0.00085, 0.012), "squaredcos_cap_v2": (1e-4, 0.02)}


@pytest.fixture(scope="module")
def diffusers_dir(comfy, tmp_path_factory):
    root = tmp_path_factory.mktemp("diffusers")
    comfy.folder_paths.add_model_folder_path("diffusers", str(root))
    comfy.pack_module("comfyui-boomerang").boomerang.pixel_model.register_model_class(GaussianOracleUNet)
    return root


def loader(name, dtype="float32"):
    return {"class_type": "PixelDiffusionLoader", "inputs": {"model_name": name, "weight_dtype": dtype}}


def reverse(t_boom, sampler="boomerang_exact", scheduler="simple", steps=20, seed=7, latent=("noise", 0)):
    return {
        "noise": {"class_type": "BoomerangNoise", "inputs": {"model": ["load", 0], "latent": list(latent),
                                                               "t_boom": t_boom, "seed": seed}},
        "rev": {"class_type": "PartialReverseSampler",
                "inputs": {"model": ["load", 0], "positive": ["load", 2], "negative": ["load", 2],
                           "latent": ["noise", 0], **graphs.pass_settings(1.0, sampler, scheduler, steps),
                           "seed": seed + 1}},
    }


@pytest.mark.parametrize("prediction", ["epsilon", "v_prediction"])
@pytest.mark.parametrize("schedule", list(SCHEDULES))
def test_oracle_through_loader_matches_algorithm1_law(comfy, diffusers_dir, schedule, prediction):
    mu, s, x0, t_boom = 0.1, 0.5, 0.6, 400
    name = f"oracle-{schedule}-{prediction}"
    write_oracle(diffusers_dir / name, schedule, prediction, mu, s, *SCHEDULES[schedule])
    g = {"load": loader(name), "lat": graphs.const_latent(x0, batch=4, channels=3, height=64, width=64),
         **reverse(t_boom, latent=("lat", 0)),
         "c1": graphs.capture("out", latent=["rev", 0]), "c2": graphs.capture("noise", number=["noise", 1])}
    out = comfy.run(g)
    alpha_bars = closed_form_alpha_bars(schedule, 1000, *SCHEDULES[schedule])
    a = alpha_bars[t_boom - 1]
    assert out["noise"]["number"] == pytest.approx(np.sqrt((1 - a) / a), rel=1e-5)
    mean, var = algorithm1_law(alpha_bars, t_boom, mu, s, x0)
    mean_err, var_err = errors(out["out"]["latent"]["samples"], mean, var)  # 49,152 values: var SE 0.64%
    assert mean_err < 0.02 and var_err < 0.025, (mean_err, var_err)


def tiny_unet(folder, prediction):
    from diffusers import UNet2DModel

    with torch.random.fork_rng():
        torch.manual_seed(5)
        unet = UNet2DModel(sample_size=16, in_channels=3, out_channels=3, layers_per_block=1,
                           block_out_channels=(16, 32), down_block_types=("DownBlock2D", "AttnDownBlock2D"),
                           up_block_types=("AttnUpBlock2D", "UpBlock2D"), norm_num_groups=8, attention_head_dim=8)
        for p in unet.parameters():  # random but far from zero-init, so every layer matters
            p.data.normal_(0, 0.05)
    unet.save_pretrained(folder / "unet", safe_serialization=True)
    write_scheduler(folder, num_train_timesteps=1000, beta_schedule="scaled_linear", beta_start=0.00085,
                    beta_end=0.012, prediction_type=prediction, clip_sample=False)
    return unet.eval()


def digit_image(comfy, name="pixel_input.png", side=16):
    rng = np.random.default_rng(3)
    pixels = (rng.random((side, side, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(f"{comfy.folder_paths.get_input_directory()}/{name}")
    return name, torch.from_numpy(pixels).float() / 255.0


@pytest.mark.parametrize("prediction", ["epsilon", "v_prediction"])
def test_tiny_unet_euler_equals_ddim_by_hand(comfy, diffusers_dir, prediction):
    name = f"tiny-unet-{prediction}"
    unet = tiny_unet(diffusers_dir / name, prediction)
    image_name, pixels = digit_image(comfy)
    t_boom, steps = 600, 6
    g = {"load": loader(name), "img": {"class_type": "LoadImage", "inputs": {"image": image_name}},
         "enc": {"class_type": "VAEEncode", "inputs": {"pixels": ["img", 0], "vae": ["load", 1]}},
         "dec": {"class_type": "VAEDecode", "inputs": {"samples": ["enc", 0], "vae": ["load", 1]}},
         **reverse(t_boom, sampler="euler", scheduler="simple", steps=steps, latent=("enc", 0)),
         "sig": {"class_type": "BoomerangSigmas", "inputs": {"model": ["load", 0], "t_boom": t_boom, "sampler": "euler",
                                                              "scheduler": "simple", "steps": steps}},
         "c1": graphs.capture("enc", latent=["enc", 0], image=["dec", 0]),
         "c2": graphs.capture("noisy", latent=["noise", 0]), "c3": graphs.capture("out", latent=["rev", 0]),
         "c4": graphs.capture("sigmas", sigmas=["sig", 0])}
    out = comfy.run(g)
    # The pass-through VAE: latent = 2 x - 1 in BCHW, and decode(encode(x)) = x.
    expected_latent = (pixels * 2 - 1).permute(2, 0, 1)[None]
    assert torch.allclose(out["enc"]["latent"]["samples"], expected_latent, atol=1e-6)
    assert torch.allclose(out["enc"]["image"][0], pixels, atol=1e-6)
    # Map each sigma to its timestep index on the closed-form schedule (they must sit exactly on it).
    alpha_bars = closed_form_alpha_bars("scaled_linear", 1000, 0.00085, 0.012)
    table = np.sqrt((1 - alpha_bars) / alpha_bars)
    sigmas = out["sigmas"]["sigmas"].double().numpy()
    assert sigmas[-1] == 0 and len(sigmas) == steps + 1
    index = [int(np.argmin(abs(table - sg))) for sg in sigmas[:-1]]
    assert np.allclose(table[index], sigmas[:-1], rtol=1e-5) and index[0] == t_boom - 1
    # DDIM by hand in VP coordinates, from the captured x_t.
    a = alpha_bars[index[0]]
    x = out["noisy"]["latent"]["samples"].double() * np.sqrt(a)  # ComfyUI's EPS latent is x_t / sqrt(alpha_bar)
    with torch.no_grad():
        for i, t in enumerate(index):
            a = alpha_bars[t]
            pred = unet(x.float(), torch.tensor([t])).sample.double()
            if prediction == "epsilon":
                eps = pred
                x0 = (x - np.sqrt(1 - a) * eps) / np.sqrt(a)
            else:
                x0 = np.sqrt(a) * x - np.sqrt(1 - a) * pred
                eps = np.sqrt(a) * pred + np.sqrt(1 - a) * x
            a_next = alpha_bars[index[i + 1]] if i + 1 < len(index) else 1.0
            x = np.sqrt(a_next) * x0 + np.sqrt(1 - a_next) * eps
    got = out["out"]["latent"]["samples"].double()
    assert (got - x).abs().max() < 1e-4, float((got - x).abs().max())


def test_cascade_and_upscale_nodes_on_a_pixel_model(comfy, diffusers_dir):
    name = "tiny-unet-nodes"
    tiny_unet(diffusers_dir / name, "epsilon")
    image_name, pixels = digit_image(comfy, "pixel_nodes.png")
    common = {"model": ["load", 0], "positive": ["load", 2], "negative": ["load", 2],
              **graphs.pass_settings(1.0, "dpmpp_2m_sde", "karras", 4), "seed": 1}
    g = {"load": loader(name), "img": {"class_type": "LoadImage", "inputs": {"image": image_name}},
         "enc": {"class_type": "VAEEncode", "inputs": {"pixels": ["img", 0], "vae": ["load", 1]}},
         "casc": {"class_type": "CascadeLoop", "inputs": {**common, "latent": ["enc", 0], "t_boom": 100, "passes": 2,
                                                          "t_boom_schedule": "", "color_match": "off"}},
         "up": {"class_type": "UpscaleThenBoomerang",
                "inputs": {**common, "image": ["img", 0], "vae": ["load", 1], "factor": 2.0,
                           "interpolation": "bilinear", "t_boom": 0, "passes": 1, "tile_size": 0,
                           "color_match": "mean"}},
         "c1": graphs.capture("casc", latent=["casc", 1]), "c2": graphs.capture("up", image=["up", 0])}
    out = comfy.run(g)
    assert out["casc"]["latent"]["samples"].shape == (2, 3, 16, 16)
    image = out["up"]["image"]
    assert image.shape == (1, 32, 32, 3) and 0 <= float(image.min()) and float(image.max()) <= 1
    # colour match "mean" keeps each channel's mean of the bilinear upscale, which keeps the input's mean
    assert torch.allclose(image.mean(dim=(0, 1, 2)), pixels.mean(dim=(0, 1)), atol=0.02)


def test_builtin_digits_model_is_listed_and_keeps_t0_exact(comfy):
    name, pixels = digit_image(comfy, "pixel_t0.png")
    g = {"load": loader("digits-ddpm (built-in)"), "img": {"class_type": "LoadImage", "inputs": {"image": name}},
         "enc": {"class_type": "VAEEncode", "inputs": {"pixels": ["img", 0], "vae": ["load", 1]}},
         **reverse(0, latent=("enc", 0)),
         "dec": {"class_type": "VAEDecode", "inputs": {"samples": ["rev", 0], "vae": ["load", 1]}},
         "c": graphs.capture("t0", image=["dec", 0], number=["noise", 1])}
    out = comfy.run(g)
    assert out["t0"]["number"] == 0.0
    assert torch.allclose(out["t0"]["image"][0], pixels, atol=1e-6)


def test_loader_refuses_pickle_weights_and_unsupported_configs(tmp_path):
    from boomerang import pixel_model
    from boomerang.checks import BoomerangInputError

    folder = tmp_path / "pickled"
    (folder / "unet").mkdir(parents=True)
    (folder / "unet" / "config.json").write_text(json.dumps({"_class_name": "UNet2DModel", "in_channels": 3}))
    (folder / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"not loaded")
    write_scheduler(folder, beta_schedule="linear")
    with pytest.raises(BoomerangInputError, match=r"diffusion_pytorch_model\.safetensors.*pickle"):
        pixel_model.load(folder)
    config = {"_class_name": "UNet2DModel", "in_channels": 3}
    cases = [({"in_channels": 1}, r"in_channels must be 3 .*received 1"),
             ({"num_class_embeds": 10}, r"num_class_embeds must be null .*received 10"),
             ({"out_channels": 6}, r"out_channels must be 3 \(equal to in_channels\); received 6")]
    for unet_extra, message in cases:
        with pytest.raises(BoomerangInputError, match=message):
            pixel_model.check_config({**config, **unet_extra}, folder)
    # scheduler settings are refused by name in tests/test_pixel_diffusers.py
    with pytest.raises(BoomerangInputError, match="rescale_betas_zero_snr must be false"):
        pixel_model.schedule({"beta_schedule": "linear", "rescale_betas_zero_snr": True})
    with pytest.raises(BoomerangInputError, match="unet/config.json"):
        pixel_model.load(tmp_path / "nothing-here")


def test_pixel_latent_format_has_one_latent_sample_per_pixel(comfy):
    """Regression (issue 17): PixelLatentFormat inherited LatentFormat's spacial_downscale_ratio, 8 in ComfyUI 0.38,
    which sizes latents as pixels // ratio. Truth: ComfyUI's own pixel_space VAE, paired with these models, keeps
    one latent sample per pixel (compression 1) and encodes a 24x40 image to a 24x40 latent."""
    glue = comfy.pack_module("comfyui-boomerang").nodes.comfy.pixel
    vae = glue.pixel_vae()
    latent = vae.encode(torch.rand(1, 24, 40, 3))
    assert tuple(latent.shape[-2:]) == (24, 40) and vae.spacial_compression_encode() == 1
    fmt = glue.PixelModelConfig.latent_format()
    assert fmt.spacial_downscale_ratio == vae.spacial_compression_encode() == 1
