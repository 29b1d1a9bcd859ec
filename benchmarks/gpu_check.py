"""The GPU check (issue 17): one run on a CUDA machine writes the GPU section of the benchmarks.

    python -m benchmarks.gpu_setup install && COMFYUI_PATH=.gpu-check/comfyui python -m benchmarks.gpu_check
    python -m benchmarks.gpu_check --smoke-cpu --out DIR    # tiny sizes on the CPU, into DIR only (the tests)

Measures, in this order and each only while the time budget (default 450 s) has room for it: the Gaussian-oracle
law on the GPU; per SD1.5 and SDXL (full-size UNets and VAEs of random weights, ``gpu_models``)
UpscaleThenBoomerang 256 -> 1024 px, Boomerang against KSamplerAdvanced, tiled PRE to 4096 px against untiled;
dataset-job items/s on the GPU and then on the CPU (a child process). Writes BENCHMARKS_GPU.md and
gpu_check.json into ``--out``, else $OUT when set (the device tool returns what is written there), else docs/.
Every part's raw numbers are saved as soon as it ends, so a run stopped from outside keeps what it measured.
"""
from __future__ import annotations

import argparse
import inspect
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from headless.paths import PACK_ROOT as REPO

from . import gpu_report

log = logging.getLogger("boomerang.gpu_check")

TEST_PACK = REPO / "testkit" / "boomerang_test_nodes"
GPU_PACK = Path(__file__).resolve().parent / "gpu_nodes"
DOC_NAME, JSON_NAME = "BENCHMARKS_GPU.md", "gpu_check.json"
BUDGET_S = 450  # of the lease's 8 minutes: the offline install and the start of Python come first
# Seconds each part needs on one H200 (estimates until measured; a part starts only when the budget has room)
ESTIMATES = {"oracle": 25, "sd15": 70, "sdxl": 120, "dataset_gpu": 60, "dataset_cpu": 120}
PARTS = tuple(ESTIMATES)


def make_runtime(device: str, packs):
    """A booted ``headless.ComfyRuntime`` on ``device`` ("cuda" or "cpu") with the extra node ``packs``."""
    import headless

    kwargs = {}
    if "device" in inspect.signature(headless.ComfyRuntime.__init__).parameters:
        kwargs["device"] = device
    elif device != "cpu":
        raise RuntimeError("this headless.ComfyRuntime has no device argument (it always boots with --cpu)")
    return headless.ComfyRuntime(extra_packs=list(packs), **kwargs).boot()


def out_dir(arg: Path | None, smoke: bool) -> Path:
    """--out, else $OUT, else docs/ (the smoke run never writes into docs/: a fresh temporary folder instead)."""
    if arg is not None:
        return arg
    if smoke:
        return Path(tempfile.mkdtemp(prefix="boomerang-gpu-smoke-"))
    return Path(os.environ["OUT"]) if os.environ.get("OUT") else REPO / "docs"


def driver_version() -> str:
    import subprocess

    try:
        proc = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=20)
        if proc.returncode == 0 and proc.stdout.strip():
            return proc.stdout.strip().splitlines()[0]
    except (OSError, subprocess.TimeoutExpired):
        pass
    try:
        return Path("/proc/driver/nvidia/version").read_text().splitlines()[0]
    except OSError:
        return "unknown"


def environment(rt) -> dict:
    import platform

    import torch

    from .gpu_dataset import cpu_name, rt_device

    try:
        import comfyui_version

        comfy_version = comfyui_version.__version__
    except ImportError:
        comfy_version = "unknown"
    info = {"torch": torch.__version__, "cuda_runtime": torch.version.cuda, "python": platform.python_version(),
            "comfyui": comfy_version, "device": rt_device(rt), "cpu": cpu_name(), "cores": os.cpu_count(),
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=torch.cuda.get_device_name(0), gpu_memory_bytes=props.total_memory,
                    driver=driver_version(), cudnn=torch.backends.cudnn.version())
    return info


class Budget:
    def __init__(self, seconds: float):
        self.seconds, self.start = seconds, time.perf_counter()

    def room(self) -> float:
        return self.seconds - (time.perf_counter() - self.start)


