"""Dataset jobs (python -m headless dataset / headless.dataset.run_job) on the built-in digits model."""
import hashlib
import importlib.util
import json
import logging
import math
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from boomerang.advice import RECOMMENDED
from headless.dataset import JobSpec, run_job
from testkit.bench_smoke import run_smoke
from testkit.dataset_helpers import REPO, manifest_rows, one_thread, output_files, pixels, spec_seed, write_digits

FAST = {"t_boom": 20}  # the exact sampler over 20 of T = 1000 steps: a near copy, a few ms per image


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


def test_folder_job_end_to_end(comfy, tmp_path, caplog):
    src, out = tmp_path / "digits", tmp_path / "out"
    rels = write_digits(src, 30)
    result = run_job(JobSpec(preset="anonymize", batch=8, seed=7, **FAST), src, out, runtime=comfy, progress=False)
    assert (result.total, result.done_now, result.skipped, result.failed, result.exit_code) == (30, 30, 0, [], 0)
    files = output_files(out)
    assert sorted(files) == rels  # mirrored relative paths, nothing else (no temporary file)
    rows = manifest_rows(out)
    assert len(rows) == 30
    for rel in rels:
        row = rows[(rel, 0)]
        assert row["state"] == "done" and row["output"] == rel and row["attempts"] == 1
        assert int(row["seed"]) == spec_seed(7, rel, 0)
        assert row["input_hash"] == hashlib.sha256((src / rel).read_bytes()).hexdigest()
        # a local sample: close to its input at t_boom/T = 0.02, yet not a copy of it
        diff = np.abs(files[rel].astype(float) - pixels(src / rel)) / 255
        assert 0 < diff.mean() < 0.06, (rel, diff.mean())
    text = Image.open(out / rels[4]).text
    assert {k: text[k] for k in ("model", "t_boom", "sampler", "seed", "source", "copy")} == {
        "model": "digits-ddpm (built-in)", "t_boom": "20", "sampler": "boomerang_exact",
        "seed": str(spec_seed(7, rels[4], 0)), "source": rels[4], "copy": "0"}
    assert text["steps"] == str(min(RECOMMENDED.steps, 20))  # the default fast steps, at most t_boom (recorded)
    # item 4 (in the first batch of 8) re-made alone from the graph stored in its PNG: bit-identical
    graph = json.loads(text["prompt"])
    assert "seeds" not in graph and graph["noise"]["inputs"]["seed"] == spec_seed(7, rels[4], 0)
    input_dir = comfy.folder_paths.get_input_directory()
    shutil.copy(src / rels[4], f"{input_dir}/{graph['image']['inputs']['image']}")
    graph["save"]["inputs"]["filename_prefix"] = "dataset-remake/one"
    saved = comfy.execute(graph)["history"]["outputs"]["save"]["images"][0]
    alone = pixels(comfy.output_dir / saved["subfolder"] / saved["filename"])
    assert np.array_equal(alone, files[rels[4]])
    # the same command again does nothing; a changed input is redone, alone
    again = run_job(JobSpec(preset="anonymize", batch=8, seed=7, **FAST), src, out, runtime=comfy, progress=False)
    assert (again.done_now, again.skipped) == (0, 30)
    shutil.copy(src / rels[1], src / rels[0])
    changed = run_job(JobSpec(preset="anonymize", batch=3, seed=7, **FAST), src, out, runtime=comfy, progress=False)
    assert (changed.done_now, changed.skipped) == (1, 29)
    assert manifest_rows(out)[(rels[0], 0)]["input_hash"] == hashlib.sha256((src / rels[1]).read_bytes()).hexdigest()


