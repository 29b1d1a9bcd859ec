"""Face detection, identity distance and AnonymizeFaces (issue 10) with real dlib on real photos.

Truths: the face box and distances measured by hand on scikit-image's astronaut (docs: environment notes),
exact pixel equality outside the paste region, single-pass runs that check every step of the retry loop, and a
stub recognizer whose answers fix the step counts.
"""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

import headless
from boomerang import faces as F
from boomerang.checks import BoomerangInputError
from testkit import graphs
from testkit.bench_smoke import run_smoke
from testkit.oracle_unet import GaussianOracleUNet, write_oracle
from testkit.runtime import tiny_checkpoint

REPO = Path(__file__).resolve().parent.parent
FACE_512 = (175, 76, 266, 167)  # dlib HOG box on astronaut 512 px, exclusive right/bottom (measured by hand)
FACE_CNN_512 = (165, 73, 264, 172)


@pytest.fixture(scope="module")
def dlib_faces(comfy):
    """The pack's dlib adapter, as ComfyUI loaded it with the pack."""
    return comfy.pack_module(headless.PACK_DIR_NAME).nodes.dlib_faces


def iou(a, b) -> float:
    inter = max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))

    def area(r):
        return (r[2] - r[0]) * (r[3] - r[1])

    return inter / (area(a) + area(b) - inter)


def astronaut(size=512) -> np.ndarray:
    img = Image.fromarray(data.astronaut())
    return np.asarray(img if size == 512 else img.resize((size, size), Image.Resampling.LANCZOS))


@pytest.fixture(scope="module")
def photos(comfy):
    """Input files: astronaut 256, its mirror, two faces side by side (512 x 256) and a photo with no face."""
    folder = Path(comfy.folder_paths.get_input_directory())
    a = astronaut(256)
    two = np.concatenate([a, a[:, ::-1]], axis=1)
    coffee = np.asarray(Image.fromarray(data.coffee()).resize((512, 256), Image.Resampling.LANCZOS))
    files = {"one": a, "mirror": np.ascontiguousarray(a[:, ::-1]), "two": two, "none": coffee}
    for name, array in files.items():
        Image.fromarray(np.ascontiguousarray(array)).save(folder / f"faces_{name}.png")
    return {name: f"faces_{name}.png" for name in files}


def load(key, name):
    return {key: {"class_type": "LoadImage", "inputs": {"image": name}}}


# ---------------------------------------------------------------- detection and distance (dlib itself)

def test_hog_and_cnn_boxes_cover_the_face(dlib_faces):
    faces = dlib_faces.load()
    img = astronaut(512)
    hog = faces.detect(img, "hog", 1)
    best = max(hog, key=lambda d: iou((d.left, d.top, d.right, d.bottom), FACE_512))
    assert iou((best.left, best.top, best.right, best.bottom), FACE_512) > 0.95
    cnn = faces.detect(astronaut(384), "cnn", 0)  # 384 px keeps the CNN at ~1 s on 2 cores
    assert len(cnn) == 1  # no false box on the suit, unlike HOG
    scaled = tuple(v * 0.75 for v in FACE_CNN_512)
    assert iou((cnn[0].left, cnn[0].top, cnn[0].right, cnn[0].bottom), scaled) > 0.8


def test_identity_distance_node_self_zero_mirror_same_person(comfy, photos):
    g = {**load("a", photos["one"]), **load("m", photos["mirror"]), **load("n", photos["none"]),
         "ab": {"class_type": "ImageBatch", "inputs": {"image1": ["a", 0], "image2": ["m", 0]}},
         "abn": {"class_type": "ImageBatch", "inputs": {"image1": ["ab", 0], "image2": ["n", 0]}},
         "d": {"class_type": "FaceIdentityDistance",
               "inputs": {"image_a": ["a", 0], "image_b": ["abn", 0], "threshold": 0.6, "detector": "hog",
                          "upsample": 1}},
         "c": graphs.capture("d", text=["d", 1])}
    out = comfy.run(g)
    lines = out["d"]["text"].splitlines()
    assert lines[0] == "a[0] vs b[0]: 0.000 - same person at 0.6"
    mirror = float(lines[1].split(": ")[1].split(" ")[0])
    assert 0.05 < mirror < 0.6 and "same person" in lines[1]  # 0.19 measured at 512 px
    assert lines[2] == "a[0] vs b[2]: no face found"
    assert out["_history"]["outputs"]["d"]["text"] == [out["d"]["text"]]  # shown on the node