def run(smoke: bool, out: Path, budget_s: float, parts=PARTS) -> dict:
    from testkit import dev_assets, oracle_law

    from . import gpu_dataset, gpu_models, gpu_parts

    budget = Budget(budget_s)
    st = gpu_parts.Settings(smoke)
    rt = make_runtime("cpu" if smoke else "cuda", [TEST_PACK, GPU_PACK])
    results = {"smoke": smoke, "budget_s": budget_s, "estimates_s": ESTIMATES, "env": environment(rt),
               "settings": vars(st), "parts": {}}
    work = Path(tempfile.mkdtemp(prefix="boomerang-gpu-check-"))
    photo = dev_assets.write_photo(Path(rt.folder_paths.get_input_directory()), st.input_px)
    checkpoint = None

    todo = gpu_dataset.plan(smoke)

    def dataset_gpu():
        nonlocal checkpoint
        if any(m["model"] == "sd15" for m in todo["models"]):
            checkpoint = gpu_models.write_checkpoint(work / "sd15-random.safetensors", st.size)
        return {"rows": gpu_dataset.measure(rt, todo, checkpoint, "gpu", work / "gpu", budget.room),
                "device": gpu_dataset.rt_device(rt)}

    def dataset_cpu():
        if "dataset_gpu" not in results["parts"]:
            return {"skipped": "runs after the GPU dataset part (it writes the SD1.5-size checkpoint)"}
        settings = {"plan": todo, "checkpoint": str(checkpoint) if checkpoint else None, "work": str(work / "cpu")}
        return gpu_dataset.run_cpu_child(settings, budget.room())

    jobs = {"oracle": lambda: gpu_parts.oracle(rt, oracle_law, st),
            "sd15": lambda: gpu_parts.family_part(rt, "sd15", photo, st, budget.room),
            "sdxl": lambda: gpu_parts.family_part(rt, "sdxl", photo, st, budget.room),
            "dataset_gpu": dataset_gpu, "dataset_cpu": dataset_cpu}
    try:
        _run_parts(parts, jobs, results, budget, smoke, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the inputs, outputs and the 2 GB checkpoint of the dataset part
    return results


def _run_parts(parts, jobs: dict, results: dict, budget: Budget, smoke: bool, out: Path) -> None:
    """Each part in order, skipped when the budget has no room for its estimate; results saved after each."""
    budget_s = budget.seconds
    for name in parts:
        room = budget.room()
        if not smoke and room < ESTIMATES[name]:
            results["parts"][name] = {"skipped": f"not run: {room:.0f} s of the {budget_s:.0f} s budget left, "
                                                 f"about {ESTIMATES[name]} s needed"}
        else:
            start = time.perf_counter()
            try:
                results["parts"][name] = jobs[name]()
            except Exception as err:  # noqa: BLE001 - a failed part is reported; the others still run
                log.exception("part %s failed", name)
                results["parts"][name] = {"failed": f"{type(err).__name__}: {str(err)[:500]}"}
            results["parts"][name]["part_seconds"] = time.perf_counter() - start
        results["elapsed_s"] = budget_s - budget.room()
        save(results, out)


def save(results: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / JSON_NAME).write_text(json.dumps(results, indent=1, default=str) + "\n")
    (out / DOC_NAME).write_text(gpu_report.render(results))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke-cpu", action="store_true",
                        help="tiny models on the CPU, to check that the script runs; needs no GPU, never writes docs/")
    parser.add_argument("--out", type=Path, help="folder for BENCHMARKS_GPU.md and gpu_check.json (default: $OUT "
                                                 "when set, else docs/; a temporary folder with --smoke-cpu)")
    parser.add_argument("--budget-s", type=float, default=BUDGET_S, help=f"time budget in seconds (default {BUDGET_S})")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[gpu-check] %(message)s")
    parts = [p for p in args.parts.split(",") if p]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        parser.error(f"--parts must name parts among {', '.join(PARTS)}; received {', '.join(unknown)}")
    if not args.smoke_cpu:
        import torch

        if not torch.cuda.is_available():
            print(f"gpu_check measures on CUDA only, and torch {torch.__version__} (CUDA build "  # noqa: T201 - the refusal is the command's output
                  f"{torch.version.cuda}) sees no CUDA device here. Nothing was written. On a CPU use "
                  "--smoke-cpu to check that the script runs.", file=sys.stderr)
            return 2
    out = out_dir(args.out, args.smoke_cpu)
    if args.smoke_cpu and out.resolve() == (REPO / "docs").resolve():
        parser.error(f"--smoke-cpu never writes into docs/; received --out {args.out}")
    results = run(args.smoke_cpu, out, args.budget_s, parts)
    print(gpu_report.summary(results, out))  # noqa: T201 - the run's summary is the product
    return 0


if __name__ == "__main__":
    sys.exit(main())
