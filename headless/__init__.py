"""Headless ComfyUI for Boomerang: boot a real ComfyUI in this process, load this pack as ComfyUI does, and
run API-format graphs through ComfyUI's own validator and executor.

    from headless import ComfyRuntime
    rt = ComfyRuntime().boot()          # ComfyUI from COMFYUI_PATH, or the one devtools/setup_env.py unpacked
    rt.device, rt.device_name           # where ComfyUI computes (its own choice; ComfyRuntime(device="cpu") forces it)
    result = rt.execute(graph)          # graph: API format ({node_id: {"class_type", "inputs"}})

Nothing is imported from ComfyUI until ``boot()``. Used by the demo, the benchmarks, the dataset jobs and,
through ``testkit``, the tests.
"""
from .device import add_device_arguments, check_device, device_from_args
from .paths import cache_dir, comfyui_dir
from .runtime import PACK_DIR_NAME, REPO, ComfyRuntime, GraphError

__all__ = ["ComfyRuntime", "GraphError", "PACK_DIR_NAME", "REPO", "add_device_arguments", "cache_dir", "check_device",
           "comfyui_dir", "device_from_args"]
