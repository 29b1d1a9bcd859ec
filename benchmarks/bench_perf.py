"""Performance benchmark: `make bench` runs it and writes docs/BENCHMARKS.md. Never a test.

Everything runs through one in-process ComfyUI (the executor keeps its cache between runs, as a running
ComfyUI does, so loaders and text encoders run once). Timed comparisons alternate their variants run by run
and report the median and min-max of --repeats runs after one untimed warm-up each. Memory and cold start
are measured in fresh child processes (bench_memory.py).
"""
from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import time
from pathlib import Path

import torch

import headless
from headless import demo as run_demo
from headless.models import BUILTIN, model_nodes

from . import bench_accuracy, bench_memory, bench_tiling

REPO = headless.REPO
log = logging.getLogger("boomerang.bench")
K_STEPS = 10


def alternate(variants: dict, repeats: int) -> dict:
    """{name: fn(run_index)} -> {name: (median, min, max) seconds}; order flips every run, warm-up untimed."""
    names = list(variants)
    for name in names:
        variants[name](-1)
    times = {name: [] for name in names}
    for r in range(repeats):
        for name in (names if r % 2 == 0 else names[::-1]):
            start = time.perf_counter()
            variants[name](r)
            times[name].append(time.perf_counter() - start)
    return {n: (statistics.median(v), min(v), max(v)) for n, v in times.items()}


class CallCounter:
    """Counts forward calls of the diffusion model (torch's global forward hook, used only in counting runs)."""

    def __init__(self, cls):
        self.cls, self.calls = cls, 0

    def __enter__(self):
        self.handle = torch.nn.modules.module.register_module_forward_hook(self._hook)
        return self

    def _hook(self, module, args, output):
        if isinstance(module, self.cls):
            self.calls += 1

    def __exit__(self, *exc):
        self.handle.remove()


def sd_nodes(ckpt: str, width: int, batch: int) -> dict:
    return {
        "ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
        "pos": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["ckpt", 1], "text": "picture of a person"}},
        "neg": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["ckpt", 1], "text": ""}},
        "lat": {"class_type": "EmptyLatentImage", "inputs": {"width": width, "height": width, "batch_size": batch}},
    }


def sink(ref) -> dict:
    return {"class_type": "SaveLatent", "inputs": {"samples": ref, "filename_prefix": "bench/latent"}}


def overhead(rt, ckpt: str, repeats: int, cases=((64, 1), (64, 8), (256, 1), (256, 8))) -> list[dict]:
    """Section 1: BoomerangNoise + PartialReverseSampler (t_boom = T) against KSamplerAdvanced, same sigmas."""
    import comfy.ldm.modules.diffusionmodules.openaimodel as openaimodel
    import comfy.samplers

    glue = rt.pack_module(headless.PACK_DIR_NAME).nodes.comfy.sampling
    rows = []
    for width, batch in cases:
        reps = repeats if width > 64 else max(repeats, 15)  # sub-second runs: more of them against noise
        base = sd_nodes(ckpt, width, batch)
        settings = {"cfg": 7.5, "scheduler": "karras", "steps": K_STEPS}

        def stock(seed):
            rt.execute({**base, "k": {"class_type": "KSamplerAdvanced", "inputs": {
                "model": ["ckpt", 0], "add_noise": "enable", "noise_seed": seed + 1, "sampler_name": "euler",
                "positive": ["pos", 0], "negative": ["neg", 0], "latent_image": ["lat", 0], "start_at_step": 0,
                "end_at_step": 10000, "return_with_leftover_noise": "disable", **settings}},
                "out": sink(["k", 0])}, keep_cache=True)

        def boomerang(seed):
            rt.execute({**base, "n": {"class_type": "BoomerangNoise", "inputs": {
                "model": ["ckpt", 0], "latent": ["lat", 0], "t_boom": 1000, "seed": seed + 1}},
                "r": {"class_type": "PartialReverseSampler", "inputs": {
                    "model": ["ckpt", 0], "positive": ["pos", 0], "negative": ["neg", 0], "latent": ["n", 0],
                    "sampler": "euler", "seed": seed + 1, **settings}},
                "out": sink(["r", 0])}, keep_cache=True)

        counts = {}
        for name, fn in (("KSamplerAdvanced", stock), ("Boomerang", boomerang)):
            with CallCounter(openaimodel.UNetModel) as counter:
                fn(10**6)
            counts[name] = counter.calls
        timed = alternate({"KSamplerAdvanced": stock, "Boomerang": boomerang}, reps)
        model = rt.nodes.CheckpointLoaderSimple().load_checkpoint(ckpt)[0]
        ms = model.get_model_object("model_sampling")
        stock_sigmas = comfy.samplers.calculate_sigmas(ms, "karras", K_STEPS)
        ours = glue.schedule(model, glue.level_for(model, 1000), "euler", "karras", K_STEPS)
        rows.append({"size": width, "batch": batch, "stock": timed["KSamplerAdvanced"], "ours": timed["Boomerang"],
                     "calls": counts, "sigma_diff": float((stock_sigmas.cpu() - ours.cpu()).abs().max())})
        log.info("overhead %dpx b%d: ratio %.3f", width, batch, rows[-1]["ours"][0] / rows[-1]["stock"][0])
    return rows


