"""The benchmark script keeps working (its --smoke mode); no timing is asserted, only what must hold exactly."""
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_bench_smoke_writes_every_section_with_equal_model_calls(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "bench_perf.py"), "--smoke", "--out", str(out)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = out.read_text()
    for heading in ("## 1. Overhead", "## 2. Cost grows with t_boom", "## 3. Accuracy per model call",
                    "## 4. Batching", "## 5. Peak memory", "## 6. GPU", "## Cold start"):
        assert heading in text
    # the same sigma schedule and the same number of UNet calls as KSamplerAdvanced
    row = re.search(r"\| 64x64 \| 1 \| .*? \| (\d+) / (\d+) \| ([0-9.e+-]+) \|", text)
    assert row and row.group(1) == row.group(2) == "10", text[:2000]
    assert float(row.group(3)) < 1e-4
    # boomerang_exact makes exactly t_boom model calls on the oracle
    for t in (200, 500, 800):
        assert re.search(rf"\| boomerang_exact \| t_boom \|.*\b{t} / ", text)
