"""The paper's application results (anonymization: Table 1 / Figure 5; augmentation: section 5), reproduced
on the built-in digits DDPM. A benchmark, not a test.

    make bench-paper               # = .venv/bin/python scripts/bench_paper.py -> docs/PAPER_RESULTS.md + plots
    python scripts/bench_paper.py --estimate       # measure a slice, print the full run's estimated time
    python scripts/bench_paper.py --smoke --out /tmp/paper   # the test suite's 2-minute structural run

Every Boomerang sample is made by the product's dataset job (``headless.dataset.run_job``) over a folder of
digit PNGs that this script writes: the ``anonymize`` preset (one local sample per image) for the privacy-
utility curve, the ``augment`` preset (``copies`` = 4) for augmentation. The job folders live under --work
(default: the pack's cache); a re-run skips every sample its manifest records as done, so an interrupted run
resumes where it stopped. Classifiers and attacks: scripts/paper_classifiers.py; tables, plots and the doc:
scripts/paper_report.py. Everything is seeded; the same command on the same machine gives the same numbers.
"""
from __future__ import annotations

import argparse
import json
import logging
import warnings
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
import headless  # noqa: E402  (the pack's headless runtime)
from headless.dataset import JobSpec, output_path, run_job  # noqa: E402
import digits_data  # noqa: E402
import paper_classifiers as pc  # noqa: E402
import paper_report  # noqa: E402

REPO = headless.REPO
log = logging.getLogger("boomerang.paper")

FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)  # t_boom / T of the privacy-utility curve
AUG_FRACTIONS = (0.1, 0.2, 0.3)
FAST = {"sampler": "dpmpp_3m_sde", "scheduler": "karras", "steps": 20}  # docs/BENCHMARKS.md's fast setting
EXACT = {"sampler": "boomerang_exact"}  # the paper's Algorithm 1: t_boom model calls
JOB_SEED = 2024  # base seed of every job (each item's seed hashes it with the file's path and copy index)
DRAW_SEED = 7  # few-shot draws


@dataclass
class Plan:
    """How much of each experiment a run makes. FULL is `make bench-paper`; SMOKE is the test suite's."""

    anon: int = 1500  # training images anonymized at every t_boom (the whole training split)
    exact_anon: int = 300  # of those, how many (stratified) are also made with boomerang_exact at 0.3
    shots: tuple = (5, 10, 20)  # real digits per class in the few-shot training sets
    draws: int = 5
    exact_shots: tuple = (5,)  # n whose 0.3 augmentation rows are also made with boomerang_exact
    copies: int = 4
    cnn_seeds: int = 3
    recipe: pc.Recipe = field(default_factory=lambda: pc.Recipe(steps=300, batch=64))
    reference: float = 0.3  # the t_boom/T made with both samplers
    batch_fast: int = 64  # dataset-job batch sizes (see the doc's "Sampler and batch" note)
    batch_exact: int = 256


FULL = Plan()
SMOKE = Plan(anon=10, exact_anon=10, shots=(1, 2), draws=2, exact_shots=(1,), recipe=pc.Recipe(steps=15, batch=32),
             reference=0.1)


def total_timesteps() -> int:
    config = json.loads((REPO / "models" / "digits-ddpm" / "scheduler" / "scheduler_config.json").read_text())
    return int(config["num_train_timesteps"])


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

    def run(self, name: str, spec: JobSpec, inputs: Path, rels: list[str]) -> dict:
        out = self.work / "jobs" / name
        result = run_job(spec, inputs, out, runtime=self.rt, progress=self.progress)
        if result.failed or result.interrupted:
            raise RuntimeError(f"dataset job {name} did not finish: {result.failed[:3]} interrupted={result.interrupted}")
        from headless.dataset.manifest import Manifest

        manifest = Manifest(out)
        try:
            counts = manifest.counts()
        finally:
            manifest.close()
        record = {"name": name, "t_boom": spec.t_boom, "sampler": spec.sampler, "copies": spec.copies,
                  "inputs": len(rels), "items": result.total, "made_now": result.done_now, "skipped": result.skipped,
                  "manifest_done": int(counts.get("done", 0)), "seconds": result.seconds}
        self.records.append(record)
        log.info("job %s: %d items, %d made now, %d skipped, %.0f s", name, result.total, result.done_now,
                 result.skipped, result.seconds)
        images = np.stack([[read_grey(out / output_path(rel, c, spec.copies)) for c in range(spec.copies)]
                           for rel in rels])
        return {"images": images[:, 0] if spec.copies == 1 else images, "record": record}


