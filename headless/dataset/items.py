"""What a dataset job works on: the input files, their items (one per output), seeds, and checked pixels.

Standard library, numpy and Pillow only (no ComfyUI), so the driver of a Ray job needs no ComfyUI."""
from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

log = logging.getLogger("boomerang.dataset")

EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
MAX_SEED = (1 << 63) - 1


@dataclass(frozen=True)
class Source:
    rel: str  # relative path, POSIX separators: the identity of the input in seeds, outputs and the manifest
    path: Path


@dataclass
class Item:
    rel: str
    copy: int
    seed: int
    output: str  # relative output path
    input_hash: str = ""
    pixels: object = None  # HxWx3 uint8 numpy array once loaded


def discover(inputs) -> list[Source]:
    """The input images: a folder (recursive; png/jpg/jpeg/webp; sorted) or a text file with one path a line
    (relative paths are relative to the list file; the relative path of an item is then the path as listed)."""
    root = Path(inputs).expanduser()
    if root.is_dir():
        files = [p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in EXTENSIONS]
        sources = [Source(PurePosixPath(*p.relative_to(root).parts).as_posix(), p) for p in files]
    elif root.is_file():
        sources = []
        for n, line in enumerate(root.read_text().splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            path = Path(line).expanduser()
            full = path if path.is_absolute() else root.parent / path
            rel = PurePosixPath(*[p for p in path.parts if p not in ("/", "..", ".")]).as_posix()
            sources.append(Source(rel, full))
    else:
        raise ValueError(f"input must be an existing folder of images or a list file; received {inputs}")
    sources.sort(key=lambda s: s.rel)
    seen = set()
    unique = []
    for s in sources:
        if s.rel not in seen:
            seen.add(s.rel)
            unique.append(s)
    return unique


def item_seed(base_seed: int, rel: str, copy: int) -> int:
    """The seed of output ``copy`` of input ``rel``: a stable 63-bit hash of (base seed, path, copy), so it
    depends on nothing else (not the order, the batch or the worker)."""
    digest = hashlib.sha256(f"boomerang-dataset\0{int(base_seed)}\0{rel}\0{int(copy)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def output_path(rel: str, copy: int, copies: int) -> str:
    """``a/b.jpg`` -> ``a/b.png``, or ``a/b_c02.png`` for copy 2 when a job makes several copies per input."""
    p = PurePosixPath(rel)
    stem = p.stem if copies == 1 else f"{p.stem}_c{copy:02d}"
    return p.with_name(stem + ".png").as_posix()


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class BadImage(Exception):
    """An input that cannot be used; the message is the reason recorded in the manifest."""


def load_pixels(path: Path, max_pixels: int):
    """(HxWx3 uint8 array, conversion note or None) or BadImage: the checks and conversions of a job's input.

    Convertible modes (grey, palette, alpha, CMYK, 16-bit) become 8-bit RGB as ComfyUI's LoadImage would
    (EXIF orientation applied, alpha dropped); the note says what was done."""
    import numpy as np
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        size = os.path.getsize(path)
    except OSError as err:
        raise BadImage(f"cannot read: {err}") from None
    if size == 0:
        raise BadImage("empty file (0 bytes)")
    try:
        with Image.open(path) as img:
            width, height = img.size
            if width * height > max_pixels:
                raise BadImage(f"{width} x {height} = {width * height} pixels is above --max-pixels {max_pixels}")
            frames = getattr(img, "n_frames", 1)
            img.load()
            img = ImageOps.exif_transpose(img)
            mode = img.mode
            notes = [f"first of {frames} frames"] if frames > 1 else []
            if mode == "RGB":
                arr = np.asarray(img, dtype=np.uint8)
            elif mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
                wide = np.asarray(img).astype(np.int64)
                if mode == "I" and wide.max(initial=0) <= 255:
                    grey = np.clip(wide, 0, 255).astype(np.uint8)
                else:
                    grey = np.round(np.clip(wide, 0, 65535) / 257.0).astype(np.uint8)
                    notes.append("16-bit to 8-bit")
                arr = np.repeat(grey[..., None], 3, axis=2)
            elif mode in ("L", "P", "1", "RGBA", "LA", "PA", "RGBa", "La", "CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
                if "A" in mode or "a" in mode or (mode == "P" and "transparency" in img.info):
                    notes.append("alpha dropped")
                arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
            else:
                raise BadImage(f"unsupported image mode {mode}")
    except BadImage:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise BadImage(f"unreadable or corrupt image: {err}") from None
    note = f"converted {mode} to RGB" + (f" ({', '.join(notes)})" if notes else "") if mode != "RGB" or notes else None
    return np.ascontiguousarray(arr), note
