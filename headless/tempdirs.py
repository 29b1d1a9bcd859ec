"""Temporary folders of a headless ComfyUI (its custom_nodes links, its input/output/temp folders) that never
outlive their process for long.

Each folder holds a ``.owner.lock`` file that its process keeps ``flock``-ed: removed at exit (``atexit``) or by
``remove()``; a folder whose process was killed (SIGKILL runs no cleanup) is removed by the next process that
makes one, because the kernel released the dead owner's lock, which proves the owner is gone."""
from __future__ import annotations

import atexit
import fcntl
import logging
import os
import shutil
import tempfile
from pathlib import Path

PREFIX = "boomerang-"
LOCK = ".owner.lock"
log = logging.getLogger("boomerang.headless")
_HELD: dict[Path, int] = {}  # folder -> descriptor holding its lock


def make(kind: str) -> Path:
    """A new folder ``<tmp>/boomerang-<kind>-<pid>-XXXX``, locked by this process and removed at its exit."""
    remove_stale()
    staging = Path(tempfile.mkdtemp(prefix=f".{PREFIX}{kind}-{os.getpid()}-"))  # locked before it gets its name
    fd = os.open(staging / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    folder = staging.with_name(staging.name[1:])
    os.rename(staging, folder)
    _HELD[folder] = fd
    if len(_HELD) == 1:
        atexit.register(remove_all)
    return folder


def remove(folder: Path) -> None:
    """Remove a folder made by ``make`` in this process (and release its lock)."""
    folder = Path(folder)
    fd = _HELD.pop(folder, None)
    if fd is None:
        return  # not ours: never removed
    shutil.rmtree(folder, ignore_errors=True)
    os.close(fd)


def remove_all() -> None:
    for folder in list(_HELD):
        remove(folder)


def remove_stale(parent: Path | None = None) -> list[Path]:
    """Remove the folders under ``parent`` (default: the system temp folder) that ``make`` made in processes
    that have ended; returns them. A folder without a lock file (not made by ``make``) is left alone."""
    parent = Path(parent or tempfile.gettempdir())
    removed = []
    for folder in parent.glob(f"{PREFIX}*"):
        lock = folder / LOCK
        if folder in _HELD or not lock.is_file():
            continue
        try:
            fd = os.open(lock, os.O_RDWR)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # its process is alive
        finally:
            os.close(fd)
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    if removed:
        log.info("removed %d temporary folder(s) of ended runs", len(removed))
    return removed
