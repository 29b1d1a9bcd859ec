"""The calls-versus-law frontier of Boomerang's fast path (issue 19): error of every stochastic sampler against
the exact laws of the Gaussian oracle and of the two-mode (mixture) oracle, per number of model calls.

Run from the repository root: ``python -m benchmarks.bench_frontier`` (writes docs/FRONTIER.md and
docs/frontier.png); ``--smoke`` runs two samplers on tiny latents into a temporary folder (for the tests).

* Samplers: ComfyUI's KSAMPLER_NAMES, minus the ``_gpu`` twins (the same algorithm with the noise drawn on the
  GPU) and the ``_cfg_pp`` variants (the same update at cfg 1), minus ``dpm_fast``/``dpm_adaptive`` (their
  own step control); of those, "stochastic" is measured: the output changes with the sampler seed.
  ``boomerang_exact`` (t_boom calls) is the reference row; ``boomerang_fast`` (the pack's own sampler,
  boomerang/fast_sampler.py: its own grid of levels, steps = model calls) is measured like the stock ones.
  Scheduler: karras for every sampler (boomerang_fast reads only its first and lowest level and its count).
* Calls are counted on the oracle model, per sampler and steps; a budget of C calls runs the most steps
  whose measured calls are <= C.
* Truths: the continuous law of Boomerang (exact posterior averaged over the forward noise): Gaussian
  N(0.3, 1) data from x0 = 1.8 (mean, variance) and the symmetric mixture 0.5 N(-1.5, 0.5^2) + 0.5 N(1.5, 0.5^2)
  from x0 = 1.5 (share of outputs in the other mode, mean and sd in x0's mode).
* Tolerances: a sampler holds a cell when every error is within practical bound + 3 standard errors of the
  cell's own sample: mean 0.03 sd, variance 3% (the pack's fast-path bound), mode-switch share 10% of the
  law's share (relative), within-mode mean 0.03 within-mode sd, within-mode sd 3%.
"""
from __future__ import annotations

import argparse
import logging
import math
import tempfile
from pathlib import Path

import numpy as np

from benchmarks import frontier_table
from testkit import graphs
from testkit.mixture_law import SYMMETRIC, continuous_law, summarise
from testkit.oracle_law import boomerang_law, flow_alpha_bars, sd_alpha_bars
from testkit.runtime import runtime

log = logging.getLogger("boomerang.bench_frontier")
REPO = Path(__file__).resolve().parent.parent
BUDGETS = (4, 6, 8, 10, 15, 20, 30)
T_BOOMS = (200, 500, 800)
KINDS = ("eps", "flow")
SHIFT = 3.0
MU, S, X0_GAUSS = 0.3, 1.0, 1.8
X0_MIX = 1.5
SCHEDULER = "karras"
EXACT = "boomerang_exact"
FAST = "boomerang_fast"
BOUNDS = {"mean": 0.03, "var": 0.03, "switch": 0.10, "mode_mean": 0.03, "mode_sd": 0.03}
SKIP = {"dpm_fast", "dpm_adaptive"}
SCALES = (0.25, 0.5, 2.0, 4.0)  # data sd of the scale table (the main table's Gaussian has sd 1)
SCALE_SETTINGS = ((FAST, 10), ("dpmpp_3m_sde", 10), ("dpmpp_3m_sde", 20))


def alpha_bars(kind):
    return flow_alpha_bars(SHIFT) if kind == "flow" else sd_alpha_bars()


def shift_for(kind):
    return SHIFT if kind == "flow" else 1.0


def candidates(names) -> list[str]:
    return [n for n in names if not n.endswith("_gpu") and "_cfg_pp" not in n and n not in SKIP]


def run_values(rt, graph) -> np.ndarray:
    return rt.run(graph)["out"]["latent"]["samples"].double().numpy()


def is_stochastic(rt, sampler: str) -> bool:
    """Whether the output depends on the sampler seed (10 steps from 0.8 T on a tiny latent: SA-Solver, for one,
    only adds noise between the levels of 0.2 T and 0.8 T)."""
    outs = [run_values(rt, graphs.oracle_boomerang("eps", 800, x0=X0_GAUSS, mu=MU, s=S, batch=1, size=2,
                                                   sampler=sampler, scheduler=SCHEDULER, steps=10, sampler_seed=seed))
            for seed in (2, 3)]
    return not np.array_equal(*outs)


def calls_per_steps(rt, sampler: str, most: int) -> dict[int, int]:
    """Measured oracle calls for 1, 2, ... steps, until the calls pass ``most``."""
    table = {}
    for steps in range(1, most + 1):
        rt.run(graphs.oracle_boomerang("eps", 500, x0=X0_GAUSS, mu=MU, s=S, batch=1, size=2,
                                       sampler=sampler, scheduler=SCHEDULER, steps=steps))
        table[steps] = rt.calls("oracle")
        if table[steps] > most:
            break
    return table


