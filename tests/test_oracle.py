"""Algorithm 1 through the real nodes and executor against closed-form Gaussian truths.

Data x0 ~ N(mu, s^2) elementwise and an exact model (BoomerangTestOracleModel). Two truths, both computed
here independently of ComfyUI and of the pack (testkit/oracle_law.py):
* the continuous law of Boomerang, E = v (mu/s^2 + snr x0), Var = v + v^2 snr;
* the exact law of the discrete Algorithm 1 chain (beta~ variance, no noise on the last step).
Algorithm 1 itself sits below the continuous law's variance by 3.7-4.4% at t_boom = 50 and by <1.5% from
t_boom = 200 on (beta~ is the lower-bound reverse variance of Ho et al.), so the 3% bound against the
continuous law is asserted from t_boom = 200, and the chain law is asserted tightly at every t_boom.
4 x 4 x 64 x 64 = 65,536 values per case: sampling error 0.55% of the variance, 0.004 sd of the mean.
"""
import pytest
import torch

from testkit import graphs, report
from testkit.oracle_law import algorithm1_law, boomerang_law, errors, flow_alpha_bars, flow_sigma, sd_alpha_bars

MU, S, X0 = 0.3, 1.0, 1.8  # x0 sits 1.5 sd above the data mean
SHIFT = 3.0  # SD3's default flow shift


def alpha_bars(kind):
    return flow_alpha_bars(SHIFT) if kind == "flow" else sd_alpha_bars()


def run_case(comfy, kind, t_boom, **kw):
    out = comfy.run(graphs.oracle_boomerang(kind, t_boom, x0=X0, mu=MU, s=S, shift=SHIFT, **kw))
    samples = out["out"]["latent"]["samples"]
    assert samples.shape == (4, 4, 64, 64)
    a = alpha_bars(kind)[t_boom - 1]
    law = boomerang_law(MU, S, X0, a / (1.0 - a))
    chain = algorithm1_law(alpha_bars(kind), t_boom, MU, S, X0)
    law_err, chain_err = errors(samples, *law), errors(samples, *chain)
    report.append("oracle.txt",
                  f"{kind:5s} t_boom={t_boom:4d} | vs continuous law: mean {law_err[0]:.4f} sd, var "
                  f"{100 * law_err[1]:.2f}% "
                  f"| vs Algorithm-1 chain: mean {chain_err[0]:.4f} sd, var {100 * chain_err[1]:.2f}% "
                  f"| model calls {comfy.calls('oracle')}")
    return law_err, chain_err


@pytest.mark.parametrize("kind", ["eps", "flow"])
@pytest.mark.parametrize("t_boom", [50, 200, 500, 900])
def test_exact_sampler_matches_closed_form(comfy, kind, t_boom):
    (law_mean, law_var), (chain_mean, chain_var) = run_case(comfy, kind, t_boom)
    assert chain_mean < 0.02 and chain_var < 0.02
    assert law_mean < 0.03
    if t_boom >= 200:
        assert law_var < 0.03
    assert comfy.calls("oracle") == t_boom  # one model call per integer timestep


def test_exact_vprediction_matches_closed_form(comfy):
    (law_mean, law_var), (chain_mean, chain_var) = run_case(comfy, "v", 500)
    assert law_mean < 0.03 and law_var < 0.03 and chain_mean < 0.02 and chain_var < 0.02


@pytest.mark.parametrize("kind", ["eps", "flow"])
def test_full_t_boom_is_a_global_sample(comfy, kind):
    """At t_boom = T the output follows the data law N(mu, s^2) (SD's alpha_bar_T = 0.0047: nearly)."""
    out = comfy.run(graphs.oracle_boomerang(kind, 1000, x0=X0, mu=MU, s=S, shift=SHIFT))
    mean_err, var_err = errors(out["out"]["latent"]["samples"], MU, S * S)
    report.append("oracle.txt", f"{kind:5s} t_boom=1000 | vs N(mu, s^2): mean {mean_err:.4f} sd, var "
                                f"{100 * var_err:.2f}%")
    assert mean_err < 0.03 and var_err < 0.03


@pytest.mark.parametrize("kind", ["eps", "flow"])
def test_zero_t_boom_returns_input(comfy, kind):
    out = comfy.run(graphs.oracle_boomerang(kind, 0, x0=X0, mu=MU, s=S, shift=SHIFT))
    assert torch.equal(out["noisy"]["latent"]["samples"], torch.full((4, 4, 64, 64), X0))
    assert torch.equal(out["out"]["latent"]["samples"], torch.full((4, 4, 64, 64), X0))
    assert comfy.calls("oracle") == 0


@pytest.mark.parametrize("kind", ["eps", "flow"])
def test_forward_noise_has_the_t_boom_level(comfy, kind):
    """BoomerangNoise alone: x_t = a x0 + s_n eps at the level of t_boom, eps ~ N(0, 1) per element."""
    t_boom = 300
    out = comfy.run(graphs.oracle_boomerang(kind, t_boom, x0=X0, mu=MU, s=S, shift=SHIFT))
    x_t = out["noisy"]["latent"]["samples"].double()
    if kind == "eps":  # ComfyUI's EPS space: x = x0 + sigma eps with sigma^2 = (1 - a_bar) / a_bar
        a_bar = sd_alpha_bars()[t_boom - 1]
        a, sn = 1.0, ((1.0 - a_bar) / a_bar) ** 0.5
    else:
        sn = flow_sigma(t_boom, SHIFT)
        a = 1.0 - sn
    assert abs(float(x_t.mean()) - a * X0) < 0.02 * sn
    assert abs(float(x_t.std()) / sn - 1.0) < 0.01
    assert abs(out["noisy"]["number"] - sn) < 1e-5 * sn
    expected = f"timestep {t_boom}/1000 (30%)" if kind == "eps" else f"flow time 0.30 (t_boom {t_boom}/1000)"
    assert expected in out["noisy"]["text"], out["noisy"]["text"]


@pytest.mark.parametrize("kind", ["eps", "flow"])
def test_exact_sampler_and_sigmas_nodes_in_sampler_custom_advanced(comfy, kind):
    """The pack's SAMPLER (BoomerangExactSampler) and SIGMAS (BoomerangSigmas) in ComfyUI's own
    SamplerCustomAdvanced with RandomNoise and BasicGuider: Algorithm 1 from t_boom, the same chain law."""
    t_boom = 200
    g = graphs.sampler_custom_advanced(kind, MU, S, SHIFT, X0, 64, t_boom, "BoomerangExactSampler",
                                       "boomerang_exact", "simple", 1)
    samples = comfy.run(g)["out"]["latent"]["samples"]
    assert samples.shape == (4, 4, 64, 64)
    mean_err, var_err = errors(samples, *algorithm1_law(alpha_bars(kind), t_boom, MU, S, X0))
    report.append("oracle.txt", f"{kind:5s} t_boom={t_boom:4d} SamplerCustomAdvanced | vs Algorithm-1 chain: "
                                f"mean {mean_err:.4f} sd, var {100 * var_err:.2f}%")
    assert mean_err < 0.02 and var_err < 0.02, (mean_err, var_err)
    assert comfy.calls("oracle") == t_boom  # one model call per integer timestep