# ----------------------------------------------------------------------------------------- experiments
def generate(jobs: Jobs, data: dict, plan: Plan, T: int) -> dict:
    """Every Boomerang sample of the run, each set by one dataset job (resumable)."""
    y, rels, src = data["y"], data["rels"], data["src"]
    idx = stratified(y, plan.anon, 11) if plan.anon < len(y) else np.arange(len(y))
    sub_idx = idx[stratified(y[idx], plan.exact_anon, 12)]
    sets = draws(y, plan.shots, plan.draws)
    union = np.unique(np.concatenate([s[n] for s in sets for n in plan.shots]))
    exact_union = np.unique(np.concatenate([s[n] for s in sets for n in plan.exact_shots]))
    t_ref = round(plan.reference * T)

    def job(name, preset, t, sampler, batch, chosen, copies=1):
        names = [rels[i] for i in chosen]
        spec = job_spec(preset, t, sampler, batch, copies)
        return jobs.run(name, spec, list_file(src, name, names), names)["images"]

    anon = {f: job(f"anonymize-fast-t{round(f * T)}", "anonymize", round(f * T), FAST, plan.batch_fast, idx)
            for f in FRACTIONS}
    anon_exact = job(f"anonymize-exact-t{t_ref}", "anonymize", t_ref, EXACT, plan.batch_exact, sub_idx)
    local = {f: job(f"augment-fast-t{round(f * T)}", "augment", round(f * T), FAST, plan.batch_fast, union,
                    plan.copies) for f in AUG_FRACTIONS}
    local_exact = job(f"augment-exact-t{t_ref}", "augment", t_ref, EXACT, plan.batch_exact, exact_union, plan.copies)
    return {"idx": idx, "sub_idx": sub_idx, "anon": anon, "anon_exact": anon_exact, "sets": sets,
            "local": {f: dict(zip(union.tolist(), v)) for f, v in local.items()},
            "local_exact": dict(zip(exact_union.tolist(), local_exact)), "union": len(union),
            "exact_union": len(exact_union)}


def evaluate(made: dict, data: dict, plan: Plan, T: int, workers: int) -> tuple[dict, dict]:
    """All CNN trainings in one pool, then the SVMs and the linkage attacks."""
    x, y, test_x, test_y = data["x"], data["y"], data["test_x"], data["test_y"]
    idx, sub_idx = made["idx"], made["sub_idx"]
    sub = np.searchsorted(idx, sub_idx)
    base = {"recipe": plan.recipe, "test_x": test_x, "test_y": test_y}
    tasks, keys = [], []

    def add(key, train_x, train_y, seed, **extra):
        tasks.append({**base, "x": train_x, "y": train_y, "seed": seed, **extra})
        keys.append(key)

    add(("attacker",), x, y, 0, keep=True)  # the attacker's CNN: trained on the whole real training split
    utility_sets = {("real",): x[idx], **{("anon", f): a for f, a in made["anon"].items()},
                    ("ref", "real"): x[sub_idx], ("ref", "fast"): made["anon"][plan.reference][sub],
                    ("ref", "exact"): made["anon_exact"]}
    for key, images in utility_sets.items():
        labels = y[sub_idx] if key[0] == "ref" else y[idx]
        for s in range(plan.cnn_seeds):
            add(key + (s,), images, labels, s)
    conditions = aug_conditions(plan)
    for n in plan.shots:
        for d, chosen in enumerate(made["sets"]):
            train = chosen[n]
            for name, source, affine in conditions:
                if source == "exact" and n not in plan.exact_shots:
                    continue
                pool = None if source is None else made["local_exact"] if source == "exact" else made["local"][source]
                loc = None if pool is None else np.stack([pool[int(i)] for i in train])
                add(("aug", n, name, d), x[train], y[train], 100 + d, local=loc, affine=affine)
    log.info("%d CNN trainings on %d worker process(es)", len(tasks), workers)
    started = time.perf_counter()
    fitted = dict(zip(keys, pc.fit_many(tasks, workers)))
    seconds = time.perf_counter() - started
    attacker = pc.load_cnn(fitted[("attacker",)]["state"])
    feats = pc.cnn_features(attacker, x)

    def assess(key, images, sources, labels):
        cnn = [fitted[key + (s,)]["accuracy"] for s in range(plan.cnn_seeds)]
        return {"svm": pc.svm_accuracy(images, labels, test_x, test_y), "cnn": cnn, "cnn_mean": float(np.mean(cnn)),
                "cnn_sd": float(np.std(cnn, ddof=1)) if len(cnn) > 1 else 0.0,
                "pixel": pc.linkage(images, sources, x, y, scale=16.0),
                "feature": pc.linkage(pc.cnn_features(attacker, images), sources, feats, y)}

    rows = [{"fraction": f, "t_boom": round(f * T), **assess(("anon", f), made["anon"][f], idx, y[idx])}
            for f in FRACTIONS]
    reference = {name: assess(("ref", name), utility_sets[("ref", name)], sub_idx, y[sub_idx])
                 for name in ("real", "exact", "fast")}
    priv = {"real": assess(("real",), x[idx], idx, y[idx]), "rows": rows, "anonymized": len(idx),
            "reference": {"t_boom": round(plan.reference * T), "images": len(sub_idx), **reference},
            "examples": made["anon"], "example_index": idx,
            "attacker_accuracy": fitted[("attacker",)]["accuracy"]}
    accuracy = {n: {name: [fitted[("aug", n, name, d)]["accuracy"] for d in range(plan.draws)]
                    for name, source, _ in conditions if source != "exact" or n in plan.exact_shots}
                for n in plan.shots}
    aug = {"accuracy": accuracy, "union": made["union"], "exact_union": made["exact_union"],
           "trainings": len(tasks), "training_seconds": seconds}
    return priv, aug


def aug_conditions(plan: Plan) -> list[tuple]:
    """(row name, source of the local samples: None, a t_boom/T of the fast path or "exact", affine?)."""
    out = [("real only", None, False), ("classic", None, True)]
    out += [(f"Boomerang {f:g}", f, False) for f in AUG_FRACTIONS]
    out += [(f"Boomerang {f:g} + classic", f, True) for f in AUG_FRACTIONS]
    out += [(f"Boomerang {plan.reference:g} exact", "exact", False),
            (f"Boomerang {plan.reference:g} exact + classic", "exact", True)]
    return out


def load_data(work: Path) -> dict:
    src = work / "src"
    rels, x, y = write_split(src)
    test_images, test_y = digits_data.load("held_out")
    return {"src": src, "rels": rels, "x": x, "y": y, "test_x": grey(test_images), "test_y": test_y}


def run(plan: Plan, work: Path, out: Path, smoke: bool, threads: int | None, workers: int) -> dict:
    import torch

    if threads:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    T = total_timesteps()
    data = load_data(work)
    rt = headless.ComfyRuntime(io_dir=Path(tempfile.mkdtemp(prefix="boomerang-paper-"))).boot()
    jobs = Jobs(work, rt, progress=not smoke)
    marks = {"boot": time.perf_counter() - start}
    made = generate(jobs, data, plan, T)
    marks["generated"] = time.perf_counter() - start
    priv, aug = evaluate(made, data, plan, T, workers)
    marks["evaluated"] = time.perf_counter() - start
    meta = {"T": T, "train": len(data["y"]), "held_out": len(data["test_y"]), "plan": asdict(plan), "smoke": smoke,
            "jobs": jobs.records, "marks": marks, "seconds": time.perf_counter() - start,
            "threads": torch.get_num_threads(), "machine": f"{platform.machine()} CPU, torch {torch.__version__}",
            "fast": FAST, "fractions": list(FRACTIONS), "aug_fractions": list(AUG_FRACTIONS),
            "reference_fraction": plan.reference, "workers": workers, "job_seed": JOB_SEED, "draw_seed": DRAW_SEED}
    meta["generation_seconds"] = sum(r["seconds"] for r in jobs.records)
    results = {"meta": meta, "privacy": priv, "augmentation": aug}
    paper_report.write(results, data, out)
    return results


