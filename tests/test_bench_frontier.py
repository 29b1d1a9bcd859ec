"""The frontier benchmark keeps working (--smoke: two samplers, 256 values per cell, t_boom 200 of 1000).

Asserted: the model calls it counts per steps against k-diffusion's known costs (euler_ancestral: one call per
step; dpmpp_2s_ancestral: two per step but one on the last, which steps to sigma 0), boomerang_exact's t_boom
calls, and that boomerang_exact holds both laws (its tolerance at 256 values is wide; errors are not asserted);
``--update`` re-measures only the sampler named and keeps the others' rows from the sidecar (marked rows show
which were kept and which re-measured).
"""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _bench(*args):
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_frontier", "--smoke", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.fixture(scope="module")
def smoke_doc(tmp_path_factory):
    out = tmp_path_factory.mktemp("frontier") / "FRONTIER.md"
    _bench("--out", str(out))
    return out


def test_frontier_smoke_counts_calls_and_writes_the_doc(smoke_doc):
    tmp_path, text = smoke_doc.parent, smoke_doc.read_text()
    assert (tmp_path / "frontier.png").stat().st_size > 10_000
    module = (tmp_path / "frontier_table.py").read_text()  # the level line's data, beside a smoke run's doc
    assert "'euler_ancestral':" in module and "'dpmpp_2s_ancestral':" in module and "(2, -1)," in module
    assert "## Fewest model calls that hold the law" in text and "2 CPU cores, x86_64" in text
    assert "Stochastic (output changes with the sampler seed): euler_ancestral, dpmpp_2s_ancestral." in text
    assert re.search(r"\| euler_ancestral \|[^\n]*\| 1:1, 2:2, 3:3, 4:4, 5:5, 6:6 \|", text), text[:3000]
    assert re.search(r"\| dpmpp_2s_ancestral \|[^\n]*\| 1:1, 2:3, 3:5, 4:7 \|", text), text[:3000]
    for kind in ("eps", "flow"):
        assert re.search(rf"\| boomerang_exact \| 1 \| 200 \| {kind} \| 200 \|[^\n]*\| yes \|", text), text[-2000:]
    rows = json.loads((tmp_path / "frontier_rows.json").read_text())["rows"]  # the sidecar --update keeps
    assert {r["sampler"] for r in rows} == {"boomerang_exact", "euler_ancestral", "dpmpp_2s_ancestral"}
    assert len(rows) == len(re.findall(r"^\| [\w.-]+ \| \d+ \| \d+ \| (?:eps|flow) \| ", text, re.M))  # one a cell


def test_frontier_update_remeasures_only_the_named_sampler(smoke_doc, tmp_path):
    """Rows marked in the sidecar (worst 9.87): those of euler_ancestral and boomerang_exact must survive
    ``--update dpmpp_2s_ancestral``; dpmpp_2s_ancestral's must be measured again."""
    out = tmp_path / "FRONTIER.md"
    side = json.loads((smoke_doc.parent / "frontier_rows.json").read_text())
    marked = {}
    for r in side["rows"]:
        if r["kind"] == "eps":
            marked[r["sampler"], r["steps"]] = r["worst"]
            r["worst"] = 9.87
    (tmp_path / "frontier_rows.json").write_text(json.dumps(side))
    _bench("--update", "dpmpp_2s_ancestral", "--out", str(out))
    text = out.read_text()
    assert "--update`: dpmpp_2s_ancestral (its rows in every table below)" in text
    new = {(r["sampler"], r["steps"], r["kind"]): r["worst"]
           for r in json.loads((tmp_path / "frontier_rows.json").read_text())["rows"]}
    for (sampler, steps), worst in marked.items():
        if sampler == "dpmpp_2s_ancestral":
            assert new[sampler, steps, "eps"] == pytest.approx(worst, rel=1e-4)  # measured again (same seeds)
            assert re.search(rf"\| {sampler} \| {steps} \| \d+ \| eps \| 200 \|[^\n]* {worst:.2f} \|", text)
        else:
            assert new[sampler, steps, "eps"] == 9.87  # kept
            assert re.search(rf"\| {sampler} \| {steps} \| \d+ \| eps \| 200 \|[^\n]* 9\.87 \| (yes|no) \|", text)
