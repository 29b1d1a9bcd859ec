"""Headless ComfyUI for Boomerang: boot a real ComfyUI in this process, load this pack as ComfyUI does, and
run API-format graphs through ComfyUI's own validator and executor.

    from headless import ComfyRuntime
    rt = ComfyRuntime().boot()          # ComfyUI from COMFYUI_PATH, or the one devtools/setup_env.py unpacked
    result = rt.execute(graph)          # graph: API format ({node_id: {"class_type", "inputs"}})

Nothing is imported from ComfyUI until ``boot()``. Used by the demo, the benchmarks, the dataset jobs and,
through ``testkit``, the tests.
"""
from .paths import cache_dir, comfyui_dir
from .runtime import PACK_DIR_NAME, REPO, ComfyRuntime, GraphError

__all__ = ["ComfyRuntime", "GraphError", "PACK_DIR_NAME", "REPO", "cache_dir", "comfyui_dir"]
