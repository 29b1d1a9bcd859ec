"""Benchmark section 5 and the cold start: each measurement in a fresh child process (see bench_perf.py).

    python -m benchmarks.bench_memory --child upscale 16 512   # one UpscaleThenBoomerang run (factor, tile_size)
    python -m benchmarks.bench_memory --child coldstart        # ComfyUI up without the pack, then load the pack

The parent reads the child's peak resident memory from the kernel (``ru_maxrss`` of ``os.wait4``), so the
figure is exact even when the parent has to stop a child that passes the memory cap.
"""
from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

UPSCALE_STEPS = 2  # the reverse pass is not what this measures; the VAE at 4-16x the input size is


def child_device() -> str | None:
    """The ``--device=D`` that ``run_child`` appends to a child's command line (None: ComfyUI's own choice)."""
    return next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--device=")), None)


def _child_upscale(factor: float, tile_size: int) -> dict:
    import headless
    from testkit import dev_assets

    rt = headless.ComfyRuntime(device=child_device()).boot()
    ckpt = dev_assets.tiny_checkpoint(rt)
    photo = dev_assets.write_photo(Path(rt.folder_paths.get_input_directory()), 64)
    graph = {
        "ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
        "pos": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["ckpt", 1], "text": "picture of a person"}},
        "img": {"class_type": "LoadImage", "inputs": {"image": photo}},
    }
    graph["up"] = {"class_type": "UpscaleThenBoomerang", "inputs": {
        "image": ["img", 0], "vae": ["ckpt", 2], "model": ["ckpt", 0], "positive": ["pos", 0],
        "negative": ["pos", 0], "factor": factor, "interpolation": "bilinear", "t_boom": 0, "passes": 1,
        "cfg": 1.0, "sampler": "dpmpp_2m", "scheduler": "karras", "steps": UPSCALE_STEPS, "seed": 0,
        "tile_size": tile_size, "color_match": "off"}}
    graph["out"] = {"class_type": "SaveImage", "inputs": {"images": ["up", 0], "filename_prefix": "mem"}}
    base = {k: v for k, v in graph.items() if k in ("ckpt", "pos", "img")}
    base["out"] = {"class_type": "SaveImage", "inputs": {"images": ["img", 0], "filename_prefix": "mem"}}
    rt.execute(base, keep_cache=True)  # ComfyUI, the pack and the checkpoint loaded; cached for the next run
    before = _status_kib("VmRSS")
    reset = _reset_peak()
    start = time.perf_counter()
    rt.execute(graph, keep_cache=True)
    return {"seconds": time.perf_counter() - start, "rss_before": before * 1024,
            "peak_during": _status_kib("VmHWM") * 1024 if reset else None}


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) of this process (Linux >= 4.0: write 5 to clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _child_coldstart() -> dict:
    import asyncio

    import headless

    rt = headless.ComfyRuntime(load_pack=False, device=child_device()).boot()
    link = rt.custom_nodes / headless.PACK_DIR_NAME
    link.symlink_to(headless.REPO, target_is_directory=True)
    nodes = rt.nodes
    before = set(nodes.NODE_CLASS_MAPPINGS)
    start = time.perf_counter()
    ok = asyncio.run(nodes.load_custom_node(str(link)))
    added = sorted(set(nodes.NODE_CLASS_MAPPINGS) - before)
    for name in added:  # what the frontend's /object_info asks of every node
        nodes.NODE_CLASS_MAPPINGS[name].INPUT_TYPES()
    seconds = time.perf_counter() - start
    if not ok or not added:
        raise SystemExit("the pack did not load")
    return {"seconds": seconds, "nodes": len(added)}


def run_child(args: list[str], cap_bytes: int, module: str = "benchmarks.bench_memory",
              device: str | None = None) -> dict:
    """Run a child mode of ``module`` (``python -m``, from the repo root) on ``device`` (None: ComfyUI's own
    choice); return its JSON result plus peak RSS, or what stopped it."""
    import psutil

    import headless

    tail = [f"--device={device}"] if device else []
    proc = subprocess.Popen([sys.executable, "-m", module, "--child", *args, *tail], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, cwd=headless.REPO)
    capped, status, usage = False, None, None
    watcher = psutil.Process(proc.pid)
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)  # reaps the child itself: its rusage is kept
        if pid:
            break
        try:
            if not capped and watcher.memory_info().rss > cap_bytes:
                capped = True
                os.kill(proc.pid, signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped above; tell Popen
    out = proc.stdout.read()
    peak = usage.ru_maxrss * 1024  # kilobytes on Linux
    if capped:
        return {"peak_bytes": peak, "stopped": f"stopped above the {cap_bytes / 2**30:.0f} GiB cap"}
    code = proc.returncode
    if code != 0:
        return {"peak_bytes": peak, "stopped": "killed by the system (out of memory)" if code == -9 else f"exit {code}"}
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_bytes"] = peak
    return result


def memory(factors=(4, 8, 16), tile_size: int = 512, cap_gib: float = 16.0, device: str | None = None) -> list[dict]:
    cap = int(cap_gib * 2**30)
    rows = []
    for factor in factors:
        for tiles in (tile_size, 0):
            rows.append({"factor": factor, "tile_size": tiles,
                         **run_child(["upscale", str(factor), str(tiles)], cap, device=device)})
    return rows


def coldstart(repeats: int = 5, device: str | None = None) -> dict:
    times = [run_child(["coldstart"], 8 * 2**30, device=device)["seconds"] for _ in range(repeats)]
    return {"median": statistics.median(times), "min": min(times), "max": max(times), "n": repeats}


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--child":
        import logging

        logging.basicConfig(level=logging.ERROR)
        tempfile.tempdir = tempfile.mkdtemp(prefix="boomerang-bench-child-")
        mode = sys.argv[2]
        result = (_child_upscale(float(sys.argv[3]), int(sys.argv[4])) if mode == "upscale" else _child_coldstart())
        print(json.dumps(result))  # noqa: T201 - the parent reads this line
    else:
        raise SystemExit("run bench_perf.py; this module is its child-process helper")
