"""The per-family guidance benchmark keeps working (--smoke: SD1.5 and Flux dev, one sampler, 256 values per cell,
t_boom 500, into a temporary folder).

Asserted against independent truths: SD1.5's translated t_boom ranges are the paper's own fractions of 1000 (the
translation is to SD's schedule, so it must be the identity there), SD1.5's sigma at t_boom 100 / 500 from the
closed-form scaled-linear schedule, and Flux dev's sigma at 1024 px from ComfyUI's documented time shift
e^mu t / (e^mu t + 1 - t) with mu = 1.15; the level lines name timestep and flow time. Errors are not asserted.
"""
import math
import re
import subprocess
import sys
from pathlib import Path

from testkit.oracle_law import sd_alpha_bar

REPO = Path(__file__).resolve().parent.parent


def test_families_smoke_writes_the_guidance(tmp_path):
    out = tmp_path / "FAMILIES.md"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_families", "--smoke", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = out.read_text()
    for heading in ("## Recommendation per family", "## What t_boom means", "## t_boom ranges per use",
                    "## Every cell"):
        assert heading in text
    assert "| SD1.5 | 250 - 400 | 500 - 800 | 100 - 600 |" in text
    sd = [math.sqrt((1 - sd_alpha_bar(t)) / sd_alpha_bar(t)) for t in (100, 500)]
    row = re.search(r"^\| SD1\.5 \| ([^\n]*)\|$", text.split("## What t_boom means")[1], re.M).group(1)
    assert row.startswith(f"{sd[0]:.4g} (100) | ") and f"| {sd[1]:.4g} (500) |" in row, row
    mu = math.exp(1.15)
    flux = mu * 0.5 / (mu * 0.5 + 0.5)
    assert f"| {flux:.4g} (" in text.split("| Flux.1 dev |")[2], text
    assert "SD1.5: `timestep 500/1000 (50%)" in text and "Flux.1 dev: `flow time 0.50 (t_boom 500/1000)" in text
    assert re.search(r"^\| flux_dev \| \w+ \| \d+ \| \d+ \| 500 \|", text, re.M), text[-1500:]
