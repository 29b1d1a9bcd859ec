"""The measurements of the GPU check that run graphs in this process (see ``gpu_check``): the Gaussian-oracle law
on the device, and per model family UpscaleThenBoomerang 256 -> 1024 px, Boomerang against KSamplerAdvanced at
equal sigmas, and tiled PRE to 4096 px against untiled. Each returns a dict of raw numbers for the JSON."""
from __future__ import annotations

import logging
import statistics
import time

log = logging.getLogger("boomerang.gpu_check")

TEST_CAPTURE = "BoomerangTestCapture"
# Oracle cases: (prediction kind, t_boom); all with boomerang_exact, the paper's Algorithm 1
ORACLE_CASES = (("eps", 200), ("eps", 500), ("eps", 900), ("flow", 200), ("flow", 500), ("flow", 900), ("v", 500))
MU, S, X0, SHIFT = 0.3, 1.0, 1.8, 3.0  # as tests/test_oracle.py: x0 1.5 sd above the data mean
# The tests' bounds (tests/test_oracle.py): chain law mean < 0.02 sd and variance < 2%; continuous law mean < 0.03 sd
# and variance < 3% (from t_boom 200 on)
BOUNDS = {"chain_mean": 0.02, "chain_var": 0.02, "law_mean": 0.03, "law_var": 0.03}


SUBPARTS = ("upscale", "overhead", "tiled")


class Settings:
    """Sizes and repeats of one run: the GPU check's, or the tiny ones of the CPU smoke run."""

    def __init__(self, smoke: bool):
        self.smoke = smoke
        self.size = "tiny" if smoke else "full"
        self.repeats = 1 if smoke else 5
        self.input_px = 16 if smoke else 256
        self.steps = 2 if smoke else 20
        self.big_factor = 8 if smoke else 16  # the tiled PRE: 256 -> 4096 px
        self.big_steps = 1 if smoke else 4
        self.native = {"sd15": 64, "sdxl": 64} if smoke else {"sd15": 512, "sdxl": 1024}  # denoise tile, px
        self.overlap = 16 if smoke else 64
        self.oracle_batch, self.oracle_side = (1, 16) if smoke else (16, 64)  # 262,144 values per case
        self.oracle_cases = (("eps", 20),) if smoke else ORACLE_CASES
        self.warm_up = not smoke
        # the smoke run covers each code path once: upscale and overhead on SD1.5, tiled PRE (tiled only) on SDXL
        self.subparts = {"sd15": SUBPARTS[:2], "sdxl": SUBPARTS[2:]} if smoke else {"sd15": SUBPARTS, "sdxl": SUBPARTS}
        self.big_modes = ("on",) if smoke else ("on", "off")


def _sync():
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _reset_peak():
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def _peak():
    import torch

    return torch.cuda.max_memory_allocated() if torch.cuda.is_available() else None


def timed(rt, graphs: dict, repeats: int, warm_up: bool = True) -> dict:
    """{name: graph(run)} -> {name: {median, min, max, runs, peak}} seconds; one untimed warm-up each, then
    ``repeats`` runs with the order flipped every run (as benchmarks/bench_perf.py). ``peak``: the largest
    torch.cuda.max_memory_allocated over the timed runs of that variant (None off CUDA)."""
    names = list(graphs)
    for name in names if warm_up else ():
        rt.execute(graphs[name](-1), keep_cache=True)
    runs, peaks = {n: [] for n in names}, {n: None for n in names}
    for r in range(repeats):
        for name in names if r % 2 == 0 else names[::-1]:
            graph = graphs[name](r)
            _reset_peak()
            start = time.perf_counter()
            rt.execute(graph, keep_cache=True)
            _sync()
            runs[name].append(time.perf_counter() - start)
            peak = _peak()
            peaks[name] = peak if peaks[name] is None else max(peaks[name], peak)
    return {n: {"median": statistics.median(v), "min": min(v), "max": max(v), "runs": v, "peak_bytes": peaks[n]}
            for n, v in runs.items()}


def model_node(family: str, size: str) -> dict:
    return {"class_type": "BoomerangGpuModel", "inputs": {"family": family, "size": size, "seed": 0}}


def upscale_graph(family, size, photo, factor, steps, seed, tiling, tile, overlap) -> dict:
    return {
        "m": model_node(family, size),
        "img": {"class_type": "LoadImage", "inputs": {"image": photo}},
        "up": {"class_type": "UpscaleThenBoomerang", "inputs": {
            "image": ["img", 0], "vae": ["m", 1], "model": ["m", 0], "positive": ["m", 2], "negative": ["m", 3],
            "factor": float(factor), "interpolation": "bilinear", "t_boom": 0, "passes": 1, "cfg": 7.5,
            "sampler": "dpmpp_2m", "scheduler": "karras", "steps": steps, "seed": seed, "tile_size": 1024,
            "color_match": "off", "denoise_tiling": tiling, "denoise_tile": tile, "denoise_overlap": overlap,
            "tile_batch": 1}},
        "cap": {"class_type": TEST_CAPTURE, "inputs": {"tag": "out", "image": ["up", 0]}},
    }