# ---------------------------------------------------------------- AnonymizeFaces on the tiny checkpoint

def anonymize(image_link, model=("ckpt", 0), vae=("ckpt", 2), pos=("pos", 0), neg=("neg", 0), **overrides):
    inputs = {"image": list(image_link), "vae": list(vae), "model": list(model), "positive": list(pos),
              "negative": list(neg), "detector": "hog", "upsample": 1, "margin": 0.3, "min_size": 16,
              "max_faces": 4, "working_size": 64, "t_boom": 300, "until_unrecognizable": True, "t_boom_step": 200,
              "t_boom_max": 900, "threshold": 0.6, "still_recognizable": "blur", "feather": 0.15, "cfg": 1.0,
              "sampler": "euler_ancestral", "scheduler": "simple", "steps": 3, "seed": 11, "only_face": -1}
    inputs.update(overrides)
    return {"class_type": "AnonymizeFaces", "inputs": inputs}


@pytest.fixture(scope="module")
def batch_run(comfy, photos):
    """Two photos: two faces side by side, and one without a face. max_faces = 2 drops HOG's weak false box
    on the mirrored suit (score 0.04 against 1.07 and 1.43 for the faces)."""
    ckpt = tiny_checkpoint(comfy)
    g = {**graphs.checkpoint_nodes(ckpt), **load("two", photos["two"]), **load("none", photos["none"]),
         "batch": {"class_type": "ImageBatch", "inputs": {"image1": ["two", 0], "image2": ["none", 0]}},
         "anon": anonymize(("batch", 0), max_faces=2),
         "c1": graphs.capture("in", image=["batch", 0]),
         "c2": graphs.capture("out", image=["anon", 0], text=["anon", 3]),
         "m": {"class_type": "MaskToImage", "inputs": {"mask": ["anon", 1]}},
         "c3": graphs.capture("mask", image=["m", 0], text=["anon", 2])}
    return ckpt, g, comfy.run(g)


def test_pixels_outside_the_paste_region_are_bit_identical(batch_run):
    _, _, out = batch_run
    before, after, weight = out["in"]["image"], out["out"]["image"], out["mask"]["image"][..., 0]
    assert after.shape == before.shape == (2, 256, 512, 3) and weight.shape == (2, 256, 512)
    outside = weight == 0
    assert torch.equal(after[outside], before[outside])
    assert outside[0].float().mean() > 0.5 and (weight[0] > 0).sum() > 1000  # two face crops, not the photo
    assert not torch.equal(after[0][weight[0] > 0.5], before[0][weight[0] > 0.5])


def test_batch_report_has_every_face_and_the_photo_without_one(batch_run):
    _, _, out = batch_run
    details = json.loads(out["out"]["text"])["faces"]
    assert [(f["photo"], f["face"], f["seed"]) for f in details] == [(0, 0, 11), (0, 1, 12)]
    left, right = details[0]["box"], details[1]["box"]
    assert left[2] <= 256 <= right[0]  # one face in each half
    assert iou(left, tuple(v / 2 for v in FACE_512)) > 0.8
    assert torch.equal(out["out"]["image"][1], out["in"]["image"][1])  # no face: unchanged
    report = out["mask"]["text"]
    assert report.splitlines()[0].startswith("2 photo(s), 2 face(s): ")
    assert "photo 1: no face found - returned unchanged" in report
    for face in details:  # the tiny checkpoint's random VAE leaves no face to find: stops at the first try
        assert face["status"] == F.NO_FACE and face["attempts"] == [[300, None]]


