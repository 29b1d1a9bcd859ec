"""The fast path: stock samplers and schedulers on a sigma schedule that starts exactly at t_boom.

Accuracy is reported (test-artifacts/fast_path.txt) per sampler and step count against closed-form laws:
stochastic samplers against Boomerang's posterior law, deterministic (ODE) samplers against the law of the
probability-flow ODE from the same x_t (they sample a different, narrower distribution). The error must fall
as the number of steps grows, and at 50 steps stay within a bound per sampler: the value measured on x86_64 CPU,
torch 2.11 (2026-12-04; in brackets below) plus 2.5 points of variance (4.5 standard errors of the 65,536-value
variance, 0.55%) and 0.02 sd of mean, or twice the measured truncation error for the deterministic ones.
docs/BENCHMARKS.md section 3 (karras, t_boom 500, 50 steps) has ddpm/euler_ancestral at 6.8% and
dpmpp_2m_sde/dpmpp_sde at 0.1-0.2% variance error.
"""
import pytest
import torch

from testkit import graphs, report
from testkit.oracle_law import boomerang_law, errors, ode_law, sd_alpha_bars

MU, S, X0, T_BOOM = 0.3, 1.0, 1.8, 500
DETERMINISTIC = {"euler", "dpmpp_2m", "heun"}
# sampler: (bound on the mean error in sd, bound on the relative variance error) at 50 steps
BOUNDS_50 = {"euler_ancestral": (0.02, 0.075),  # [0.0013 sd, 5.00%]
             "ddpm": (0.02, 0.075),  # [0.0013 sd, 5.00%]
             "dpmpp_2m_sde": (0.02, 0.03),  # [0.0028 sd, 0.74%]
             "dpmpp_sde": (0.02, 0.035),  # [0.0024 sd, 0.99%]
             "euler": (0.03, 0.05),  # [0.0127 sd, 2.48%] against the ODE law: Euler's truncation error
             "dpmpp_2m": (0.02, 0.025)}  # [0.0003 sd, 0.18%] against the ODE law
SCHEDULERS = ["simple", "sgm_uniform", "karras", "exponential", "ddim_uniform", "beta", "normal",
              "linear_quadratic", "kl_optimal"]


def law_error(comfy, sampler, scheduler, steps):
    out = comfy.run(graphs.oracle_boomerang("eps", T_BOOM, x0=X0, mu=MU, s=S, sampler=sampler,
                                            scheduler=scheduler, steps=steps))
    a = sd_alpha_bars()[T_BOOM - 1]
    law = ode_law if sampler in DETERMINISTIC else boomerang_law
    mean_err, var_err = errors(out["out"]["latent"]["samples"], *law(MU, S, X0, a / (1 - a)))
    report.append("fast_path.txt", f"{sampler:16s} {scheduler:8s} steps={steps:3d} law={law.__name__:13s} "
                                   f"model_calls={comfy.calls('oracle'):4d} "
                                   f"mean_err={mean_err:.4f}sd var_err={100 * var_err:6.2f}%")
    return mean_err, var_err


@pytest.mark.parametrize("sampler,scheduler", [
    ("euler_ancestral", "simple"), ("ddpm", "simple"), ("dpmpp_2m_sde", "karras"), ("dpmpp_sde", "karras"),
    ("euler", "simple"), ("dpmpp_2m", "karras")])
def test_error_falls_with_steps_and_is_bounded_at_50(comfy, sampler, scheduler):
    errs = [law_error(comfy, sampler, scheduler, steps) for steps in (10, 20, 50)]
    assert sum(errs[2]) < sum(errs[0])
    (mean_err, var_err), (mean_bound, var_bound) = errs[2], BOUNDS_50[sampler]
    assert mean_err <= mean_bound and var_err <= var_bound, (sampler, errs[2], BOUNDS_50[sampler])


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_every_scheduler_starts_exactly_at_t_boom(comfy, scheduler):
    steps = 12
    g = {"1": graphs.oracle(),
         "2": {"class_type": "BoomerangSigmas", "inputs": {"model": ["1", 0], "t_boom": 400, "sampler": "euler",
                                                           "scheduler": scheduler, "steps": steps}},
         "3": graphs.capture("sigmas", sigmas=["2", 0])}
    sigmas = comfy.run(g)["sigmas"]["sigmas"].double()
    a = sd_alpha_bars()[400 - 1]
    expected = ((1 - a) / a) ** 0.5
    assert abs(float(sigmas[0]) - expected) < 1e-5 * expected
    assert float(sigmas[-1]) == 0.0 and bool((sigmas[1:] < sigmas[:-1]).all())
    # ddim_uniform strides the level table as ComfyUI's does and takes one step more when steps does not
    # divide t_boom (here 400 = 12 x 33 + 4); every other scheduler takes at most `steps`
    assert len(sigmas) - 1 <= steps + (scheduler == "ddim_uniform")


def test_exact_grid_is_one_level_per_timestep(comfy):
    g = {"1": graphs.oracle(),
         "2": {"class_type": "BoomerangSigmas",
               "inputs": {"model": ["1", 0], "t_boom": 30, "sampler": "boomerang_exact", "scheduler": "simple",
                          "steps": 1}},
         "3": graphs.capture("sigmas", sigmas=["2", 0])}
    sigmas = comfy.run(g)["sigmas"]["sigmas"].double()
    a = torch.tensor(sd_alpha_bars()[:30][::-1].copy())
    torch.testing.assert_close(sigmas[:-1], ((1 - a) / a).sqrt(), rtol=1e-5, atol=0)
    assert float(sigmas[-1]) == 0.0
