"""The dataset-job side of the paper-results bench (paper/bench_paper.py): the training split as PNGs,
the run's jobs (``headless.dataset.run_job``, presets anonymize and augment), their split over shard
processes, and reading their outputs back. Bench code only."""
from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np

from headless import digits_data
from headless.dataset import JobSpec, output_path, run_job

log = logging.getLogger("boomerang.paper")

FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)  # t_boom / T of the privacy-utility curve
AUG_FRACTIONS = (0.1, 0.2, 0.3)
FAST = {"sampler": "dpmpp_3m_sde", "scheduler": "karras", "steps": 20}  # docs/BENCHMARKS.md's fast setting
EXACT = {"sampler": "boomerang_exact"}  # the paper's Algorithm 1: t_boom model calls
JOB_SEED = 2024  # base seed of every job (each item's seed hashes it with the file's path and copy index)
DRAW_SEED = 7  # few-shot draws


def load_data(work: Path) -> dict:
    src = work / "src"
    rels, x, y = write_split(src)
    test_images, test_y = digits_data.load("held_out")
    return {"src": src, "rels": rels, "x": x, "y": y, "test_x": grey(test_images), "test_y": test_y}



# --------------------------------------------------------------------------------------------- data on disk
def grey(images) -> np.ndarray:
    """[N, 3, 16, 16] torch images in 0..1 -> [N, 16, 16] grey as an 8-bit PNG stores it, in 0..1."""
    return np.round(images.float().mean(dim=1).numpy() * 255.0) / 255.0


