"""boomerang_fast (boomerang/fast_sampler.py) through ComfyUI's executor: both oracles' laws in 10 model calls.

Truths, independent of the pack and of ComfyUI: the continuous Boomerang law (the exact posterior p(x0 | x_t)
averaged over the forward noise) of Gaussian data N(0.3, 1) from x0 = 1.8 (testkit/oracle_law.py, closed form)
and of the two-mode mixtures of testkit/mixture_law.py (quadrature): share of outputs in the other mode, mean
and sd in x0's mode.

Tolerance: the frontier bench's (docs/FRONTIER.md): practical bound + 3 standard errors of the test's own
4 x 4 x 32 x 32 = 16,384 values. Bounds: Gaussian mean 0.03 sd and variance 3%; mode-switch share 10% of the
law's share, within-mode mean 0.03 within-mode sd, within-mode sd 3%. Standard errors: 1/sqrt(n) sd for the
mean, sqrt(2/n) for the relative variance, binomial for the share, sd/sqrt(k) and sqrt((m4 - var^2)/k)/(2 sd)
for the mean and sd of the k values in x0's mode. Measured in float64 numpy with 200,000 values per cell
(the largest bias over the 6 cells: variance 1.6%, share 5%, within-mode sd 2.3% at flow 0.8 T), so a
cell fails on a change of design, not on noise.
"""
import math

import numpy as np
import pytest

from boomerang.fast_sampler import END_SIGMA, FIRST_FRACTION, KNEE_SIGMA, fast_sigmas
from testkit import graphs, report
from testkit.mixture_law import CONFIGS, continuous_law, summarise
from testkit.oracle_law import boomerang_law, flow_alpha_bars, sd_alpha_bars

SHIFT = 3.0
MU, S, X0 = 0.3, 1.0, 1.8
SIZE = 32
CALLS = 10
BOUNDS = {"mean": 0.03, "var": 0.03, "switch": 0.10, "mode_mean": 0.03, "mode_sd": 0.03}


def alpha_bar(kind, t_boom):
    return float((flow_alpha_bars(SHIFT) if kind == "flow" else sd_alpha_bars())[t_boom - 1])


def shift(kind):
    return SHIFT if kind == "flow" else 1.0


def gaussian_errors(samples, kind, t_boom):
    ab = alpha_bar(kind, t_boom)
    mean, var = boomerang_law(MU, S, X0, ab / (1 - ab))
    x = np.asarray(samples, dtype=np.float64).ravel()
    n = x.size
    err = {"mean": abs(x.mean() - mean) / math.sqrt(var), "var": abs(x.var() - var) / var}
    return err, {"mean": 1 / math.sqrt(n), "var": math.sqrt(2 / n)}


def mixture_errors(samples, config, kind, t_boom):
    mix, x0 = CONFIGS[config]
    law = continuous_law(mix, x0, alpha_bar(kind, t_boom))
    est, se = summarise(samples, mix, x0)
    err = {"switch": abs(est.switch - law.switch) / law.switch, "mode_mean": abs(est.mean - law.mean) / law.sd,
           "mode_sd": abs(est.sd - law.sd) / law.sd}
    return err, {"switch": se.switch / law.switch, "mode_mean": se.mean / law.sd, "mode_sd": se.sd / law.sd}


def check(err, se, label):
    tol = {k: BOUNDS[k] + 3 * se[k] for k in err}
    report.append("fast_sampler.txt", f"{label} | " + " ".join(f"{k} {err[k]:.4f}/{tol[k]:.4f}" for k in err))
    bad = {k: (round(err[k], 4), round(tol[k], 4)) for k in err if err[k] > tol[k]}
    assert not bad, (label, bad)


@pytest.mark.parametrize("kind,t_boom", [(k, t) for k in ("eps", "flow") for t in (200, 500, 800)])
def test_holds_both_laws_in_10_calls(comfy, kind, t_boom):
    settings = dict(sampler="boomerang_fast", scheduler="karras", steps=CALLS, size=SIZE)
    g = comfy.run(graphs.oracle_boomerang(kind, t_boom, x0=X0, mu=MU, s=S, shift=shift(kind), **settings))
    assert comfy.calls("oracle") == CALLS
    check(*gaussian_errors(g["out"]["latent"]["samples"].numpy(), kind, t_boom), f"gauss {kind} {t_boom}")
    mix, x0 = CONFIGS["symmetric"]
    m = comfy.run(graphs.mixture_boomerang(kind, mix, x0, t_boom, shift=shift(kind), **settings))
    assert comfy.calls("oracle") == CALLS
    check(*mixture_errors(m["out"]["latent"]["samples"].numpy(), "symmetric", kind, t_boom),
          f"mixture {kind} {t_boom}")


