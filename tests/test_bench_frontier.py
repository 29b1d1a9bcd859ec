"""The frontier benchmark keeps working (--smoke: two samplers, 256 values per cell, t_boom 200 of 1000).

Asserted: the model calls it counts per steps against k-diffusion's known costs (euler_ancestral: one call per
step; dpmpp_2s_ancestral: two per step but one on the last, which steps to sigma 0), boomerang_exact's t_boom
calls, and that boomerang_exact holds both laws (its tolerance at 256 values is wide; errors are not asserted).
"""
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_frontier_smoke_counts_calls_and_writes_the_doc(tmp_path):
    out = tmp_path / "FRONTIER.md"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_frontier", "--smoke", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = out.read_text()
    assert (tmp_path / "frontier.png").stat().st_size > 10_000
    module = (tmp_path / "frontier_table.py").read_text()  # the level line's data, beside a smoke run's doc
    assert "'euler_ancestral':" in module and "'dpmpp_2s_ancestral':" in module and "(2, -1)," in module
    assert "## Fewest model calls that hold the law" in text and "2 CPU cores, x86_64" in text
    assert "Stochastic (output changes with the sampler seed): euler_ancestral, dpmpp_2s_ancestral." in text
    assert re.search(r"\| euler_ancestral \|[^\n]*\| 1:1, 2:2, 3:3, 4:4, 5:5, 6:6 \|", text), text[:3000]
    assert re.search(r"\| dpmpp_2s_ancestral \|[^\n]*\| 1:1, 2:3, 3:5, 4:7 \|", text), text[:3000]
    for kind in ("eps", "flow"):
        assert re.search(rf"\| boomerang_exact \| 1 \| 200 \| {kind} \| 200 \|[^\n]*\| yes \|", text), text[-2000:]
