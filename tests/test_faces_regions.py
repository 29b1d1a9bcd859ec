"""AnonymizeFaces with the user's own regions (a MASK, boxes JSON) and its still-recognizable policies.

Model: the exact denoiser of Gaussian data as a pixel model (pass-through VAE), so each pass is cheap and a low
t_boom leaves the face recognizable. Truths: the regions given (a face is processed exactly where it was given,
nowhere else, with pixels outside the paste weights bit-identical), the high-frequency energy of a blurred
patch, and an independent run of the same seed at a threshold the sample passes (the 'keep' policy must paste
that same sample).
"""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from testkit import graphs
from testkit.oracle_unet import GaussianOracleUNet, write_oracle

FACE = [88, 38, 133, 84]  # the astronaut's face in the 256 px photo (dlib HOG box at 512 px, halved)
MASK_RECT = (80, 30, 140, 92)  # left, top, right, bottom of the user's MASK region (the left face)
RIGHT_BOX = [372, 30, 432, 92]  # the mirrored face in the right half, given as boxes JSON


@pytest.fixture(scope="module")
def runs(comfy, tmp_path_factory):
    root = tmp_path_factory.mktemp("face-regions")
    comfy.folder_paths.add_model_folder_path("diffusers", str(root))
    comfy.pack_module("comfyui-boomerang").boomerang.pixel_model.register_model_class(GaussianOracleUNet)
    write_oracle(root / "region-oracle", "linear", "epsilon", 0.0, 0.5, 1e-4, 0.02)
    folder = Path(comfy.folder_paths.get_input_directory())
    one = np.asarray(Image.fromarray(data.astronaut()).resize((256, 256), Image.Resampling.LANCZOS))
    two = np.concatenate([one, one[:, ::-1]], axis=1)
    Image.fromarray(one).save(folder / "regions_one.png")
    rgba = np.concatenate([two, np.full(two.shape[:2] + (1,), 255, np.uint8)], axis=2)
    left, top, right, bottom = MASK_RECT
    rgba[top:bottom, left:right, 3] = 0  # LoadImage's MASK is 1 - alpha: 1 inside the rectangle
    Image.fromarray(rgba).save(folder / "regions_two.png")

    def anon(image, **over):
        inputs = {"image": [image, 0], "vae": ["load", 1], "model": ["load", 0], "positive": ["load", 2],
                  "negative": ["load", 2], "detector": "hog", "upsample": 1, "margin": 0.3, "min_size": 16,
                  "max_faces": 4, "working_size": 128, "t_boom": 10, "until_unrecognizable": False,
                  "t_boom_step": 10, "t_boom_max": 900, "threshold": 0.6, "still_recognizable": "blur",
                  "feather": 0.15, "cfg": 1.0, "sampler": "euler_ancestral", "scheduler": "simple", "steps": 4,
                  "seed": 5, "only_face": -1, **over}
        return {"class_type": "AnonymizeFaces", "inputs": inputs}

    nodes = {"mask": anon("two", mask=["two", 1]), "boxes": anon("two", boxes=json.dumps([RIGHT_BOX])),
             "blur": anon("one", boxes=json.dumps([FACE])),
             "keep": anon("one", boxes=json.dumps([FACE]), still_recognizable="keep last sample"),
             "pass": anon("one", boxes=json.dumps([FACE]), threshold=0.01)}
    g = {"load": {"class_type": "PixelDiffusionLoader",
                  "inputs": {"model_name": "region-oracle", "weight_dtype": "float32"}},
         "one": {"class_type": "LoadImage", "inputs": {"image": "regions_one.png"}},
         "two": {"class_type": "LoadImage", "inputs": {"image": "regions_two.png"}},
         "c_one": graphs.capture("in_one", image=["one", 0]), "c_two": graphs.capture("in_two", image=["two", 0])}
    for name, node in nodes.items():
        g[name] = node
        g[f"{name}_m"] = {"class_type": "MaskToImage", "inputs": {"mask": [name, 1]}}
        g[f"{name}_c"] = graphs.capture(name, image=[name, 0], text=[name, 3])
        g[f"{name}_w"] = graphs.capture(f"{name}_w", image=[f"{name}_m", 0], text=[name, 2])
    out = comfy.run(g)
    return {name: {"image": out[name]["image"][0], "weight": out[f"{name}_w"]["image"][0, ..., 0],
                   "faces": json.loads(out[name]["text"])["faces"], "report": out[f"{name}_w"]["text"]}
            for name in nodes} | {"one": out["in_one"]["image"][0], "two": out["in_two"]["image"][0]}