@pytest.mark.parametrize("kind,t_boom", [("eps", 500), ("flow", 800)])
def test_holds_the_asymmetric_mixture_law(comfy, kind, t_boom):
    """From the light narrow mode of 0.3 N(-2, 0.4^2) + 0.7 N(1, 0.8^2): the heavy mode takes most samples.
    Regression: with scheduler "simple" (lowest level ~0.25 at 10 steps from 0.5 T) a first version took the
    schedule's lowest level as its floor, and the within-mode sd came out 10-12% wide; the floor is the model's."""
    mix, x0 = CONFIGS["asymmetric"]
    m = comfy.run(graphs.mixture_boomerang(kind, mix, x0, t_boom, shift=shift(kind), sampler="boomerang_fast",
                                           scheduler="simple", steps=CALLS, size=SIZE))
    assert comfy.calls("oracle") == CALLS
    check(*mixture_errors(m["out"]["latent"]["samples"].numpy(), "asymmetric", kind, t_boom),
          f"asymmetric {kind} {t_boom}")


@pytest.mark.parametrize("kind", ["eps", "flow"])
def test_sampler_node_in_sampler_custom_advanced(comfy, kind):
    """BoomerangFastSampler (SAMPLER) with BoomerangSigmas in ComfyUI's SamplerCustomAdvanced: 10 calls, the
    Gaussian law from t_boom 500."""
    t_boom = 500
    g = {"1": graphs.oracle(kind, MU, S, shift(kind)), "2": graphs.const_latent(X0, 4, 4, SIZE, SIZE),
         "sig": {"class_type": "BoomerangSigmas", "inputs": {"model": ["1", 0], "t_boom": t_boom,
                                                             "sampler": "boomerang_fast", "scheduler": "karras",
                                                             "steps": CALLS}},
         "smp": {"class_type": "BoomerangFastSampler", "inputs": {}},
         "noise": {"class_type": "RandomNoise", "inputs": {"noise_seed": 3}},
         "guide": {"class_type": "BasicGuider", "inputs": {"model": ["1", 0], "conditioning": ["1", 1]}},
         "adv": {"class_type": "SamplerCustomAdvanced",
                 "inputs": {"noise": ["noise", 0], "guider": ["guide", 0], "sampler": ["smp", 0],
                            "sigmas": ["sig", 0], "latent_image": ["2", 0]}},
         "c": graphs.capture("out", latent=["adv", 0])}
    samples = comfy.run(g)["out"]["latent"]["samples"]
    assert comfy.calls("oracle") == CALLS
    check(*gaussian_errors(samples.numpy(), kind, t_boom), f"SamplerCustomAdvanced {kind} {t_boom}")


def _eps(sigma):
    return 1.0, sigma


def _flow(sigma):
    return 1.0 - sigma, sigma


@pytest.mark.parametrize("coeffs,start,floor", [(_eps, 4.0, 0.0292), (_flow, 0.92, 0.003)])
def test_grid_counts_calls_and_ends_at_the_floor(coeffs, start, floor):
    """calls levels then 0; the first at the start level, the last at s/a = END_SIGMA (closed form per
    parameterisation: sigma = 0.07 for EPS, 0.07 / 1.07 for flow), strictly descending."""
    for calls in (1, 2, 6, 10):
        sig = fast_sigmas(coeffs, start, floor, calls)
        assert len(sig) == calls + 1 and sig[0] == start and sig[-1] == 0.0
        assert all(a > b for a, b in zip(sig, sig[1:]))
    end = fast_sigmas(coeffs, start, floor, 10)[-2]
    expected = END_SIGMA if coeffs is _eps else END_SIGMA / (1 + END_SIGMA)
    assert end == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("coeffs,start", [(_eps, 0.57), (_eps, 5.1), (_flow, 0.92)])
def test_grid_is_uniform_in_softplus_log_snr_with_a_short_first_step(coeffs, start):
    """The levels' w = log(1 + exp(lambda - lambda_knee)), lambda = log(a / s), knee s/a = KNEE_SIGMA: equal steps
    after a first one FIRST_FRACTION as long (the spec of the grid; lambda from the coefficients, not the code)."""
    sig = fast_sigmas(coeffs, start, 0.003, CALLS)
    lam = np.array([math.log(coeffs(v)[0] / coeffs(v)[1]) for v in sig[:-1]])
    w = np.logaddexp(0.0, lam + math.log(KNEE_SIGMA))
    steps = np.diff(w)
    assert np.allclose(steps[1:], steps[1], rtol=1e-6)
    assert steps[0] == pytest.approx(FIRST_FRACTION * steps[1], rel=1e-6)


def test_a_start_below_the_floor_steps_down_to_the_lowest_level():
    """t_boom so small that its level is below s/a = END_SIGMA: the pass still makes ``calls`` calls, down to
    the lowest level the caller's schedule has (the model's), then 0."""
    sig = fast_sigmas(_eps, 0.05, 0.0292, CALLS)
    assert len(sig) == CALLS + 1 and sig[-2] == pytest.approx(0.0292, rel=1e-9)
    assert all(a > b for a, b in zip(sig, sig[1:]))
