"""The tests' ComfyUI: the pack's headless runtime plus the test-only node pack, booted once per session."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import headless

from . import dev_assets

GraphError = headless.GraphError
TEST_PACK = Path(__file__).resolve().parent / "boomerang_test_nodes"
write_photo = dev_assets.write_photo


class TestRuntime(headless.ComfyRuntime):
    def run(self, prompt: dict) -> dict:
        """Execute a graph; return what its BoomerangTestCapture nodes captured (plus history/messages)."""
        captured = self.pack_module(TEST_PACK.name).CAPTURED
        captured.clear()
        result = self.execute(prompt)
        out = dict(captured)
        out["_history"], out["_messages"] = result["history"], result["messages"]
        return out

    def calls(self, tag: str) -> int:
        return self.pack_module(TEST_PACK.name).CALLS.get(tag, 0)


_RUNTIME: TestRuntime | None = None


def runtime(device: str | None = "cpu") -> TestRuntime:
    """The process's test runtime, booted on first use on ``device``: the CPU for the tests (the benchmarks that
    share this harness pass theirs)."""
    global _RUNTIME
    if _RUNTIME is None:
        logging.basicConfig(level=os.environ.get("BOOMERANG_LOG", "WARNING"))
        _RUNTIME = TestRuntime(extra_packs=[TEST_PACK], device=device).boot()
    return _RUNTIME


def tiny_checkpoint(rt, x4_vae: bool = False) -> str:
    return dev_assets.tiny_checkpoint(rt, x4_vae)
