"""Shared by the dataset-job tests: digit images on disk, the spec'd seed formula, manifest rows, outputs."""
from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np
from PIL import Image

from headless import digits_data

REPO = Path(__file__).resolve().parent.parent


def write_digits(folder: Path, count: int, offset: int = 0, subfolders: int = 3) -> list[str]:
    """``count`` held-out digits as 16x16 RGB PNGs in ``subfolders`` class folders; their relative paths."""
    images, labels = digits_data.load("held_out")
    rels = []
    for i in range(offset, offset + count):
        rel = f"part{i % subfolders}/digit_{int(labels[i])}_{i:03d}.png"
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        pixels = (images[i].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        Image.fromarray(pixels).save(folder / rel)
        rels.append(rel)
    return sorted(rels)


def spec_seed(base: int, rel: str, copy: int) -> int:
    """The seed formula the README documents: the first 8 bytes of a SHA-256, big-endian, shifted to 63 bits."""
    digest = hashlib.sha256(f"boomerang-dataset\0{base}\0{rel}\0{copy}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def manifest_rows(out: Path) -> dict:
    db = sqlite3.connect(out / "boomerang-manifest.sqlite")
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        cur = db.execute("SELECT rel, copy, state, seed, output, input_hash, error, attempts FROM items")
        names = [d[0] for d in cur.description]
        return {(r[0], r[1]): dict(zip(names, r)) for r in cur.fetchall()}
    finally:
        db.close()


def done_count(out: Path) -> int:
    """Items marked done in a job's manifest so far, read while the job runs (0 before the manifest exists)."""
    try:
        db = sqlite3.connect(out / "boomerang-manifest.sqlite", timeout=30)
        try:
            return db.execute("SELECT COUNT(*) FROM items WHERE state='done'").fetchone()[0]
        finally:
            db.close()
    except sqlite3.OperationalError:  # not created yet
        return 0


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def output_files(out: Path) -> dict:
    """{relative path: pixels} of every file under ``out`` except the manifest."""
    files = {}
    for p in sorted(out.rglob("*")):
        if p.is_file() and not p.name.startswith("boomerang-manifest.sqlite"):
            files[p.relative_to(out).as_posix()] = pixels(p) if p.suffix == ".png" else None
    return files


def one_thread():
    """A context manager: torch on one thread (far faster than two on cores shared with other jobs)."""
    import contextlib

    import torch

    @contextlib.contextmanager
    def manager():
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    return manager()
