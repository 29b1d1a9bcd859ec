import pytest

# The repo root is on sys.path through pyproject's [tool.pytest.ini_options] pythonpath, after nothing that
# shadows ComfyUI: the runtime puts ComfyUI's root first before importing its top-level ``nodes`` module, and
# the pack's own ``nodes/`` folder is only ever imported as part of the pack ComfyUI loads.


@pytest.fixture(scope="session")
def comfy():
    from testkit.runtime import runtime

    return runtime()
