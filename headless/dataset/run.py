"""The driver of a dataset job: plan from the manifest, feed batches to a worker (here) or to Ray actors,
write each output atomically, then record it. ``run_job`` is the Python API; ``python -m headless dataset``
is its command line."""
from __future__ import annotations

import logging
import os
import re
import signal
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from pathlib import Path

from .items import BadImage, Item, check_outputs, discover, file_hash, item_seed, load_pixels, output_path
from .lock import JobLock
from .manifest import FILENAME as MANIFEST_FILENAME
from .manifest import Manifest

log = logging.getLogger("boomerang.dataset")
TMP_SUFFIX = ".boomerang-tmp"
TMP_NAME = re.compile(r"^\..+\.\d+(-[0-9a-f]{8})?" + re.escape(TMP_SUFFIX) + "$")  # write_atomic's names
ERROR_LOG = "boomerang-errors.log"  # the full error of every failed item, beside the manifest
MAX_LOSSES = 3  # a batch whose worker died this often fails (an input that crashes the worker)


@dataclass
class JobResult:
    output: Path
    total: int = 0  # items of the job (inputs x copies)
    done_now: int = 0  # made by this run
    skipped: int = 0  # already done with the same input and parameters
    failed: list = field(default_factory=list)  # (rel, copy, reason) of every failed item
    interrupted: bool = False
    seconds: float = 0.0
    batches_lost: int = 0  # Ray batches whose worker died; their items were redone
    copies: int = 1
    devices: set = field(default_factory=set)  # the torch devices the items of this run were made on
    error_log: Path | None = None  # the file with the full errors of this run's failed items, if any

    @property
    def exit_code(self) -> int:
        return 130 if self.interrupted else (1 if self.failed else 0)


class LocalExecutor:
    """Runs each batch in this process, on one Worker."""

    def __init__(self, worker):
        self.worker, self.queue = worker, deque()

    def free(self) -> bool:
        return not self.queue

    def busy(self) -> bool:
        return bool(self.queue)

    def submit(self, batch):
        self.queue.append(batch)

    def wait(self):
        batch = self.queue.popleft()
        return [(batch, self.worker.run(batch))]

    def close(self):
        self.worker.close()  # its temporary folders (none when it runs on a runtime it was given)


