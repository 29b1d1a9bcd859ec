"""Tables the tests measure (oracle errors, fast-path errors) go to test-artifacts/ for the closing notes."""
from __future__ import annotations

from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def append(name: str, line: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    with open(ARTIFACTS / name, "a") as f:
        f.write(line.rstrip() + "\n")
