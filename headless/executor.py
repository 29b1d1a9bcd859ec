"""ComfyUI's PromptExecutor built the way the installed ComfyUI's own ``main.py`` builds it.

The constructor's cache arguments changed between releases: 0.3.64 takes ``cache_size``; 0.3.75 takes
``cache_args`` and reads ``cache_args["ram"]``; 0.38 also reads ``cache_args["ram_inactive"]`` on every graph.
Rather than a fixed dictionary that the next key would break, the keyword names and the ``cache_args`` keys are
read from the ``PromptExecutor(...)`` call in the installed ``main.py`` (statically, with ``ast``; nothing of it
runs), and each gets the value main.py gives it under ``--cache-classic``: 0 (no LRU size, no RAM headroom).
"""
from __future__ import annotations

import ast
import inspect
import logging
from pathlib import Path

log = logging.getLogger("boomerang.headless")

# Used only when main.py is missing or holds no PromptExecutor call that can be read: every key a release is
# known to read (0.38.1 reads all three; older releases ignore extra keys).
FALLBACK_CACHE_KEYS = ("lru", "ram", "ram_inactive")


def main_py_call(source: str) -> tuple[list[str], list[str] | None] | None:
    """(keyword names, cache_args keys or None) of the first ``PromptExecutor(...)`` call in main.py's source."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name != "PromptExecutor":
            continue
        keywords = [k.arg for k in node.keywords if k.arg]
        cache_keys = None
        for k in node.keywords:
            if k.arg == "cache_args" and isinstance(k.value, ast.Dict):
                cache_keys = [key.value for key in k.value.keys
                              if isinstance(key, ast.Constant) and isinstance(key.value, str)]
        return keywords, cache_keys
    return None


def executor_kwargs(main_source: str | None, init_parameters, cache_type) -> dict:
    """Keyword arguments for ``PromptExecutor(server, **kwargs)`` with the classic cache.

    main_source: the installed main.py's text (None if absent); init_parameters: the names
    ``PromptExecutor.__init__`` accepts; cache_type: the ``CacheType.CLASSIC`` member."""
    accepted = set(init_parameters)
    call = main_py_call(main_source) if main_source else None
    if call is None:
        log.warning("could not read ComfyUI's PromptExecutor call in main.py; using the cache keys of 0.38.1")
        keywords = [k for k in ("cache_args", "cache_size") if k in accepted]
        cache_keys = list(FALLBACK_CACHE_KEYS)
    else:
        keywords, cache_keys = call
        if cache_keys is None:
            cache_keys = list(FALLBACK_CACHE_KEYS)
    kwargs = {"cache_type": cache_type}
    for name in keywords:
        if name not in accepted or name == "cache_type":
            continue
        if name == "cache_args":
            kwargs[name] = {key: 0 for key in cache_keys}
        elif name == "cache_size":
            kwargs[name] = 0  # main.py passes args.cache_lru, 0 unless --cache-lru N
    return kwargs


def new_executor(execution, server, comfy_root: Path):
    """``execution.PromptExecutor`` of the ComfyUI at ``comfy_root``, built as its main.py builds it."""
    main_py = Path(comfy_root) / "main.py"
    source = main_py.read_text(encoding="utf-8") if main_py.is_file() else None
    executor_class = execution.PromptExecutor
    parameters = inspect.signature(executor_class.__init__).parameters
    return executor_class(server, **executor_kwargs(source, parameters, execution.CacheType.CLASSIC))