def test_only_face_redoes_one_face_alone_with_its_seed(comfy, batch_run):
    ckpt, g, out = batch_run
    g = dict(g)
    g["anon"] = anonymize(("batch", 0), max_faces=2, only_face=1)
    again = comfy.run(g)
    full, alone, before = out["out"]["image"][0], again["out"]["image"][0], out["in"]["image"][0]
    weight = again["mask"]["image"][0, ..., 0]
    right, left = weight[:, 256:] > 0, weight[:, :256] > 0
    assert right.any() and not left.any()
    assert torch.equal(alone[:, 256:], full[:, 256:])  # same seed 12: the same new face, bit for bit
    assert torch.equal(alone[:, :256], before[:, :256])
    statuses = [f["status"] for f in json.loads(again["out"]["text"])["faces"]]
    assert statuses == ["not selected (only_face = 1)", F.NO_FACE]


def test_faces_below_min_size_are_skipped_and_reported(comfy, photos):
    ckpt = tiny_checkpoint(comfy)
    g = {**graphs.checkpoint_nodes(ckpt), **load("one", photos["one"]),
         "anon": anonymize(("one", 0), min_size=60),
         "det": {"class_type": "BoomerangFaceDetect", "inputs": {"image": ["one", 0], "detector": "hog",
                                                                 "upsample": 1, "margin": 0.3, "min_size": 60,
                                                                 "max_faces": 4}},
         "c1": graphs.capture("in", image=["one", 0]), "c2": graphs.capture("out", image=["anon", 0], text=["anon", 2]),
         "m": {"class_type": "MaskToImage", "inputs": {"mask": ["det", 0]}},
         "c3": graphs.capture("det", image=["m", 0], text=["det", 1])}
    out = comfy.run(g)
    assert torch.equal(out["out"]["image"], out["in"]["image"])
    assert "1 face(s): 0 anonymized, 0 still recognizable, 1 skipped" in out["out"]["text"]
    assert "skipped: smaller than min_size (44 px)" in out["out"]["text"]
    assert float(out["det"]["image"].max()) == 0.0  # a skipped face is not in the mask
    assert json.loads(out["det"]["text"])["photos"][0]["faces"][0]["kept"] is False


# ---------------------------------------------------------------- the retry loop

def test_loop_with_a_stub_recognizer_takes_exact_steps():
    assert F.t_boom_steps(250, 100, 600, True) == [250, 350, 450, 550, 600]
    assert F.t_boom_steps(250, 100, 600, False) == [250]
    assert F.t_boom_steps(300, 50, 300, True) == [300]
    calls = []

    def run(answers):
        calls.clear()
        levels = F.t_boom_steps(100, 100, 900, True)
        return F.until_unrecognizable(lambda t: calls.append(t) or f"sample@{t}", lambda s: answers(int(s[7:])),
                                      levels, 0.6)

    sample, attempts, status = run(lambda t: 0.1 if t < 500 else 0.7)
    assert (sample, status, calls) == ("sample@500", F.ANONYMIZED, [100, 200, 300, 400, 500])
    assert [(a.t_boom, a.distance) for a in attempts][-1] == (500, 0.7)
    sample, attempts, status = run(lambda t: 0.59)
    assert (sample, status, len(calls), calls[-1]) == ("sample@900", F.RECOGNIZABLE, 9, 900)
    sample, attempts, status = run(lambda t: None if t == 300 else 0.1)
    assert (status, calls, attempts[-1].distance) == (F.NO_FACE, [100, 200, 300], None)
    sample, attempts, status = run(lambda t: 0.6)  # the threshold itself is "different people"
    assert (status, calls) == (F.ANONYMIZED, [100])


