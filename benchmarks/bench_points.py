"""Boomerang's fast samplers on a many-mode oracle: data uniform over N training points in D dimensions
(testkit/points_law.py: exact denoiser, and Algorithm 1's exact chain as the reference), the case of a model that
has memorized its training set. Share of outputs that end at another training point, and RMS distance to the
source, per sampler and model calls, at t_boom 0.2 / 0.5 / 0.8 T of Stable Diffusion's schedule (EPS).

Run from the repository root: ``python -m benchmarks.bench_points`` (writes docs/POINTS.md); ``--smoke`` for the
tests (tiny sizes, a temporary folder).
"""
from __future__ import annotations

import argparse
import logging
import math
import tempfile
from pathlib import Path

import torch

from boomerang.fast_sampler import sample_boomerang_fast
from testkit import points_law
from testkit.oracle_law import sd_alpha_bars
from testkit.runtime import runtime

log = logging.getLogger("boomerang.bench_points")
REPO = Path(__file__).resolve().parent.parent
T_BOOMS = (200, 500, 800)
SETTINGS = (("boomerang_fast", 8), ("boomerang_fast", 10), ("boomerang_fast", 15), ("boomerang_fast", 20),
            ("boomerang_fast", 30), ("dpmpp_3m_sde", 10), ("dpmpp_3m_sde", 20), ("dpmpp_3m_sde", 30))


class _Model:
    """The exact denoiser in k-diffusion's calling convention (EPS: x = x0 + sigma eps), with the model_sampling
    ComfyUI's samplers read from ``inner_model.model_patcher``."""

    def __init__(self, pts, ms):
        self.pts, self.ms = pts, ms
        self.inner_model = self
        self.model_patcher = self

    def get_model_object(self, name):
        return self.ms

    def __call__(self, x, sigma, **kwargs):
        return points_law.denoise(self.pts, x, torch.ones_like(sigma), sigma)


def run_setting(pts, ms, sampler: str, calls: int, t_boom: int, batch: int, seed: int) -> torch.Tensor:
    import comfy.k_diffusion.sampling as ks

    ab = sd_alpha_bars()
    sig = lambda t: math.sqrt((1 - ab[t - 1]) / ab[t - 1])  # noqa: E731 - EPS sigma of timestep t
    gen = torch.Generator().manual_seed(seed)
    shape = (batch, pts.shape[1])
    x = pts[0].expand(shape) + sig(t_boom) * torch.randn(shape, generator=gen, dtype=torch.float64)
    noise = lambda *_: torch.randn(shape, generator=gen, dtype=torch.float64)  # noqa: E731
    model = _Model(pts, ms)
    if sampler == "boomerang_fast":
        return sample_boomerang_fast(model, x, [sig(t_boom)] * calls + [0.0], noise_sampler=noise,
                                     coeffs=lambda s: (1.0, s), sigma_floor=sig(1), disable=True)
    sigmas = ks.get_sigmas_karras(calls, sig(1), sig(t_boom)).double()
    return getattr(ks, f"sample_{sampler}")(model, x, sigmas, noise_sampler=noise, disable=True)


def measure(n: int, dims: int, batch: int, t_booms, settings) -> list[dict]:
    import comfy.model_sampling as cms

    class EpsDiscrete(cms.ModelSamplingDiscrete, cms.EPS):
        pass

    ms = EpsDiscrete()  # Stable Diffusion's schedule (ComfyUI's defaults)
    pts = points_law.points(n, dims)
    rows = []
    for t in t_booms:
        ref = points_law.summary(pts, points_law.algorithm1(pts, sd_alpha_bars(), t, batch, seed=0))
        rows.append({"sampler": "boomerang_exact", "calls": t, "t_boom": t, **ref, "ref": ref})
        for sampler, calls in settings:
            got = points_law.summary(pts, run_setting(pts, ms, sampler, calls, t, batch, seed=1))
            rows.append({"sampler": sampler, "calls": calls, "t_boom": t, **got, "ref": ref})
            log.info("%s", rows[-1])
    return rows


def render(rows, n: int, dims: int, batch: int, t_booms, smoke: bool) -> str:
    lines = ["# Fast samplers on a many-mode oracle (a memorized training set)", "",
             f"Written by `python -m benchmarks.bench_points`{' --smoke' if smoke else ''}. Data: {n} training points "
             f"with independent N(0, 1) values in {dims} dimensions, drawn once (seed 1); the exact denoiser "
             "E[x0 | x_t] (a softmax over the points); Stable Diffusion's EPS schedule. From point 0, "
             f"{batch:,} outputs per cell: the share whose nearest training point is another one (a mode switch "
             "among many modes) and the mean RMS distance to point 0 (the paper's pixel distance). Reference: the "
             "paper's Algorithm 1 (boomerang_exact, t_boom calls) with the same denoiser, computed independently "
             "of the pack (testkit/points_law.py). dpmpp_3m_sde: ComfyUI's k-diffusion function on karras levels "
             "from t_boom's sigma to the lowest one, as the Boomerang nodes run it. Differences are relative to "
             "the reference; +- one standard error of the difference (independent samples).", ""]
    for t in t_booms:
        ref = next(r for r in rows if r["t_boom"] == t and r["sampler"] == "boomerang_exact")
        lines += [f"## t_boom = {t}", "",
                  f"boomerang_exact ({t} calls): switch share {ref['switch']:.3f} +- {ref['switch_se']:.3f}, "
                  f"distance {ref['dist']:.3f} +- {ref['dist_se']:.3f}." + (
                      " Too few switches at this level for the relative errors to mean much: the rows only show that "
                      "no sampler moves outputs off their point." if ref["switch"] < 0.02 else ""), "",
                  "| sampler | calls | switch share | vs exact | distance | vs exact |", "|---|---|---|---|---|---|"]
        for r in rows:
            if r["t_boom"] != t or r["sampler"] == "boomerang_exact":
                continue
            sw = (r["switch"] / ref["switch"] - 1, math.hypot(r["switch_se"], ref["switch_se"]) / max(ref["switch"],
                                                                                                    1e-12))
            di = (r["dist"] / ref["dist"] - 1, math.hypot(r["dist_se"], ref["dist_se"]) / ref["dist"])
            lines.append(f"| {r['sampler']} | {r['calls']} | {r['switch']:.3f} | {100 * sw[0]:+.1f}% +- "
                         f"{100 * sw[1]:.1f} | {r['dist']:.3f} | {100 * di[0]:+.1f}% +- {100 * di[1]:.1f} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one t_boom, a temporary folder")
    parser.add_argument("--out", type=Path, help="Markdown file (default docs/POINTS.md)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    runtime()  # puts ComfyUI on the path (its k-diffusion samplers and model_sampling)
    torch.set_num_threads(1)
    if args.smoke:
        n, dims, batch, t_booms, settings = 8, 4, 200, (200,), SETTINGS[1:2] + SETTINGS[6:7]
        out = args.out or Path(tempfile.mkdtemp()) / "POINTS.md"
    else:
        n, dims, batch, t_booms, settings = 32, 16, 4000, T_BOOMS, SETTINGS
        out = args.out or REPO / "docs" / "POINTS.md"
    rows = measure(n, dims, batch, t_booms, settings)
    out.write_text(render(rows, n, dims, batch, t_booms, args.smoke))
    print(f"wrote {out}")  # noqa: T201 - a benchmark says where its doc went


if __name__ == "__main__":
    main()