def judge(g, m, alpha_bar: float) -> dict:
    """Errors of Gaussian-oracle outputs ``g`` and mixture-oracle outputs ``m`` from a start level of VP
    alpha_bar against both continuous laws, their tolerances, the worst error / tolerance and whether all hold."""
    snr = alpha_bar / (1 - alpha_bar)
    mean, var = boomerang_law(MU, S, X0_GAUSS, snr)
    x = np.asarray(g, dtype=np.float64).ravel()
    n = x.size
    err = {"mean": abs(x.mean() - mean) / math.sqrt(var), "var": abs(x.var() - var) / var}
    se = {"mean": 1 / math.sqrt(n), "var": math.sqrt(2 / n)}
    law = continuous_law(SYMMETRIC, X0_MIX, alpha_bar)
    est, est_se = summarise(m, SYMMETRIC, X0_MIX)
    err.update(switch=abs(est.switch - law.switch) / law.switch, mode_mean=abs(est.mean - law.mean) / law.sd,
               mode_sd=abs(est.sd - law.sd) / law.sd)
    se.update(switch=est_se.switch / law.switch, mode_mean=est_se.mean / law.sd, mode_sd=est_se.sd / law.sd)
    tol = {k: BOUNDS[k] + 3 * se[k] for k in BOUNDS}
    worst = max(err[k] / tol[k] for k in BOUNDS)
    return {"err": err, "tol": tol, "worst": worst, "holds": worst <= 1.0, "switch_law": law.switch,
            "switch_est": est.switch}


def cell(rt, sampler: str, steps: int, kind: str, t_boom: int, size: int) -> dict:
    """Errors of one sampler/steps/kind/t_boom against both oracles' continuous laws, and the tolerances."""
    settings = dict(sampler=sampler, scheduler=SCHEDULER, steps=steps, size=size)
    ab = float(alpha_bars(kind)[t_boom - 1])
    g = run_values(rt, graphs.oracle_boomerang(kind, t_boom, x0=X0_GAUSS, mu=MU, s=S, shift=shift_for(kind),
                                               **settings))
    calls = rt.calls("oracle")
    m = run_values(rt, graphs.mixture_boomerang(kind, SYMMETRIC, X0_MIX, t_boom, shift=shift_for(kind), **settings))
    return {"sampler": sampler, "steps": steps, "calls": calls, "kind": kind, "t_boom": t_boom, **judge(g, m, ab)}


def measure(rt, samplers: list[str], budgets, t_booms, kinds, size: int, progress=None) -> tuple[list[dict], dict]:
    """Every cell; ``progress(rows, tables)`` after each sampler (the doc is rewritten as the rows come)."""
    rows, tables = [], {}
    for kind in kinds:
        for t_boom in t_booms:
            rows.append(cell(rt, EXACT, 1, kind, t_boom, size))
            log.info("%s", rows[-1])
    for sampler in samplers:
        table = calls_per_steps(rt, sampler, max(budgets))
        tables[sampler] = table
        for budget in budgets:
            fitting = [s for s, c in table.items() if c <= budget]
            if not fitting:
                continue
            steps = max(fitting)
            if any(r["sampler"] == sampler and r["steps"] == steps for r in rows):
                continue  # the same steps already measured under a smaller budget
            for kind in kinds:
                for t_boom in t_booms:
                    rows.append(cell(rt, sampler, steps, kind, t_boom, size))
                    log.info("%s", rows[-1])
        if progress is not None:
            progress(rows, tables)
    return rows, tables


def scale_rows(rt, t_booms, size: int) -> list[dict]:
    """Signed variance error on Gaussian data N(MU, s^2) of other scales s (x0 = MU + 1.5 s): boomerang_fast's grid
    places its knee at s/a = 1, the scale of latents; how far does the law hold away from it?"""
    rows = []
    for sampler, steps in SCALE_SETTINGS:
        for s in SCALES:
            x0 = MU + 1.5 * s
            for kind in KINDS:
                for t_boom in t_booms:
                    ab = float(alpha_bars(kind)[t_boom - 1])
                    x = run_values(rt, graphs.oracle_boomerang(kind, t_boom, x0=x0, mu=MU, s=s, shift=shift_for(kind),
                                                               sampler=sampler, scheduler=SCHEDULER, steps=steps,
                                                               size=size)).ravel()
                    var = boomerang_law(MU, s, x0, ab / (1 - ab))[1]
                    rows.append({"sampler": sampler, "steps": steps, "s": s, "kind": kind, "t_boom": t_boom,
                                 "var_err": float(x.var()) / var - 1.0})
                    log.info("%s", rows[-1])
    return rows


