"""Where the pack computes (issue 17): ComfyUI's own device choice by default, --cpu / device="cpu" honoured, a GPU
request without a GPU refused naming the option and what torch found, the device recorded per dataset item, and
Ray actors booted on the GPU Ray gives them. CPU only.

Truths: ComfyUI's own argument parser and model_management state; the manifest and PNG files as written on disk.
"""
import importlib
import json
import sqlite3
import subprocess
import sys

import pytest
import torch
from PIL import Image

import headless
from boomerang.checks import BoomerangInputError
from headless.dataset import JobSpec, run_job
from headless.dataset.manifest import FILENAME, Manifest
from headless.dataset.ray_pool import actor_plan
from headless.device import ALLOWED, check_device, comfy_arguments, has_accelerator, parse_device
from testkit.dataset_helpers import REPO, write_digits

NO_GPU = not torch.cuda.is_available()
needs_no_gpu = pytest.mark.skipif(not NO_GPU, reason="the refusal is for machines without a CUDA device")
NO_CUDA_HINT = f"torch finds no CUDA device here (torch {torch.__version__})"


@pytest.mark.parametrize("text,parsed", [(None, (None, None)), ("cpu", ("cpu", None)), ("CPU", ("cpu", None)),
                                         ("cuda", ("cuda", None)), ("cuda:3", ("cuda", 3))])
def test_device_spellings(text, parsed):
    assert parse_device(text) == parsed


@pytest.mark.parametrize("bad", ["tpu", "cuda:", "cuda:-1", "gpu", 0, ""])
def test_unknown_device_names_the_option_and_the_allowed_values(bad):
    with pytest.raises(BoomerangInputError) as err:
        check_device(bad, "--device")
    assert str(err.value) == f"--device must be {ALLOWED}; received {bad!r}"


@needs_no_gpu
@pytest.mark.parametrize("request_", ["cuda", "cuda:0"])
def test_gpu_request_without_gpu_is_refused_by_the_runtime(request_):
    with pytest.raises(BoomerangInputError) as err:
        headless.ComfyRuntime(device=request_)
    assert str(err.value) == f"device must be {ALLOWED}; received {request_!r}. {NO_CUDA_HINT}"


def test_cpu_is_honoured_by_the_booted_comfyui(comfy):
    """The tests' runtime is booted with device="cpu": ComfyUI got --cpu and computes on the CPU."""
    cli_args = importlib.import_module("comfy.cli_args")
    mm = importlib.import_module("comfy.model_management")
    assert comfy.device == "cpu" and comfy.device_name == "cpu"
    assert cli_args.args.cpu is True and mm.cpu_state == mm.CPUState.CPU
    assert str(mm.get_torch_device()) == "cpu"
    parser = cli_args.parser  # ComfyUI's own parser reads our arguments as meant
    assert parser.parse_args(comfy_arguments("cpu")).cpu is True
    cuda1 = parser.parse_args(comfy_arguments("cuda:1"))
    assert cuda1.cpu is False and int(cuda1.cuda_device) == 1


@needs_no_gpu
def test_default_device_without_accelerator_is_the_cpu():
    """Regression: ComfyUI's own choice on a machine whose torch sees no accelerator (a CUDA build, no driver)
    stops ComfyUI at import ("Found no NVIDIA driver"); the default boots it with --cpu there."""
    assert has_accelerator() is False
    assert comfy_arguments(None) == ["--cpu"]


@needs_no_gpu
def test_gpu_request_without_gpu_is_refused_by_run_job_before_anything_is_written(tmp_path):
    write_digits(tmp_path / "in", 1)
    with pytest.raises(ValueError) as err:
        run_job(JobSpec(preset="anonymize", t_boom=2), tmp_path / "in", tmp_path / "out", device="cuda",
                progress=False)
    assert str(err.value) == f"device must be {ALLOWED}; received 'cuda'. {NO_CUDA_HINT}"
    assert not (tmp_path / "out").exists()


def _cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "headless", "dataset", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


@needs_no_gpu
def test_cli_refuses_a_gpu_request_without_gpu(tmp_path):
    (tmp_path / "in").mkdir()
    proc = _cli(tmp_path / "in", tmp_path / "out", "--device", "cuda")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert f"--device must be {ALLOWED}; received 'cuda'. {NO_CUDA_HINT}" in proc.stderr
    proc = _cli(tmp_path / "in", tmp_path / "out", "--cpu", "--device", "cuda")
    assert proc.returncode == 2 and "not allowed with argument" in proc.stderr


