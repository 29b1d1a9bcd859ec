"""The bundled photo: scikit-image's astronaut (public domain, NASA), taken from the installed package."""
from __future__ import annotations

from pathlib import Path


def write_photo(directory: Path, size: int = 64, name: str | None = None, height: int | None = None) -> str:
    """Write the photo, resized to ``size`` x ``height`` (default square), as PNG into ``directory``."""
    from PIL import Image
    from skimage import data

    height = height or size
    name = name or f"astronaut_{size}x{height}.png"
    path = Path(directory) / name
    if not path.is_file():
        Image.fromarray(data.astronaut()).resize((size, height), Image.Resampling.LANCZOS).save(path)
    return name
