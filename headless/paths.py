"""Where the headless runtime finds ComfyUI and keeps its files (standard library only).

``COMFYUI_PATH`` names any ComfyUI checkout (0.3.64 or newer); without it, the ComfyUI that
``scripts/setup_env.py`` unpacks into the cache is used. ``BOOMERANG_CACHE`` (default
``~/.cache/comfyui-boomerang``) holds that ComfyUI and the models folder of headless runs.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

PACK_ROOT = Path(__file__).resolve().parents[1]
COMFYUI_VERSION = "0.3.75"  # what scripts/setup_env.py unpacks when COMFYUI_PATH is not set


def cache_dir() -> Path:
    return Path(os.environ.get("BOOMERANG_CACHE", Path.home() / ".cache" / "comfyui-boomerang"))


def comfyui_dir() -> Path:
    env = os.environ.get("COMFYUI_PATH")
    if env:
        return Path(env).resolve()
    return cache_dir() / f"comfyui-{COMFYUI_VERSION}"


def load_pack_file(relative: str) -> ModuleType:
    """One file of the pack as a module, loaded by path as ``boomerang_<stem>`` (``import nodes.x`` would find
    ComfyUI's own ``nodes`` module), e.g. ``load_pack_file("nodes/dlib_faces.py")`` outside ComfyUI."""
    path = PACK_ROOT / relative
    spec = importlib.util.spec_from_file_location(f"boomerang_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
