"""Where a headless ComfyUI computes: ComfyUI's own choice by default, or a device the user asks for.

``device`` is None (ComfyUI's own choice: CUDA, ROCm, MPS, XPU, else CPU, as its ``model_management``
decides), ``"cpu"`` (ComfyUI boots with ``--cpu``), ``"cuda"`` or ``"cuda:N"`` (a CUDA/ROCm device must exist;
``cuda:N`` also selects GPU N). Every command of the pack takes ``--cpu`` and ``--device`` through
``add_device_arguments``; a request for a GPU on a machine without one is an error naming the option and what
torch found there.
"""
from __future__ import annotations

import re

from boomerang.checks import BoomerangInputError

ALLOWED = "'cpu', 'cuda' or 'cuda:N' (or nothing: ComfyUI's own choice)"
_CUDA = re.compile(r"^cuda(?::(\d+))?$")


def parse_device(device, option: str = "device") -> tuple[str | None, int | None]:
    """(kind, index) of a device request: (None, None), ("cpu", None), ("cuda", None) or ("cuda", N).
    Checks the spelling only (no torch import)."""
    if device is None:
        return None, None
    text = device.strip().lower() if isinstance(device, str) else None
    if text == "cpu":
        return "cpu", None
    match = _CUDA.match(text or "")
    if match is None:
        raise BoomerangInputError(option, ALLOWED, device)
    return "cuda", (int(match.group(1)) if match.group(1) is not None else None)


def check_device(device, option: str = "device") -> str | None:
    """The request, normalised (None, 'cpu', 'cuda', 'cuda:N'); a CUDA request must find that device here."""
    kind, index = parse_device(device, option)
    if kind != "cuda":
        return kind
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise BoomerangInputError(option, ALLOWED, device,
                                  f"torch finds no CUDA device here (torch {torch.__version__})")
    if index is not None and index >= count:
        raise BoomerangInputError(option, ALLOWED, device, f"torch finds {count} CUDA device(s), cuda:0 to "
                                  f"cuda:{count - 1} (torch {torch.__version__})")
    return "cuda" if index is None else f"cuda:{index}"


def has_accelerator() -> bool:
    """Whether torch sees a device ComfyUI's ``get_torch_device`` would pick over the CPU (CUDA or ROCm, MPS,
    XPU, NPU, MLU). ComfyUI started without ``--cpu`` on a machine with none of them stops at import time
    (a CUDA build of torch without a driver), so the runtime's default falls back to the CPU there."""
    import torch

    if torch.cuda.is_available():
        return True
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return True
    for name in ("xpu", "npu", "mlu"):
        backend = getattr(torch, name, None)
        if backend is not None and callable(getattr(backend, "is_available", None)) and backend.is_available():
            return True
    return False


def comfy_arguments(device: str | None) -> list[str]:
    """ComfyUI's command-line arguments for a checked request (``check_device``'s result). No request: ComfyUI's
    own choice, which is the CPU (``--cpu``) where torch sees no accelerator."""
    kind, index = parse_device(device)
    if kind == "cpu" or (kind is None and not has_accelerator()):
        return ["--cpu"]
    if index is not None:
        return ["--cuda-device", str(index)]
    return []


def select_cuda_index(device: str | None) -> None:
    """In-process equivalent of main.py's ``--cuda-device N`` (which hides the other GPUs through
    CUDA_VISIBLE_DEVICES before torch starts, a thing only a fresh process can do): make N torch's current
    device, which ComfyUI's ``get_torch_device`` returns."""
    kind, index = parse_device(device)
    if kind == "cuda" and index is not None:
        import torch

        torch.cuda.set_device(index)


def add_device_arguments(parser) -> None:
    """``--cpu`` and ``--device`` for a command's argparse parser (read back with ``device_from_args``)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--cpu", action="store_true", help="compute on the CPU even where a GPU is available")
    group.add_argument("--device", default=None, metavar="DEVICE",
                       help="cpu, cuda or cuda:N (default: ComfyUI's own choice: CUDA, ROCm, MPS, XPU, else CPU)")


def device_from_args(args) -> str | None:
    """The device request of parsed ``add_device_arguments`` options (spelling checked, error names --device)."""
    if args.cpu:
        return "cpu"
    parse_device(args.device, "--device")
    return args.device