def upscale(rt, family: str, photo: str, st: Settings) -> dict:
    """UpscaleThenBoomerang 4x (256 -> 1024 px), the family's native tile (denoise_tiling auto)."""
    tile = st.native[family]
    result = timed(rt, {"upscale": lambda r: upscale_graph(family, st.size, photo, 4, st.steps, 100 + r, "auto", tile,
                                                                 st.overlap)},
                   st.repeats, st.warm_up)["upscale"]
    shape = tuple(rt.pack_module("boomerang_test_nodes").CAPTURED["out"]["image"].shape)
    return {**result, "output_shape": shape, "steps": st.steps, "denoise_tile": tile, "factor": 4,
            "input_px": st.input_px}


def overhead(rt, family: str, st: Settings) -> dict:
    """BoomerangNoise + PartialReverseSampler at t_boom = T against KSamplerAdvanced: euler, karras, same steps
    and cfg, an empty latent of the family's native size (as section 1 of docs/BENCHMARKS.md)."""
    side = st.native[family]
    base = {"m": model_node(family, st.size),
            "lat": {"class_type": "EmptyLatentImage", "inputs": {"width": side, "height": side, "batch_size": 1}}}
    settings = {"cfg": 7.5, "scheduler": "karras", "steps": st.steps}

    def stock(r):
        return {**base, "k": {"class_type": "KSamplerAdvanced", "inputs": {
            "model": ["m", 0], "add_noise": "enable", "noise_seed": r + 2, "sampler_name": "euler",
            "positive": ["m", 2], "negative": ["m", 3], "latent_image": ["lat", 0], "start_at_step": 0,
            "end_at_step": 10000, "return_with_leftover_noise": "disable", **settings}},
            "cap": {"class_type": TEST_CAPTURE, "inputs": {"tag": "stock", "latent": ["k", 0]}}}

    def boomerang(r):
        return {**base, "n": {"class_type": "BoomerangNoise", "inputs": {
            "model": ["m", 0], "latent": ["lat", 0], "t_boom": 1000, "seed": r + 2}},
            "p": {"class_type": "PartialReverseSampler", "inputs": {
                "model": ["m", 0], "positive": ["m", 2], "negative": ["m", 3], "latent": ["n", 0],
                "sampler": "euler", "seed": r + 2, **settings}},
            "cap": {"class_type": TEST_CAPTURE, "inputs": {"tag": "boom", "latent": ["p", 0]}}}

    result = timed(rt, {"KSamplerAdvanced": stock, "Boomerang": boomerang}, st.repeats, st.warm_up)
    ratio = result["Boomerang"]["median"] / result["KSamplerAdvanced"]["median"]
    return {**result, "ratio": ratio, "side": side, "steps": st.steps}


def tiled_big(rt, family: str, photo: str, st: Settings, room_s) -> dict:
    """Tiled PRE to 16x (256 -> 4096 px) with the family's native tile, then untiled when ``room_s()`` (seconds left)
    allows another run as long as the tiled one took, times 3. One timed run each (the model is warm)."""
    tile = st.native[family]
    out = {"factor": st.big_factor, "steps": st.big_steps, "denoise_tile": tile, "input_px": st.input_px}
    for mode in st.big_modes:
        if mode == "off" and "seconds" in out["on"] and room_s() < 3 * out["on"]["seconds"]:
            out["off"] = {"skipped": f"not run: {room_s():.0f} s of the budget left, the tiled run took "
                                     f"{out['on']['seconds']:.0f} s"}
            break
        graph = upscale_graph(family, st.size, photo, st.big_factor, st.big_steps, 7, mode, tile, st.overlap)
        _reset_peak()
        start = time.perf_counter()
        try:
            rt.execute(graph, keep_cache=True)
        except Exception as err:  # noqa: BLE001 - e.g. CUDA out of memory untiled: that is the finding
            out[mode] = {"failed": f"{type(err).__name__}: {str(err)[:300]}", "peak_bytes": _peak()}
            continue
        _sync()
        out[mode] = {"seconds": time.perf_counter() - start, "peak_bytes": _peak()}
    return out


def oracle_graph(kind: str, t_boom: int, batch: int, side: int, seed: int) -> dict:
    return {
        "o": {"class_type": "BoomerangTestOracleModel", "inputs": {"kind": kind, "mu": MU, "s": S, "shift": SHIFT,
                                                                   "tag": "oracle", "interrupt_after": 0}},
        "dev": {"class_type": "BoomerangGpuOnDevice", "inputs": {"model": ["o", 0]}},
        "x0": {"class_type": "BoomerangTestLatent", "inputs": {"value": X0, "batch": batch, "channels": 4,
                                                               "height": side, "width": side, "with_extras": False}},
        "n": {"class_type": "BoomerangNoise", "inputs": {"model": ["dev", 0], "latent": ["x0", 0], "t_boom": t_boom,
                                                         "seed": seed}},
        "p": {"class_type": "PartialReverseSampler", "inputs": {
            "model": ["dev", 0], "positive": ["o", 1], "negative": ["o", 1], "latent": ["n", 0], "cfg": 1.0,
            "sampler": "boomerang_exact", "scheduler": "simple", "steps": 20, "seed": seed + 1}},
        "cap": {"class_type": TEST_CAPTURE, "inputs": {"tag": "out", "latent": ["p", 0]}},
    }


def oracle(rt, law, st: Settings) -> dict:
    """The Gaussian-oracle law on the device: Boomerang's output mean and variance against the closed forms
    (``law``: the tests' oracle_law module), with the tests' bounds."""
    import comfy.model_management as mm

    rows = []
    captured = rt.pack_module("boomerang_test_nodes").CAPTURED
    for kind, t_boom in st.oracle_cases:
        start = time.perf_counter()
        rt.execute(oracle_graph(kind, t_boom, st.oracle_batch, st.oracle_side, 1))
        _sync()
        samples = captured["out"]["latent"]["samples"]
        bars = law.flow_alpha_bars(SHIFT) if kind == "flow" else law.sd_alpha_bars()
        a = bars[t_boom - 1]
        law_mean, law_var = law.errors(samples, *law.boomerang_law(MU, S, X0, a / (1.0 - a)))
        chain_mean, chain_var = law.errors(samples, *law.algorithm1_law(bars, t_boom, MU, S, X0))
        holds = (chain_mean < BOUNDS["chain_mean"] and chain_var < BOUNDS["chain_var"] and law_mean < BOUNDS["law_mean"]
                 and (t_boom < 200 or law_var < BOUNDS["law_var"])) if samples.numel() >= 65536 else None
        rows.append({"kind": kind, "t_boom": t_boom, "values": samples.numel(), "law_mean_sd": law_mean,
                     "law_var_rel": law_var, "chain_mean_sd": chain_mean, "chain_var_rel": chain_var, "holds": holds,
                     "seconds": time.perf_counter() - start,
                     "model_calls": rt.pack_module("boomerang_test_nodes").CALLS.get("oracle")})
        log.info("oracle %s t_boom %d: law mean %.4f sd var %.2f%%, chain mean %.4f sd var %.2f%% -> %s", kind, t_boom,
                 law_mean, 100 * law_var, chain_mean, 100 * chain_var,
                 {True: "holds", False: "FAILS", None: "too few values to tell"}[holds])
    verdicts = [r["holds"] for r in rows]
    return {"rows": rows, "device": str(mm.get_torch_device()), "bounds": BOUNDS,
            "all_hold": None if None in verdicts else all(verdicts)}


def family_part(rt, family: str, photo: str, st: Settings, room_s) -> dict:
    """Upscale, overhead and tiled 4096 px for one family, each only while the budget has room for it."""
    import comfy.model_management as mm

    out = {}
    estimates = {"upscale": 25 if family == "sdxl" else 12, "overhead": 20 if family == "sdxl" else 8,
                 "tiled": 60 if family == "sdxl" else 40}
    jobs = {"upscale": lambda: upscale(rt, family, photo, st), "overhead": lambda: overhead(rt, family, st),
            "tiled": lambda: tiled_big(rt, family, photo, st, room_s)}
    for name in st.subparts[family]:
        fn = jobs[name]
        if not st.smoke and room_s() < estimates[name]:
            out[name] = {"skipped": f"not run: {room_s():.0f} s of the budget left, about {estimates[name]} s needed"}
            continue
        try:
            out[name] = fn()
        except Exception as err:  # noqa: BLE001 - one failed measurement is reported, the others still run
            log.exception("%s %s failed", family, name)
            out[name] = {"failed": f"{type(err).__name__}: {str(err)[:300]}"}
    out["model"] = rt.pack_module("gpu_nodes").BUILT.get(f"{family}/{st.size}/0")
    mm.unload_all_models()
    mm.soft_empty_cache()
    return out
