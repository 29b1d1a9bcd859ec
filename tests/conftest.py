import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
# The pure package is importable as ``boomerang``; the repo root goes last so that ComfyUI's own top-level
# ``nodes`` module wins over the pack's ``nodes/`` folder.
sys.path.append(str(HERE.parent))
sys.path.insert(0, str(HERE))


@pytest.fixture(scope="session")
def comfy():
    from harness.runtime import runtime

    return runtime()
