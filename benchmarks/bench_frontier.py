"""The calls-versus-law frontier of Boomerang's fast path (issue 19): error of every stochastic sampler against
the exact laws of the Gaussian oracle and of the two-mode (mixture) oracle, per number of model calls.

Run from the repository root: ``python -m benchmarks.bench_frontier`` (writes docs/FRONTIER.md, docs/frontier.png,
the rows' sidecar docs/frontier_rows.json and boomerang/frontier_table.py; hours on 2 CPU cores at --size 32);
``--update boomerang_fast`` re-measures only the samplers named (and boomerang_exact's reference rows only if
named) at the kept rows' size, keeps every other sampler's rows from the sidecar and rewrites the same files;
``--smoke`` runs two samplers on tiny latents into a temporary folder (for the tests).

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

from benchmarks import frontier_rows, frontier_table
from benchmarks.frontier_doc import (
    BOUNDS,
    BUDGETS,
    EXACT,
    FAST,
    KINDS,
    MU,
    SCHEDULER,
    SHIFT,
    T_BOOMS,
    X0_GAUSS,
    X0_MIX,
    S,
    plot,
    render_data,
)
from testkit import graphs
from testkit.mixture_law import SYMMETRIC, continuous_law, summarise
from testkit.oracle_law import boomerang_law, flow_alpha_bars, sd_alpha_bars
from testkit.runtime import runtime

log = logging.getLogger("boomerang.bench_frontier")
REPO = Path(__file__).resolve().parent.parent
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


def measure(rt, samplers: list[str], budgets, t_booms, kinds, size: int, progress=None,
            exact: bool = True) -> tuple[list[dict], dict]:
    """Every cell (boomerang_exact's reference rows first, if ``exact``); ``progress(rows, tables)`` after each
    sampler (the doc is rewritten as the rows come)."""
    rows, tables = [], {}
    for kind in kinds if exact else ():
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


def scale_rows(rt, t_booms, size: int, samplers=None) -> list[dict]:
    """Signed variance error on Gaussian data N(MU, s^2) of other scales s (x0 = MU + 1.5 s), for the settings of
    SCALE_SETTINGS (those of ``samplers`` only, if given): the main table's data has sd 1; boomerang_fast reads
    each item's scale from its first call, the stock samplers' karras grids do not."""
    rows = []
    for sampler, steps in SCALE_SETTINGS:
        if samplers is not None and sampler not in samplers:
            continue
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


def _stored(args, parser, out: Path, names: list[str]) -> dict:
    """The rows to keep: those of the sidecar beside ``out`` (else read from ``out`` itself, a FRONTIER.md written
    before the sidecar existed) under ``--update``; none for a full run."""
    if not args.update:
        return {"size": args.size, "smoke": args.smoke, "t_booms": [], "stochastic": [], "deterministic": [],
                "updated": [], "tables": {}, "rows": [], "scales": []}
    side = frontier_rows.sidecar(out)
    if side.exists():
        stored = frontier_rows.loads(side.read_text())
    elif out.exists():
        stored = frontier_rows.from_markdown(out.read_text())
    else:
        parser.error(f"--update keeps the rows of {side} or {out}: neither exists (run the full bench first)")
    unknown = [n for n in args.update if n not in names + [EXACT]]
    if unknown:
        parser.error(f"--update: {', '.join(unknown)} not among the benchmarked samplers ({', '.join(names)})")
    if args.size not in (None, stored["size"]) or stored["smoke"] != args.smoke:
        parser.error(f"--update measures as the kept rows were: size {stored['size']}, smoke {stored['smoke']}")
    return stored


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="two samplers, tiny latents, into a temporary folder")
    parser.add_argument("--out", type=Path, help="Markdown file (default docs/FRONTIER.md; the plot and the rows' "
                        f"sidecar {frontier_rows.SIDECAR_NAME} go beside it)")
    parser.add_argument("--size", type=int, help="latent side: 4 x 4 x size^2 values per cell (default 32, the "
                        "committed doc's; --update: the kept rows' size)")
    parser.add_argument("--samplers", help="comma-separated subset of the samplers (default: every candidate)")
    parser.add_argument("--update", type=lambda v: [n.strip() for n in v.split(",") if n.strip()],
                        help="comma-separated samplers to re-measure (their rows, calls per steps and scale-table "
                        "rows); every other sampler's rows are kept from the sidecar (boomerang_exact's reference "
                        "rows too, unless named)")
    args = parser.parse_args(argv)
    if args.update and args.samplers:
        parser.error("--update and --samplers do not go together")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    rt = runtime()
    import comfy.samplers  # after the runtime has put ComfyUI on the path
    if args.smoke:
        names, budgets, t_booms, size = ["euler_ancestral", "dpmpp_2s_ancestral"], (4, 6), (200,), args.size or 4
        out = args.out or Path(tempfile.mkdtemp()) / "FRONTIER.md"
    else:
        names = [FAST] + candidates(comfy.samplers.KSAMPLER_NAMES)
        budgets, t_booms, size = BUDGETS, T_BOOMS, args.size or 32
        if args.samplers:
            names = [n for n in args.samplers.split(",") if n in names]
        out = args.out or REPO / "docs" / "FRONTIER.md"
    stored = _stored(args, parser, out, names)
    if args.update:
        t_booms, size = tuple(stored["t_booms"]), stored["size"]
        checked = {n: is_stochastic(rt, n) for n in args.update if n != EXACT}
        stochastic = [n for n in stored["stochastic"] if checked.get(n, True)]
        stochastic += [n for n in checked if checked[n] and n not in stochastic]
        deterministic = [n for n in stored["deterministic"] if not checked.get(n, False)]
        deterministic += [n for n in checked if not checked[n] and n not in deterministic]
        measured, exact = [n for n in checked if checked[n]], EXACT in args.update
    else:
        stochastic = [n for n in names if is_stochastic(rt, n)]
        deterministic = [n for n in names if n not in stochastic]
        measured, exact = stochastic, True
    out.parent.mkdir(parents=True, exist_ok=True)
    side = frontier_rows.sidecar(out)
    dropped = [n for n in args.update or () if n in deterministic]  # re-checked: no longer stochastic

    def write(rows, tables, scales=()):
        """Merge with the kept rows, write the sidecar, then the doc and plot from what the sidecar reads back."""
        done = [*tables, *dropped, *([EXACT] if exact else [])]
        data = frontier_rows.merge(stored, rows, tables, scales, done, stochastic, deterministic)
        data.update(size=size, t_booms=list(t_booms), updated=data["updated"] if args.update else [])
        side.write_text(frontier_rows.dumps(data))
        data = frontier_rows.loads(side.read_text())
        out.write_text(render_data(data))
        plot(data["rows"], out.with_name("frontier.png"), t_booms)
        return data

    rows, tables = measure(rt, measured, budgets, t_booms, KINDS, size, progress=write, exact=exact)
    scaled = {smp for smp, _ in SCALE_SETTINGS}  # full run: the scale table with boomerang_fast; --update: its own
    scaled = set() if args.smoke else scaled & set(measured) if args.update else scaled if FAST in measured else set()
    data = write(rows, tables, scale_rows(rt, t_booms, size, scaled) if scaled else ())
    # The level line's data (boomerang/frontier_table.py), beside a smoke run's doc, else in the pack.
    module = out.with_name("frontier_table.py") if args.smoke else frontier_table.MODULE
    module.write_text(frontier_table.render_module(data["rows"], data["deterministic"], SCHEDULER, t_booms))
    print(f"wrote {out}, {out.with_name('frontier.png')}, {side} and {module}")


if __name__ == "__main__":
    main()
