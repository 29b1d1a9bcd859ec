"""Per-family guidance (issue 18 part 4): the fast samplers against the exact Boomerang laws on each model family's
own ``model_sampling``, what t_boom means there, and the paper's t_boom ranges translated to each family.

Run from the repository root: ``python -m benchmarks.bench_families`` (writes docs/FAMILIES.md); ``--smoke`` runs
two families, one sampler and tiny latents into a temporary folder (for the tests).

* Families: testkit/family_oracles.py (ComfyUI's config classes, plus the sampling nodes ComfyUI's templates run).
  Families whose levels coincide (same sigmas and forward scaling at every measured t_boom) are measured once.
* Oracles, truths and tolerances: those of docs/FRONTIER.md (benchmarks/bench_frontier.py ``judge``): Gaussian
  and two-mode mixture data, continuous Boomerang law at the start level's SNR.
* Each cell runs the pack's Boomerang node through ComfyUI's executor (cfg 1, scheduler karras).
* The translation rule: a paper t_boom/T fraction f means Stable Diffusion's level at t = f x 1000 (scaled-linear
  betas 0.00085 - 0.012, the schedule of the paper's face experiments); a family's equivalent t_boom is the
  integer t whose level has the same signal-to-noise ratio a^2 / s^2 (x_t = a x0 + s eps), read from the
  pack's BoomerangNoise on that family.
"""
from __future__ import annotations

import argparse
import logging
import math
import tempfile
from pathlib import Path

import numpy as np

import headless
from benchmarks import bench_frontier as bf
from benchmarks import frontier_doc
from boomerang.advice import RECOMMENDED
from testkit import family_oracles as fo
from testkit import graphs
from testkit.mixture_law import SYMMETRIC
from testkit.oracle_law import sd_snr
from testkit.runtime import runtime

log = logging.getLogger("boomerang.bench_families")
REPO = Path(__file__).resolve().parent.parent
T_BOOMS = bf.T_BOOMS
BUDGETS = (10, 15, 20, 30)
SIGMA_AT = (100, 200, 300, 500, 800)
# The paper's t_boom/T for each use (Stable Diffusion and the paper's other models; README "Which t_boom").
USES = {"augmentation": (0.25, 0.4), "anonymization": (0.5, 0.8), "PRE 2x - 16x": (0.1, 0.6)}


ALTERNATIVE = "dpmpp_3m_sde"  # the stock sampler README names beside the default (twice its calls)


def candidates(available) -> list[str]:
    wanted = [RECOMMENDED.sampler, "dpmpp_3m_sde", "dpmpp_2m_sde", "seeds_3"]
    return [s for s in dict.fromkeys(wanted) if s in available]