def _per_item_graph(seeds, per_item: bool, t_boom: int = 12) -> dict:
    model = ["per", 0] if per_item else ["load", 0]
    graph = {
        "load": {"class_type": "PixelDiffusionLoader",
                 "inputs": {"model_name": "digits-ddpm (built-in)", "weight_dtype": "float32"}},
        "per": {"class_type": "BoomerangPerItemModel", "inputs": {"model": ["load", 0]}},
        "lat": {"class_type": "BoomerangTestLatent", "inputs": {"value": 0.3, "batch": len(seeds), "channels": 3,
                                                                "height": 16, "width": 16, "with_extras": False}},
        "seeds": {"class_type": "BoomerangItemSeeds",
                  "inputs": {"latent": ["lat", 0], "seeds": ",".join(map(str, seeds))}},
        "noise": {"class_type": "BoomerangNoise",
                  "inputs": {"model": model, "latent": ["seeds", 0], "t_boom": t_boom, "seed": 0}},
        "rev": {"class_type": "PartialReverseSampler",
                "inputs": {"model": model, "positive": ["load", 2], "negative": ["load", 2], "latent": ["noise", 0],
                           "cfg": 1.0, "sampler": "boomerang_exact", "scheduler": "karras", "steps": 1, "seed": 0}},
        "cap": {"class_type": "BoomerangTestCapture", "inputs": {"tag": "out", "latent": ["rev", 0]}}}
    if not per_item:
        del graph["per"]
    return graph


def test_batch_size_changes_no_output_bit(comfy):
    # Regression: batched float kernels round differently per batch size (the digits UNet differs by ~3e-6
    # between batch 1 and 8 on CPU, and 1 of 12288 8-bit values flipped in bench_datasets). With
    # BoomerangPerItemModel (what the presets use) a batch of 6 equals, in float32 bit for bit, each item run
    # alone with its own seed; the seeds node alone makes the noise equal but not the model's rounding.
    seeds = [spec_seed(1, f"item{i}", 0) for i in range(6)]
    batched = comfy.run(_per_item_graph(seeds, per_item=True))["out"]["latent"]["samples"]
    alone = [comfy.run(_per_item_graph([s], per_item=True))["out"]["latent"]["samples"] for s in seeds]
    assert all(torch.equal(batched[i:i + 1], alone[i]) for i in range(6))
    plain = [comfy.run(_per_item_graph([s], per_item=False))["out"]["latent"]["samples"] for s in seeds[:2]]
    assert all(torch.equal(plain[i], alone[i]) for i in range(2))  # batch of one: the wrapper changes nothing
    fast = comfy.run(_per_item_graph(seeds, per_item=False))["out"]["latent"]["samples"]
    assert (fast - batched).abs().max() < 1e-4  # the same result up to rounding


def test_augment_copies_list_file_and_changed_parameters(comfy, tmp_path):
    src, out = tmp_path / "digits", tmp_path / "out"
    rels = write_digits(src, 3, offset=40, subfolders=1)
    listing = tmp_path / "list.txt"
    listing.write_text("# two of the three\n" + "\n".join(f"digits/{r}" for r in rels[:2]) + "\n")
    spec = JobSpec(preset="augment", copies=3, batch=4, **FAST)
    result = run_job(spec, listing, out, runtime=comfy, progress=False)
    assert (result.total, result.done_now) == (6, 6)
    names = sorted(output_files(out))
    assert names == sorted(f"digits/{r[:-4]}_c{c:02d}.png" for r in rels[:2] for c in range(3))
    copies = [pixels(out / n) for n in names[:3]]
    assert not np.array_equal(copies[0], copies[1]) and not np.array_equal(copies[1], copies[2])
    seeds = {int(Image.open(out / n).text["seed"]) for n in names}
    assert seeds == {spec_seed(0, f"digits/{r}", c) for r in rels[:2] for c in range(3)}
    # other parameters: every item is redone (and batch size is not a parameter: same bytes)
    redo = run_job(JobSpec(preset="augment", copies=3, batch=1, t_boom=21), listing, out, runtime=comfy,
                   progress=False)
    assert (redo.done_now, redo.skipped) == (6, 0)
    back = run_job(JobSpec(preset="augment", copies=3, batch=2, **FAST), listing, out, runtime=comfy, progress=False)
    assert back.done_now == 6 and np.array_equal(pixels(out / names[0]), copies[0])