def write_split(src: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The model card's training split as 16x16 RGB PNGs src/train/c<label>/<index>.png (kept if present);
    (relative paths, grey images, labels) in split order."""
    from PIL import Image

    images, labels = digits_data.load("train")
    rels = []
    for i, (image, label) in enumerate(zip(images, labels)):
        rel = f"train/c{int(label)}/{i:04d}.png"
        path = src / rel
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            pixels = (image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
            Image.fromarray(pixels).save(path)
        rels.append(rel)
    return rels, grey(images), labels


def list_file(src: Path, name: str, rels: list[str]) -> Path:
    """A job's input as a list file of paths relative to ``src`` (so every job names an image alike)."""
    path = src / f"{name}.txt"
    text = "\n".join(rels) + "\n"
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
    return path


def read_grey(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"), dtype=np.float64).mean(axis=-1) / 255.0


def stratified(labels: np.ndarray, count: int, seed: int) -> np.ndarray:
    """``count`` indices spread evenly over the classes (sorted), drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    per = [count // len(classes) + (c < count % len(classes)) for c in range(len(classes))]
    picked = [rng.choice(np.flatnonzero(labels == c), per[k], replace=False) for k, c in enumerate(classes)]
    return np.sort(np.concatenate(picked))


def draws(labels: np.ndarray, shots: tuple, count: int) -> list[dict]:
    """Few-shot training sets: for draw d, a random order of each class's images; set n takes the first n of
    each class (so the sets of one draw are nested). [{n: sorted indices}] per draw."""
    out = []
    for d in range(count):
        rng = np.random.default_rng([DRAW_SEED, d])
        orders = [rng.permutation(np.flatnonzero(labels == c)) for c in range(10)]
        out.append({n: np.sort(np.concatenate([o[:n] for o in orders])) for n in shots})
    return out


# ----------------------------------------------------------------------------------------- dataset jobs
def job_spec(preset: str, t_boom: int, sampler: dict, batch: int, copies: int = 1) -> JobSpec:
    kwargs = dict(preset=preset, t_boom=t_boom, copies=copies, seed=JOB_SEED + (preset == "augment"), batch=batch,
                  **sampler)
    # Batched model calls: outputs may then differ by a grey level between batch sizes, which changes no
    # statistic here and is several times faster than calling the model per item. (The dataset jobs of a
    # later issue-11 revision call the model per item unless told so; this keeps both revisions fast.)
    if "exact_batches" in JobSpec.__dataclass_fields__:
        kwargs["exact_batches"] = False
    return JobSpec(**kwargs)


class Jobs:
    """Runs and reads the bench's dataset jobs; keeps what the manifests report for the doc."""

    def __init__(self, work: Path, runtime, progress: bool):
        self.work, self.rt, self.progress = work, runtime, progress
        self.records: list[dict] = []

    def run(self, name: str, spec: JobSpec, inputs: Path, rels: list[str], read: bool = True) -> dict:
        out = self.work / "jobs" / name
        result = run_job(spec, inputs, out, runtime=self.rt, progress=self.progress)
        if result.failed or result.interrupted:
            raise RuntimeError(f"dataset job {name} did not finish: {result.failed[:3]} "
                               f"interrupted={result.interrupted}")
        from headless.dataset.manifest import Manifest

        manifest = Manifest(out)
        try:
            counts = manifest.counts()
        finally:
            manifest.close()
        record = {"name": name, "t_boom": spec.t_boom, "sampler": spec.sampler, "copies": spec.copies,
                  "inputs": len(rels), "items": result.total, "made_now": result.done_now, "skipped": result.skipped,
                  "manifest_done": int(counts.get("done", 0)), "seconds": result.seconds}
        log.info("job %s: %d items, %d made now, %d skipped, %.0f s", name, result.total, result.done_now,
                 result.skipped, result.seconds)
        shard_record = self.work / "records" / f"{name}.json"
        if not read:  # a shard process: the parent reads the images and reports what this process made
            shard_record.parent.mkdir(parents=True, exist_ok=True)
            shard_record.write_text(json.dumps(record))
            return {"record": record}
        if shard_record.is_file():  # made by a shard process of this run
            made = json.loads(shard_record.read_text())
            record.update(made_now=record["made_now"] + made["made_now"], skipped=made["skipped"],
                          seconds=record["seconds"] + made["seconds"], process="shard")
        self.records.append(record)
        images = np.stack([[read_grey(out / output_path(rel, c, spec.copies)) for c in range(spec.copies)]
                           for rel in rels])
        return {"images": images[:, 0] if spec.copies == 1 else images, "record": record}


# ----------------------------------------------------------------------------------------- experiments
def job_list(data: dict, plan, T: int) -> tuple[list[dict], dict]:
    """The run's dataset jobs (name, spec, input rels) and the index sets they are made of."""
    y, rels = data["y"], data["rels"]
    idx = stratified(y, plan.anon, 11) if plan.anon < len(y) else np.arange(len(y))
    sub_idx = idx[stratified(y[idx], plan.exact_anon, 12)]
    sets = draws(y, plan.shots, plan.draws)
    union = np.unique(np.concatenate([s[n] for s in sets for n in plan.shots]))
    exact_union = np.unique(np.concatenate([s[n] for s in sets for n in plan.exact_shots]))
    t_ref = round(plan.reference * T)
    out = []

    def add(key, preset, t, sampler, batch, chosen, copies=1):
        kind = "exact" if sampler is EXACT else "fast"
        out.append({"key": key, "name": f"{preset}-{kind}-t{t}", "spec": job_spec(preset, t, sampler, batch, copies),
                    "rels": [rels[i] for i in chosen],
                    "cost": len(chosen) * copies * (t + 3 if kind == "exact" else 30)})

    for f in FRACTIONS:
        add(("anon", f), "anonymize", round(f * T), FAST, plan.batch_fast, idx)
    add(("anon_exact",), "anonymize", t_ref, EXACT, plan.batch_exact, sub_idx)
    for f in AUG_FRACTIONS:
        add(("local", f), "augment", round(f * T), FAST, plan.batch_fast, union, plan.copies)
    add(("local_exact",), "augment", t_ref, EXACT, plan.batch_exact, exact_union, plan.copies)
    return out, {"idx": idx, "sub_idx": sub_idx, "sets": sets, "union": union, "exact_union": exact_union}


def shard(jobs: list[dict], processes: int) -> list[list[dict]]:
    """Jobs split over ``processes`` by estimated cost, largest first onto the least loaded (deterministic)."""
    bins = [[] for _ in range(processes)]
    load = [0] * processes
    for job in sorted(jobs, key=lambda j: -j["cost"]):
        k = load.index(min(load))
        bins[k].append(job)
        load[k] += job["cost"]
    return bins


def run_shards(module: str, args_for_child: list[str], processes: int):
    """Make the samples in ``processes`` child processes of one torch thread each (two single-threaded model
    loops use 2 cores better than one two-threaded loop on these tiny batches); they share nothing but the
    job folders, and each job is in exactly one of them."""
    import headless

    children = [subprocess.Popen([sys.executable, "-m", module, *args_for_child, "--shard", f"{i}/{processes}",
                                  "--threads", "1"], cwd=headless.REPO) for i in range(processes)]
    codes = [c.wait() for c in children]
    if any(codes):
        raise RuntimeError(f"a shard process failed (exit codes {codes}); run the same command again to resume")


def generate(jobs: Jobs, data: dict, plan, T: int) -> dict:
    """Every Boomerang sample of the run, each set by one dataset job (resumable); jobs already made by the
    shard processes are only read."""
    listed, sets = job_list(data, plan, T)
    made = {}
    for job in listed:
        made[job["key"]] = jobs.run(job["name"], job["spec"], list_file(data["src"], job["name"], job["rels"]),
                                    job["rels"])["images"]
    union, exact_union = sets["union"].tolist(), sets["exact_union"].tolist()
    return {"idx": sets["idx"], "sub_idx": sets["sub_idx"], "sets": sets["sets"],
            "anon": {f: made[("anon", f)] for f in FRACTIONS}, "anon_exact": made[("anon_exact",)],
            "local": {f: dict(zip(union, made[("local", f)])) for f in AUG_FRACTIONS},
            "local_exact": dict(zip(exact_union, made[("local_exact",)])), "union": len(union),
            "exact_union": len(exact_union)}