def write_atomic(path: Path, data: bytes, job_id: str | None = None):
    """Write ``data`` to ``path`` through a temporary name of this job (``job_id``) in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{job_id or os.getpid()}{TMP_SUFFIX}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def check_inputs_untouched(sources, inputs: Path, out: Path, copies: int):
    """A ValueError naming both paths when any file the job writes (an output, the manifest, the lock, the error
    log) would be an input file (or the list file), real paths compared (symlinks and ``..`` resolved)."""
    real_inputs = {Path(os.path.realpath(s.path)): s.path for s in sources}
    if inputs.is_file():
        real_inputs[Path(os.path.realpath(inputs))] = inputs
    job_files = [(name, out / name) for name in (MANIFEST_FILENAME, ERROR_LOG)]
    for src in sources:
        job_files += [(src.rel, out / output_path(src.rel, c, copies)) for c in range(copies)]
    for _what, path in job_files:
        real = Path(os.path.realpath(path))
        if real in real_inputs:
            raise ValueError(f"the job would write {path}, which is the input {real_inputs[real]}; inputs are never "
                             f"replaced: choose an --output folder that holds no input")


def check_foreign(sources, out: Path, manifest: Manifest, copies: int):
    """A ValueError when an output path holds a file no job of this folder made (none of the manifest's outputs):
    the job never replaces a file it did not create."""
    ours = manifest.outputs()
    for src in sources:
        for c in range(copies):
            rel = output_path(src.rel, c, copies)
            if rel not in ours and os.path.lexists(out / rel):
                raise ValueError(f"the output {out / rel} (for the input {src.path}) already exists and was not made "
                                 f"by a job in this folder; the job never replaces such a file: move it away or "
                                 f"choose another --output")


def plan(spec, sources, out: Path, manifest: Manifest, retry_failed: bool, result: JobResult) -> list[Item]:
    """The items to make now; records them as pending. Done items with the same input and parameters are
    skipped; failed ones too unless ``retry_failed``."""
    params = spec.params_hash()
    rows, known = manifest.rows(), manifest.stat_hashes()
    todo, entries = [], []
    for src in sources:
        try:
            st = src.path.stat()
            prev = known.get(src.rel)
            same = prev is not None and prev[0] == st.st_size and prev[1] == st.st_mtime_ns
            ihash = prev[2] if same else file_hash(src.path)
        except OSError as err:
            st, ihash = None, f"unreadable: {err}"
        for copy in range(spec.copies):
            item = Item(src.rel, copy, item_seed(spec.seed, src.rel, copy), output_path(src.rel, copy, spec.copies),
                        ihash, src.path)
            result.total += 1
            row = rows.get((src.rel, copy))
            unchanged = row is not None and row["params_hash"] == params and row["input_hash"] == ihash
            if unchanged and row["state"] == "done" and (out / row["output"]).is_file():
                result.skipped += 1
                continue
            if unchanged and row["state"] == "failed" and not retry_failed:
                result.failed.append((src.rel, copy, row["error"]))
                continue
            todo.append(item)
            entries.append({"rel": src.rel, "copy": copy, "params_hash": params, "input_hash": ihash,
                            "input_size": st.st_size if st else None, "input_mtime_ns": st.st_mtime_ns if st else None,
                            "seed": item.seed, "output": item.output})
    manifest.plan(entries)
    return todo


def batches(items: list[Item], size: int, max_pixels: int, failures: list):
    """Batches of items of equal image size, in input order as far as sizes allow; unusable inputs go to
    ``failures`` as (item, reason). Memory holds at most one open batch per image size."""
    open_batches: OrderedDict = OrderedDict()
    cache = (None, None)
    for item in items:
        if cache[0] != item.rel:
            try:
                pixels, note = load_pixels(item.path, max_pixels)
                if note:
                    log.info("%s: %s", item.rel, note)
                cache = (item.rel, pixels)
            except BadImage as err:
                cache = (item.rel, err)
        if isinstance(cache[1], BadImage):
            failures.append((item, str(cache[1])))
            continue
        shape = cache[1].shape
        bucket = open_batches.setdefault(shape, [])
        bucket.append({"rel": item.rel, "copy": item.copy, "seed": item.seed, "pixels": cache[1]})
        if len(bucket) == size:
            yield open_batches.pop(shape)
    yield from open_batches.values()


class _Stop:
    """SIGINT handler: the first Ctrl-C stops after the current batch, the second aborts."""

    def __init__(self):
        self.requested = False
        self.previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        log.warning("stopping after the current batch (Ctrl-C again to abort); run the same command to resume")

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def run_job(spec, inputs, output, *, root=None, runtime=None, ray=None, workers=None, retry_failed: bool = False,
            progress: bool = True, on_commit=None, device: str | None = None) -> JobResult:
    """Run ``spec`` over the images of ``inputs`` (folder or list file) into ``output``; resumable.

    root: the folder a list file's inputs are keyed relative to (default: the list file's folder); runtime: a
    booted ``headless.ComfyRuntime`` to reuse (local runs; its device is used); ray: None for this process, True
    for a new local Ray cluster or an address ("auto", "ray://host:10001", "host:6379"); workers: Ray actors
    (default: one per GPU, else one per CPU). device: None (default) computes where ComfyUI itself would (a GPU
    if there is one; on Ray, the GPU Ray gives each actor), "cpu" forces the CPU, "cuda" or "cuda:N" requires a
    GPU (a ValueError naming ``device`` if there is none). The device is not part of the job's parameters (a job
    resumed elsewhere keeps its done items); each item's device is in the manifest and its PNG's ``device`` text.
    on_commit(result, executor) is called after each batch is recorded. Returns a JobResult; nothing is raised
    for bad images (they are listed in ``failed``). A ValueError, before anything is written, when an input would
    be replaced, two inputs share an output, or another job holds the output folder."""
    from ..device import check_device, parse_device

    if ray is None or ray is False:
        device = check_device(device) if runtime is None else device
    else:
        parse_device(device)  # the cluster's GPUs are counted when it is joined
    start = time.perf_counter()
    out = Path(output).expanduser().resolve()
    src_root = Path(inputs).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise ValueError(f"--output must be a folder; received {out}, an existing file")
    if src_root.is_dir() and (out == src_root or src_root in out.parents):
        raise ValueError(f"--output must be outside the input folder {src_root}; received {out}")
    sources = discover(src_root, root)
    check_outputs(sources, spec.copies)
    check_inputs_untouched(sources, src_root, out, spec.copies)
    out.mkdir(parents=True, exist_ok=True)
    lock = JobLock(out).acquire()
    try:
        for stale in out.rglob(f"*{TMP_SUFFIX}"):
            if TMP_NAME.match(stale.name) and lock.job_id not in stale.name and stale.is_file():
                stale.unlink()  # a file of a job that ended unfinished (the lock proves it); its item is pending
        manifest = Manifest(out)
        result = JobResult(out, copies=spec.copies)
        try:
            manifest.set_job(holder=lock.holder())
            check_foreign(sources, out, manifest, spec.copies)
            manifest.set_job(params_hash=spec.params_hash(), inputs=src_root, spec=repr(spec))
            todo = plan(spec, sources, out, manifest, retry_failed, result)
            log.info("%d item(s): %d to do, %d already done, %d failed before", result.total, len(todo),
                     result.skipped, len(result.failed))
            if todo:
                _execute(spec, todo, out, manifest, result, runtime, ray, workers, progress, on_commit, device,
                         lock.job_id)
        finally:
            manifest.close()
    finally:
        lock.release()
    result.seconds = time.perf_counter() - start
    return result


def _execute(spec, todo, out, manifest, result, runtime, ray, workers, progress, on_commit, device, job_id):
    if ray is None or ray is False:
        from .worker import Worker

        worker = Worker(spec, runtime, device)
        log.info("job: %s", worker.describe())
        executor = LocalExecutor(worker)
    else:
        from .ray_pool import RayExecutor

        executor = RayExecutor(spec, ray, workers, device)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc="dataset", unit="item", mininterval=0.5, smoothing=0.1)
    failures: list = []
    retry: deque = deque()
    stream = batches(todo, spec.batch, spec.max_pixels, failures)

    def record_failures():
        if failures:
            manifest.finish([], [(i.rel, i.copy, reason) for i, reason in failures])
            result.failed.extend((i.rel, i.copy, reason) for i, reason in failures)
            if bar is not None:
                bar.update(len(failures))
            failures.clear()

    try:
        with _Stop() as stop:
            exhausted = False
            while True:
                while executor.free() and not stop.requested and (retry or not exhausted):
                    batch = retry.popleft() if retry else next(stream, None)
                    record_failures()
                    if batch is None:
                        exhausted = True
                        break
                    executor.submit(batch)
                if not executor.busy():
                    break
                for batch, results in executor.wait():
                    if results is None:  # the worker died: its items go out again, at most MAX_LOSSES times
                        result.batches_lost += 1
                        for it in batch:
                            it["lost"] = it.get("lost", 0) + 1
                        if batch[0]["lost"] < MAX_LOSSES:
                            retry.append(batch)
                            continue
                        results = [{"rel": it["rel"], "copy": it["copy"], "error": f"its worker died {MAX_LOSSES} "
                                    "times while making it"} for it in batch]
                    _commit(out, manifest, result, results, job_id)
                    if bar is not None:
                        bar.update(len(results))
                    if on_commit is not None:
                        on_commit(result, executor)
            record_failures()
            result.interrupted = stop.requested and (bool(retry) or not exhausted)
    finally:
        executor.close()
        if bar is not None:
            bar.close()


def _commit(out: Path, manifest: Manifest, result: JobResult, results: list[dict], job_id: str | None = None):
    """Files first (temporary name, rename), then the manifest, in one transaction per batch. Failure reasons are
    one line; the full errors are appended to the error log beside the manifest."""
    done, failed, reports = [], [], []
    device = next((r["device"] for r in results if r.get("device")), None)  # one batch, one worker
    if device is not None:
        result.devices.add(device)
    for r in results:
        if "png" in r:
            write_atomic(out / output_path(r["rel"], r["copy"], result.copies), r["png"], job_id)
            done.append((r["rel"], r["copy"]))
        else:
            failed.append((r["rel"], r["copy"], r["error"]))
            if r.get("report"):
                reports.append(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} {r['rel']} (copy {r['copy']}): "
                               f"{r['error']}\n{r['report'].rstrip()}\n")
    if reports:
        result.error_log = out / ERROR_LOG
        with open(result.error_log, "a", encoding="utf-8") as f:
            f.write("\n".join(reports) + "\n")
    manifest.finish(done, failed, device)
    result.done_now += len(done)
    result.failed.extend(failed)