def test_cli_cpu_job_prints_and_records_its_device(tmp_path):
    """A real dataset job with --cpu in a fresh process: its log names the device, the manifest's device
    column and every PNG's ``device`` text say cpu."""
    rels = write_digits(tmp_path / "in", 2)
    proc = _cli(tmp_path / "in", tmp_path / "out", "--t-boom", "2", "--threads", "1", "--no-progress", "--cpu")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert ", on cpu (cpu)" in proc.stderr  # the job line, before any item
    assert "2 made now, 0 already done, 0 failed" in proc.stderr and ", on cpu" in proc.stderr.splitlines()[-1]
    db = sqlite3.connect(tmp_path / "out" / FILENAME)
    try:
        assert db.execute("SELECT rel, state, device FROM items ORDER BY rel").fetchall() == \
            [(rel, "done", "cpu") for rel in rels]
    finally:
        db.close()
    for rel in rels:
        with Image.open(tmp_path / "out" / rel) as png:
            assert png.text["device"] == "cpu" and png.text["source"] == rel and png.text["model"]
            assert json.loads(png.text["prompt"])  # the item's own graph, as before


def test_old_manifest_gains_the_device_column_and_keeps_its_rows(tmp_path):
    """Manifests written before the device was recorded open unchanged: the column is added, old rows read NULL,
    and the next finished batch records its device."""
    db = sqlite3.connect(tmp_path / FILENAME)
    db.executescript("""
        CREATE TABLE items (rel TEXT NOT NULL, copy INTEGER NOT NULL, state TEXT NOT NULL, params_hash TEXT NOT NULL,
            input_hash TEXT NOT NULL, input_size INTEGER, input_mtime_ns INTEGER, seed TEXT NOT NULL,
            output TEXT NOT NULL, error TEXT, attempts INTEGER NOT NULL DEFAULT 0, updated REAL,
            PRIMARY KEY (rel, copy));
        CREATE TABLE job (key TEXT PRIMARY KEY, value TEXT);
        INSERT INTO items VALUES ('a.png', 0, 'done', 'p', 'h', 1, 2, '7', 'a.png', NULL, 1, 0.0);
        INSERT INTO items VALUES ('b.png', 0, 'pending', 'p', 'h', 1, 2, '8', 'b.png', NULL, 0, 0.0);""")
    db.close()
    manifest = Manifest(tmp_path)
    try:
        rows = manifest.rows()
        assert rows[("a.png", 0)]["state"] == "done" and rows[("a.png", 0)]["device"] is None
        manifest.finish([("b.png", 0)], [], "cuda:0")
        rows = manifest.rows()
        assert (rows[("b.png", 0)]["state"], rows[("b.png", 0)]["device"]) == ("done", "cuda:0")
        assert rows[("a.png", 0)]["seed"] == "7"
    finally:
        manifest.close()
    Manifest(tmp_path).close()  # opening a migrated manifest again changes nothing


@pytest.mark.parametrize("device,gpus,threads,plan", [
    (None, 2, None, ({"num_gpus": 1}, None)),  # Ray sets CUDA_VISIBLE_DEVICES; ComfyUI picks that GPU
    ("cuda", 4, 1, ({"num_gpus": 1}, None)),
    (None, 0, None, ({"num_cpus": 1}, "cpu")),  # a CPU-only cluster
    (None, 0, 3, ({"num_cpus": 3}, "cpu")),
    ("cpu", 2, None, ({"num_cpus": 1}, "cpu")),  # the user forced the CPU
])
def test_ray_actors_boot_on_the_gpu_ray_gives_them(device, gpus, threads, plan):
    assert actor_plan(device, gpus, threads) == plan


@pytest.mark.parametrize("device,gpus,hint", [("cuda", 0, "the Ray cluster has no GPU resources"),
                                              ("cuda:1", 2, "on Ray each worker gets the one GPU Ray gives it")])
def test_ray_gpu_requests_that_cannot_be_met_are_refused(device, gpus, hint):
    with pytest.raises(BoomerangInputError) as err:
        actor_plan(device, gpus)
    assert str(err.value).startswith(f"device must be {ALLOWED}; received {device!r}. {hint}")