def frontier(rows) -> dict:
    """Fewest measured calls at which a sampler holds every error, per (sampler, kind, t_boom)."""
    best = {}
    for r in rows:
        key = (r["sampler"], r["kind"], r["t_boom"])
        if r["holds"] and (key not in best or r["calls"] < best[key]):
            best[key] = r["calls"]
    return best


FAST_NOTE = (
    "boomerang_fast (the pack's sampler, boomerang/fast_sampler.py) is the DPM-Solver++(3M) SDE update on a grid "
    "of levels of its own: uniform in softplus(log-SNR - knee), knee at s/a = 1, the first step half as long as the "
    "others, the lowest noisy level at s/a = 0.07, then one call that returns the denoised value (steps = model "
    "calls). What the stock samplers lose at 10 calls, and this grid does not: (1) a multistep solver's first step "
    "has no history: it is a plain DDPM step, which draws with the forward posterior's variance and misses the "
    "posterior term c_x0^2 Var(x0 | x_t) (Bao et al. 2022, Analytic-DPM), so a long first step leaves the spread "
    "and the mode switches short at small t_boom (dpmpp_3m_sde/karras/10: variance -5%, switches -25% at EPS 0.2 T); "
    "(2) karras down to a flow model's lowest level (s/a = 0.003; SD's EPS schedule stops at 0.03) puts 4 of 10 "
    "levels below s/a = 0.025 (EPS: 1) and takes its first step from s/a 12 to 1.4 at 0.8 T (flow at 10 calls: "
    "variance -20% at every t_boom); (3) a grid uniform in log-SNR over-spreads at 0.8 T (third-order steps over "
    "long steps around s/a = 1). The knee assumes data of about unit scale (latents are scaled to it); the table "
    "\"Away from unit scale\" below measures the law on Gaussian data of sd 0.25 to 4.")


