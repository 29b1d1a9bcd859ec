"""The nodes on a real (tiny, random-weight) SD1.5 checkpoint through ComfyUI's loaders, VAE and executor."""
import pytest
import torch

from testkit import graphs
from testkit.runtime import tiny_checkpoint, write_photo


@pytest.fixture(scope="module")
def ckpt(comfy):
    return tiny_checkpoint(comfy)


def base(comfy, ckpt, size=64, height=None):
    name = write_photo(comfy.folder_paths.get_input_directory(), size, height)
    return {**graphs.checkpoint_nodes(ckpt), "img": {"class_type": "LoadImage", "inputs": {"image": name}}}


def test_noise_then_partial_reverse_then_decode(comfy, ckpt):
    g = base(comfy, ckpt)
    g.update({
        "enc": {"class_type": "VAEEncode", "inputs": {"pixels": ["img", 0], "vae": ["ckpt", 2]}},
        "noise": {"class_type": "BoomerangNoise",
                  "inputs": {"model": ["ckpt", 0], "latent": ["enc", 0], "t_boom": 40, "seed": 3}},
        "rev": {"class_type": "PartialReverseSampler",
                "inputs": {"model": ["ckpt", 0], "positive": ["pos", 0], "negative": ["neg", 0], "latent": ["noise", 0],
                           **graphs.pass_settings(cfg=7.5), "seed": 4}},
        "dec": {"class_type": "VAEDecode", "inputs": {"samples": ["rev", 0], "vae": ["ckpt", 2]}},
        "save": {"class_type": "SaveImage", "inputs": {"images": ["dec", 0], "filename_prefix": "e2e"}},
        "cap": graphs.capture("img", image=["dec", 0], latent=["enc", 0]),
        "cap2": graphs.capture("rev", latent=["rev", 0]),
    })
    out = comfy.run(g)
    assert out["img"]["image"].shape == (1, 64, 64, 3)
    assert out["rev"]["latent"]["samples"].shape == out["img"]["latent"]["samples"].shape == (1, 4, 8, 8)
    assert torch.isfinite(out["rev"]["latent"]["samples"]).all()
    assert not torch.allclose(out["rev"]["latent"]["samples"], out["img"]["latent"]["samples"])
    saved = out["_history"]["outputs"]["save"]["images"]
    assert len(saved) == 1 and saved[0]["filename"].startswith("e2e")


def test_shortcut_and_cascade_loop(comfy, ckpt):
    g = base(comfy, ckpt)
    common = {"model": ["ckpt", 0], "positive": ["pos", 0], "negative": ["neg", 0], "latent": ["enc", 0],
              **graphs.pass_settings(cfg=7.5, sampler="dpmpp_2m_sde", scheduler="karras", steps=6), "seed": 1}
    g.update({
        "enc": {"class_type": "VAEEncode", "inputs": {"pixels": ["img", 0], "vae": ["ckpt", 2]}},
        "boom": {"class_type": "Boomerang", "inputs": {**common, "t_boom": 300}},
        "casc": {"class_type": "CascadeLoop", "inputs": {**common, "t_boom": 100, "passes": 3, "t_boom_schedule": "",
                                                         "color_match": "mean_std"}},
        "dec": {"class_type": "VAEDecode", "inputs": {"samples": ["casc", 1], "vae": ["ckpt", 2]}},
        "c1": graphs.capture("boom", latent=["boom", 0]),
        "c2": graphs.capture("all", image=["dec", 0], latent=["casc", 0]),
    })
    out = comfy.run(g)
    assert out["boom"]["latent"]["samples"].shape == (1, 4, 8, 8)
    assert out["all"]["image"].shape == (3, 64, 64, 3)  # every pass, decoded
    assert out["all"]["latent"]["samples"].shape == (1, 4, 8, 8)


@pytest.mark.parametrize("factor,passes", [(4.0, 2)])  # 8x and 16x: tests/test_workflows.py (pre_8x, pre_16x)
def test_upscale_then_boomerang_sizes(comfy, ckpt, factor, passes):
    g = base(comfy, ckpt)
    g.update({
        "up": {"class_type": "UpscaleThenBoomerang",
               "inputs": {"image": ["img", 0], "vae": ["ckpt", 2], "model": ["ckpt", 0], "positive": ["pos", 0],
                          "negative": ["neg", 0], "factor": factor, "interpolation": "bilinear", "t_boom": 0,
                          "passes": passes, **graphs.pass_settings(cfg=1.0, sampler="euler_ancestral", steps=3),
                          "seed": 0, "tile_size": 512, "color_match": "mean"}},
        "cap": graphs.capture("up", image=["up", 0]),
    })
    image = comfy.run(g)["up"]["image"]
    side = int(64 * factor)
    assert image.shape == (1, side, side, 3)
    assert torch.isfinite(image).all() and float(image.min()) >= 0.0 and float(image.max()) <= 1.0


def test_upscale_output_size_with_a_x4_vae_and_odd_sizes(comfy):
    """Exactly round(factor x w) by round(factor x h) when neither is a multiple of the VAE factor (4)."""
    ckpt4 = tiny_checkpoint(comfy, x4_vae=True)
    g = base(comfy, ckpt4, size=50, height=30)
    g.update({
        "up": {"class_type": "UpscaleThenBoomerang",
               "inputs": {"image": ["img", 0], "vae": ["ckpt", 2], "model": ["ckpt", 0], "positive": ["pos", 0],
                          "negative": ["neg", 0], "factor": 2.5, "interpolation": "lanczos", "t_boom": 150,
                          "passes": 1, **graphs.pass_settings(cfg=1.0, sampler="euler", steps=2),
                          "seed": 0, "tile_size": 64, "color_match": "off"}},
        "cap": graphs.capture("up", image=["up", 0]),
    })
    assert comfy.run(g)["up"]["image"].shape == (1, 75, 125, 3)
