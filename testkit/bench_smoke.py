"""Run a benchmark's --smoke mode as a user would (a fresh ``python -m`` process from the repo root, forced onto
the CPU with --cpu) and fail with its stderr tail."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_smoke(module: str, *args, timeout: int = 900) -> subprocess.CompletedProcess:
    """``module``: e.g. ``benchmarks.bench_perf`` or ``paper.bench_paper``."""
    proc = subprocess.run([sys.executable, "-m", module, "--smoke", "--cpu", *[str(a) for a in args]],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc
