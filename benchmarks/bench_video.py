"""Video measurements on the tiny Wan 2.2 TI2V 5B model (testkit/families_video.py) -> docs/VIDEO.md:

    python -m benchmarks.bench_video            # temporal coherence at 3 t_boom, peak memory at 4 sizes
    python -m benchmarks.bench_video --smoke    # tiny sizes, to check that it runs (tests/test_bench_video.py)

(a) Temporal coherence: a smooth synthetic clip (a picture sliding one pixel per frame) refined as one clip
(UpscaleClipThenBoomerang, factor 1: the video VAE encodes the frames together, Boomerang runs on the 5-D latent)
against the same frames done one by one as images (UpscaleThenBoomerang, factor 1: each frame its own one-frame
latent and noise), same sampler and t_boom; mean absolute change between consecutive output frames.
(b) Peak memory of Boomerang on a 5-D latent, untiled against Boomerang Tiled Model, at 4 latent sizes: each row a
fresh child process; *peak increase* is the kernel's RSS high-water mark (VmHWM, reset just before the run)
minus the RSS before it, and *peak RSS* the child's whole-life maximum (ru_maxrss from os.wait4).
"""
from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from pathlib import Path

import headless  # no ComfyUI import until a runtime boots

from . import bench_memory

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "VIDEO.md"
FRAMES, SIDE = 9, 64  # coherence clip: 9 frames (Wan's 4n + 1) of 64 x 64 px
T_BOOMS = (200, 500, 800)
MEM_FRAMES, MEM_SIDES = 5, (24, 32, 48, 64)  # latent frames and latent sides of the memory rows
MEM_TILE, MEM_OVERLAP = 256, 32  # px: 16 and 2 latent samples at Wan 2.2's 16x
log = logging.getLogger("boomerang.bench")


# ------------------------------------------------------------------ (a) temporal coherence

def sliding_clip(frames: int, side: int):
    """[frames, side, side, 3] in [0, 1]: a smooth random picture sliding one pixel right per frame."""
    import torch
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(7)
    coarse = torch.rand((1, 3, 6, 6 + frames), generator=gen)
    wide = F.interpolate(coarse, size=(side, side + frames), mode="bicubic", align_corners=False).clamp(0, 1)
    return torch.stack([wide[0, :, :, f:f + side] for f in range(frames)]).movedim(1, -1).contiguous()


def frame_change(clip) -> float:
    """Mean absolute change between consecutive frames of [frames, H, W, C]."""
    return float((clip[1:] - clip[:-1]).abs().mean())


def added_change(out, base) -> float:
    """Frame-to-frame change of what Boomerang added, ``out - base`` (base: the same arm at t_boom 0, i.e. the VAE
    round trip alone): 0 when every frame got the same change, large when each frame got its own."""
    return frame_change(out - base)


def coherence(rt, frames: int, side: int, t_booms, setting) -> list[dict]:
    from testkit import families_video
    from testkit.graphs import capture, put

    wan = families_video.build("wan22", seed=0)
    clip = sliding_clip(frames, side)
    common = {"image": ["obj", 4], "vae": ["obj", 1], "model": ["obj", 0], "positive": ["obj", 2],
              "negative": ["obj", 3], "factor": 1.0, "interpolation": "bilinear", "passes": 1, "cfg": 1.0,
              "sampler": setting.sampler, "scheduler": setting.scheduler, "steps": setting.steps, "seed": 3,
              "tile_size": 0, "color_match": "off", "denoise_tiling": "off"}
    rows, base = [], None
    for t_boom in (0, *t_booms):  # t_boom 0 at factor 1: Boomerang is the identity, only the VAE round trip
        graph = {"obj": put(rt, "bench_video", model=wan.model, vae=wan.vae(1), positive=wan.positive,
                            negative=wan.negative, image=clip),
                 "clip": {"class_type": "UpscaleClipThenBoomerang", "inputs": {**common, "t_boom": t_boom}},
                 "frames": {"class_type": "UpscaleThenBoomerang", "inputs": {**common, "t_boom": t_boom}},
                 "c1": capture("clip", image=["clip", 0]), "c2": capture("frames", image=["frames", 0])}
        start = time.perf_counter()
        out = rt.run(graph)
        got = {arm: out[arm]["image"] for arm in ("clip", "frames")}
        base = base or got
        rows.append({"t_boom": t_boom, "input": frame_change(clip), "clip": frame_change(got["clip"]),
                     "frames": frame_change(got["frames"]), "clip_added": added_change(got["clip"], base["clip"]),
                     "frames_added": added_change(got["frames"], base["frames"]),
                     "seconds": time.perf_counter() - start, "shape": tuple(got["clip"].shape)})
        log.info("coherence at t_boom %d: %s", t_boom, rows[-1])
    return rows


