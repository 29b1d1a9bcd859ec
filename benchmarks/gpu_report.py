"""BENCHMARKS_GPU.md from the GPU check's raw numbers (``gpu_check.json``); standard library only.

GPU figures appear only under the heading that names the GPU, and only from a CUDA run; the CPU rows of the dataset
comparison sit under their own heading naming the CPU; a smoke run (tiny models on the CPU) has no GPU heading.
"""
from __future__ import annotations

PART_TITLES = {"oracle": "Gaussian-oracle law", "sd15": "SD1.5 (upscale, overhead, tiled 4096 px)",
               "sdxl": "SDXL (upscale, overhead, tiled 4096 px)", "dataset_gpu": "dataset jobs on the GPU",
               "dataset_cpu": "dataset jobs on the CPU (child process)"}
FAMILY_NAMES = {"sd15": "SD1.5", "sdxl": "SDXL"}
HOLDS = {True: "yes", False: "**no**", None: "n/a (fewer than 65,536 values)"}
RUN = ("`make gpu-check-prepare` here, then on the GPU machine `make gpu-check` (or the one command line in "
       "docs/BENCHMARKS_GPU.md's section *How to run*)")


def gib(v) -> str:
    return f"{v / 2**30:.2f} GiB" if isinstance(v, (int, float)) else "n/a"


def secs(t: dict) -> str:
    return f"{t['median']:.3f} s ({t['min']:.3f}-{t['max']:.3f})"


def _problem(d) -> str | None:
    if not isinstance(d, dict) or not d:
        return "not run"
    if "skipped" in d:
        return f"skipped: {d['skipped']}"
    if "failed" in d:
        return f"failed: {d['failed']}".replace("\n", " ").replace("|", "/")[:400]
    return None


def oracle_lines(part: dict) -> list[str]:
    lines = [f"Device: {part['device']}. Data N(0.3, 1), x0 = 1.8, boomerang_exact; errors against the continuous "
             "Boomerang law and the exact law of the discrete Algorithm 1 chain (testkit/oracle_law.py). *holds*: the "
             "tests' bounds (chain: mean < 0.02 sd, variance < 2%; law: mean < 0.03 sd, variance < 3%).", "",
             "| prediction | t_boom | values | law: mean error | law: variance error | chain: mean error | "
             "chain: variance error | model calls | holds |", "|---|---|---|---|---|---|---|---|---|"]
    for r in part["rows"]:
        lines.append(f"| {r['kind']} | {r['t_boom']} | {r['values']:,} | {r['law_mean_sd']:.4f} sd | "
                     f"{100 * r['law_var_rel']:.2f}% | {r['chain_mean_sd']:.4f} sd | {100 * r['chain_var_rel']:.2f}% | "
                     f"{r['model_calls']} | {HOLDS[r['holds']]} |")
    return lines


def family_lines(results: dict) -> list[str]:
    st = results["settings"]
    px, tile = st["input_px"], st["native"]
    up = ["| model | UNet parameters | weights | seconds / image | peak memory | steps | denoise tile |",
          "|---|---|---|---|---|---|---|"]
    ov = ["| model | latent of | KSamplerAdvanced | Boomerang | ratio | peak memory (Boomerang) |",
          "|---|---|---|---|---|---|"]
    big = ["| model | output | steps | tiled: time | tiled: peak | untiled: time | untiled: peak | untiled / tiled |",
           "|---|---|---|---|---|---|---|---|"]
    for family, name in FAMILY_NAMES.items():
        part = results["parts"].get(family)
        problem = _problem(part)
        if problem:
            for table in (up, ov, big):
                table.append(f"| {name} | {problem} |")
            continue
        model = part.get("model") or {}
        params = f"{model['parameters']:,}" if "parameters" in model else "n/a"
        u = part.get("upscale", {})
        up.append(f"| {name} | {params} | {model.get('dtype', 'n/a')} | " + (
            _problem(u) or f"{secs(u)} | {gib(u['peak_bytes'])} | {u['steps']} | {u['denoise_tile']} px") + " |")
        o = part.get("overhead", {})
        ov.append(f"| {name} | " + (_problem(o) or (
            f"{o['side']} px | {secs(o['KSamplerAdvanced'])} | {secs(o['Boomerang'])} | {o['ratio']:.3f} | "
            f"{gib(o['Boomerang']['peak_bytes'])}")) + " |")
        b = part.get("tiled", {})
        if _problem(b):
            big.append(f"| {name} | {_problem(b)} |")
            continue
        cells = []
        for mode in ("on", "off"):
            m = b.get(mode, {})
            cells += [_problem(m) or f"{m['seconds']:.2f} s", gib(m.get("peak_bytes"))]
        ratio = (f"{b['off']['seconds'] / b['on']['seconds']:.2f}" if "seconds" in b.get("off", {}) else "-")
        big.append(f"| {name} | {px * b['factor']} px | {b['steps']} | " + " | ".join(cells) + f" | {ratio} |")
    tiles = f"SD1.5 {tile['sd15']} px, SDXL {tile['sdxl']} px, overlap {st['overlap']} px"
    return ([f"### UpscaleThenBoomerang 4x, {px} -> {4 * px} px", "",
             f"dpmpp_2m, karras, {st['steps']} steps, cfg 7.5, t_boom automatic (0.2 T at 4x), denoise_tiling auto "
             f"(denoise tiles: {tiles}), VAE tiles of 1024 px, color_match off; {st['repeats']} timed run(s) after one "
             "warm-up.", "", *up, "", "### Boomerang against KSamplerAdvanced at equal sigmas", "",
             "BoomerangNoise + PartialReverseSampler at t_boom = T against KSamplerAdvanced, both euler, karras, "
             f"{st['steps']} steps, cfg 7.5, batch 1, an empty latent of the *latent of* size; variants alternate "
             "run by run.", "", *ov, "", f"### Tiled PRE to {px * st['big_factor']} px", "",
             f"UpscaleThenBoomerang {st['big_factor']}x from {px} px, t_boom automatic, {st['big_steps']} step(s), "
             f"denoise tiles ({tiles}) against denoise_tiling off; one run each (the model is warm).", "", *big])