def test_workflow_file_job_runs_per_item_seeds(comfy, tmp_path):
    src, out = tmp_path / "digits", tmp_path / "out"
    rels = write_digits(src, 3, offset=60, subfolders=1)
    workflow = {
        "1": {"class_type": "PixelDiffusionLoader", "inputs": {"model_name": "digits-ddpm "
                                                                             "(built-in)", "weight_dtype": "float32"}},
        "2": {"class_type": "LoadImage", "inputs": {"image": "anything.png"}},
        "3": {"class_type": "VAEEncode", "inputs": {"pixels": ["2", 0], "vae": ["1", 1]}},
        "4": {"class_type": "Boomerang", "inputs": {"model": ["1", 0], "positive": ["1", 2], "negative": ["1", 2],
                                                    "latent": ["3", 0], "t_boom": 15, "cfg": 1.0,
                                                    "sampler": "boomerang_exact", "scheduler": "karras", "steps": 15,
                                                    "seed": 5}},
        "5": {"class_type": "VAEDecode", "inputs": {"samples": ["4", 0], "vae": ["1", 1]}},
        "6": {"class_type": "SaveImage", "inputs": {"images": ["5", 0], "filename_prefix": "x"}}}
    path = tmp_path / "boomerang_api.json"
    path.write_text(json.dumps(workflow))
    result = run_job(JobSpec(workflow=path, batch=2, seed=3), src, out, runtime=comfy, progress=False)
    assert (result.done_now, result.failed) == (3, [])
    text = Image.open(out / rels[2]).text
    assert (text["t_boom"], text["sampler"], text["seed"]) == ("15", "boomerang_exact", str(spec_seed(3, rels[2], 0)))
    # the per-item graph: the user's graph with only the image and the seed changed, bit-identical alone
    alone = json.loads(text["prompt"])
    assert alone["4"]["inputs"] == {**workflow["4"]["inputs"], "seed": spec_seed(3, rels[2], 0)}
    shutil.copy(src / rels[2], f"{comfy.folder_paths.get_input_directory()}/{alone['2']['inputs']['image']}")
    saved = comfy.execute(alone)["history"]["outputs"]["6"]["images"][0]
    assert np.array_equal(pixels(comfy.output_dir / saved["subfolder"] / saved["filename"]), pixels(out / rels[2]))
    # a graph whose SaveImage does not use the LoadImage is refused by name
    from headless.dataset.graph import workflow_template

    workflow["6"]["inputs"]["images"] = ["7", 0]
    workflow["7"] = {"class_type": "EmptyImage", "inputs": {"width": 16, "height": 16, "batch_size": 1, "color": 0}}
    path.write_text(json.dumps(workflow))
    with pytest.raises(ValueError, match=r"the SaveImage \(node 6\) does not depend on the LoadImage \(node 2\)"):
        workflow_template(comfy.nodes.NODE_CLASS_MAPPINGS, path)


def test_upscale_preset(comfy, tmp_path):
    src, out = tmp_path / "digits", tmp_path / "out"
    rels = write_digits(src, 2, offset=80, subfolders=1)
    result = run_job(JobSpec(preset="upscale", factor=2.0, t_boom=10, batch=2), src, out, runtime=comfy,
                     progress=False)
    assert (result.done_now, result.failed) == (2, [])
    for rel in rels:
        big = pixels(out / rel)
        assert big.shape == (32, 32, 3)
        # close to the input at its own resolution (2x2 means of the output against the 16x16 input)
        small = big.reshape(16, 2, 16, 2, 3).mean(axis=(1, 3))
        assert np.abs(small - pixels(src / rel)).mean() / 255 < 0.1
    text = Image.open(out / rels[0]).text
    assert (text["t_boom"], text["seed"]) == ("10", str(spec_seed(0, rels[0], 0)))
    assert json.loads(text["prompt"])["upscale"]["inputs"]["factor"] == 2.0


