"""Headless ComfyUI for Boomerang: boot a real ComfyUI in this process, load this pack as ComfyUI does, and
run API-format graphs through ComfyUI's own validator and executor.

    from headless import ComfyRuntime
    rt = ComfyRuntime().boot()          # ComfyUI from COMFYUI_PATH, or the one devtools/setup_env.py unpacked
    rt.device, rt.device_name           # where ComfyUI computes (its own choice; ComfyRuntime(device="cpu") forces it)
    result = rt.execute(graph)          # graph: API format ({node_id: {"class_type", "inputs"}})

Nothing is imported from ComfyUI until ``boot()``. Used by the demo, the benchmarks, the dataset jobs and,
through ``testkit``, the tests.
"""
import importlib

# Imported on first use (PEP 562), so ``headless.paths`` stays standard-library only for devtools/setup_env.py,
# which runs before the venv with torch exists.
_EXPORTS = {
    "ComfyRuntime": "runtime", "GraphError": "runtime", "PACK_DIR_NAME": "runtime", "REPO": "runtime",
    "add_device_arguments": "device", "check_device": "device", "device_from_args": "device",
    "cache_dir": "paths", "comfyui_dir": "paths",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'headless' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
