"""The frontier bench's document: docs/FRONTIER.md and docs/frontier.png from the measured rows (the bench,
benchmarks/bench_frontier.py, measures them; benchmarks/frontier_rows.py stores them beside the doc).

The constants here fix what every cell measures (oracles, start levels, scheduler, bounds); the bench and
bench_families read them through bench_frontier.
"""
from __future__ import annotations

from pathlib import Path

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
UPDATED = "Re-measured since the full run, with `python -m benchmarks.bench_frontier --update`: "


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
    "of levels it lays out itself, per batch item, after its first call: that call's denoised value, regressed on "
    "its input, gives the item's data scale d (Gaussian data of sd d has the denoiser slope a d^2 / (a^2 d^2 + s^2)). "
    "The grid is uniform in softplus(log-SNR - knee) with the knee at s/a = d; its first step is 0.45 as long as the "
    "others; its lowest noisy level is at s/a = 0.085 times the posterior sd at the start, 1 / sqrt(1 / d^2 + "
    "a^2 / s^2) (never below the model's lowest level; above 10 calls it falls as 10 / calls, so more calls always "
    "come closer to the exact law); then one call returns the denoised value (steps = model "
    "calls). What the stock samplers lose at 10 calls, and this grid does not: (1) a multistep solver's first step "
    "has no history: it is a plain DDPM step, which draws with the forward posterior's variance and misses the "
    "posterior term c_x0^2 Var(x0 | x_t) (Bao et al. 2022, Analytic-DPM), so a long first step leaves the spread "
    "and the mode switches short at small t_boom (dpmpp_3m_sde/karras/10: variance -5%, switches -25% at EPS 0.2 T); "
    "(2) karras down to a flow model's lowest level (s/a = 0.003; SD's EPS schedule stops at 0.03) puts 4 of 10 "
    "levels below s/a = 0.025 (EPS: 1) and takes its first step from s/a 12 to 1.4 at 0.8 T (flow at 10 calls: "
    "variance -20% at every t_boom); (3) a grid uniform in log-SNR over-spreads at 0.8 T (third-order steps over "
    "long steps around s/a = 1). The earlier design fixed the knee at s/a = 1 (the scale of latents), the floor at "
    "s/a = 0.07 and the first step at half the others: its variance was 5-18% narrow on Gaussian data of sd 0.25 "
    "or 4. The table \"Away from unit scale\" below measures the law on Gaussian data of sd 0.25 to 4.")


def render(rows, tables, stochastic, deterministic, size: int, smoke: bool, t_booms=T_BOOMS,
           scales=(), updated=()) -> str:
    """The markdown of docs/FRONTIER.md. ``updated``: samplers re-measured by ``--update`` after the full run."""
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
    if updated:
        lines += [UPDATED + ", ".join(updated) + " (its rows in every table below); the other rows are the full "
                  "run's.", ""]
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
        lines.append(f"| {r['sampler']} | {r['steps']} | {r['calls']} | {r['kind']} | {r['t_boom']} | "
                     f"{error_cells(r)} |")
    return "\n".join(lines) + "\n"


def error_cells(r) -> str:
    """A cell's errors as table cells: mean, var, switch (law), mode mean, mode sd, worst, holds."""
    e = r["err"]
    return (f"{e['mean']:.3f} | {100 * e['var']:.1f}% | {100 * e['switch']:.1f}% ({r['switch_law']:.3f}) | "
            f"{e['mode_mean']:.3f} | {100 * e['mode_sd']:.1f}% | {r['worst']:.2f} | {'yes' if r['holds'] else 'no'}")


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


def render_data(data: dict) -> str:
    """render() of a sidecar's content (benchmarks/frontier_rows.py)."""
    return render(data["rows"], data["tables"], data["stochastic"], data["deterministic"], data["size"],
                  data["smoke"], tuple(data["t_booms"]), data["scales"], data["updated"])