class FamilyRun:
    """One family's oracle models (Gaussian, mixture) registered for BoomerangTestObject, and its levels."""

    def __init__(self, rt, family: fo.Family):
        self.rt, self.family = rt, family
        objects = rt.pack_module(graphs_pack()).OBJECTS
        self.keys = {}
        for kind, law in (("gauss", fo.GaussianLaw(bf.MU, bf.S)), ("mix", fo.MixtureLaw(SYMMETRIC))):
            entry = fo.oracle(family, law)
            key = f"family-{family.name}-{kind}"
            objects[key] = {"model": entry.model, "positive": entry.positive, "negative": entry.positive}
            self.keys[kind] = (key, entry.counter)
        self._levels = {}

    def _model(self, g: dict, kind: str) -> list:
        g["1"] = {"class_type": "BoomerangTestObject", "inputs": {"key": self.keys[kind][0]}}
        if not self.family.patch:
            return ["1", 0]
        node, inputs = self.family.patch
        g["p"] = {"class_type": node, "inputs": {"model": ["1", 0], **inputs}}
        return ["p", 0]

    def level(self, t_boom: int) -> dict:
        """sigma, forward scale a, SNR (a / sigma)^2 and the level line of t_boom, from the pack's BoomerangNoise:
        a is the difference of the noisy latents of x0 = 1 and x0 = 0 at one seed (noise_scaling is affine, and
        every ComfyUI sampling scales the noise by sigma)."""
        if t_boom not in self._levels:
            out = {}
            for x0 in (0.0, 1.0):
                g = {}
                model = self._model(g, "gauss")
                g["2"] = graphs.const_latent(x0, 1, 4, 2, 2)
                g["3"] = {"class_type": "BoomerangNoise",
                          "inputs": {"model": model, "latent": ["2", 0], "t_boom": t_boom, "seed": 5}}
                g["4"] = graphs.capture("noisy", latent=["3", 0], number=["3", 1], text=["3", 2])
                out[x0] = self.rt.run(g)["noisy"]
            sigma = float(out[1.0]["number"])
            a = float((out[1.0]["latent"]["samples"] - out[0.0]["latent"]["samples"]).double().mean())
            self._levels[t_boom] = {"sigma": sigma, "a": a, "snr": (a / sigma) ** 2 if sigma > 0 else math.inf,
                                    "text": out[1.0]["text"]}
        return self._levels[t_boom]

    def signature(self) -> tuple:
        return tuple(round(v, 5) for t in (1, *T_BOOMS, 1000) for v in (self.level(t)["sigma"], self.level(t)["a"]))

    def equivalent_t(self, fraction: float) -> int:
        """The integer t_boom whose SNR is closest (in log) to Stable Diffusion's at ``fraction`` x 1000."""
        target = math.log(sd_snr(int(round(fraction * 1000))))
        lo, hi = 1, 1000  # SNR falls as t grows
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if math.log(self.level(mid)["snr"]) > target:
                lo = mid
            else:
                hi = mid
        return min((lo, hi), key=lambda t: abs(math.log(self.level(t)["snr"]) - target))

    def run(self, kind: str, t_boom: int, x0: float, size: int, sampler: str, steps: int) -> tuple[np.ndarray, int]:
        g = {}
        model = self._model(g, kind)
        g["2"] = graphs.const_latent(x0, 4, 4, size, size)
        g["3"] = {"class_type": "Boomerang",
                  "inputs": {"model": model, "positive": ["1", 2], "negative": ["1", 3], "latent": ["2", 0],
                             "t_boom": t_boom, "seed": 1,
                             **graphs.pass_settings(cfg=1.0, sampler=sampler, scheduler=bf.SCHEDULER, steps=steps)}}
        g["4"] = graphs.capture("out", latent=["3", 0])
        counter = self.keys[kind][1]
        before = counter.calls
        values = self.rt.run(g)["out"]["latent"]["samples"].double().numpy()
        return values, counter.calls - before

    def cell(self, sampler: str, steps: int, t_boom: int, size: int) -> dict:
        snr = self.level(t_boom)["snr"]
        g, calls = self.run("gauss", t_boom, bf.X0_GAUSS, size, sampler, steps)
        m, _ = self.run("mix", t_boom, bf.X0_MIX, size, sampler, steps)
        return {"sampler": sampler, "steps": steps, "calls": calls, "t_boom": t_boom,
                **bf.judge(g, m, snr / (1.0 + snr))}


def graphs_pack() -> str:
    from testkit.runtime import TEST_PACK

    return TEST_PACK.name


def steps_for(table: dict, budget: int) -> int | None:
    fitting = [s for s, c in table.items() if c <= budget]
    return max(fitting) if fitting else None


def measure_family(run: FamilyRun, samplers, tables, budgets, t_booms, size) -> list[dict]:
    rows = []
    for sampler in samplers:
        done = set()
        for budget in budgets:
            steps = steps_for(tables[sampler], budget)
            if steps is None or steps in done:
                continue
            done.add(steps)
            for t_boom in t_booms:
                rows.append(run.cell(sampler, steps, t_boom, size))
                log.info("%s %s", run.family.name, {k: v for k, v in rows[-1].items() if k not in ("err", "tol")})
    return rows


def recommend(rows, t_booms, sampler: str | None = None) -> dict | None:
    """The fewest-calls (sampler, steps) holding both laws at every measured t_boom, with its worst errors (ties go
    to the pack's recommended sampler); with ``sampler``, that sampler's (None if it holds nowhere)."""
    settings = {}
    for r in rows:
        if sampler is not None and r["sampler"] != sampler:
            continue
        settings.setdefault((r["sampler"], r["steps"]), []).append(r)
    held = [(rs[0]["calls"], k, rs) for k, rs in settings.items()
            if len(rs) == len(t_booms) and all(r["holds"] for r in rs)]
    if not held and sampler is not None:
        return None
    if not held:
        best = min(settings.items(), key=lambda kv: max(r["worst"] for r in kv[1]))
        return {"sampler": best[0][0], "steps": best[0][1], "rows": best[1], "holds": False}
    calls, (name, steps), rs = min(held, key=lambda h: (h[0], h[1][0] != RECOMMENDED.sampler, h[1]))
    return {"sampler": name, "steps": steps, "rows": rs, "holds": True}


def sampling_name(run: FamilyRun) -> str:
    ms, model_type = fo.family_model_sampling(run.family)
    bases = [c.__name__ for c in type(ms).__bases__]
    shift = getattr(ms, "shift", None)
    patch = f"; {run.family.patch_source}" if run.family.patch else ""
    return f"{model_type}: {' + '.join(bases)}" + (f", shift {shift:g} as loaded" if shift is not None else "") + patch


