"""Dataset-job throughput for the GPU check: items/s of ``headless.dataset.run_job`` on the GPU (the check's own
runtime) and on the CPU (a child process that boots ComfyUI with ``device="cpu"``), for the built-in digits DDPM
and an SD1.5-size checkpoint of random weights, at batch 1, batch 8 and ``--fast-batches`` (batch 8).

    python -m benchmarks.gpu_dataset --cpu-child SETTINGS_JSON   # the CPU side; prints its rows as JSON
"""
from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger("boomerang.gpu_check")

CONFIGS = (("batch 1", 1, False), ("batch 8", 8, False), ("--fast-batches, batch 8", 8, True))


def plan(smoke: bool) -> dict:
    """What to run: digits as docs/DATASETS.md measures it (anonymize, boomerang_exact, t_boom 20, 16 px images),
    the SD1.5-size checkpoint with its default sampler at t_boom 500, 10 steps, 128 px images; ``gpu`` images on
    the GPU, ``cpu`` on the CPU (fewer: the CPU is far slower). The smoke run: digits only, one configuration, no
    warm-up job (it checks that the code runs, not the speed)."""
    if smoke:
        return {"models": [{"model": "digits", "side": 16, "gpu": 2, "cpu": 1, "spec": {"t_boom": 2}}],
                "configs": CONFIGS[2:], "warm": False}
    return {"models": [{"model": "digits", "side": 16, "gpu": 64, "cpu": 32, "spec": {"t_boom": 20}},
                       {"model": "sd15", "side": 128, "gpu": 16, "cpu": 8, "spec": {"t_boom": 500, "steps": 10}}],
            "configs": CONFIGS, "warm": True}


def write_inputs(folder: Path, count: int, side: int, seed: int = 0) -> Path:
    """``count`` RGB noise images of ``side`` px (the content does not change the cost), from a local generator."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(folder / f"img{i:03d}.png")
    return folder


def measure(rt, todo: dict, checkpoint: Path | None, side_key: str, work: Path, room_s=None) -> list[dict]:
    """One row per (model, config) of ``todo`` (see ``plan``): items/s of a job on ``rt``'s device, after a
    one-item warm-up job of the same model and settings (loaders cached), so boot and model loading are not
    counted."""
    from headless.dataset.run import run_job
    from headless.dataset.spec import JobSpec

    rows = []
    for m in todo["models"]:
        count = m[side_key]
        ckpt = checkpoint if m["model"] == "sd15" else None
        inputs = write_inputs(work / f"in-{m['model']}", count, m["side"])
        warm = write_inputs(work / f"warm-{m['model']}", 1, m["side"], seed=1)
        for name, batch, fast in todo["configs"]:
            if room_s is not None and room_s() < 10:
                rows.append({"model": m["model"], "config": name, "skipped": "budget spent"})
                continue
            spec = JobSpec(preset="anonymize", checkpoint=ckpt, batch=batch, exact_batches=not fast, **m["spec"])
            if todo["warm"]:
                run_job(spec, warm, work / f"out-warm-{m['model']}-{batch}-{fast}", runtime=rt, progress=False)
            result = run_job(spec, inputs, work / f"out-{m['model']}-{batch}-{fast}", runtime=rt, progress=False)
            rows.append({"model": m["model"], "config": name, "items": result.done_now,
                         "items_failed": len(result.failed),
                         "seconds": result.seconds, "items_per_s": result.done_now / result.seconds,
                         "side": m["side"], **m["spec"]})
            log.info("dataset %s %s: %.2f items/s", m["model"], name, rows[-1]["items_per_s"])
    return rows


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def run_cpu_child(settings: dict, timeout_s: float) -> dict:
    """The CPU side in a fresh process (ComfyUI picks its device once per process)."""
    cmd = [sys.executable, "-m", "benchmarks.gpu_dataset", "--cpu-child", json.dumps(settings)]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=max(timeout_s, 1))
    except subprocess.TimeoutExpired:
        return {"skipped": f"stopped at the budget after {time.perf_counter() - start:.0f} s"}
    if proc.returncode != 0:
        return {"failed": proc.stderr[-1500:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _cpu_child(settings: dict) -> dict:
    import os

    import torch

    from .gpu_check import make_runtime

    rt = make_runtime("cpu", [])
    rows = measure(rt, settings["plan"], Path(settings["checkpoint"]) if settings["checkpoint"] else None, "cpu",
                   Path(settings["work"]))
    return {"rows": rows, "device": rt_device(rt), "cpu": cpu_name(), "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads()}


def rt_device(rt) -> str:
    import comfy.model_management as mm

    return str(getattr(rt, "device", None) or mm.get_torch_device())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-child", required=True, help="JSON: plan, checkpoint, work folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(_cpu_child(json.loads(args.cpu_child))))  # noqa: T201 - the parent reads it


if __name__ == "__main__":
    main()
