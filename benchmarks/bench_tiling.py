"""Benchmark section 7: the tiled denoiser. Part of `make bench`; alone it rewrites only its own section
of docs/BENCHMARKS.md (between the tiling markers):

    python -m benchmarks.bench_tiling            # peak memory and time of UpscaleThenBoomerang, 512-4096 px output
    python -m benchmarks.bench_tiling --smoke    # tiny sizes, to check that it runs (tests/test_bench.py)

Every row is a fresh child process (as bench_memory.py): ComfyUI, the tiny SD1.5 UNet and text encoder, a
random-weight TAESD (ComfyUI's own tiny-VAE class, compression 8) as the VAE, and the 256 px photo. The
SD VAE of the tiny checkpoint took ~3 min per 1024 px image on 2 shared CPU cores (x16 at 4096 px), and
what this measures is the denoiser. Peak: the kernel's RSS high-water mark reset just before the upscale
(and CUDA max_memory_allocated when a GPU is present). UNet calls and their time: forward hooks on the UNet.
"""
from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
from pathlib import Path

import headless  # no ComfyUI import until a runtime boots

from . import bench_memory

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "BENCHMARKS.md"
BEGIN, END = "<!-- tiling:begin -->", "<!-- tiling:end -->"
INPUT, TILE, OVERLAP, STEPS, T_BOOM = 256, 512, 64, 1, 200  # 1 step: one UNet call per tile
TAESD_NAME = "boomerang-bench-taesd-random-v2.safetensors"  # v2: vae_scale 1 (v1 had 0: infinite latents)
log = logging.getLogger("boomerang.bench")


def latent_grid(side: int, tile: int = TILE, overlap: int = OVERLAP, ratio: int = 8):
    from boomerang.imaging import tile_grid

    return tile_grid(side // ratio, side // ratio, tile // ratio, overlap // ratio)


def full_size_bytes(side: int) -> dict:
    """The full-size buffers of one tiled UpscaleThenBoomerang run (float32, batch 1, RGB, 4 latent channels)."""
    pixels = side * side
    grid = latent_grid(side)
    return {"upscaled image": 12 * pixels, "VAE decode accumulator + weights": 16 * pixels,
            "normalised decode": 12 * pixels, "latent (one copy)": 16 * pixels // 64,
            "denoiser blend weights": 4 * len(grid) * grid.tile_h * grid.tile_w}


def _taesd_file(rt) -> str:
    """A random-weight TAESD (fixed seed) in models/vae, made once per machine; its file name."""
    import safetensors.torch
    import torch

    import comfy.taesd.taesd

    from testkit import tiny_checkpoint

    path = rt.models / "vae" / TAESD_NAME
    rt.folder_paths.add_model_folder_path("vae", str(path.parent), is_default=True)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        sd = tiny_checkpoint._init(comfy.taesd.taesd.TAESD(latent_channels=4), seed=11)
        sd["vae_scale"] = torch.ones(())  # a scalar: _init zeroes it, and encode divides by it
        safetensors.torch.save_file({k: v.contiguous() for k, v in sd.items()}, str(path))
    return path.name


def _child(side: int, mode: str, steps: int, tile: int, overlap: int, ckpt_name: str, vae_name: str) -> dict:
    import torch

    from testkit import dev_assets
    from testkit.runtime import TEST_PACK as pack

    rt = headless.ComfyRuntime(extra_packs=[pack], device=bench_memory.child_device()).boot()
    ckpt = ckpt_name or dev_assets.tiny_checkpoint(rt)
    photo = dev_assets.write_photo(Path(rt.folder_paths.get_input_directory()), INPUT)
    graph = {
        "ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
        "pos": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["ckpt", 1], "text": "picture of a person"}},
        "img": {"class_type": "LoadImage", "inputs": {"image": photo}},
        "cap": {"class_type": "BoomerangTestCapture", "inputs": {"tag": "out", "image": ["img", 0]}},
    }
    vae = ["ckpt", 2]
    if vae_name == "taesd":
        graph["vae"] = {"class_type": "VAELoader", "inputs": {"vae_name": _taesd_file(rt)}}
        vae = ["vae", 0]
    graph["up"] = {"class_type": "UpscaleThenBoomerang", "inputs": {
        "image": ["img", 0], "vae": vae, "model": ["ckpt", 0], "positive": ["pos", 0], "negative": ["pos", 0],
        "factor": side / INPUT, "interpolation": "bilinear", "t_boom": T_BOOM, "passes": 1, "cfg": 1.0,
        "sampler": "dpmpp_2m", "scheduler": "karras", "steps": steps, "seed": 0, "tile_size": TILE,
        "color_match": "off", "denoise_tiling": mode, "denoise_tile": tile, "denoise_overlap": overlap,
        "tile_batch": 1}}
    graph["cap"]["inputs"]["image"] = ["up", 0]
    warm = json.loads(json.dumps(graph))
    warm["up"]["inputs"].update(factor=1.0, seed=1, denoise_tiling="off")
    rt.execute(warm, keep_cache=True)  # every model loaded, loaders and text encoder cached for the timed run
    from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel

    unet = {"calls": 0, "seconds": 0.0, "start": 0.0, "shapes": set()}

    def pre(module, args):
        if isinstance(module, UNetModel):
            unet["start"] = time.perf_counter()
            unet["shapes"].add(tuple(args[0].shape))

    def post(module, args, output):
        if isinstance(module, UNetModel):
            unet["calls"] += 1
            unet["seconds"] += time.perf_counter() - unet["start"]

    hooks = [torch.nn.modules.module.register_module_forward_pre_hook(pre),
             torch.nn.modules.module.register_module_forward_hook(post)]
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    before = bench_memory._status_kib("VmRSS")
    reset = bench_memory._reset_peak()
    start = time.perf_counter()
    rt.execute(graph, keep_cache=True)
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    for h in hooks:
        h.remove()
    shape = tuple(rt.pack_module(pack.name).CAPTURED["out"]["image"].shape)
    return {"seconds": seconds, "rss_before": before * 1024, "output": shape,
            "peak_during": bench_memory._status_kib("VmHWM") * 1024 if reset else None,
            "cuda_peak": torch.cuda.max_memory_allocated() if cuda else None, "unet_calls": unet["calls"],
            "unet_seconds": unet["seconds"], "unet_shapes": sorted(unet["shapes"])}