# ------------------------------------------------------------------ (b) peak memory, one child per row

def _child(side: int, mode: str, frames: int, tile: int, overlap: int) -> dict:
    import torch

    from testkit import families_video
    from testkit.graphs import capture, put
    from testkit.runtime import TEST_PACK

    rt = headless.ComfyRuntime(extra_packs=[TEST_PACK], device=bench_memory.child_device()).boot()
    wan = families_video.build("wan22", seed=0)
    vae = wan.vae(1)
    calls = []
    wan.model.model.diffusion_model.register_forward_pre_hook(lambda m, a: calls.append(tuple(a[0].shape)))

    def graph(samples, tiled: bool):
        model = ["tiled", 0] if tiled else ["obj", 0]
        g = {"obj": put(rt, "mem", model=wan.model, vae=vae, positive=wan.positive, negative=wan.negative,
                        latent={"samples": samples}),
             "b": {"class_type": "Boomerang", "inputs": {
                 "model": model, "positive": ["obj", 2], "negative": ["obj", 3], "latent": ["obj", 5],
                 "t_boom": 500, "seed": 1, "cfg": 1.0, "sampler": "euler", "scheduler": "simple", "steps": 1}},
             "c": capture("out", latent=["b", 0])}
        if tiled:
            g["tiled"] = {"class_type": "BoomerangTiledModel", "inputs": {
                "model": ["obj", 0], "vae": ["obj", 1], "tile_size": tile, "overlap": overlap, "tile_batch": 1}}
        return g

    gen = torch.Generator().manual_seed(0)
    rt.execute(graph(torch.randn((1, 48, frames, 4, 4), generator=gen), mode == "tiled"))  # warm: loaded, cached
    calls.clear()
    x0 = torch.randn((1, 48, frames, side, side), generator=gen)
    before = bench_memory._status_kib("VmRSS")
    reset = bench_memory._reset_peak()
    start = time.perf_counter()
    rt.execute(graph(x0, mode == "tiled"))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rss_before": before * 1024, "calls": len(calls), "call_shape": calls[0],
            "ratio": int(vae.spacial_compression_encode()),
            "peak_during": bench_memory._status_kib("VmHWM") * 1024 if reset else None}


def memory(sides, frames: int, tile: int, overlap: int, device=None, cap_gib: float = 3.0) -> list[dict]:
    rows = []
    for side in sides:
        for mode in ("untiled", "tiled"):
            log.info("memory: latent %dx%d x %d frames, %s", side, side, frames, mode)
            args = ["child", str(side), mode, str(frames), str(tile), str(overlap)]
            rows.append({"side": side, "mode": mode, **bench_memory.run_child(
                args, int(cap_gib * 2**30), module="benchmarks.bench_video", device=device)})
    return rows


# ------------------------------------------------------------------ the page