def within(weight, left, top, right, bottom):
    """Whether every pixel with paste weight > 0 lies inside the rectangle."""
    ys, xs = torch.nonzero(weight > 0, as_tuple=True)
    return bool(len(xs)) and left <= int(xs.min()) and int(xs.max()) < right and top <= int(ys.min()) and \
        int(ys.max()) < bottom


def test_a_user_mask_processes_exactly_its_region(runs):
    r, before = runs["mask"], runs["two"]
    assert [f["box"] for f in r["faces"]] == [list(MASK_RECT)]  # one face: the mask's region, no detection
    outside = r["weight"] == 0
    assert torch.equal(r["image"][outside], before[outside])
    # the paste stays within the region, feathered outwards by at most feather x side / 2 (0.15 x 99 / 2 = 7 px)
    left, top, right, bottom = MASK_RECT
    assert within(r["weight"], left - 8, top - 8, right + 8, bottom + 8)
    assert float(r["weight"][top + 20:bottom - 20, left + 20:right - 20].min()) > 0.9
    assert not torch.equal(r["image"][top:bottom, left:right], before[top:bottom, left:right])


def test_boxes_json_processes_exactly_the_given_boxes(runs):
    r, before = runs["boxes"], runs["two"]
    assert [f["box"] for f in r["faces"]] == [RIGHT_BOX]  # the left face, which HOG would find, is not touched
    outside = r["weight"] == 0
    assert torch.equal(r["image"][outside], before[outside])
    assert torch.equal(r["image"][:, :256], before[:, :256])
    # the crop: a square of side max(60, 62) x (1 + 2 x 0.3) = 99.2 around the box's centre (402, 61)
    assert within(r["weight"], 352, 11, 453, 112)
    assert not torch.equal(r["image"][30:92, 372:432], before[30:92, 372:432])


def high_frequency(patch):
    """Mean squared difference of neighbouring pixels (the energy a blur removes)."""
    return float(((patch[1:] - patch[:-1]) ** 2).mean() + ((patch[:, 1:] - patch[:, :-1]) ** 2).mean())


def test_blur_policy_pastes_a_blur_of_the_original_and_says_so(runs):
    r, before = runs["blur"], runs["one"]
    face = r["faces"][0]
    assert face["status"] == "still recognizable" and face["action"] == "blurred", face
    assert face["distance"] is not None and face["distance"] < 0.6
    assert "STILL RECOGNIZABLE (< 0.6): blurred" in r["report"]
    left, top, right, bottom = FACE
    got, orig = r["image"][top:bottom, left:right], before[top:bottom, left:right]
    assert high_frequency(got) < 0.1 * high_frequency(orig), (high_frequency(got), high_frequency(orig))
    assert torch.allclose(got.mean(dim=(0, 1)), orig.mean(dim=(0, 1)), atol=0.03)  # the same face, blurred
    outside = r["weight"] == 0
    assert torch.equal(r["image"][outside], before[outside])


def test_keep_policy_pastes_the_last_sample_and_says_so(runs):
    keep, passed = runs["keep"], runs["pass"]
    face = keep["faces"][0]
    assert face["status"] == "still recognizable" and face["action"] == "kept the last sample", face
    assert "STILL RECOGNIZABLE (< 0.6): kept the last sample" in keep["report"]
    # the same seed at threshold 0.01 counts the same sample as anonymized and pastes it: keep pastes it too
    assert passed["faces"][0]["status"] == "anonymized" and passed["faces"][0]["distance"] == face["distance"]
    assert torch.equal(keep["image"], passed["image"])
    assert not torch.equal(keep["image"], runs["blur"]["image"])
    assert not torch.equal(keep["image"], runs["one"])
