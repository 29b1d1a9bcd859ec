"""Benchmark section 3: accuracy per model call on the exact Gaussian oracle (see bench_perf.py).

The tests' oracle node (the exact denoiser of x0 ~ N(mu, s^2), EPS parameterisation on SD's schedule) runs
through ComfyUI's executor; each setting draws 65,536 values from Boomerang at fixed x0 and compares their
mean and variance with the closed-form Boomerang law (the exact posterior p(x0 | x_t)).
"""
from __future__ import annotations

from pathlib import Path

from testkit import graphs
from testkit.oracle_law import boomerang_law, errors, sd_snr
from testkit.runtime import TEST_PACK

MU, S, X0 = 0.3, 1.0, 1.8
T_BOOMS = (200, 500, 800)
STEPS = (5, 10, 20, 50)
SAMPLERS = ("ddpm", "euler_ancestral", "dpmpp_2s_ancestral", "dpmpp_sde", "dpmpp_2m_sde", "dpmpp_3m_sde")
SCHEDULER = "karras"
MAX_VAR_ERR, MAX_MEAN_ERR = 0.03, 0.03


def run_one(rt, t_boom: int, sampler: str, steps: int) -> dict:
    g = graphs.oracle_boomerang("eps", t_boom=t_boom, x0=X0, mu=MU, s=S, batch=4, size=64, seed=11, sampler_seed=12,
                                sampler=sampler, scheduler=SCHEDULER, steps=min(steps, t_boom))
    samples = rt.run(g)["out"]["latent"]["samples"]
    mean, var = boomerang_law(MU, S, X0, sd_snr(t_boom))
    mean_err, var_err = errors(samples, mean, var)
    return {"t_boom": t_boom, "sampler": sampler, "steps": steps, "calls": rt.calls("oracle"),
            "mean_err": mean_err, "var_err": var_err}


def measure(rt, smoke: bool = False) -> list[dict]:
    """rt: a runtime booted with the tests' node pack (TEST_PACK) beside the Boomerang pack."""
    rows = []
    for t_boom in T_BOOMS:
        rows.append(run_one(rt, t_boom, "boomerang_exact", t_boom))
        for sampler in SAMPLERS[-1:] if smoke else SAMPLERS:
            for steps in STEPS:
                rows.append(run_one(rt, t_boom, sampler, steps))
    return rows


def settings(rows: list[dict]) -> list[dict]:
    """One entry per (sampler, steps): worst errors over the t_boom values and calls per pass at t_boom 500."""
    out = {}
    for r in rows:
        key = (r["sampler"], r["steps"] if r["sampler"] != "boomerang_exact" else 0)
        entry = out.setdefault(key, {"sampler": key[0], "steps": key[1], "max_var_err": 0.0, "max_mean_err": 0.0})
        entry["max_var_err"] = max(entry["max_var_err"], r["var_err"])
        entry["max_mean_err"] = max(entry["max_mean_err"], r["mean_err"])
        if r["t_boom"] == 500:
            entry["calls_500"] = r["calls"]
    return list(out.values())


def recommended(rows: list[dict]) -> dict | None:
    """The cheapest fast setting (fewest model calls at t_boom 500) within 3% variance and 0.03 sd mean error
    at every measured t_boom; ties go to the smaller variance error."""
    fast = [s for s in settings(rows) if s["sampler"] != "boomerang_exact"
            and s["max_var_err"] <= MAX_VAR_ERR and s["max_mean_err"] <= MAX_MEAN_ERR]
    return min(fast, key=lambda s: (s["calls_500"], s["max_var_err"])) if fast else None


def table(rows: list[dict]) -> str:
    head = "| sampler | steps | " + " | ".join(f"t_boom {t}: calls / mean err (sd) / var err" for t in T_BOOMS) + " |"
    lines = [head, "|---|---|" + "---|" * len(T_BOOMS)]
    keyed = {(r["sampler"], r["steps"], r["t_boom"]): r for r in rows}
    present = {r["sampler"] for r in rows}
    order = [("boomerang_exact", None)] + [(s, n) for s in SAMPLERS if s in present for n in STEPS]
    for sampler, steps in order:
        cells = []
        for t in T_BOOMS:
            r = keyed[(sampler, t if steps is None else steps, t)]
            flag = " **ok**" if r["var_err"] <= MAX_VAR_ERR and r["mean_err"] <= MAX_MEAN_ERR else ""
            cells.append(f"{r['calls']} / {r['mean_err']:.4f} / {r['var_err']:.1%}{flag}")
        lines.append(f"| {sampler} | {'t_boom' if steps is None else steps} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def runtime_packs() -> list[Path]:
    return [TEST_PACK]