@pytest.fixture(scope="module")
def oracle_model(comfy, tmp_path_factory):
    """A pixel-space model with a pass-through VAE: the exact denoiser of Gaussian data (mean 0, sd 0.5). Its
    Boomerang output shrinks the face towards grey plus noise as t_boom grows (tiny-checkpoint VAEs are random
    and keep no face at any t_boom)."""
    root = tmp_path_factory.mktemp("face-oracle")
    comfy.folder_paths.add_model_folder_path("diffusers", str(root))
    comfy.pack_module("comfyui-boomerang").boomerang.pixel_model.register_model_class(GaussianOracleUNet)
    write_oracle(root / "face-oracle", "linear", "epsilon", 0.0, 0.5, 1e-4, 0.02)
    return {"load": {"class_type": "PixelDiffusionLoader",
                     "inputs": {"model_name": "face-oracle", "weight_dtype": "float32"}}}


def oracle_anonymize(**overrides):
    settings = {"working_size": 128, "t_boom": 10, "t_boom_step": 10, "sampler": "euler_ancestral", "steps": 4,
                "seed": 5, **overrides}
    return anonymize(("one", 0), model=("load", 0), vae=("load", 1), pos=("load", 2), neg=("load", 2), **settings)


def test_loop_with_the_real_recognizer_stops_at_the_first_unrecognized_t_boom(comfy, photos, oracle_model):
    g = {**oracle_model, **load("one", photos["one"]), "anon": oracle_anonymize(),
         "c": graphs.capture("out", image=["anon", 0], text=["anon", 3])}
    out = comfy.run(g)
    face = json.loads(out["out"]["text"])["faces"][0]
    levels = [t for t, _ in face["attempts"]]
    assert levels == list(range(10, levels[-1] + 1, 10)) and len(levels) >= 3, face
    assert face["status"] in (F.ANONYMIZED, F.NO_FACE) and face["t_boom"] == levels[-1]
    # Independently: one pass at each tried level (no loop) with the same seed.
    for t in levels:
        g["anon"] = oracle_anonymize(t_boom=t, until_unrecognizable=False)
        single = comfy.run(g)
        d = json.loads(single["out"]["text"])["faces"][0]["distance"]
        if t < levels[-1]:
            assert d is not None and d < 0.6, (t, d)  # still recognized: the loop had to go on
        else:
            assert d is None or d >= 0.6
            assert torch.equal(single["out"]["image"], out["out"]["image"])  # the same seed at every try


# ---------------------------------------------------------------- optional dependency

def test_missing_dlib_gives_one_install_message(dlib_faces):
    def no_dlib(name):
        raise ImportError(f"No module named {name!r}")

    with pytest.raises(dlib_faces.FaceDependencyError) as err:
        dlib_faces.load(importer=no_dlib)
    assert "pip install dlib-bin face-recognition-models" in str(err.value)


