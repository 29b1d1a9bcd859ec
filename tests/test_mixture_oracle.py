"""boomerang_exact on the two-mode oracle through the real nodes and executor, against the exact chain law.

Data x0 ~ w N(m1, s1^2) + (1 - w) N(m2, s2^2) per value and an exact model (BoomerangTestMixtureOracleModel).
The truth is the law of the discrete Algorithm 1 chain, propagated as a density on a grid by
testkit/mixture_law.py, independently of ComfyUI and of the pack: share of outputs in the other mode (the other
side of the threshold where the data's weighted component densities are equal), mean and sd in x0's mode.
Tolerance: 4 standard errors of the test's own 4 x 4 x 32 x 32 = 16,384 values (binomial for the share,
sd/sqrt(k) for the mean, sqrt((m4 - var^2)/k)/(2 sd) for the sd, k values in x0's mode); the grid law's own
error is ~1e-5 (step h vs h/2) and it is checked against a float64 Monte Carlo simulation of the chain below.
"""
import numpy as np
import pytest

from testkit import graphs, report
from testkit.mixture_law import CONFIGS, chain_law, chain_samples, continuous_law, summarise
from testkit.oracle_law import flow_alpha_bars, sd_alpha_bars

SHIFT = 3.0
K_SE = 4.0


def alpha_bars(kind):
    return flow_alpha_bars(SHIFT) if kind == "flow" else sd_alpha_bars()


@pytest.mark.parametrize("kind,config,t_boom", [
    (kind, "symmetric", t) for kind in ("eps", "flow") for t in (200, 500, 800)] + [
    ("eps", "asymmetric", 500), ("flow", "asymmetric", 200)])
def test_exact_sampler_matches_chain_law(comfy, kind, config, t_boom):
    mix, x0 = CONFIGS[config]
    out = comfy.run(graphs.mixture_boomerang(kind, mix, x0, t_boom, shift=SHIFT if kind == "flow" else 1.0, size=32))
    samples = out["out"]["latent"]["samples"].double().numpy()
    assert samples.shape == (4, 4, 32, 32)
    assert comfy.calls("oracle") == t_boom
    est, se = summarise(samples, mix, x0)
    chain = chain_law(mix, x0, alpha_bars(kind), t_boom)
    cont = continuous_law(mix, x0, alpha_bars(kind)[t_boom - 1])
    report.append("mixture_oracle.txt",
                  f"{kind:4s} {config:10s} t_boom={t_boom:3d} | measured switch {est.switch:.4f} mean {est.mean:.4f} "
                  f"sd {est.sd:.4f} | chain law {chain.switch:.4f} {chain.mean:.4f} {chain.sd:.4f} | continuous "
                  f"{cont.switch:.4f} {cont.mean:.4f} {cont.sd:.4f} | errors in SE: "
                  f"{(est.switch - chain.switch) / se.switch:+.2f} {(est.mean - chain.mean) / se.mean:+.2f} "
                  f"{(est.sd - chain.sd) / se.sd:+.2f}")
    assert abs(est.switch - chain.switch) < K_SE * se.switch
    assert abs(est.mean - chain.mean) < K_SE * se.mean
    assert abs(est.sd - chain.sd) < K_SE * se.sd


def test_grid_chain_law_matches_monte_carlo():
    """The density propagation against a float64 simulation of the same chain (200,000 samples)."""
    mix, x0 = CONFIGS["asymmetric"]
    ab = sd_alpha_bars()
    grid = chain_law(mix, x0, ab, 150)
    est, se = summarise(chain_samples(mix, x0, ab, 150, n=200_000, seed=3), mix, x0)
    assert est.switch > 0.01  # the case has mode switches to count
    assert abs(est.switch - grid.switch) < K_SE * se.switch
    assert abs(est.mean - grid.mean) < K_SE * se.mean
    assert abs(est.sd - grid.sd) < K_SE * se.sd


def test_continuous_law_matches_sampled_posterior():
    """(a) by quadrature against x_t drawn from the forward process and x0' from the exact posterior."""
    from testkit.mixture_law import posterior

    mix, x0 = CONFIGS["symmetric"]
    rng = np.random.default_rng(5)
    ab = float(sd_alpha_bars()[499])
    a, sigma = ab ** 0.5, (1 - ab) ** 0.5
    r, mu, v = posterior(mix, a * x0 + sigma * rng.standard_normal(400_000), a, sigma)
    comp = (rng.random(len(r)) < r[:, 1]).astype(int)
    x = mu[np.arange(len(r)), comp] + np.sqrt(v[comp]) * rng.standard_normal(len(r))
    est, se = summarise(x, mix, x0)
    law = continuous_law(mix, x0, ab)
    assert 0.1 < law.switch < 0.5
    assert abs(est.switch - law.switch) < K_SE * se.switch
    assert abs(est.mean - law.mean) < K_SE * se.mean
    assert abs(est.sd - law.sd) < K_SE * se.sd
