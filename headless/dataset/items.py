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
    path: Path | None = None  # the input file


def _walk(folder: Path) -> list[Path]:
    """Image files under ``folder``, following symlinked folders (a link back into a folder already walked, a
    loop, is logged and skipped; a broken link is logged)."""
    files, seen = [], set()
    for current, dirs, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(current)
        if real in seen:
            log.warning("%s: a symlink loop (it leads back to %s); not walked again", current, real)
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        for name in names:
            path = Path(current) / name
            if path.suffix.lower() not in EXTENSIONS:
                continue
            if path.is_file():
                files.append(path)
            elif path.is_symlink():
                log.warning("%s: a broken symlink; skipped", path)
    return files


def discover(inputs, root=None) -> list[Source]:
    """The input images, each with its key ``rel``: the path relative to one stated root.

    A folder (recursive; png/jpg/jpeg/webp; symlinked folders are followed): ``rel`` is the path under the
    folder as walked. A list file (one path a line; relative paths are relative to the list file): every
    line is resolved (``..`` and symlinks, as the file system does) and ``rel`` is the resolved path relative
    to ``root`` (default: the list file's folder); a line outside the root is a ValueError that names it.
    Lines naming the same file (``a.png``, ``./a.png``) are one input. Sorted by ``rel``."""
    given = Path(inputs).expanduser()
    if given.is_dir():
        if root is not None:
            raise ValueError(f"--root applies to list files only; received --root {root} with the folder {given}")
        sources = [Source(PurePosixPath(*p.relative_to(given).parts).as_posix(), p) for p in _walk(given)]
    elif given.is_file():
        base = Path(os.path.realpath(Path(root).expanduser() if root is not None else given.parent))
        if not base.is_dir():
            raise ValueError(f"--root must be an existing folder; received {root}")
        sources, lines = [], {}
        for n, line in enumerate(given.read_text().splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            path = Path(line).expanduser()
            real = Path(os.path.realpath(path if path.is_absolute() else given.parent / path))
            if base != real and base not in real.parents:
                raise ValueError(f"every input of a list file must be inside its root {base} (the list file's "
                                 f"folder unless --root is given); line {n} of {given}, {line!r}, is {real}: "
                                 f"pass --root with a folder that holds every input")
            if real in lines:
                continue  # the same file named twice: one input
            lines[real] = n
            sources.append(Source(PurePosixPath(*real.relative_to(base).parts).as_posix(), real))
    else:
        raise ValueError(f"input must be an existing folder of images or a list file; received {inputs}")
    sources.sort(key=lambda s: s.rel)
    return sources


def check_outputs(sources: list[Source], copies: int) -> None:
    """A ValueError naming both inputs when two of them would be written to the same output path."""
    owners: dict[str, str] = {}
    for src in sources:
        for copy in range(copies):
            out = output_path(src.rel, copy, copies)
            if out in owners and owners[out] != src.rel:
                raise ValueError(f"two inputs would be written to the same output {out}: {owners[out]} and "
                                 f"{src.rel}; rename one of them (outputs are PNG files named after the input)")
            owners[out] = src.rel


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