def _fmt_setting(rec) -> str:
    if rec is None:
        return "-"
    calls = rec["rows"][0]["calls"]
    mark = "" if rec["holds"] else " (holds nowhere measured; least bad)"
    return f"{rec['sampler']} / {bf.SCHEDULER} / {rec['steps']} ({calls} calls){mark}"


def _fmt_errors(rows) -> str:
    e = {k: max(r["err"][k] for r in rows) for k in bf.BOUNDS}
    worst = max(r["worst"] for r in rows)
    return (f"mean {e['mean']:.3f} sd, var {100 * e['var']:.1f}%, switch {100 * e['switch']:.1f}%, mode sd "
            f"{100 * e['mode_sd']:.1f}%; worst/tol {worst:.2f}")


def render(results, smoke: bool, size: int, samplers, budgets, t_booms) -> str:
    mode = " --smoke (tiny samples: not a measurement)" if smoke else ""
    n = 16 * size * size  # batch 4 x 4 channels
    lines = [
        "# Per-family guidance: sampler, steps and t_boom for each model family", "",
        f"Written by `python -m benchmarks.bench_families`{mode}. Hardware: 2 CPU cores, x86_64, contended (errors, "
        f"not times, are the measure). Each family's own `model_sampling`, built by ComfyUI from its "
        "`supported_models` config class (no weights), with the sampling node its ComfyUI template runs; the exact "
        "Gaussian and two-mode mixture oracles of [FRONTIER.md](FRONTIER.md) (same truths and tolerances) as the "
        f"denoiser; the pack's Boomerang node through ComfyUI's executor, cfg 1, scheduler {bf.SCHEDULER}, "
        f"{n:,} values per cell, t_boom {list(t_booms)}, samplers {', '.join(samplers)} at "
        f"{', '.join(map(str, budgets))} model calls. Families with identical levels are measured once.", "",
        f"The pack's default fast setting (boomerang/advice.py): {RECOMMENDED.sampler} / {RECOMMENDED.scheduler} / "
        f"{RECOMMENDED.steps} steps.", "",
        "## Recommendation per family", "",
        "Fast setting: the fewest model calls (of those measured) holding both laws at every t_boom above; errors: "
        "the largest over those t_boom.", "",
        f"| family | model_sampling | cfg / guidance | fast setting | its errors | {RECOMMENDED.sampler} holds from "
        f"| default ({RECOMMENDED.steps} steps) holds | {ALTERNATIVE} holds from |",
        "|---|---|---|---|---|---|---|---|"]
    for res in results:
        rec = res["recommend"]
        default = [r for r in res["rows"] if r["sampler"] == RECOMMENDED.sampler and r["steps"] == RECOMMENDED.steps]
        holds = ("yes" if all(r["holds"] for r in default) else "no") if default else "not measured"
        own = recommend(res["rows"], t_booms, RECOMMENDED.sampler)
        own_text = f"{own['rows'][0]['calls']} calls" if own else "-"
        alt = recommend(res["rows"], t_booms, ALTERNATIVE)
        alt_text = (f"{alt['rows'][0]['calls']} calls" if alt else "-") if any(
            r["sampler"] == ALTERNATIVE for r in res["rows"]) else "not measured"
        same = f" (levels as {res['same_as']})" if res.get("same_as") else ""
        lines.append(f"| {res['label']}{same} | {res['sampling']} | {res['guidance']} | {_fmt_setting(rec)} | "
                     f"{_fmt_errors(rec['rows']) if rec else '-'} | {own_text} | {holds} | {alt_text} |")
    notes = [r for r in results if r["note"]]
    if notes:
        lines += [""] + [f"- {r['label']}: {r['note']}." for r in notes]
    lines += ["", "## What t_boom means", "",
              "Discrete models (SD1.5, SD2, SDXL): t_boom is an integer timestep of the 1000-step training schedule. "
              "Flow models: t_boom/1000 is the flow time, which the family's shift maps to sigma "
              "(sigma = shift t / (1 + (shift - 1) t); Flux-type samplings: e^mu t / (e^mu t + 1 - t)). EDM-range "
              "models: t_boom/1000 runs log-linearly from sigma_max down to sigma_min. The line is the node's own "
              "level text; 'SD t' is the Stable Diffusion timestep with the same signal-to-noise ratio.", "",
              "| family | " + " | ".join(f"t_boom {t}: sigma (SD t)" for t in SIGMA_AT) + " |",
              "|---|" + "---|" * len(SIGMA_AT)]
    for res in results:
        cells = [f"{lv['sigma']:.4g} ({lv['sd_t']})" for lv in res["levels"]]
        lines.append(f"| {res['label']} | " + " | ".join(cells) + " |")
    lines += ["", "Level lines, t_boom 500: " + "; ".join(f"{r['label']}: `{r['line']}`" for r in results), "",
              "## t_boom ranges per use", "",
              "The paper's t_boom/T for each use on Stable Diffusion's schedule (augmentation 0.25 - 0.4 as its "
              "CIFAR/ImageNet runs, anonymization 0.5 - 0.8 as its face runs, PRE 0.1 - 0.6 for 2x - 16x as the "
              "automatic t_boom), translated to the t_boom of each family with the same signal-to-noise ratio "
              "a^2/s^2 at the start level (x_t = a x0 + s eps). This assumes latents of about unit variance, which "
              "ComfyUI's latent formats are scaled to.", "",
              "| family | " + " | ".join(USES) + " |", "|---|" + "---|" * len(USES)]
    for res in results:
        lines.append(f"| {res['label']} | " + " | ".join(f"{lo} - {hi}" for lo, hi in res["ranges"].values()) + " |")
    lines += ["", "## Every cell", "",
              "| family | sampler | steps | calls | t_boom | mean | var | switch (law) | mode mean | mode sd | worst "
              "| holds |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for res in (r for r in results if not r.get("same_as")):
        for r in res["rows"]:
            lines.append(f"| {res['name']} | {r['sampler']} | {r['steps']} | {r['calls']} | {r['t_boom']} | "
                         f"{frontier_doc.error_cells(r)} |")
    return "\n".join(lines) + "\n"


def sd_equivalent(snr: float) -> int:
    """The SD timestep whose SNR is closest (in log) to ``snr``."""
    return min(range(1, 1001), key=lambda t: abs(math.log(sd_snr(t)) - math.log(snr)))


def family_result(rt, family, samplers, tables, budgets, t_booms, size, measured: dict) -> dict:
    run = FamilyRun(rt, family)
    sig = run.signature()
    res = {"name": family.name, "label": family.label, "guidance": family.guidance, "note": family.note,
           "sampling": sampling_name(run), "line": run.level(500)["text"],
           "levels": [{"sigma": run.level(t)["sigma"], "sd_t": sd_equivalent(run.level(t)["snr"])} for t in SIGMA_AT],
           "ranges": {use: (run.equivalent_t(lo), run.equivalent_t(hi)) for use, (lo, hi) in USES.items()}}
    if sig in measured:
        res["same_as"] = measured[sig]["label"]
        res["rows"] = measured[sig]["rows"]
    else:
        res["rows"] = measure_family(run, samplers, tables, budgets, t_booms, size)
        measured[sig] = res
    res["recommend"] = recommend(res["rows"], t_booms)
    return res


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="two families, one sampler, tiny latents, temp folder")
    parser.add_argument("--cpu", action="store_true", help="run on the CPU (the default here)")
    parser.add_argument("--out", type=Path, help="Markdown file (default docs/FAMILIES.md)")
    parser.add_argument("--families", help="comma-separated subset of testkit/family_oracles.py FAMILIES")
    parser.add_argument("--samplers", help="comma-separated samplers instead of the candidates (e.g. boomerang_fast)")
    parser.add_argument("--budgets", help="comma-separated model-call budgets instead of 10,15,20,30")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rt = runtime()
    families = list(fo.FAMILIES)
    if args.families:
        families = [fo.BY_NAME[n] for n in args.families.split(",")]
    samplers = candidates(rt.pack_module(headless.PACK_DIR_NAME).nodes.comfy.sampling.sampler_names())
    if args.samplers:
        samplers = args.samplers.split(",")
    budgets, t_booms, size = BUDGETS, T_BOOMS, 32  # 16,384 values per cell, as FRONTIER.md
    if args.budgets:
        budgets = tuple(int(b) for b in args.budgets.split(","))
    if args.smoke:
        families, samplers, budgets, t_booms, size = [fo.BY_NAME["sd15"], fo.BY_NAME["flux_dev"]], samplers[:1], \
            (10,), (500,), 4
    out = args.out or (Path(tempfile.mkdtemp()) / "FAMILIES.md" if args.smoke else REPO / "docs" / "FAMILIES.md")
    tables = {s: bf.calls_per_steps(rt, s, max(budgets)) for s in samplers}
    measured, results = {}, []
    out.parent.mkdir(parents=True, exist_ok=True)
    for family in families:
        results.append(family_result(rt, family, samplers, tables, budgets, t_booms, size, measured))
        out.write_text(render(results, args.smoke, size, samplers, budgets, t_booms))
    print(f"wrote {out}")




if __name__ == "__main__":
    main()
