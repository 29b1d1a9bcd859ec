"""Where the headless runtime finds ComfyUI and keeps its files (standard library only).

``COMFYUI_PATH`` names any ComfyUI checkout (0.3.64 or newer); without it, the ComfyUI that
``devtools/setup_env.py`` unpacks into the cache is used. ``BOOMERANG_CACHE`` (default
``~/.cache/comfyui-boomerang``) holds that ComfyUI and the models folder of headless runs.
"""
from __future__ import annotations

import os
from pathlib import Path

PACK_ROOT = Path(__file__).resolve().parents[1]
COMFYUI_VERSION = "0.3.75"  # what devtools/setup_env.py unpacks when COMFYUI_PATH is not set
# The newest ComfyUI frontend (PyPI comfyui-frontend-package) that the browser tests also run, in both renderers;
# devtools/setup_env.py unpacks it next to ComfyUI and the tests serve it with main.py --front-end-root.
NEWEST_FRONTEND = "1.58.1"


def cache_dir() -> Path:
    return Path(os.environ.get("BOOMERANG_CACHE", Path.home() / ".cache" / "comfyui-boomerang"))


def comfyui_dir() -> Path:
    env = os.environ.get("COMFYUI_PATH")
    if env:
        return Path(env).resolve()
    return cache_dir() / f"comfyui-{COMFYUI_VERSION}"


def frontend_root(version: str = NEWEST_FRONTEND) -> Path:
    """The static folder of an unpacked comfyui-frontend-package, for ``main.py --front-end-root``."""
    return cache_dir() / f"frontend-{version}" / "comfyui_frontend_package" / "static"