def measure(sides, untiled_sides, steps: int = STEPS, tile: int = TILE, overlap: int = OVERLAP, device=None,
            cap_gib: float = 20.0, rows_file: Path | None = None) -> list[dict]:
    """One row per (output side, mode). With ``rows_file`` (JSON lines) each row is saved as it ends and rows
    already there are kept, not measured again (so a long run can be resumed)."""
    saved = []
    if rows_file and rows_file.is_file():
        saved = [json.loads(line) for line in rows_file.read_text().splitlines()]
    done = {(r["side"], r["mode"]) for r in saved}
    rows = list(saved)
    for side in sides:
        for mode in ("auto", "off") if side in untiled_sides else ("auto",):
            if rows_file and rows_file.is_file():  # rows another process added meanwhile count as done
                extra = [json.loads(line) for line in rows_file.read_text().splitlines()]
                rows += [r for r in extra if (r["side"], r["mode"]) not in done]
                done |= {(r["side"], r["mode"]) for r in extra}
            if (side, mode) in done:
                continue
            log.info("tiling: %d px, denoise_tiling %s", side, mode)
            args = ["child", str(side), mode, str(steps), str(tile), str(overlap), "", "taesd"]
            grid = latent_grid(side, tile, overlap)
            row = {"side": side, "mode": mode, "tiles": len(grid) if mode != "off" else 1,
                   **bench_memory.run_child(args, int(cap_gib * 2**30), module="benchmarks.bench_tiling",
                                            device=device)}
            rows.append(row)
            done.add((side, mode))  # or the re-read above adds it a second time from the file
            if rows_file:
                with open(rows_file, "a") as f:
                    f.write(json.dumps(row) + "\n")
    return sorted(rows, key=lambda r: (r["side"], r["mode"] != "auto"))


def gpu_rows(checkpoints, factors=(4, 8, 16), steps: int = 20, device: str | None = None) -> list[dict]:
    """4x/8x/16x PRE of the 256 px photo with each checkpoint and its own VAE: only where CUDA is present."""
    rows = []
    for ckpt in checkpoints:
        for factor in factors:
            args = ["child", str(INPUT * factor), "auto", str(steps), str(TILE), str(OVERLAP), ckpt, "checkpoint"]
            rows.append({"checkpoint": ckpt or "tiny SD1.5", "factor": factor,
                         **bench_memory.run_child(args, 120 * 2**30, module="benchmarks.bench_tiling", device=device)})
    return rows