def page(coh: list[dict], mem: list[dict], meta: dict) -> str:
    gib = lambda v: f"{v / 2**30:.3f} GiB" if v is not None else "n/a"  # noqa: E731 - a one-line table formatter
    ratio = next((r["ratio"] for r in mem if "ratio" in r), None)  # the VAE's own px per latent sample
    px = lambda n: f"{n * ratio} px" if ratio else "?"  # noqa: E731 - latent samples in pixels
    lines = ["# Video: temporal coherence and memory (tiny Wan 2.2)", "",
             f"Measured {meta['when']} on {meta['machine']} by `python -m benchmarks.bench_video` "
             f"({meta['minutes']:.1f} min; `make bench-video`). {meta['contention']}", "",
             "Model: a tiny random-weight Wan 2.2 TI2V 5B (ComfyUI's WAN22_T2V config and WAN22 model class, width 32, "
             "one block) with ComfyUI's Wan 2.2 VAE network at width 16 (48 latent channels, 4 video frames per latent "
             "frame, 16 px per latent sample); testkit/families_video.py. Random weights: these figures measure the "
             "pipeline (what reaches the model, what it costs), not the look of a trained Wan.", "",
             "## Temporal coherence", "",
             f"A smooth {meta['frames']}-frame {meta['side']}x{meta['side']} px clip (a picture sliding 1 px per "
             "frame) "
             f"refined at factor 1 with {meta['setting']}, seed 3: **as one clip** (Upscale Clip then Boomerang: the "
             "video VAE encodes the frames together, one noise tensor for the clip, every model call sees all latent "
             "frames) and **frame by frame** (Upscale then Boomerang on the same frames: each frame a one-frame "
             "latent with its own noise). *Frame change*: the mean absolute change between consecutive output frames "
             "(pixel values in [0, 1]; the input's own is the floor a perfectly coherent result keeps). t_boom 0 "
             "(factor 1) is the VAE round trip alone, whose change the random-weight video VAE dominates (its "
             "temporal up-sampling, 4 frames from each latent frame, is untrained). *Added change*: the frame change "
             "of what Boomerang added to that round trip (output minus the same arm's t_boom-0 output), which "
             "separates Boomerang from the VAE: 0 if every frame got the same change.", "",
             "| t_boom | input frame change | clip: frame change | frames: frame change | clip: added change | "
             "frames: added change | frames / clip, added | time (both) |", "|---|---|---|---|---|---|---|---|"]
    for r in coh:
        rel = f"{r['frames_added'] / r['clip_added']:.2f}" if r["clip_added"] > 0 else "-"
        lines.append(f"| {r['t_boom']} | {r['input']:.4f} | {r['clip']:.4f} | {r['frames']:.4f} | "
                     f"{r['clip_added']:.4f} | {r['frames_added']:.4f} | {rel} | {r['seconds']:.1f} s |")
    lines += ["", coherence_verdict(coh)]
    lines += ["", "## Peak memory, tiled and untiled", "",
              f"Boomerang (euler, 1 step at t_boom 500, cfg 1) on a {meta['mem_frames']}-frame 48-channel latent of "
              f"each size, untiled and through Boomerang Tiled Model ({meta['tile']} px tiles = "
              f"{meta['tile'] // (ratio or 1)} latent samples, {meta['overlap']} px overlap, tile_batch 1; every "
              "model call holds all frames). A "
              "fresh process per row. *Peak increase*: the kernel's RSS high-water mark (VmHWM of /proc/self/status, "
              "reset through /proc/self/clear_refs just before the run) minus the RSS before it; *process peak*: "
              "ru_maxrss of the whole child (boot included). CPU RSS, not torch profiler figures.", "",
              "| latent (h x w x frames) | pixels | mode | model calls | call input | time | peak increase | "
              "process peak |", "|---|---|---|---|---|---|---|---|"]
    for r in mem:
        size = f"{r['side']} x {r['side']} x {meta['mem_frames']}"
        if "stopped" in r:
            lines.append(f"| {size} | {px(r['side'])} | {r['mode']} | - | - | - | - | {gib(r['peak_bytes'])} "
                         f"({r['stopped']}) |")
            continue
        shape = "x".join(str(v) for v in r["call_shape"])
        lines.append(f"| {size} | {px(r['side'])} | {r['mode']} | {r['calls']} | {shape} | {r['seconds']:.1f} s | "
                     f"{gib(r['peak_during'] - r['rss_before'])} | {gib(r['peak_bytes'])} |")
    ratios = []
    by = {(r["side"], r["mode"]): r for r in mem if "stopped" not in r}
    for side in sorted({r["side"] for r in mem}):
        a, b = by.get((side, "tiled")), by.get((side, "untiled"))
        if a and b:
            inc = lambda r: max(r["peak_during"] - r["rss_before"], 1)  # noqa: E731 - peak increase of a row
            ratios.append(f"| {side} x {side} | {inc(a) / inc(b):.2f} | {a['seconds'] / b['seconds']:.2f} |")
    if ratios:
        lines += ["", "Tiled / untiled, side by side in the same run:", "", "| latent | peak increase | time |",
                  "|---|---|---|", *ratios]
    return "\n".join(lines) + "\n"


