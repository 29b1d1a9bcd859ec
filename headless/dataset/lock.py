"""One job per output folder: an exclusive ``flock`` on the folder's manifest file, held for the job's life. The
kernel releases it when the process ends in any way (SIGKILL included), so a killed job never blocks its resume.
The holder's pid, host and start time are in the manifest's job table (key ``holder``) for the refusal message.
(``flock`` and SQLite's own POSIX byte-range locks do not interact on local file systems.)"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import sqlite3
import time
import uuid
from pathlib import Path

from .manifest import FILENAME


class JobLocked(ValueError):
    """Another job holds the output folder; the message names its pid, host and start time."""


class JobLock:
    def __init__(self, output_dir: Path):
        self.path = Path(output_dir) / FILENAME
        self.job_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"  # in this job's temporary file names
        self.fd = None

    def acquire(self) -> JobLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._holder()
            os.close(fd)
            raise JobLocked(f"another job is running on the output folder {self.path.parent}: {holder}; wait for it "
                            f"to finish (or stop it), or choose another --output") from None
        self.fd = fd
        return self

    def holder(self) -> str:
        """This job as the manifest records it (``Manifest.set_job(holder=...)``)."""
        return json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                           "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "job": self.job_id})

    def _holder(self) -> str:
        try:
            db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
            try:
                info = json.loads(db.execute("SELECT value FROM job WHERE key='holder'").fetchone()[0])
            finally:
                db.close()
            return f"pid {info['pid']} on host {info['host']}, started {info['started']}"
        except (sqlite3.Error, TypeError, ValueError, KeyError):
            return "a job that has not yet recorded its pid, host and start time"

    def release(self):
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor releases the lock; the file stays (no unlink race)
            self.fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