def digits_graph(rt, image: str, t_boom: int, batch: int, seed: int) -> dict:
    nodes, links = model_nodes("pixel", BUILTIN, "")
    return {**nodes, "img": {"class_type": "LoadImage", "inputs": {"image": image}},
            "enc": {"class_type": "VAEEncode", "inputs": {"pixels": ["img", 0], "vae": links["vae"]}},
            "rep": {"class_type": "RepeatLatentBatch", "inputs": {"samples": ["enc", 0], "amount": batch}},
            "n": {"class_type": "BoomerangNoise", "inputs": {"model": links["model"], "latent": ["rep", 0],
                                                             "t_boom": t_boom, "seed": seed}},
            "r": {"class_type": "PartialReverseSampler", "inputs": {
                "model": links["model"], "positive": links["positive"], "negative": links["negative"],
                "latent": ["n", 0], "cfg": 1.0, "sampler": "boomerang_exact", "scheduler": "simple", "steps": 1,
                "seed": seed}},
            "out": sink(["r", 0])}


def cost_vs_t(rt, repeats: int, batch: int = 4, t_values=(100, 250, 500, 1000)) -> dict:
    """Section 2: boomerang_exact time at t_boom in {100, 250, 500, 1000} on the built-in digits DDPM."""
    image = run_demo.digits_inputs(Path(rt.folder_paths.get_input_directory()), [3])[0][0]
    variants = {t: (lambda seed, t=t: rt.execute(digits_graph(rt, image, t, batch, seed + 1), keep_cache=True))
                for t in t_values}
    return {"batch": batch, "times": alternate(variants, repeats)}


def batching(rt, ckpt: str, repeats: int, n: int = 8) -> dict:
    """Section 4: n local samples of one 64x64 latent in one batch against n runs of batch 1."""
    def graph(batch, seed):
        return {**sd_nodes(ckpt, 64, 1),
                "rep": {"class_type": "RepeatLatentBatch", "inputs": {"samples": ["lat", 0], "amount": batch}},
                "b": {"class_type": "Boomerang", "inputs": {
                    "model": ["ckpt", 0], "positive": ["pos", 0], "negative": ["neg", 0], "latent": ["rep", 0],
                    "t_boom": 500, "cfg": 7.5, "sampler": "dpmpp_2m_sde", "scheduler": "karras", "steps": K_STEPS,
                    "seed": seed}},
                "out": sink(["b", 0])}

    timed = alternate({"batch": lambda r: rt.execute(graph(n, 1000 + r * n), keep_cache=True),
                       "separate": lambda r: [rt.execute(graph(1, 1000 + r * n + i), keep_cache=True)
                                              for i in range(n)]}, repeats)
    return {"n": n, "times": timed}


def fmt(t) -> str:
    return f"{t[0]:.3f} s ({t[1]:.3f}-{t[2]:.3f})"


