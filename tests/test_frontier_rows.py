"""The frontier bench's sidecar (docs/frontier_rows.json), which ``bench_frontier --update`` keeps rows from.

Truths: the committed docs/FRONTIER.md and boomerang/frontier_table.py (the sidecar must render both byte for
byte, and the doc must parse back into what renders it), and hand-made rows for the merge.
"""
from pathlib import Path

from benchmarks import frontier_rows as fr
from benchmarks import frontier_table
from benchmarks.frontier_doc import FAST, SCHEDULER, render_data

REPO = Path(__file__).resolve().parent.parent
DOC = (REPO / "docs" / "FRONTIER.md").read_text()


def test_the_sidecar_renders_the_committed_doc_and_module():
    data = fr.loads(fr.sidecar(REPO / "docs" / "FRONTIER.md").read_text())
    assert render_data(data) == DOC, "docs/FRONTIER.md is not what docs/frontier_rows.json renders"
    module = frontier_table.render_module(data["rows"], data["deterministic"], SCHEDULER, data["t_booms"])
    assert module == (REPO / "boomerang" / "frontier_table.py").read_text()


def test_the_doc_parses_back_into_what_renders_it():
    data = fr.from_markdown(DOC)
    assert render_data(data) == DOC
    assert render_data(fr.loads(fr.dumps(data))) == DOC
    assert data["size"] == 32 and data["t_booms"] == [200, 500, 800] and FAST in data["updated"]
    assert len(data["rows"]) == DOC.count(" | yes |") + DOC.count(" | no |")
    assert {(r["sampler"], r["steps"]) for r in data["scales"]} == {(FAST, 10), ("dpmpp_3m_sde", 10),
                                                                    ("dpmpp_3m_sde", 20)}


def _row(sampler, steps, worst):
    return {"sampler": sampler, "steps": steps, "calls": steps, "kind": "eps", "t_boom": 200, "worst": worst}


def test_merge_replaces_only_the_remeasured_samplers():
    stored = {"size": 32, "smoke": False, "t_booms": [200], "stochastic": ["a", "b", "c"], "deterministic": ["d"],
              "updated": [], "tables": {"a": {1: 1}, "b": {1: 2}, "c": {1: 3}},
              "rows": [_row("boomerang_exact", 1, 0.1), _row("a", 4, 1.0), _row("a", 6, 1.1), _row("b", 4, 2.0),
                       _row("c", 4, 3.0)],
              "scales": [{"sampler": "b", "s": 0.5, "var_err": 0.2}, {"sampler": "c", "s": 0.5, "var_err": 0.3}]}
    new = [_row("b", 4, 9.0), _row("b", 8, 9.1)]
    out = fr.merge(stored, new, {"b": {1: 5}}, [{"sampler": "b", "s": 0.5, "var_err": 0.9}], ["b"],
                   ["a", "b", "c"], ["d"])
    assert [(r["sampler"], r["steps"], r["worst"]) for r in out["rows"]] == [
        ("boomerang_exact", 1, 0.1), ("a", 4, 1.0), ("a", 6, 1.1), ("b", 4, 9.0), ("b", 8, 9.1), ("c", 4, 3.0)]
    assert out["tables"] == {"a": {1: 1}, "b": {1: 5}, "c": {1: 3}} and out["updated"] == ["b"]
    assert [(r["sampler"], r["var_err"]) for r in out["scales"]] == [("b", 0.9), ("c", 0.3)]
    # Named, the reference rows are replaced too; a sampler re-checked as deterministic loses its rows.
    out = fr.merge(stored, [_row("boomerang_exact", 1, 0.5)], {}, [], ["boomerang_exact", "c"], ["a", "b"],
                   ["d", "c"])
    assert [(r["sampler"], r["worst"]) for r in out["rows"]] == [
        ("boomerang_exact", 0.5), ("a", 1.0), ("a", 1.1), ("b", 2.0)]
    assert "c" not in out["tables"] and out["deterministic"] == ["d", "c"]