def section(rows: list[dict], gpu: list[dict] | None, meta: dict) -> str:
    gib = lambda v: f"{v / 2**30:.2f} GiB" if v is not None else "n/a"  # noqa: E731 - a one-line table formatter
    mib = lambda v: f"{v / 2**20:.1f} MiB"  # noqa: E731 - a one-line table formatter
    lines = [BEGIN, "## 7. Tiled denoiser", "",
             ("Written" if meta.get("minutes") is None else "Measured") + f" {meta['when']} on {meta['machine']} by "
                                                                          f"`python -m benchmarks.bench_tiling` ("
             + (f"{meta['minutes']:.1f} min" if meta.get("minutes") is not None else
                "rows saved one by one with `--rows` and written with `--render-only`")
             + "; part of `make bench`, or alone to refresh only this section). UpscaleThenBoomerang from the "
             f"{INPUT} px photo at t_boom {T_BOOM}, {meta['tile']} px denoiser tiles with {meta['overlap']} px "
             f"overlap, tile_batch 1, {meta['steps']} "
             "dpmpp_2m step(s) at cfg 1 (one UNet call per tile per step), VAE tiles of 512 px. Model: the tiny SD1.5 "
             "UNet (random weights; attention at 1/4 of the latent side) with a random-weight TAESD as the VAE "
             "(ComfyUI's own class, compression 8), because the tiny checkpoint's full SD VAE took ~3 min per "
             "1024 px image on 2 shared CPU cores (x16 the work at 4096 px). A fresh process per row; *peak* is the "
             "RSS high-water mark while the node "
             "ran, *increase* is peak minus RSS before it. UNet time and calls come from forward hooks on the UNet.",
             "", "| output | denoising | tiles | UNet calls | UNet input | time | UNet time | UNet time / call | "
             "RSS before | peak | increase |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    by = {(r["side"], r["mode"]): r for r in rows}
    for r in rows:
        if "stopped" in r:
            lines.append(f"| {r['side']} px | {r['mode']} | - | - | - | - | - | - | - | {gib(r['peak_bytes'])} | "
                         f"{r['stopped']} |")
            continue
        tiles = r["tiles"]
        shape = "x".join(str(v) for v in r["unet_shapes"][0][-2:]) if r["unet_shapes"] else "-"
        per_call = r["unet_seconds"] / max(r["unet_calls"], 1)
        lines.append(f"| {r['side']} px | {'tiled' if tiles > 1 else 'untiled'} ({r['mode']}) | {tiles} | "
                     f"{r['unet_calls']} | {shape} | {r['seconds']:.1f} s | {r['unet_seconds']:.1f} s | "
                     f"{per_call:.3f} s | {gib(r['rss_before'])} | {gib(r['peak_during'])} | "
                     f"{gib(r['peak_during'] - r['rss_before'])} |")
    ratios = []
    for side in sorted({r["side"] for r in rows}):
        tiled, untiled = by.get((side, "auto")), by.get((side, "off"))
        if tiled and untiled and "stopped" not in tiled and "stopped" not in untiled:
            inc = lambda r: r["peak_during"] - r["rss_before"]  # noqa: E731 - peak increase of a row, used twice
            grid = latent_grid(side, meta["tile"], meta["overlap"])
            work = len(grid) * grid.tile_h * grid.tile_w / (grid.height * grid.width)
            ratios.append(f"| {side} px | {tiled['seconds'] / untiled['seconds']:.2f} | "
                          f"{tiled['unet_seconds'] / untiled['unet_seconds']:.2f} | {work:.2f} | "
                          f"{inc(tiled) / inc(untiled):.2f} |")
    if ratios:
        lines += ["", "Tiled against untiled, same run (tiled / untiled; *tile area* is the summed area of the "
                  "tiles over the latent's, the extra model work of the overlaps):", "",
                  "| output | time | UNet time | tile area | peak increase |", "|---|---|---|---|---|", *ratios]
    lines += ["", "Full-size buffers of the tiled run, by their shapes (float32): the growth of the peak with the "
              "output size is these, since the UNet only ever sees one tile:", "",
              "| output | upscaled image | VAE decode accumulator + weights | normalised decode | one latent copy | "
              "denoiser blend weights | sum |", "|---|---|---|---|---|---|---|"]
    for side in sorted({r["side"] for r in rows} | set(meta.get("sides", ()))):
        b = full_size_bytes(side)
        lines.append(f"| {side} px | " + " | ".join(mib(v) for v in b.values()) + f" | {mib(sum(b.values()))} |")
    lines += ["", meta.get("notes", ""), "", "### GPU path", ""]
    if gpu:
        lines += ["| checkpoint | factor | output | seconds / image | peak GPU memory |", "|---|---|---|---|---|"]
        for r in gpu:
            lines.append(f"| {r['checkpoint']} | {r['factor']}x | {INPUT * r['factor']} px | "
                         f"{r.get('seconds', float('nan')):.2f} s | {gib(r.get('cuda_peak'))} |")
    else:
        lines.append("Not measured: this run had no GPU. Where CUDA is present, `python -m benchmarks."
                     "bench_tiling --checkpoint NAME` adds 4x/8x/16x PRE of the 256 px photo (20 dpmpp_2m steps, "
                     "the checkpoint's own VAE) with seconds per image and `torch.cuda.max_memory_allocated`, for "
                     "the tiny checkpoint and each named checkpoint.")
    lines.append(END)
    return "\n".join(lines)


def notes(rows: list[dict]) -> str:
    """Time per tile and the growth 1024 -> 4096 px against the full-size buffers, from the measured rows."""
    by = {(r["side"], r["mode"]): r for r in rows if "stopped" not in r}
    out = []
    tiled = [r for (s, m), r in sorted(by.items()) if m == "auto" and r["unet_calls"]]  # same tile shape
    if len(tiled) >= 2:
        per_tile = [r["unet_seconds"] / r["unet_calls"] for r in tiled]
        out.append("Time per tile (UNet seconds per call, one tile of the same size per call): " + ", ".join(
            f"{r['side']} px {v:.3f} s ({r['unet_calls']} calls)" for r, v in zip(tiled, per_tile))
            + f"; largest / smallest = {max(per_tile) / min(per_tile):.2f}: UNet time = calls x time per tile, "
              "linear in the number of tiles.")
    a, b = by.get((1024, "auto")), by.get((4096, "auto"))
    if a and b:
        grown = (b["peak_during"] - b["rss_before"]) - (a["peak_during"] - a["rss_before"])
        buffers = sum(full_size_bytes(4096).values()) - sum(full_size_bytes(1024).values())
        out.append(f"Growth of the peak increase from 1024 to 4096 px: {grown / 2**20:.0f} MiB; the full-size "
                   f"buffers above grow by {buffers / 2**20:.0f} MiB.")
    if a and not b:
        grown = sum(full_size_bytes(4096).values()) - sum(full_size_bytes(1024).values())
        inc = a["peak_during"] - a["rss_before"]
        out.append(f"4096 px tiled: not measured in this run; extrapolated from 1024 px (peak increase "
                   f"{inc / 2**30:.2f} GiB) plus the growth of the full-size buffers ({grown / 2**20:.0f} MiB): about "
                   f"{(inc + grown) / 2**30:.2f} GiB, and {len(latent_grid(4096))} UNet calls per step of the same "
                   f"tile size as at 1024 px ({a['unet_calls']} calls).")
    u1, u2, u4 = by.get((1024, "off")), by.get((2048, "off")), by.get((4096, "off"))
    stopped = next((r for r in rows if (r["side"], r["mode"]) == (4096, "off") and "stopped" in r), None)
    if u4 and b:
        out.append(f"4096 px untiled: measured. Peak increase {(u4['peak_during'] - u4['rss_before']) / 2**30:.2f} GiB "
                   f"against {(b['peak_during'] - b['rss_before']) / 2**30:.2f} GiB tiled; one UNet call on the whole "
                   f"latent took {u4['unet_seconds']:.1f} s against {b['unet_seconds']:.1f} s for the "
                   f"{b['unet_calls']} tile calls.")
    elif stopped:
        out.append(f"4096 px untiled: stopped at the bench's memory cap ({stopped['stopped']}, peak "
                   f"{stopped['peak_bytes'] / 2**30:.2f} GiB); the extrapolation below stands in for it.")
    if u1 and not u2 and not u4:
        i1 = u1["peak_during"] - u1["rss_before"]
        out.append(f"4096 px untiled: not run (extrapolated). Its peak increase at 1024 px is {i1 / 2**30:.2f} GiB; "
                   f"scaling it with the area (x16) gives about {16 * i1 / 2**30:.1f} GiB at 4096 px (more where "
                   "attention memory grows with the area squared).")
    if u1 and u2 and not u4:
        i1, i2 = (u["peak_during"] - u["rss_before"] for u in (u1, u2))
        out.append(f"4096 px untiled: not run (extrapolated). Its peak increase at 1024 and 2048 px is "
                   f"{i1 / 2**30:.2f} "
                   f"and {i2 / 2**30:.2f} GiB; growing with the area from 2048 px (x4) gives at least "
                   f"{4 * i2 / 2**30:.1f} GiB at 4096 px, more where attention memory grows with the area squared.")
    return "\n\n".join(out)


def write_section(text: str, doc: Path) -> None:
    """Replace the tiling section of ``doc`` (or append it), leaving every other section as it was."""
    old = doc.read_text() if doc.is_file() else "# Benchmarks\n"
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    new = pattern.sub(lambda _: text, old) if pattern.search(old) else old.rstrip("\n") + "\n\n" + text + "\n"
    doc.write_text(new)


def run(smoke: bool, checkpoints=(), rows_file: Path | None = None, render_only: bool = False,
        note: str = "", device: str | None = None) -> str:
    """The section's text; ``device``: where the children compute (None: ComfyUI's own choice, "cpu": --cpu).
    The GPU path runs only when CUDA is present and the CPU was not forced."""
    import platform

    import torch

    start = time.perf_counter()
    sides, untiled = ((256,), (256,)) if smoke else ((512, 1024, 2048, 4096), (1024, 2048, 4096))
    tile, overlap = (128, 16) if smoke else (TILE, OVERLAP)
    if render_only:
        rows = sorted((json.loads(line) for line in rows_file.read_text().splitlines()),
                      key=lambda r: (r["side"], r["mode"] != "auto"))
    else:
        rows = measure(sides, untiled, 1 if smoke else STEPS, tile, overlap, device, rows_file=rows_file)
    use_gpu = torch.cuda.is_available() and not smoke and device != "cpu"
    gpu = gpu_rows(["", *checkpoints], device=None if device == "cpu" else device) if use_gpu else None
    meta = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "steps": 1 if smoke else STEPS,
            "tile": tile, "overlap": overlap, "sides": sides,
            "machine": f"{platform.machine()} CPU, {__import__('os').cpu_count()} cores, torch {torch.__version__}",
            "minutes": None if render_only else (time.perf_counter() - start) / 60,
            "notes": "\n\n".join(filter(None, [notes(rows), note]))}
    return section(rows, gpu, meta)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="256 px, 128 px tiles, 1 step: checks that it runs")
    parser.add_argument("--out", type=Path, default=DOC)
    parser.add_argument("--checkpoint", action="append", default=[], help="GPU path: a checkpoint file name")
    parser.add_argument("--rows", type=Path, help="JSON-lines file of measured rows: each row is saved as it "
                        "ends, rows already there are not measured again (resume a long run)")
    parser.add_argument("--note", default="", help="a sentence added under the tables (e.g. how the run went)")
    parser.add_argument("--render-only", action="store_true", help="write the section from --rows, measuring nothing")
    headless.add_device_arguments(parser)
    args = parser.parse_args(argv)
    device = headless.device_from_args(args)
    if args.render_only and not (args.rows and args.rows.is_file()):
        parser.error(f"--render-only needs an existing --rows file; received {args.rows}")
    logging.basicConfig(level=logging.INFO, format="[bench] %(message)s")
    text = run(args.smoke, args.checkpoint, args.rows, args.render_only, args.note, device)
    write_section(text, args.out)
    print(text)  # noqa: T201 - a benchmark prints its table


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--child":
        logging.basicConfig(level=logging.ERROR)
        import tempfile

        tempfile.tempdir = tempfile.mkdtemp(prefix="boomerang-bench-child-")
        side, mode, steps, tile, overlap, ckpt, vae = sys.argv[3:10]
        print(json.dumps(_child(int(side), mode, int(steps), int(tile), int(overlap), ckpt, vae)))  # noqa: T201 - the parent reads it
    else:
        main()
