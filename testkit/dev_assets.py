"""Test and benchmark assets made on this machine: the tiny SD1.5 checkpoint and the bundled photo."""
from __future__ import annotations

from pathlib import Path


def tiny_checkpoint(rt, x4_vae: bool = False) -> str:
    """File name (for CheckpointLoaderSimple) of the tiny SD1.5 checkpoint, generated once per machine into
    the models folder of the booted runtime ``rt``."""
    from . import tiny_checkpoint as tiny  # imports ComfyUI's comfy package: only after rt booted

    return tiny.ensure(rt.models / "checkpoints", x4_vae=x4_vae).name


def write_photo(directory: Path, width: int = 64, height: int | None = None) -> str:
    """The bundled photo: scikit-image's astronaut (public domain, NASA), resized, written as PNG; its name."""
    from PIL import Image
    from skimage import data

    height = height or width
    path = Path(directory) / f"astronaut_{width}x{height}.png"
    if not path.is_file():
        Image.fromarray(data.astronaut()).resize((width, height), Image.Resampling.LANCZOS).save(path)
    return path.name