def render(rows, tables, stochastic, deterministic, size: int, smoke: bool, t_booms=T_BOOMS,
           scales=()) -> str:
    n = 16 * size * size
    best = frontier(rows)
    samplers = list(dict.fromkeys(r["sampler"] for r in rows))
    mode = " --smoke (tiny samples: not a measurement)" if smoke else ""
    lines = ["# Calls versus law: the frontier of Boomerang's fast path", "",
             f"Written by `python -m benchmarks.bench_frontier`{mode}. Hardware: 2 CPU cores, x86_64 (errors, not "
             f"times, are the measure). {n:,} values per cell, scheduler {SCHEDULER}, t_boom in {list(t_booms)} of "
             f"T = 1000, EPS (SD schedule) and flow (shift {SHIFT}).", "",
             "Truths: the continuous Boomerang law (exact posterior averaged over the forward noise) of Gaussian data "
             f"N({MU}, {S}^2) from x0 = {X0_GAUSS}, and of the mixture 0.5 N(-1.5, 0.5^2) + 0.5 N(1.5, 0.5^2) from "
             f"x0 = {X0_MIX} (mode = side of 0). A cell holds when every error <= bound + 3 standard errors of the "
             "cell: "
             "Gaussian mean 0.03 sd, variance 3%; mixture mode-switch share 10% of the law's share, within-mode "
             "mean 0.03 within-mode sd, within-mode sd 3%.", "",
             f"Stochastic (output changes with the sampler seed): {', '.join(stochastic)}. "
             f"Deterministic, not benchmarked: {', '.join(deterministic) or '-'}.", "",
             ]
    measured = [smp for smp in samplers if smp != EXACT]
    if [smp for smp in stochastic if smp not in measured]:
        lines += [f"Partial: the samplers measured so far are {', '.join(measured) or 'none'}.", ""]
    lines += ["## Fewest model calls that hold the law", "",
             "| sampler | " + " | ".join(f"{k} {t}" for k in KINDS for t in t_booms)
             + " | calls per steps (measured) |",
             "|---|" + "---|" * (len(KINDS) * len(t_booms) + 1)]
    for smp in samplers:
        cells = [str(best.get((smp, k, t), "-")) for k in KINDS for t in t_booms]
        measured = list(tables.get(smp, {}).items())[:6]
        per = "t_boom" if smp == EXACT else ", ".join(f"{s}:{c}" for s, c in measured)
        lines.append(f"| {smp} | " + " | ".join(cells) + f" | {per} |")
    lines += ["", "'-': not held at any measured budget (4, 6, 8, 10, 15, 20, 30 calls)."]
    if FAST in samplers:
        lines += ["", FAST_NOTE]
    if scales:
        lines += ["", "## Away from unit scale", "",
                  f"Variance error (signed) on Gaussian data N({MU}, s^2) from x0 = {MU} + 1.5 s; the Gaussian "
                  "tolerance is 3% + 3 standard errors (~4.7%).", "",
                  "| sampler | steps | data sd | " + " | ".join(f"{k} {t}" for k in KINDS for t in t_booms) + " |",
                  "|---|---|---|" + "---|" * (len(KINDS) * len(t_booms))]
        for (smp, steps, sd) in dict.fromkeys((r["sampler"], r["steps"], r["s"]) for r in scales):
            errs = {(r["kind"], r["t_boom"]): r["var_err"] for r in scales
                    if (r["sampler"], r["steps"], r["s"]) == (smp, steps, sd)}
            lines.append(f"| {smp} | {steps} | {sd} | "
                         + " | ".join(f"{100 * errs[(k, t)]:+.1f}%" for k in KINDS for t in t_booms) + " |")
    lines += ["",
              "## Every cell", "", "Errors: Gaussian mean (sd) and variance (relative); mixture mode-switch share "
              "(relative), within-mode mean (within-mode sd) and sd (relative). worst = largest error / tolerance.", "",
              "| sampler | steps | calls | kind | t_boom | mean | var | switch (law) | mode mean | mode sd | worst "
              "| holds |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        e = r["err"]
        lines.append(f"| {r['sampler']} | {r['steps']} | {r['calls']} | {r['kind']} | {r['t_boom']} | "
                     f"{e['mean']:.3f} | {100 * e['var']:.1f}% | {100 * e['switch']:.1f}% ({r['switch_law']:.3f}) | "
                     f"{e['mode_mean']:.3f} | {100 * e['mode_sd']:.1f}% | {r['worst']:.2f} | "
                     f"{'yes' if r['holds'] else 'no'} |")
    return "\n".join(lines) + "\n"


def plot(rows, path: Path, t_booms=T_BOOMS) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(KINDS), len(t_booms), figsize=(5 * len(t_booms), 8), sharey=True, squeeze=False)
    for i, kind in enumerate(KINDS):
        for j, t_boom in enumerate(t_booms):
            ax = axes[i][j]
            ax.set_prop_cycle(color=plt.cm.tab20.colors)  # 13+ samplers: no two share a colour
            for smp in dict.fromkeys(r["sampler"] for r in rows if r["sampler"] != EXACT):
                pts = sorted((r["calls"], r["worst"]) for r in rows
                             if r["sampler"] == smp and r["kind"] == kind and r["t_boom"] == t_boom)
                if pts:
                    ax.plot(*zip(*pts), marker="o", label=smp)
            ax.axhline(1.0, color="k", lw=1)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"{kind}, t_boom {t_boom}")
            ax.set_xlabel("model calls")
            if j == 0:
                ax.set_ylabel("worst error / tolerance")
    axes[0][-1].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="two samplers, tiny latents, into a temporary folder")
    parser.add_argument("--out", type=Path, help="Markdown file (default docs/FRONTIER.md; the plot goes beside it)")
    parser.add_argument("--size", type=int, help="latent side: 4 x 4 x size^2 values per cell (default 64)")
    parser.add_argument("--samplers", help="comma-separated subset of the samplers (default: every candidate)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rt = runtime()
    import comfy.samplers  # after the runtime has put ComfyUI on the path
    if args.smoke:
        names, budgets, t_booms, size = ["euler_ancestral", "dpmpp_2s_ancestral"], (4, 6), (200,), args.size or 4
        out = args.out or Path(tempfile.mkdtemp()) / "FRONTIER.md"
    else:
        names = [FAST] + candidates(comfy.samplers.KSAMPLER_NAMES)
        budgets, t_booms, size = BUDGETS, T_BOOMS, args.size or 64
        if args.samplers:
            names = [n for n in args.samplers.split(",") if n in names]
        out = args.out or REPO / "docs" / "FRONTIER.md"
    stochastic = [n for n in names if is_stochastic(rt, n)]
    deterministic = [n for n in names if n not in stochastic]
    out.parent.mkdir(parents=True, exist_ok=True)

    def write(rows, tables, scales=()):
        out.write_text(render(rows, tables, stochastic, deterministic, size, args.smoke, t_booms, scales))
        plot(rows, out.with_name("frontier.png"), t_booms)

    rows, tables = measure(rt, stochastic, budgets, t_booms, KINDS, size, progress=write)
    write(rows, tables, scale_rows(rt, t_booms, size) if FAST in stochastic and not args.smoke else ())
    # The level line's data (boomerang/frontier_table.py), beside a smoke run's doc, else in the pack.
    module = out.with_name("frontier_table.py") if args.smoke else frontier_table.MODULE
    module.write_text(frontier_table.render_module(rows, deterministic, SCHEDULER, t_booms))
    print(f"wrote {out}, {out.with_name('frontier.png')} and {module}")


if __name__ == "__main__":
    main()