def coherence_verdict(coh: list[dict]) -> str:
    """What the coherence rows show, in a sentence chosen by the measured values."""
    moved = [r for r in coh if r["t_boom"] > 0 and r["clip_added"] > 0]
    if not moved:
        return ""
    ratios = [r["frames_added"] / r["clip_added"] for r in moved]
    span = f"{min(ratios):.2f}-{max(ratios):.2f}"
    if all(v > 1 for v in ratios):
        return (f"Frame by frame, what Boomerang adds changes {span} times as much from frame to frame as when the "
                "frames are done as one clip.")
    return (f"Here the clip arm changes more from frame to frame than the frame-by-frame arm (frames / clip, added: "
            f"{span}). With random weights nothing ties neighbouring frames together: the untrained video VAE "
            "spreads each latent frame's change over several video frames with unrelated weights, and the untrained "
            "network's attention across frames is no smoothing prior. So this run cannot show the coherence a "
            "trained video model's joint denoising gives; it shows that the clip is processed as one (every model "
            "call holds all its latent frames, tests/test_video.py) and gives the measure to repeat with real "
            "weights (Wan 2.2 TI2V 5B: the clip-PRE workflow).")


def run(smoke: bool, out: Path, device: str | None) -> str:
    import os

    import torch

    from boomerang.advice import RECOMMENDED
    from testkit.runtime import runtime

    start = time.perf_counter()
    sides = (8,) if smoke else MEM_SIDES
    frames = 2 if smoke else MEM_FRAMES
    tile, overlap = (64, 16) if smoke else (MEM_TILE, MEM_OVERLAP)
    mem = memory(sides, frames, tile, overlap, device)  # children first, before this process loads anything
    rt = runtime(device)
    setting = RECOMMENDED
    if smoke:
        setting = type(RECOMMENDED)(sampler="euler", scheduler="simple", steps=1)
    coh = coherence(rt, 5 if smoke else FRAMES, 32 if smoke else SIDE, (500,) if smoke else T_BOOMS, setting)
    cores = os.cpu_count()
    meta = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "minutes": (time.perf_counter() - start) / 60,
            "machine": f"{platform.machine()} CPU, {cores} cores, torch {torch.__version__}",
            "contention": (f"A {cores}-core CPU shared with other jobs (contended): times are indicative only; "
                           "compare the ratios measured side by side." if cores and cores <= 4 else ""),
            "frames": 5 if smoke else FRAMES, "side": 32 if smoke else SIDE,
            "setting": f"{setting.sampler} + {setting.scheduler}, {setting.steps} steps, cfg 1",
            "mem_frames": frames, "tile": tile, "overlap": overlap}
    text = page(coh, mem, meta)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one t_boom: checks that it runs")
    parser.add_argument("--out", type=Path, default=DOC)
    headless.add_device_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[bench] %(message)s")
    print(run(args.smoke, args.out, headless.device_from_args(args)))  # noqa: T201 - a benchmark prints its tables


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--child":
        logging.basicConfig(level=logging.ERROR)
        import tempfile

        tempfile.tempdir = tempfile.mkdtemp(prefix="boomerang-bench-child-")
        side, mode, frames, tile, overlap = sys.argv[3:8]
        print(json.dumps(_child(int(side), mode, int(frames), int(tile), int(overlap))))  # noqa: T201 - the parent reads it
    else:
        main()
