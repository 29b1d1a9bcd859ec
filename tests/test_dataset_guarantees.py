"""Issue 20: dataset jobs never touch an input, never drop or double an item, take any image size, never pass
NaN on, and keep their failure reasons short. One test per item of the issue; each failed on the code before it.

Truths: the inputs' bytes (hashed before the job), a t_boom 0 run that must give every input back (within one
grey level of SaveImage's 8-bit rounding) wherever padding and cropping put it, the sizes of the input files,
and the pid of a real job process killed with SIGKILL."""
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from headless import GraphError
from headless.dataset import JobSpec, run_job
from testkit import graphs
from testkit.dataset_helpers import REPO, done_count, manifest_rows, one_thread, output_files, pixels, write_digits
from testkit.runtime import tiny_checkpoint

DIGITS = {"model_name": "digits-ddpm (built-in)", "weight_dtype": "float32"}


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


def hashes(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def cli(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "headless", "dataset", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def smooth(width: int, height: int, seed: int = 0) -> np.ndarray:
    """An RGB image with content at every border (gradients and a random tint), uint8."""
    y, x = np.mgrid[0:height, 0:width].astype(float)
    tint = np.random.default_rng(seed).uniform(0.2, 0.8, 3)
    ramp = 0.5 + 0.4 * np.sin(x / max(width, 2) * 3.0 + y / max(height, 2) * 2.0)
    return np.clip(np.stack([ramp * tint[c] * 1.6 for c in range(3)], axis=-1) * 255, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- 1. inputs are sacred

def test_inputs_inside_the_output_folder_are_never_replaced(comfy, tmp_path):
    """Regression: a list file whose images sit in the output folder had them replaced by the outputs."""
    out = tmp_path / "out"
    rels = write_digits(out, 3, offset=250, subfolders=1)
    listing = out / "list.txt"
    listing.write_text("\n".join(rels) + "\n")
    before = hashes(out)
    spec = JobSpec(preset="anonymize", t_boom=4)
    with pytest.raises(ValueError, match=r"the job would write .*digit_.*\.png, which is the input .*choose an "
                                         r"--output folder that holds no input"):
        run_job(spec, listing, out, runtime=comfy, progress=False)
    assert hashes(out) == before  # byte-identical, and nothing added (no manifest either)
    # a file at an output path that no job of the folder made is not replaced either
    src, other = tmp_path / "in", tmp_path / "other"
    mine = write_digits(src, 1, offset=250, subfolders=1)[0]
    (other / mine).parent.mkdir(parents=True)
    (other / mine).write_bytes(b"the user's own file")
    with pytest.raises(ValueError, match="already exists and was not made by a job in this folder"):
        run_job(spec, src, other, runtime=comfy, progress=False)
    assert (other / mine).read_bytes() == b"the user's own file"
    # --output equal to the list file (or any file): a one-sentence refusal, exit 2, no traceback
    proc = cli(listing, listing, "--no-progress")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert f"--output must be a folder; received {listing}, an existing file" in proc.stderr
    assert hashes(out) == before


# ---------------------------------------------------------------- 2. distinct inputs, distinct items

def test_dotdot_pair_symlinked_folder_and_shared_outputs(comfy, tmp_path):
    """Regression: `sub/../q.png` and `sub/q.png` became one item (one input silently dropped); a symlinked
    folder was skipped without a word; a.png and a.jpg were both written to a.png (one recorded as failed)."""
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    top, inner = smooth(16, 16, 1), smooth(16, 16, 2)
    Image.fromarray(top).save(root / "q.png")
    Image.fromarray(inner).save(root / "sub" / "q.png")
    listing = root / "list.txt"
    listing.write_text("sub/../q.png\nsub/q.png\n./q.png\n")  # ./q.png is the same file as sub/../q.png
    out = tmp_path / "out"
    result = run_job(JobSpec(preset="anonymize", t_boom=0), listing, out, runtime=comfy, progress=False)
    assert (result.total, result.done_now, result.failed) == (2, 2, [])
    assert sorted(output_files(out)) == ["q.png", "sub/q.png"]
    assert np.abs(pixels(out / "q.png").astype(int) - top).max() <= 1  # each made from its own file
    assert np.abs(pixels(out / "sub/q.png").astype(int) - inner).max() <= 1
    # a line outside the list's folder needs --root, which then keys it
    elsewhere = tmp_path / "lists" / "list.txt"
    elsewhere.parent.mkdir()
    elsewhere.write_text(f"{root / 'q.png'}\n")
    with pytest.raises(ValueError, match=r"line 1 .* is .*q\.png: pass --root"):
        run_job(JobSpec(preset="anonymize", t_boom=0), elsewhere, tmp_path / "out2", runtime=comfy, progress=False)
    keyed = run_job(JobSpec(preset="anonymize", t_boom=0), elsewhere, tmp_path / "out2", root=root,
                    runtime=comfy, progress=False)
    assert keyed.done_now == 1 and sorted(output_files(tmp_path / "out2")) == ["q.png"]
    # a symlinked folder inside the input folder is followed
    src, shared = tmp_path / "src", tmp_path / "shared"
    rels = write_digits(shared, 1, offset=260, subfolders=1)
    write_digits(src, 1, offset=261, subfolders=1)
    (src / "linked").symlink_to(shared, target_is_directory=True)
    linked = run_job(JobSpec(preset="anonymize", t_boom=0), src, tmp_path / "out3", runtime=comfy, progress=False)
    assert linked.done_now == 2 and f"linked/{rels[0]}" in output_files(tmp_path / "out3")
    # two inputs that would share an output path: refused before the job starts, naming both
    Image.fromarray(top).save(src / "a.png")
    Image.fromarray(inner).save(src / "a.jpg", quality=95)
    with pytest.raises(ValueError, match=r"two inputs would be written to the same output a\.png: a\.jpg and a\.png"):
        run_job(JobSpec(preset="anonymize", t_boom=0), src, tmp_path / "out4", runtime=comfy, progress=False)
    assert not (tmp_path / "out4").exists()


# ---------------------------------------------------------------- 3. one job per output folder

def test_second_job_is_refused_and_a_killed_jobs_lock_does_not_block(comfy, tmp_path):
    """Regression: two jobs on one folder both ran (items made twice) and a starting job deleted every
    temporary file in it, the other job's too. Also: every run left two temporary folders behind."""
    src, out, tmp = tmp_path / "in", tmp_path / "out", tmp_path / "tmp"
    rels = write_digits(src, 16, offset=200)
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    args = [src, out, "--t-boom", "20", "--batch", "2", "--seed", "5", "--threads", "1", "--no-progress"]
    first = subprocess.Popen([sys.executable, "-m", "headless", "dataset", *map(str, args)], cwd=REPO, env=env,
                             stdout=subprocess.DEVNULL, stderr=open(tmp_path / "first.log", "w"))
    try:
        end = time.monotonic() + 300
        while done_count(out) < 2:
            assert first.poll() is None, (tmp_path / "first.log").read_text()[-2000:]
            assert time.monotonic() < end
            time.sleep(0.05)
        foreign = out / "part0" / f".x.png.{first.pid}-0123abcd.boomerang-tmp"  # as if the running job's
        foreign.write_bytes(b"about to be renamed by the running job")
        with pytest.raises(ValueError, match=rf"another job is running on the output folder {out}: pid "
                                             rf"{first.pid} on host \S+, started \d{{4}}-\d\d-\d\d "):
            run_job(JobSpec(preset="anonymize", t_boom=20, seed=5), src, out, runtime=comfy, progress=False)
        assert foreign.is_file()  # the refused job touched nothing
        from headless import tempdirs

        assert tempdirs.remove_stale(tmp) == []  # the live job's temporary folders are its own
        assert first.poll() is None, "the first job ended before it could be killed"
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=60) == -signal.SIGKILL
    finally:
        if first.poll() is None:
            first.kill()
    done = done_count(out)
    assert done < 16 and len(list(tmp.glob("boomerang-*"))) == 2  # SIGKILL ran no cleanup
    # the resume is not blocked; it removes the dead job's temporary file and folders, and its own at exit
    resume = cli(*args, env=env)
    assert resume.returncode == 0, resume.stderr[-3000:]
    assert f"16 item(s): {16 - done} made now, {done} already done, 0 failed" in resume.stderr
    assert not foreign.exists() and sorted(output_files(out)) == rels
    assert all(r["state"] == "done" and r["attempts"] == 1 for r in manifest_rows(out).values())
    assert list(tmp.iterdir()) == []


# ---------------------------------------------------------------- 4. any image size

SIZES = [(1, 1), (45, 37), (1000, 10)]  # width x height


def _sized_inputs(folder: Path) -> dict:
    folder.mkdir()
    images = {}
    for k, (w, h) in enumerate(SIZES):
        images[f"img_{w}x{h}.png"] = smooth(w, h, k)
        Image.fromarray(images[f"img_{w}x{h}.png"]).save(folder / f"img_{w}x{h}.png")
    return images


def test_any_size_digits_model_presets_and_nodes(comfy, tmp_path):
    """Regression: 45x37 (and 1x1, 1000x10) failed inside the digits UNet (multiples of 4) with an 11 KB dump."""
    images = _sized_inputs(tmp_path / "in")
    same = run_job(JobSpec(preset="anonymize", t_boom=0), tmp_path / "in", tmp_path / "same", runtime=comfy,
                   progress=False)
    assert same.failed == [] and same.done_now == 3
    for name, image in images.items():  # padding and cropping put every pixel back where it was
        assert np.abs(pixels(tmp_path / "same" / name).astype(int) - image).max() <= 1, name
    made = run_job(JobSpec(preset="augment", t_boom=6), tmp_path / "in", tmp_path / "made", runtime=comfy,
                   progress=False)
    assert made.failed == [] and made.done_now == 3
    for name, image in images.items():
        out = pixels(tmp_path / "made" / name)
        assert out.shape == image.shape, name
        assert np.abs(out.astype(float) - image).mean() / 255 < 0.1, name  # a near copy at t_boom 6 of 1000
    up = run_job(JobSpec(preset="upscale", factor=2.0, t_boom=6), tmp_path / "in", tmp_path / "up",
                 runtime=comfy, progress=False)
    assert up.failed == []
    assert {n: pixels(tmp_path / "up" / n).shape[:2] for n in images} == {
        n: (2 * i.shape[0], 2 * i.shape[1]) for n, i in images.items()}
    # the nodes refuse a latent the network cannot take, naming the size, the multiple and the node that pads
    g = {"load": {"class_type": "PixelDiffusionLoader", "inputs": DIGITS},
         "lat": graphs.const_latent(0.1, batch=1, channels=3, height=37, width=45),
         "boom": {"class_type": "Boomerang", "inputs": {"model": ["load", 0], "positive": ["load", 2],
                                                        "negative": ["load", 2], "latent": ["lat", 0], "t_boom": 5,
                                                        **graphs.pass_settings(steps=5), "seed": 0}},
         "cap": graphs.capture("out", latent=["boom", 0])}
    with pytest.raises(GraphError) as err:
        comfy.run(g)
    message = str(err.value)
    assert "latent must be a latent whose height and width are multiples of 4" in message
    assert "received '37 x 45 (height x width)'" in message and "Boomerang VAE Encode" in message


def test_any_size_tiny_sd_checkpoint(comfy, tmp_path):
    """Regression: on an SD checkpoint 45x37 came back 40x32 (ComfyUI's VAE crops) and 1x1 failed."""
    images = _sized_inputs(tmp_path / "in")
    ckpt = comfy.models / "checkpoints" / tiny_checkpoint(comfy)
    spec = JobSpec(preset="anonymize", checkpoint=ckpt, t_boom=100, sampler="euler", steps=2, cfg=1.0)
    result = run_job(spec, tmp_path / "in", tmp_path / "out", runtime=comfy, progress=False)
    assert result.failed == [] and result.done_now == 3
    for name, image in images.items():
        assert pixels(tmp_path / "out" / name).shape == image.shape, name


# ---------------------------------------------------------------- 5. no silent garbage

def test_nan_model_and_vae_stop_with_the_stage_dtype_and_fix(comfy):
    """Regression: a model or VAE returning NaN gave black images and no error."""
    g = {"load": {"class_type": "PixelDiffusionLoader", "inputs": DIGITS},
         "nan": {"class_type": "BoomerangTestNaNModel", "inputs": {"model": ["load", 0]}},
         "lat": graphs.const_latent(0.1, batch=1, channels=3, height=16, width=16),
         "boom": {"class_type": "Boomerang", "inputs": {"model": ["nan", 0], "positive": ["load", 2],
                                                        "negative": ["load", 2], "latent": ["lat", 0], "t_boom": 3,
                                                        **graphs.pass_settings(steps=3), "seed": 0}},
         "cap": graphs.capture("out", latent=["boom", 0])}
    with pytest.raises(GraphError, match=r"the model returned non-finite values \(768 of 768 NaN or infinite\) "
                                         r"running in float32; run the model in float32"):
        comfy.run(g)
    decode = {"vae": {"class_type": "BoomerangTestNaNVAE", "inputs": {}},
              "lat": graphs.const_latent(0.1, batch=1, channels=3, height=8, width=8),
              "dec": {"class_type": "BoomerangVAEDecode", "inputs": {"samples": ["lat", 0], "vae": ["vae", 0]}},
              "cap": graphs.capture("out", image=["dec", 0])}
    with pytest.raises(GraphError, match=r"VAE decode returned non-finite values \(192 of 192 NaN or infinite\) "
                                         r"running in float32; run the VAE in float32: start ComfyUI with --fp32-vae"):
        comfy.run(decode)


def test_nan_face_is_never_counted_as_anonymized(comfy):
    """Regression: AnonymizeFaces reported a NaN face as anonymized (no face found in the output)."""
    from boomerang import faces as F

    with pytest.raises(Exception, match="the face sample at t_boom 300 returned non-finite values") as err:
        F.until_unrecognizable(lambda t: torch.full((1, 8, 8, 3), float("nan")), lambda s: None, [300, 500], 0.6)
    assert type(err.value).__name__ == "NonFiniteError"
    folder = Path(comfy.folder_paths.get_input_directory())
    Image.fromarray(smooth(64, 64, 3)).save(folder / "nan_face.png")
    g = {"load": {"class_type": "PixelDiffusionLoader", "inputs": DIGITS},
         "nan": {"class_type": "BoomerangTestNaNModel", "inputs": {"model": ["load", 0]}},
         "img": {"class_type": "LoadImage", "inputs": {"image": "nan_face.png"}},
         "anon": {"class_type": "AnonymizeFaces", "inputs": {
             "image": ["img", 0], "vae": ["load", 1], "model": ["nan", 0], "positive": ["load", 2],
             "negative": ["load", 2], "detector": "hog", "upsample": 0, "margin": 0.0, "min_size": 8,
             "max_faces": 4, "working_size": 64, "t_boom": 4, "until_unrecognizable": True, "t_boom_step": 2,
             "t_boom_max": 8, "threshold": 0.6, "still_recognizable": "blur", "feather": 0.15, "cfg": 1.0,
             "sampler": "boomerang_exact", "scheduler": "simple", "steps": 4, "seed": 1, "only_face": -1,
             "boxes": ["box", 0]}},
         "box": {"class_type": "PrimitiveString", "inputs": {"value": "[[[8, 8, 40, 40]]]"}},
         "cap": graphs.capture("out", image=["anon", 0], text=["anon", 2])}
    with pytest.raises(GraphError, match="the model returned non-finite values") as err:
        comfy.run(g)
    assert "anonymized" not in str(err.value)


# ---------------------------------------------------------------- 6. short reasons

def test_failure_reasons_are_one_line_and_the_full_error_is_logged(comfy, tmp_path):
    """Regression: a failed item's reason was ComfyUI's whole error dict (11-13 KB) in the manifest and summary."""
    import json

    src, out = tmp_path / "in", tmp_path / "out"
    rels = write_digits(src, 2, offset=270, subfolders=1)
    workflow = {  # t_boom 5000 passes validation (the schema allows 10000) and fails in the node: T is 1000
        "1": {"class_type": "PixelDiffusionLoader", "inputs": DIGITS},
        "2": {"class_type": "LoadImage", "inputs": {"image": "x.png"}},
        "3": {"class_type": "VAEEncode", "inputs": {"pixels": ["2", 0], "vae": ["1", 1]}},
        "4": {"class_type": "Boomerang", "inputs": {"model": ["1", 0], "positive": ["1", 2], "negative": ["1", 2],
                                                    "latent": ["3", 0], "t_boom": 5000,
                                                    **graphs.pass_settings(steps=3), "seed": 0}},
        "5": {"class_type": "VAEDecode", "inputs": {"samples": ["4", 0], "vae": ["1", 1]}},
        "6": {"class_type": "SaveImage", "inputs": {"images": ["5", 0], "filename_prefix": "x"}}}
    path = tmp_path / "bad_api.json"
    path.write_text(json.dumps(workflow))
    result = run_job(JobSpec(workflow=path, batch=2), src, out, runtime=comfy, progress=False)
    assert sorted(r for r, _, _ in result.failed) == rels
    expected = ("BoomerangInputError in node 4 (Boomerang): t_boom must be an integer in [0, 1000]; received 5000. "
                "This model has T = 1000 timesteps")
    assert [reason for _, _, reason in result.failed] == [expected, expected]
    assert {r["error"] for r in manifest_rows(out).values()} == {expected}
    log = (out / "boomerang-errors.log").read_text()
    assert all(f"{rel} (copy 0): {expected}" in log for rel in rels) and "Traceback" in log and "level_for" in log
    from headless.dataset.cli import failure_lines

    assert failure_lines(result)[-1] == f"full errors of the failed items: {out / 'boomerang-errors.log'}"