def dataset_lines(gpu: dict, cpu: dict, ratio_name: str) -> tuple[list[str], list[str]]:
    head = ["| model | configuration | images | image side | items/s |", "|---|---|---|---|---|"]
    gpu_lines, cpu_lines = list(head), list(head[:1]) + ["|---|---|---|---|---|"]
    by_gpu = {}
    for rows, lines, store in ((gpu, gpu_lines, by_gpu), (cpu, cpu_lines, None)):
        if _problem(rows):
            lines.append(f"| {_problem(rows)} |")
            continue
        for r in rows["rows"]:
            if "skipped" in r:
                lines.append(f"| {r['model']} | {r['config']} | skipped: {r['skipped']} |")
                continue
            lines.append(f"| {r['model']} | {r['config']} | {r['items']} | {r['side']} px | {r['items_per_s']:.2f} |")
            if store is not None:
                store[(r["model"], r["config"])] = r["items_per_s"]
    if not _problem(cpu):
        cpu_lines[0] += f" {ratio_name} |"
        cpu_lines[1] += "---|"
        for i, r in enumerate(cpu["rows"]):
            g = by_gpu.get((r["model"], r["config"]))
            if "items_per_s" in r and g:
                cpu_lines[i + 2] += f" {g / r['items_per_s']:.1f}x |"
    return gpu_lines, cpu_lines


