"""The job's manifest: SQLite in WAL mode inside the output folder, the single source of truth of what is done.

One row per output item (input path, copy index): state (pending, done, failed), the hash of the job's
parameters, the input file's hash (with its size and mtime, so unchanged files are not hashed again), the
seed, the output path, the failure reason and the device that made (or failed) it. An item is marked done only
after its file was renamed into place, so a crash at any moment leaves at most an item that is redone (to the same
bytes) on the next run.
"""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path

FILENAME = "boomerang-manifest.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    rel TEXT NOT NULL, copy INTEGER NOT NULL, state TEXT NOT NULL, params_hash TEXT NOT NULL,
    input_hash TEXT NOT NULL, input_size INTEGER, input_mtime_ns INTEGER, seed TEXT NOT NULL,
    output TEXT NOT NULL, error TEXT, attempts INTEGER NOT NULL DEFAULT 0, updated REAL, device TEXT,
    PRIMARY KEY (rel, copy));
CREATE TABLE IF NOT EXISTS job (key TEXT PRIMARY KEY, value TEXT);
"""


class Manifest:
    def __init__(self, output_dir: Path):
        self.path = Path(output_dir) / FILENAME
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=60)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self._migrate()

    def _migrate(self):
        """Manifests written before the device was recorded gain its column (NULL for their items)."""
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(items)")}
        if "device" not in columns:
            with self.db:
                self.db.execute("ALTER TABLE items ADD COLUMN device TEXT")

    def close(self):
        self.db.close()

    def set_job(self, **values):
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO job VALUES (?, ?)", [(k, str(v)) for k, v in values.items()])

    def rows(self) -> dict:
        """{(rel, copy): row dict} of every item."""
        cur = self.db.execute("SELECT * FROM items")
        names = [d[0] for d in cur.description]
        return {(r[0], r[1]): dict(zip(names, r)) for r in cur.fetchall()}

    def stat_hashes(self) -> dict:
        """{rel: (size, mtime_ns, input_hash)} of every input seen before."""
        out = {}
        for rel, size, mtime, h in self.db.execute("SELECT rel, input_size, input_mtime_ns, input_hash FROM items"):
            out[rel] = (size, mtime, h)
        return out

    def outputs(self) -> set[str]:
        """The relative output paths of every item ever planned here (the files a job of this folder made)."""
        return {row[0] for row in self.db.execute("SELECT output FROM items")}

    def plan(self, entries: list[dict]):
        """Upsert items to do as pending: each entry has rel, copy, params_hash, input_hash, input_size,
        input_mtime_ns, seed, output."""
        now = time.time()
        with self.db:
            self.db.executemany(
                "INSERT INTO items (rel, copy, state, params_hash, input_hash, input_size, input_mtime_ns, seed, "
                "output, error, updated) VALUES (:rel, :copy, 'pending', :params_hash, :input_hash, :input_size, "
                ":input_mtime_ns, :seed, :output, NULL, :now) ON CONFLICT (rel, copy) DO UPDATE SET "
                "state='pending', params_hash=excluded.params_hash, input_hash=excluded.input_hash, "
                "input_size=excluded.input_size, input_mtime_ns=excluded.input_mtime_ns, seed=excluded.seed, "
                "output=excluded.output, error=NULL, updated=excluded.updated",
                [{**e, "seed": str(e["seed"]), "now": now} for e in entries])

    def finish(self, done: list[tuple[str, int]], failed: list[tuple[str, int, str]], device: str | None = None):
        """Mark a batch's items done (their files are in place) or failed (with the reason), in one transaction;
        ``device``: where the batch ran (None: it never reached a worker, e.g. an unreadable input)."""
        now = time.time()
        with self.db:
            self.db.executemany("UPDATE items SET state='done', error=NULL, attempts=attempts+1, updated=?, device=? "
                                "WHERE rel=? AND copy=?", [(now, device, rel, copy) for rel, copy in done])
            self.db.executemany("UPDATE items SET state='failed', error=?, attempts=attempts+1, updated=?, device=? "
                                "WHERE rel=? AND copy=?", [(err, now, device, rel, copy) for rel, copy, err in failed])

    def counts(self) -> dict:
        return dict(self.db.execute("SELECT state, COUNT(*) FROM items GROUP BY state").fetchall())

    def failures(self) -> list[tuple[str, int, str]]:
        return self.db.execute("SELECT rel, copy, error FROM items WHERE state='failed' ORDER BY rel, copy").fetchall()
