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


def write_clip(path: Path, frames: int = 5, size: int = 32, fps: int = 8) -> Path:
    """A small mp4 (H.264) of moving colour ramps, ``frames`` frames of ``size`` px at ``fps``, written once."""
    import av
    import numpy as np

    path = Path(path)
    if path.is_file():
        return path
    ramp = np.linspace(0, 255, size)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            rgb = np.stack([np.broadcast_to(np.roll(ramp, 4 * i)[None, :], (size, size)),
                            np.broadcast_to(ramp[:, None], (size, size)), np.full((size, size), 40.0 * i)], -1)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb.astype(np.uint8), format="rgb24")))
        out.mux(stream.encode())
    return path