def render(results: dict) -> str:
    env, parts = results["env"], results["parts"]
    smoke = results["smoke"]
    lines = ["# GPU check" + (": CPU smoke run (tiny models; no GPU figures)" if smoke else ""), "",
             "<!-- written by `python -m benchmarks.gpu_check`; not edited by hand -->", ""]
    where = (f"{env.get('gpu')}, driver {env.get('driver')}, CUDA {env.get('cuda_runtime')}, torch {env['torch']}, "
             f"ComfyUI {env['comfyui']}")
    cpu = f"{env['cpu']}, {env['cores']} cores"
    lines += [f"## {'Smoke run on the CPU: ' + cpu if smoke else 'GPU: ' + where}", "",
              f"Measured {env['when']} on {env['device']} in {results.get('elapsed_s', 0):.0f} s of a "
              f"{results['budget_s']:.0f} s budget; Python {env['python']}. Models: "
              + ("tiny SD1.5 / SDXL UNets" if smoke else "full-size SD1.5 and SDXL UNets") + " of random weights built "
              "from ComfyUI's own configs (comfy.supported_models), in the dtype ComfyUI picks; a random SD VAE; "
              "random prompt embeddings. Timing does not depend on the weights. Times: median (min-max) of the "
              "timed runs after one warm-up; peak memory: torch.cuda.max_memory_allocated over them, weights "
              "included (n/a off CUDA).", ""]
    lines += ["### Gaussian-oracle law", ""] + (
        [_problem(parts.get("oracle"))] if _problem(parts.get("oracle")) else oracle_lines(parts["oracle"])) + [""]
    lines += family_lines(results) + [""]
    ratio = "this run's items/s / CPU child's" if smoke else "GPU items/s / CPU items/s"
    gpu_rows, cpu_rows = dataset_lines(parts.get("dataset_gpu"), parts.get("dataset_cpu"), ratio)
    lines += [f"### Dataset jobs on {env['device']}", "",
              "anonymize preset; digits: the built-in digits DDPM, boomerang_exact, t_boom 20; sd15: an SD1.5-size "
              "checkpoint of random weights (written and loaded by CheckpointLoaderSimple), dpmpp_3m_sde, t_boom "
              "500, 10 steps. items/s after a one-image warm-up job of the same model.", "", *gpu_rows, ""]
    c = parts.get("dataset_cpu") or {}
    cpu_head = (f"{c.get('cpu')}, {c.get('cores')} cores, {c.get('torch_threads')} torch threads"
                if "cpu" in c else cpu)
    lines += [f"## CPU comparison (CPU: {cpu_head}; not GPU figures)", "",
              "The same dataset jobs in a child process booted on the CPU of the same machine, fewer images.", "",
              *cpu_rows, "", "## Time per part", "", "| part | estimate (H200) | measured |", "|---|---|---|"]
    for name, title in PART_TITLES.items():
        p = parts.get(name)
        took = f"{p['part_seconds']:.0f} s" if isinstance(p, dict) and "part_seconds" in p else (_problem(p) or "-")
        lines.append(f"| {title} | {results['estimates_s'][name]} s | {took} |")
    return "\n".join(lines) + "\n"


def not_measured(estimates: dict, budget_s: float) -> str:
    """The committed page until a GPU run: what the check measures, its time estimates, how to run it."""
    rows = "\n".join(f"| {PART_TITLES[k]} | {v} s |" for k, v in estimates.items())
    return f"""# GPU check

<!-- until a GPU run: benchmarks/gpu_report.py not_measured(); then `python -m benchmarks.gpu_check` rewrites it -->

## GPU: not measured

No GPU has been lent to this project yet: every figure here is still to be measured, and none of the CPU
benchmarks belongs under this heading. To measure: {RUN}.

What one run measures, on CUDA only (the script refuses to run elsewhere), in this order and each part only while
its {budget_s:.0f} s budget has room:

1. The Gaussian-oracle law on the GPU: Boomerang's output mean and variance against the closed forms, with the
   tests' bounds (eps, flow and v prediction; t_boom 200 to 900; 262,144 values per case).
2. Full-size SD1.5 and SDXL UNets (859,520,964 and 2,567,463,684 parameters) and SD VAEs with random weights,
   built in memory from ComfyUI's own model configs: UpscaleThenBoomerang 4x from 256 to 1024 px (seconds per
   image, median of 5 after a warm-up, peak torch.cuda.max_memory_allocated); Boomerang against KSamplerAdvanced
   at equal sigmas (time ratio); tiled PRE to 4096 px against untiled (time, peak memory).
3. Dataset-job items/s on the GPU, digits model and an SD1.5-size checkpoint, batch 1 / 8 / --fast-batches; then
   the same jobs on the CPU of the same machine, under their own CPU heading.

Estimated GPU time per part (one H200; estimates, not measurements):

| part | estimate |
|---|---|
{rows}

## How to run

Here (needs PyPI): `make gpu-check-prepare` builds `.gpu-check/` (ComfyUI's source without its frontend and the
wheels the GPU machine lacks) and prints the travelling size. On the GPU machine (no network), from the repository
root: `make gpu-check`, or without make:

    P=/opt/torch/.venv/bin/python; $P -m benchmarks.gpu_setup install &&
      COMFYUI_PATH=$PWD/.gpu-check/comfyui PYTHONPATH=$PWD/.gpu-check/site $P -m benchmarks.gpu_check

It writes this page and `gpu_check.json` (the raw numbers) into `$OUT` when set, else into docs/.
"""


def summary(results: dict, out) -> str:
    lines = [f"GPU check {'(CPU smoke run) ' if results['smoke'] else ''}written to {out}: "
             f"{results.get('elapsed_s', 0):.0f} s of {results['budget_s']:.0f} s"]
    for name, part in results["parts"].items():
        lines.append(f"  {name}: {_problem(part) or 'done'} ({part.get('part_seconds', 0):.0f} s)")
    return "\n".join(lines)