def report(o, c, acc, b, mem, cold, meta) -> str:
    lines = ["# Benchmarks", "",
             f"Written by `make bench` (`python -m benchmarks.bench_perf`) on {meta['machine']}, torch "
             f"{torch.__version__}, "
             f"{torch.get_num_threads()} threads, ComfyUI {meta['comfyui']}. Times: median (min-max) of "
             f"{meta['repeats']} runs (15 for the sub-second 64x64 cases of section 1) after one warm-up, variants "
             f"alternating run by run. Whole run: "
             f"{meta['minutes']:.1f} min.", "",
             "## 1. Overhead against ComfyUI's own sampler", "",
             f"BoomerangNoise + PartialReverseSampler at t_boom = T against KSamplerAdvanced, both `euler`, `karras`, "
             f"{K_STEPS} steps, cfg 7.5, on the tiny SD1.5 checkpoint. Model calls counted with a forward hook on "
             "the UNet; sigma difference is the largest gap between the two sigma schedules.", "",
             "| size | batch | KSamplerAdvanced | Boomerang | ratio | model calls (stock / ours) | sigma diff |",
             "|---|---|---|---|---|---|---|"]
    for r in o:
        lines.append(f"| {r['size']}x{r['size']} | {r['batch']} | {fmt(r['stock'])} | {fmt(r['ours'])} | "
                     f"{r['ours'][0] / r['stock'][0]:.3f} | {r['calls']['KSamplerAdvanced']} / "
                     f"{r['calls']['Boomerang']} | "
                     f"{r['sigma_diff']:.1e} |")
    top = max(c["times"])
    full = c["times"][top][0]
    lines += ["", "## 2. Cost grows with t_boom", "",
              f"`boomerang_exact` (one model call per timestep) on the built-in digits DDPM, batch {c['batch']}, "
              "whole graph (loader cached).", "", f"| t_boom | time | time / time at {top} | t_boom / {top} | gap |",
              "|---|---|---|---|---|"]
    for t, v in c["times"].items():
        lines.append(f"| {t} | {fmt(v)} | {v[0] / full:.3f} | {t / top:.3f} | {(v[0] / full) / (t / top) - 1:+.1%} |")
    rec = bench_accuracy.recommended(acc)
    lines += ["", "## 3. Accuracy per model call (exact Gaussian oracle)", "",
              f"x0 = {bench_accuracy.X0}, data N({bench_accuracy.MU}, {bench_accuracy.S}^2), SD schedule, 65,536 "
              f"values "
              "per cell (variance standard error 0.55%), scheduler karras for the fast samplers. Each cell: model "
              "calls / mean error in sd / variance error against the closed-form Boomerang law. **ok**: variance "
              "error <= 3% and mean error <= 0.03 sd.", "", bench_accuracy.table(acc), ""]
    if rec:
        lines.append(f"Cheapest setting within 3% variance error at every t_boom: **{rec['sampler']}, karras, "
                     f"{rec['steps']} steps** ({rec['calls_500']} model calls per pass; worst variance error "
                     f"{rec['max_var_err']:.1%}, worst mean error {rec['max_mean_err']:.3f} sd).")
    else:
        lines.append("No fast setting stayed within 3% variance error at every t_boom.")
    t = b["times"]
    lines += ["", "## 4. Batching", "",
              f"{b['n']} local samples of one 64x64 image (tiny SD1.5, Boomerang node, dpmpp_2m_sde/karras, "
              f"{K_STEPS} steps, cfg 7.5, t_boom 500) in one batch against {b['n']} runs of batch 1 (same seeds, "
              "same samples).", "", "| one batch | separate runs | throughput ratio |", "|---|---|---|",
              f"| {fmt(t['batch'])} | {fmt(t['separate'])} | {t['separate'][0] / t['batch'][0]:.2f}x |", "",
              "## 5. Peak memory of UpscaleThenBoomerang", "",
              f"A fresh process per row boots ComfyUI and loads the tiny SD1.5 checkpoint (cached), then upscales "
              f"the 64x64 photo ({bench_memory.UPSCALE_STEPS} dpmpp_2m steps; the VAE dominates). Before the "
              "upscale the kernel's peak-RSS mark is reset (`/proc/self/clear_refs`), so *peak during upscale* is "
              "the process's high-water mark while the node ran; *process peak* (`ru_maxrss`) also covers start-up "
              "and checkpoint loading.", "",
              "| factor | output | VAE tiles | RSS before | peak during upscale | increase | process peak | time |",
              "|---|---|---|---|---|---|---|---|"]
    for r in mem:
        tiles = f"{r['tile_size']} px" if r["tile_size"] else "off"
        gib = lambda v: f"{v / 2**30:.2f} GiB" if v is not None else "n/a"  # noqa: E731 - a one-line table formatter
        if "stopped" in r:
            lines.append(f"| {r['factor']}x | {64 * r['factor']}x{64 * r['factor']} | {tiles} | - | - | - | "
                         f"{gib(r['peak_bytes'])} | {r['stopped']} |")
            continue
        during = r.get("peak_during")
        increase = gib(during - r["rss_before"]) if during is not None else "n/a"
        lines.append(f"| {r['factor']}x | {64 * r['factor']}x{64 * r['factor']} | {tiles} | {gib(r['rss_before'])} | "
                     f"{gib(during)} | {increase} | {gib(r['peak_bytes'])} | {r['seconds']:.1f} s |")
    lines += ["", "## 6. GPU", "", meta["gpu"], "",
              "## Cold start", "",
              f"Time for ComfyUI to load the pack (`load_custom_node`, as at start-up) plus the schema of every "
              f"node it adds (what `/object_info` asks), in {cold['n']} fresh processes: median "
              f"{cold['median'] * 1000:.0f} ms (min {cold['min'] * 1000:.0f}, max {cold['max'] * 1000:.0f}).", ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "BENCHMARKS.md")
    parser.add_argument("--gpu", default=f"Not measured: this run had no GPU ({platform.machine()} CPU, "
                        f"{os.cpu_count()} cores), so there are no GPU figures and no comparison with the paper's "
                        "0.932 min per 1024x1024 PRE image.", help="text of the GPU section")
    parser.add_argument("--smoke", action="store_true", help="a 2-minute check that every section runs (tiny "
                        "cases, 1 repeat); the numbers mean nothing")
    headless.add_device_arguments(parser)
    args = parser.parse_args(argv)
    device = headless.device_from_args(args)
    if args.smoke:
        args.repeats = 1
    elif args.repeats < 5:
        parser.error(f"--repeats must be an integer >= 5; received {args.repeats}")
    logging.basicConfig(level=logging.INFO, format="[bench] %(message)s")
    logging.getLogger().setLevel(logging.WARNING)
    log.setLevel(logging.INFO)
    start = time.perf_counter()
    from testkit.runtime import runtime, tiny_checkpoint

    rt = runtime(device=device)
    log.info("on %s (%s)", rt.device, rt.device_name)
    import comfy.utils

    comfy.utils.set_progress_bar_enabled(False)
    ckpt = tiny_checkpoint(rt)
    log.info("1/7 overhead")
    o = overhead(rt, ckpt, args.repeats, ((64, 1),) if args.smoke else overhead.__defaults__[0])
    log.info("2/7 cost against t_boom")
    c = cost_vs_t(rt, args.repeats, 1, (20, 40)) if args.smoke else cost_vs_t(rt, args.repeats)
    log.info("3/7 accuracy on the oracle")
    acc = bench_accuracy.measure(rt, smoke=args.smoke)
    log.info("4/7 batching")
    b = batching(rt, ckpt, args.repeats, 2 if args.smoke else 8)
    log.info("5/7 memory (child processes)")
    mem = bench_memory.memory((2,) if args.smoke else (4, 8, 16), device=device)
    log.info("cold start (child processes)")
    cold = bench_memory.coldstart(max(args.repeats, 2 if args.smoke else 5), device=device)
    log.info("7/7 tiled denoiser (child processes)")
    tiling = bench_tiling.run(args.smoke, device=device)
    import comfyui_version

    meta = {"machine": f"{platform.machine()} CPU, {__import__('os').cpu_count()} cores", "repeats": args.repeats,
            "comfyui": comfyui_version.__version__, "gpu": args.gpu, "minutes": (time.perf_counter() - start) / 60}
    text = report(o, c, acc, b, mem, cold, meta) + "\n" + tiling + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)  # noqa: T201 - a benchmark prints its table
    log.info("wrote %s in %.1f min", args.out, meta["minutes"])


if __name__ == "__main__":
    main()
