"""The tests' ComfyUI: the shared headless runtime plus the test-only node pack, booted once per session."""
from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

_REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("boomerang_comfy_runtime", _REPO / "scripts" / "comfy_runtime.py")
comfy_runtime = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(comfy_runtime)

GraphError = comfy_runtime.GraphError
TEST_PACK = Path(__file__).resolve().parent / "boomerang_test_nodes"


class TestRuntime(comfy_runtime.ComfyRuntime):
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


def runtime() -> TestRuntime:
    global _RUNTIME
    if _RUNTIME is None:
        logging.basicConfig(level=os.environ.get("BOOMERANG_LOG", "WARNING"))
        _RUNTIME = TestRuntime(extra_packs=[TEST_PACK]).boot()
    return _RUNTIME


def tiny_checkpoint(rt, x4_vae: bool = False) -> str:
    return comfy_runtime.tiny_checkpoint(rt, x4_vae)
