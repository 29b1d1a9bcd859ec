"""A real ComfyUI in this process: boot it, load the pack the way ComfyUI does, run API-format graphs.

ComfyUI comes from ``COMFYUI_PATH`` or from the cache that ``devtools/setup_env.py`` fills (0.3.75); see
``paths.py``. The pack (and any extra packs, such as the tests' node pack) is linked into a fresh
custom_nodes folder and loaded through ``nodes.init_extra_nodes``; graphs are checked by ComfyUI's own
``validate_prompt`` and run by its ``PromptExecutor``.
"""
from __future__ import annotations

import asyncio
import logging
import sys
import uuid
from pathlib import Path

from . import tempdirs
from .device import check_device, comfy_arguments, select_cuda_index
from .executor import new_executor
from .paths import PACK_ROOT as REPO
from .paths import cache_dir, comfyui_dir

PACK_DIR_NAME = "comfyui-boomerang"

log = logging.getLogger("boomerang.headless")


class GraphError(RuntimeError):
    """A graph failed ComfyUI's validation or execution; ``details`` holds ComfyUI's own report."""

    def __init__(self, message: str, details):
        super().__init__(f"{message}: {details}")
        self.details = details


class _Server:
    """What PromptExecutor needs of the web server when nobody is listening."""

    def __init__(self):
        self.client_id = None
        self.last_node_id = None
        self.last_prompt_id = None
        self.sockets_metadata = {}
        self.messages = []

    def send_sync(self, event, data, sid=None):
        self.messages.append((event, data))


class ComfyRuntime:
    """A ComfyUI booted in this process. ``device``: None (default) lets ComfyUI choose (CUDA, ROCm, MPS, XPU,
    else CPU), "cpu" boots it with ``--cpu``, "cuda" / "cuda:N" need that CUDA device (checked here, before
    anything starts). After ``boot()``, ``device`` is the torch device ComfyUI computes on (e.g. "cuda:0",
    "cpu") and ``device_name`` ComfyUI's description of it. One process boots ComfyUI once: a later runtime
    in the same process shares its device, and asking it for another one is an error."""

    def __init__(self, extra_packs=(), io_dir: Path | None = None, output_dir: Path | None = None,
                 load_pack: bool = True, device: str | None = None):
        self.requested_device = check_device(device)
        self.device = None
        self.device_name = None
        self.root = comfyui_dir()
        self.extra_packs = [Path(p) for p in extra_packs]
        # temporary folders: removed by close() or at exit, or (after a SIGKILL) by the next run (headless.tempdirs)
        self.custom_nodes = tempdirs.make("custom-nodes")
        self.models = cache_dir() / "models"
        self.io_dir = Path(io_dir) if io_dir else tempdirs.make("io")
        self.output_dir = Path(output_dir) if output_dir else self.io_dir / "output"
        self.nodes = None
        self.execution = None
        self.boot_seconds = None
        self._executor = None
        self.load_pack = load_pack

    def boot(self):
        import time

        start = time.perf_counter()
        if not (self.root / "comfy" / "samplers.py").is_file():
            raise RuntimeError(f"No ComfyUI at {self.root}: run `python3 -m devtools.setup_env` or set COMFYUI_PATH")
        sys.path.insert(0, str(self.root))
        first_boot = "comfy.cli_args" not in sys.modules
        if first_boot:
            select_cuda_index(self.requested_device)
        saved_argv = sys.argv
        sys.argv = [saved_argv[0], *comfy_arguments(self.requested_device)]
        try:
            import comfy.options

            comfy.options.enable_args_parsing()
            import utils.extra_config  # noqa: F401 - as main.py does, before nodes.py puts comfy/ first on sys.path

            # isort: split
            import execution
            import folder_paths
            import nodes
        finally:
            sys.argv = saved_argv
        self._read_device()
        if self.load_pack:
            (self.custom_nodes / PACK_DIR_NAME).symlink_to(REPO, target_is_directory=True)
        for pack in self.extra_packs:
            (self.custom_nodes / pack.name).symlink_to(pack, target_is_directory=True)
        folder_paths.folder_names_and_paths["custom_nodes"] = ([str(self.custom_nodes)], set())
        (self.models / "checkpoints").mkdir(parents=True, exist_ok=True)
        folder_paths.add_model_folder_path("checkpoints", str(self.models / "checkpoints"), is_default=True)
        for folder in (self.io_dir / "input", self.io_dir / "temp", self.output_dir):
            folder.mkdir(parents=True, exist_ok=True)
        folder_paths.set_input_directory(str(self.io_dir / "input"))
        folder_paths.set_output_directory(str(self.output_dir))
        folder_paths.set_temp_directory(str(self.io_dir / "temp"))
        asyncio.run(nodes.init_extra_nodes(init_custom_nodes=True, init_api_nodes=False))
        for node_id in ("BoomerangNoise", "PartialReverseSampler", "CascadeLoop", "UpscaleThenBoomerang"):
            if self.load_pack and node_id not in nodes.NODE_CLASS_MAPPINGS:
                raise RuntimeError(f"ComfyUI did not load node {node_id} from {self.custom_nodes}")
        self.nodes, self.execution = nodes, execution
        self.folder_paths = folder_paths
        self.boot_seconds = time.perf_counter() - start
        return self

    def _read_device(self):
        import comfy.model_management as mm

        self.device = str(mm.get_torch_device())
        self.device_name = mm.get_torch_device_name(mm.get_torch_device())
        wanted = self.requested_device
        if wanted is not None and not (self.device == wanted or (wanted == "cuda" and self.device.startswith("cuda"))):
            raise RuntimeError(f"ComfyUI already runs in this process on {self.device} ({self.device_name}); a process "
                               f"boots ComfyUI once, so device={wanted!r} needs a new process")
        log.info("ComfyUI computes on %s (%s)", self.device, self.device_name)

    def close(self):
        """Remove this runtime's temporary folders (custom_nodes links, and the io folder it made)."""
        tempdirs.remove(self.custom_nodes)
        tempdirs.remove(self.io_dir)  # only a folder made by tempdirs.make is removed

    def pack_module(self, name: str):
        """The module ComfyUI loaded for the extra pack folder ``name``."""
        return sys.modules[str(self.custom_nodes / name).replace(".", "_x_")]

    def validate(self, prompt: dict):
        prompt_id = str(uuid.uuid4())
        return prompt_id, asyncio.run(self.execution.validate_prompt(prompt_id, prompt, None))

    def _new_executor(self, server):
        """ComfyUI's PromptExecutor with the classic cache, built as the installed main.py builds it."""
        return new_executor(self.execution, server, self.root)

    def execute(self, prompt: dict, keep_cache: bool = False) -> dict:
        """Validate and execute an API-format graph; return ComfyUI's history entry and messages.

        With ``keep_cache`` the graph runs on one long-lived executor, as in a running ComfyUI: nodes whose
        inputs did not change since the last such call (loaders, text encoders) are not run again."""
        prompt_id, (ok, error, outputs, node_errors) = self.validate(prompt)
        if not ok:
            raise GraphError("ComfyUI rejected the graph", {"error": error, "node_errors": node_errors})
        server = _Server()
        if keep_cache:
            if self._executor is None:
                self._executor = self._new_executor(server)
            executor = self._executor
            executor.server = server
        else:
            executor = self._new_executor(server)
        executor.execute(prompt, prompt_id, {}, outputs)
        if not executor.success:
            errors = [m for m in executor.status_messages if m[0] in ("execution_error", "execution_interrupted")]
            raise GraphError("ComfyUI failed to execute the graph", errors)
        return {"history": executor.history_result, "messages": server.messages}