def test_without_dlib_the_pack_loads_and_a_face_node_says_what_to_install(tmp_path):
    """A fresh process where ``import dlib`` fails: every node registers, a non-face graph runs, the face
    node fails with the install message."""
    code = textwrap.dedent("""
        import sys
        sys.modules["dlib"] = None  # makes `import dlib` raise ImportError
        from testkit.runtime import runtime, write_photo
        from testkit import graphs
        import headless
        rt = runtime()
        assert {"AnonymizeFaces", "FaceIdentityDistance", "BoomerangFaceDetect"} <= set(rt.nodes.NODE_CLASS_MAPPINGS)
        rt.run(graphs.oracle_boomerang(t_boom=5, batch=1, size=8))
        name = write_photo(rt.folder_paths.get_input_directory(), 32)
        g = {"img": {"class_type": "LoadImage", "inputs": {"image": name}},
             "det": {"class_type": "BoomerangFaceDetect", "inputs": {"image": ["img", 0], "detector": "hog",
                     "upsample": 0, "margin": 0.3, "min_size": 0, "max_faces": 1}},
             "c": graphs.capture("x", text=["det", 1])}
        try:
            rt.run(g)
        except headless.GraphError as e:
            print("ERROR", e)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "ERROR" in out.stdout and "pip install dlib-bin face-recognition-models" in out.stdout


# ---------------------------------------------------------------- bad input

def message(fn, *args):
    with pytest.raises(BoomerangInputError) as err:
        fn(*args)
    return err.value


@pytest.mark.parametrize("case,name,allowed,received", [
    ("mask", "mask", "[1 or 2, 32, 48]", "(2, 32, 40)"),
    ("empty", "image", "at least 1 image", "empty batch"),
    ("grey", "image", "RGB images (3 channels)", "1 channels greyscale"),
    ("alpha", "image", "RGB images (3 channels)", "4 channels RGBA"),
    ("box", "boxes", "0 <= left < right <= 48", "[40, 0, 60, 10]"),
    ("box_negative", "boxes", "0 <= top < bottom <= 32", "[0, -5, 10, 10]"),
    ("threshold_low", "threshold", "(0, 2)", "0.0"),
    ("threshold_high", "threshold", "(0, 2)", "2.5"),
    ("t_boom_max", "t_boom_max", "[t_boom = 500, T]", "400"),
])
def test_bad_inputs_name_the_input_range_and_value(case, name, allowed, received):
    images = torch.rand(2, 32, 48, 3)
    calls = {
        "mask": (F.check_mask, torch.zeros(2, 32, 40), images),
        "empty": (F.check_images, torch.zeros(0, 32, 48, 3)),
        "grey": (F.check_images, torch.zeros(1, 32, 48, 1)),
        "alpha": (F.check_images, torch.zeros(1, 32, 48, 4)),
        "box": (F.parse_boxes, "[[40, 0, 60, 10]]", [(48, 32)] * 2),
        "box_negative": (F.parse_boxes, "[[[0, 0, 5, 5]], [[0, -5, 10, 10]]]", [(48, 32)] * 2),
        "threshold_low": (F.check_threshold, 0.0),
        "threshold_high": (F.check_threshold, 2.5),
        "t_boom_max": (F.check_t_boom_range, 500, 400, True),
    }
    fn, *args = calls[case]
    err = message(fn, *args)
    text = str(err)
    assert err.input_name == name and text.startswith(f"{name} must be ")
    assert allowed in text and received in text, text


def test_bad_threshold_is_refused_before_the_graph_runs(comfy, photos):
    ckpt = tiny_checkpoint(comfy)
    g = {**graphs.checkpoint_nodes(ckpt), **load("one", photos["one"]),
         "anon": anonymize(("one", 0), threshold=0.0, t_boom_max=100),
         "c": graphs.capture("out", image=["anon", 0])}
    with pytest.raises(Exception) as err:
        comfy.run(g)
    assert "threshold must be a number in (0, 2); received 0.0" in str(err.value)


# ---------------------------------------------------------------- the anonymity benchmark keeps working

def test_bench_anonymity_smoke_writes_table_and_histogram(tmp_path):
    """Structure only (tiny random checkpoint): every level has a row counting every output, the shares add up."""
    run_smoke("benchmarks.bench_anonymity", "--size", "128", "--steps", "2", "--seeds", "1", "--fractions", "0.2,0.8",
              "--out", tmp_path, timeout=600)
    doc = (tmp_path / "ANONYMITY.md").read_text()
    rows = [line for line in doc.splitlines() if line.startswith("| 0.")]
    assert [r.split(" | ")[0] for r in rows] == ["| 0.2", "| 0.8"]
    for row in rows:
        cells = row.strip("|").split(" | ")
        assert cells[1].strip() == "3"  # three astronaut face crops: one output each
        no_face, different = int(cells[2].split("/")[0]), int(cells[3].split("/")[0])
        assert 0 <= no_face <= different <= 3
    assert "structure only" in doc and "says nothing about anonymity" in doc
    assert (tmp_path / "anonymity.png").read_bytes()[:4] == b"\x89PNG"
