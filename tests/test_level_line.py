"""The level line under the Boomerang nodes (issue 18 part 4, issue 19 item 4): the start level in the model's own
terms (timestep, flow time, log-sigma range), the pass's model evaluations, and whether the setting holds the law
by the measured frontier (docs/FRONTIER.md, through the generated boomerang/frontier_table.py).

Truths: the frontier's own markdown (its summary table and its measured calls per steps, read apart from the
every-cell rows the module is generated from), the model calls ComfyUI's samplers make as the JS level line counts
them (web/js/boomerang.js SAMPLER_CALLS, itself checked against the running samplers by the browser tests), and
the closed-form sigmas of the SD schedule, the shifted flow time and the EDM log-sigma range.
"""
import math
import re
from pathlib import Path

import pytest

from benchmarks import frontier_table as gen
from boomerang import frontier
from boomerang import frontier_table as table
from boomerang.advice import RECOMMENDED
from boomerang.schedule import describe_level
from testkit import graphs
from testkit.oracle_law import flow_sigma, sd_alpha_bar

REPO = Path(__file__).resolve().parent.parent
DOC = (REPO / "docs" / "FRONTIER.md").read_text()


def test_frontier_module_is_what_the_bench_markdown_says():
    assert (REPO / "boomerang" / "frontier_table.py").read_text() == gen.module_from_markdown(DOC), \
        "boomerang/frontier_table.py is stale: run python -m benchmarks.frontier_table"
    summary = re.search(r"## Fewest model calls that hold the law\n\n(.*?)\n\n", DOC, re.S).group(1).splitlines()[2:]
    assert summary, "the summary table of docs/FRONTIER.md"
    for line in summary:
        cells = [c.strip() for c in line.strip("|").split("|")]
        sampler, values, per_steps = cells[0], cells[1:7], cells[7]
        if sampler == "boomerang_exact":
            continue
        expected = [None if v == "-" else int(v) for v in values]
        assert list(table.FEWEST[sampler]["eps"] + table.FEWEST[sampler]["flow"]) == expected, sampler
        for pair in per_steps.split(", "):  # "steps:calls", measured by the bench
            steps, calls = map(int, pair.split(":"))
            assert frontier.model_calls(sampler, steps, 1000) == calls, (sampler, steps)


def _js_calls(sampler: str, steps: int) -> int:
    """modelCalls of web/js/boomerang.js, read from its SAMPLER_CALLS table (per step, then first/last costs)."""
    js = (REPO / "web" / "js" / "boomerang.js").read_text()
    m = re.search(rf"\b{sampler}: \[(\d+)(?:, \{{ (first|last): \[([\d, ]+)\] \}})?\]", js)
    assert m, f"{sampler} is in the frontier table but not in web/js/boomerang.js SAMPLER_CALLS"
    per, where, special = int(m.group(1)), m.group(2), [int(v) for v in (m.group(3) or "").split(",") if v.strip()]
    costs = [per] * steps
    if where == "last":
        costs[len(costs) - len(special):] = special[-steps:]
    elif where == "first":
        costs[:len(special)] = special[:steps]
    return sum(costs)


@pytest.mark.parametrize("sampler", sorted(table.CALLS))
def test_model_calls_agree_with_comfyui_sampler_costs(sampler):
    for steps in (1, 2, 3, 7, 20):
        assert frontier.model_calls(sampler, steps, 1000) == _js_calls(sampler, steps), steps
    assert frontier.model_calls(sampler, 50, 20) == frontier.model_calls(sampler, 20, 1000)  # at most t_boom steps
    assert frontier.model_calls("boomerang_exact", 20, 640) == 640


@pytest.mark.parametrize("kind", ["discrete", "flow"])
def test_verdict_against_the_frontier(kind):
    """A setting at the measured fewest calls holds; the one below is warned; between two measured levels the
    larger need counts; never held: says so."""
    fk = frontier.FRONTIER_KIND[kind]
    checked = 0
    for sampler, needs in table.FEWEST.items():
        per, offset = table.CALLS[sampler]
        for t, need in zip(table.T_BOOMS, needs[fk]):
            line = frontier.describe_setting(sampler, "karras", 1000, t, 1000, kind)  # steps capped at t_boom
            if need is None:
                assert "misses the law here at every measured budget" in line, (sampler, t)
                continue
            at = math.ceil((need - offset) / per)
            assert frontier.model_calls(sampler, at, t) >= need
            assert frontier.describe_setting(sampler, "karras", at, t, 1000, kind) == \
                f"{frontier.model_calls(sampler, at, t)} model evaluations - law within tolerance"
            below = at - 1
            if below >= 1 and frontier.model_calls(sampler, below, t) < need:
                assert frontier.describe_setting(sampler, "karras", below, t, 1000, kind) == (
                    f"{frontier.model_calls(sampler, below, t)} model evaluations - too few steps for {sampler} "
                    f"here: the spread will be off (the law holds from {need} evaluations)")
                checked += 1
    assert checked >= 5
    low, high = table.FEWEST["dpmpp_2m_sde"]["eps"][:2]  # 0.2 T and 0.5 T: between them the larger
    assert frontier.required_calls("dpmpp_2m_sde", "eps", 350, 1000) == max(low, high)
    assert frontier.required_calls("dpmpp_2m_sde", "eps", 100, 1000) == low  # below the lowest: its need
    assert frontier.required_calls("dpmpp_2m_sde", "eps", 900, 1000) == table.FEWEST["dpmpp_2m_sde"]["eps"][-1]