def estimate(work: Path, threads: int | None, workers: int) -> dict:
    """Time a slice of each kind of work and extrapolate to the FULL plan (printed, nothing written)."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    plan, T = FULL, total_timesteps()
    data = load_data(work)
    rt = headless.ComfyRuntime(io_dir=Path(tempfile.mkdtemp(prefix="boomerang-paper-estimate-"))).boot()
    jobs = Jobs(Path(tempfile.mkdtemp(prefix="boomerang-paper-slice-")), rt, progress=False)
    rels = data["rels"][:plan.batch_exact]
    inputs = list_file(data["src"], "estimate-slice", rels)
    jobs.run("warm", job_spec("anonymize", 20, FAST, plan.batch_fast), inputs, rels[:plan.batch_fast])
    fast = jobs.run("fast", job_spec("anonymize", 300, FAST, plan.batch_fast), inputs, rels)["record"]["seconds"]
    exact = jobs.run("exact", job_spec("anonymize", 50, EXACT, plan.batch_exact), inputs, rels)["record"]["seconds"]
    per_fast, per_exact_call = fast / len(rels), exact / len(rels) / 50
    base = {"x": data["x"][:200], "y": data["y"][:200], "recipe": plan.recipe, "test_x": data["test_x"],
            "test_y": data["test_y"]}
    started = time.perf_counter()
    pc.fit_many([{**base, "seed": s, "affine": s % 2 == 1} for s in range(2 * workers)], workers)
    per_cnn = (time.perf_counter() - started) / (2 * workers)
    sets = draws(data["y"], plan.shots, plan.draws)
    union = len(np.unique(np.concatenate([s[n] for s in sets for n in plan.shots])))
    exact_union = len(np.unique(np.concatenate([s[n] for s in sets for n in plan.exact_shots])))
    trainings = 1 + plan.cnn_seeds * (1 + len(FRACTIONS) + 3) + plan.draws * (
        len(aug_conditions(plan)[:-2]) * len(plan.shots) + 2 * len(plan.exact_shots))
    parts = {"fast items s": (len(FRACTIONS) * plan.anon + len(AUG_FRACTIONS) * union * plan.copies) * per_fast,
             "exact items s": (plan.exact_anon + exact_union * plan.copies) * round(plan.reference * T) * per_exact_call,
             "CNN trainings s": trainings * per_cnn}
    total = sum(parts.values()) + 60  # boot, SVMs, attacks, plots
    return {"per fast item s": per_fast, "per exact model call and item s": per_exact_call,
            "per CNN training (pool) s": per_cnn, "augment union": union, "exact augment union": exact_union,
            "CNN trainings": trainings, **parts, "total s": total, "total min": total / 60}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, same structure (the test suite's run)")
    parser.add_argument("--estimate", action="store_true", help="time a slice and print the full run's estimate")
    parser.add_argument("--work", type=Path, default=None,
                        help="folder of the dataset jobs (default: <cache>/bench-paper, or a temporary one with --smoke); "
                             "a re-run resumes from it")
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="where PAPER_RESULTS.md and its plots go")
    parser.add_argument("--threads", type=int, default=None, help="torch threads of the dataset jobs (default torch's "
                        "choice; 1 is much faster on a machine shared with other jobs)")
    parser.add_argument("--workers", type=int, default=2, help="processes for the CNN trainings (default 2)")
    args = parser.parse_args(argv)
    if args.threads is not None and not 1 <= args.threads <= 256:
        parser.error(f"--threads must be an integer in [1, 256]; received {args.threads}")
    if not 1 <= args.workers <= 64:
        parser.error(f"--workers must be an integer in [1, 64]; received {args.workers}")
    logging.basicConfig(level=logging.INFO, format="[paper] %(message)s")
    warnings.filterwarnings("ignore", message="Should have tb<=t1")  # torchsde, inside ComfyUI's SDE samplers
    logging.getLogger("boomerang").setLevel(logging.INFO)
    work = args.work or (Path(tempfile.mkdtemp(prefix="boomerang-paper-smoke-")) if args.smoke
                         else headless.cache_dir() / "bench-paper")
    if args.estimate:
        for key, value in estimate(work, args.threads, args.workers).items():
            print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")  # noqa: T201
        return
    results = run(SMOKE if args.smoke else FULL, work, args.out, args.smoke, args.threads, args.workers)
    print(paper_report.summary(results))  # noqa: T201 - a benchmark prints its table


if __name__ == "__main__":
    main()