def test_bad_files_are_converted_or_reported_and_skipped(comfy, tmp_path, caplog):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(src / "a_good.png")
    cmyk = Image.fromarray(rgb).convert("CMYK")
    cmyk.save(src / "b_cmyk.jpg", quality=100)
    wide = rng.integers(0, 65536, (16, 16), dtype=np.uint16)
    Image.fromarray(wide).save(src / "c_16bit.png")
    rgba = np.dstack([rgb, np.full((16, 16), 90, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(src / "d_alpha.png")
    (src / "e_empty.png").write_bytes(b"")
    (src / "f_corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg" * 3)
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(src / "g_too_big.png")
    (src / "notes.txt").write_text("not an image: ignored")
    caplog.set_level(logging.INFO, logger="boomerang")
    result = run_job(JobSpec(preset="anonymize", t_boom=0, max_pixels=1000, batch=4), src, out, runtime=comfy,
                     progress=False)
    failed = {rel: reason for rel, _, reason in result.failed}
    assert sorted(failed) == ["e_empty.png", "f_corrupt.jpg", "g_too_big.png"] and result.exit_code == 1
    assert failed["e_empty.png"] == "empty file (0 bytes)"
    assert failed["f_corrupt.jpg"].startswith("unreadable or corrupt image")
    assert failed["g_too_big.png"] == "40 x 40 = 1600 pixels is above --max-pixels 1000"
    assert "b_cmyk.jpg: converted CMYK to RGB" in caplog.text
    assert "c_16bit.png: converted I;16 to RGB (16-bit to 8-bit)" in caplog.text
    assert "d_alpha.png: converted RGBA to RGB (alpha dropped)" in caplog.text
    # t_boom = 0 gives the (converted) input back up to SaveImage's 8-bit truncation (at most 1 grey level), so
    # each conversion is checked against its definition
    def close(a, b):
        return np.abs(a.astype(int) - b.astype(int)).max() <= 1

    assert close(pixels(out / "a_good.png"), rgb)
    assert close(pixels(out / "b_cmyk.png"), np.asarray(Image.open(src / "b_cmyk.jpg").convert("RGB")))
    grey = np.round(wide / 257.0).astype(np.uint8)
    assert close(pixels(out / "c_16bit.png"), np.dstack([grey] * 3))
    assert close(pixels(out / "d_alpha.png"), rgb)
    rows = manifest_rows(out)
    assert rows[("e_empty.png", 0)]["state"] == "failed" and rows[("e_empty.png", 0)]["error"] == failed["e_empty.png"]
    assert sorted(output_files(out)) == ["a_good.png", "b_cmyk.png", "c_16bit.png", "d_alpha.png"]
    # failures stay failed (and listed) until --retry-failed; a fixed file is retried by it
    Image.fromarray(rgb).save(src / "g_too_big.png")
    again = run_job(JobSpec(preset="anonymize", t_boom=0, max_pixels=1000), src, out, runtime=comfy, progress=False)
    assert again.done_now == 1 and sorted(r for r, _, _ in again.failed) == ["e_empty.png", "f_corrupt.jpg"]
    retry = run_job(JobSpec(preset="anonymize", t_boom=0, max_pixels=1000), src, out, runtime=comfy,
                    retry_failed=True, progress=False)
    assert retry.done_now == 0 and len(retry.failed) == 2 and manifest_rows(out)[("f_corrupt.jpg", 0)]["attempts"] == 2


@pytest.mark.parametrize("args, message", [
    (["--t-boom", "-5"], "--t-boom must be an integer in [0, 10000]; received -5"),
    (["--preset", "blur"], "--preset must be one of anonymize, augment, upscale; received 'blur'"),
    (["--preset", "augment", "--copies", "0"], "--copies must be an integer in [1, 1000]; received 0"),
    (["--copies", "2"], "--copies must be 1 unless --preset augment; received 2"),
    (["--batch", "0"], "--batch must be an integer in [1, 1024]; received 0"),
    (["--factor", "0.5", "--preset", "upscale"], "--factor must be a number in [1, 64]; received 0.5"),
    (["--max-pixels", "0"], "--max-pixels must be an integer in [1, 17179869184]; received 0"),
    (["--checkpoint", "/nonexistent/sd.safetensors"], "--checkpoint must be an existing diffusers model folder or "
                                                      "checkpoint file; received /nonexistent/sd.safetensors"),
    (["--workers", "2"], "--workers needs --ray; received --workers 2 without it"),
])
def test_cli_rejects_bad_settings_with_range_and_value(tmp_path, args, message):
    (tmp_path / "in").mkdir()
    proc = subprocess.run([sys.executable, "-m", "headless", "dataset", str(tmp_path / "in"), str(tmp_path / "out"),
                           *args], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr[-2000:]


def test_cli_names_ambiguous_workflows_inputs_and_missing_ray(tmp_path):
    (tmp_path / "in").mkdir()
    two = {"1": {"class_type": "LoadImage", "inputs": {"image": "a.png"}},
           "2": {"class_type": "LoadImage", "inputs": {"image": "b.png"}},
           "3": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "x"}}}
    (tmp_path / "two.json").write_text(json.dumps(two))

    def cli(*args, pre=""):
        code = pre + "import sys; from headless.__main__ import main; sys.exit(main(sys.argv[1:]))"
        return subprocess.run([sys.executable, "-c", code, "dataset", *map(str, args)], cwd=REPO,
                              capture_output=True, text=True, timeout=120)

    proc = cli(tmp_path / "in", tmp_path / "out", "--workflow", tmp_path / "two.json")
    assert proc.returncode == 2
    assert "must have exactly one LoadImage node (the job's input); " in proc.stderr
    assert "has 2 (node ids 1, 2), which is ambiguous" in proc.stderr
    proc = cli(tmp_path / "missing", tmp_path / "out")
    assert proc.returncode == 2 and "input must be an existing folder of images or a list file; received" in proc.stderr
    proc = cli(tmp_path / "in", tmp_path / "in" / "out")
    assert proc.returncode == 2 and "--output must be outside the input folder" in proc.stderr
    write_digits(tmp_path / "in", 1)
    proc = cli(tmp_path / "in", tmp_path / "out", "--ray", pre="import sys; sys.modules['ray'] = None; ")
    assert proc.returncode == 3 and 'pip install "ray==' in proc.stderr, proc.stderr[-2000:]


def test_bench_datasets_smoke(tmp_path):
    out = tmp_path / "DATASETS.md"
    run_smoke("benchmarks.bench_datasets", "--out", out)
    text = out.read_text()
    assert "outputs of all rows byte-identical: yes" in text
    for row in ("| 1 process, batch 1,", "| 1 process, batch 8,", "| manifest SQL", "| atomic write"):
        assert row in text
    if importlib.util.find_spec("ray") is not None:
        assert "| 2 Ray workers, batch 8, 1 thread each |" in text


def test_bench_steady_rate_does_not_over_count_parallel_workers():
    """Regression (issue 11's Ray row, 12.56 items/s = 2.57x one process on 2 cores): with the window opened at
    the first commit, 2 workers whose batches land together were counted 1.5x too fast."""
    from benchmarks.bench_datasets import steady_rate

    period, skew, batch = 2.0, 0.1, 8  # each of 2 workers commits 8 items every 2 s, 0.1 s apart
    commits = sorted((k * period + w * skew, 0) for k in (1, 2, 3, 4) for w in (0, 1))
    commits = [(t, batch * (i + 1)) for i, (t, _) in enumerate(commits)]
    assert steady_rate(commits, workers=2) == pytest.approx(2 * batch / period)  # 8 items/s, the true rate
    assert math.isnan(steady_rate(commits[:2], workers=2))  # one round only: no window to measure
    one = [(k * period, batch * k) for k in (1, 2, 3, 4)]
    assert steady_rate(one, workers=1) == pytest.approx(batch / period)