def test_verdict_other_cases():
    assert frontier.describe_setting("boomerang_exact", "simple", 20, 300, 1000, "discrete") == \
        "300 model evaluations - the paper's exact Algorithm 1"
    assert "euler is deterministic: the spread will be narrower" in \
        frontier.describe_setting("euler", "karras", 20, 300, 1000, "discrete")
    assert frontier.describe_setting("dpmpp_3m_sde", "karras", 20, 300, 1000, "continuous") == \
        "20 model evaluations - law not measured for this model type"
    assert frontier.describe_setting("dpmpp_3m_sde", "simple", 20, 300, 1000, "flow") == \
        "20 model evaluations - law measured with the karras scheduler only"
    assert frontier.describe_setting("not_a_sampler", "karras", 20, 300, 1000, "flow") == \
        "20 steps - law not measured for not_a_sampler"


def test_level_text_per_model_kind():
    assert describe_level(400, 1000, 2.4312, "discrete") == "timestep 400/1000 (40%), sigma 2.431 - local sample"
    assert describe_level(500, 1000, 0.75, "flow") == "flow time 0.50 (t_boom 500/1000), sigma 0.75 - local sample"
    assert describe_level(250, 1000, 0.0299, "continuous") == \
        "t_boom 250/1000 (25% of the log-sigma range), sigma 0.0299 - local sample"
    assert describe_level(0, 1000, 0.0, "flow").endswith("identity (no noise)")
    assert describe_level(1000, 1000, 1.0, "flow").endswith("global sample")
    with pytest.raises(ValueError):
        describe_level(10, 1000, 1.0, "eps")


def _line(comfy, graph, node="4") -> str:
    return comfy.run(graph)["_history"]["outputs"][node]["text"][0]


@pytest.mark.parametrize("kind", ["eps", "flow"])
def test_nodes_show_the_level_line(comfy, kind):
    """PartialReverseSampler's line on the oracle models (Boomerang's is the same function): the level from the
    closed-form schedules, the setting's evaluations and the frontier verdict."""
    t = 500
    shift = 3.0
    if kind == "eps":
        sigma = math.sqrt((1 - sd_alpha_bar(t)) / sd_alpha_bar(t))
        where = f"timestep {t}/1000 (50%), sigma {sigma:.4g}"
    else:
        sigma = flow_sigma(t, shift)
        where = f"flow time 0.50 (t_boom {t}/1000), sigma {sigma:.4g}"
    need = table.FEWEST["dpmpp_3m_sde"][kind][1]
    ok = graphs.oracle_boomerang(kind, t, shift=shift, batch=1, size=4, sampler="dpmpp_3m_sde", scheduler="karras",
                                 steps=need)
    assert _line(comfy, ok) == f"{where} - local sample · {need} model evaluations - law within tolerance"
    few = graphs.oracle_boomerang(kind, t, shift=shift, batch=1, size=4, sampler="dpmpp_3m_sde", scheduler="karras",
                                  steps=need - 2)
    assert _line(comfy, few) == (f"{where} - local sample · {need - 2} model evaluations - too few steps for "
                                 f"dpmpp_3m_sde here: the spread will be off (the law holds from {need} evaluations)")


def test_edm_model_level_line(comfy):
    """An EDM-range model (Cosmos Predict2's sampling, from ComfyUI's config class): t_boom/T along log sigma from
    0.002 to 80, and no frontier verdict for it."""
    from testkit import family_oracles as fo

    entry = fo.oracle(fo.BY_NAME["cosmos_predict2"], fo.GaussianLaw(0.0, 1.0))
    comfy.pack_module(graphs_pack()).OBJECTS["edm-line"] = {"model": entry.model, "positive": entry.positive,
                                                           "negative": entry.positive}
    g = {"1": {"class_type": "BoomerangTestObject", "inputs": {"key": "edm-line"}},
         "2": graphs.const_latent(0.5, 1, 4, 4, 4),
         "3": {"class_type": "Boomerang", "inputs": {"model": ["1", 0], "positive": ["1", 2], "negative": ["1", 3],
                                                      "latent": ["2", 0], "t_boom": 250, "seed": 0,
                                                      **graphs.pass_settings(1.0, "dpmpp_3m_sde", "karras", 8)}},
         "4": graphs.capture("out", latent=["3", 0])}
    sigma = math.exp(math.log(0.002) + (math.log(80.0) - math.log(0.002)) * 0.25)
    assert _line(comfy, g, "3") == (f"t_boom 250/1000 (25% of the log-sigma range), sigma {sigma:.4g} - local sample"
                                    " · 8 model evaluations - law not measured for this model type")
    assert entry.counter.calls == 8


def graphs_pack() -> str:
    from testkit.runtime import TEST_PACK

    return TEST_PACK.name


def test_saved_workflows_keep_boomerang_exact_after_the_default_change(comfy):
    """The nodes' defaults are the recommended fast setting; a saved graph naming boomerang_exact still runs the
    paper's Algorithm 1: t_boom model calls."""
    from headless.graphs import api_node

    classes = comfy.nodes.NODE_CLASS_MAPPINGS
    fresh = api_node(classes, "PartialReverseSampler", model=["1", 0], positive=["1", 1], negative=["1", 1],
                     latent=["3", 0])["inputs"]
    assert (fresh["sampler"], fresh["scheduler"], fresh["steps"]) == \
        (RECOMMENDED.sampler, RECOMMENDED.scheduler, RECOMMENDED.steps)
    saved = graphs.oracle_boomerang("eps", 37, batch=1, size=4, sampler="boomerang_exact", scheduler="simple",
                                    steps=20)
    comfy.run(saved)
    assert comfy.calls("oracle") == 37
    default = graphs.oracle_boomerang("eps", 37, batch=1, size=4, sampler=fresh["sampler"],
                                      scheduler=fresh["scheduler"], steps=fresh["steps"])
    comfy.run(default)
    assert comfy.calls("oracle") == frontier.model_calls(RECOMMENDED.sampler, RECOMMENDED.steps, 37)
