"""The paper's application results (anonymization: Table 1 / Figure 5; augmentation: section 5), reproduced
on the built-in digits DDPM. A benchmark, not a test.

    make bench-paper               # = .venv/bin/python -m paper.bench_paper -> docs/PAPER_RESULTS.md + plots
    python -m paper.bench_paper --estimate       # measure a slice, print the full run's estimated time
    python -m paper.bench_paper --smoke --out /tmp/paper   # the test suite's 2-minute structural run

Every Boomerang sample is made by the product's dataset job (``headless.dataset.run_job``) over a folder of
digit PNGs that this script writes: the ``anonymize`` preset (one local sample per image) for the privacy-
utility curve, the ``augment`` preset (``copies`` = 4) for augmentation. The job folders live under --work
(default: the pack's cache); a re-run skips every sample its manifest records as done, so an interrupted run
resumes where it stopped. Classifiers and attacks: paper/paper_classifiers.py; tables, plots and the doc:
paper/paper_report.py. Everything is seeded; the same command on the same machine gives the same numbers.
"""
from __future__ import annotations

import argparse
import json
import logging
import platform
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

import headless

from . import paper_classifiers as pc
from . import paper_metrics, paper_report
from .paper_jobs import (
    AUG_FRACTIONS,
    DRAW_SEED,
    EXACT,
    FAST,
    FRACTIONS,
    JOB_SEED,
    Jobs,
    draws,
    generate,
    job_list,
    job_spec,
    list_file,
    load_data,
    run_shards,
    shard,
)

REPO = headless.REPO
log = logging.getLogger("boomerang.paper")

@dataclass
class Plan:
    """How much of each experiment a run makes. FULL is `make bench-paper`; SMOKE is the test suite's."""

    anon: int = 1500  # training images anonymized at every t_boom (the whole training split)
    exact_anon: int = 200  # of those, how many (stratified) are also made with boomerang_exact at 0.3
    shots: tuple = (5, 10, 20)  # real digits per class in the few-shot training sets
    draws: int = 5
    exact_shots: tuple = (5,)  # n whose 0.3 augmentation rows are also made with boomerang_exact
    copies: int = 4
    cnn_seeds: int = 3
    recipe: pc.Recipe = field(default_factory=lambda: pc.Recipe(steps=250, batch=64))
    reference: float = 0.3  # the t_boom/T made with both samplers
    batch_fast: int = 64  # dataset-job batch sizes (see the doc's "Sampler and batch" note)
    batch_exact: int = 256


FULL = Plan()
SMOKE = Plan(anon=10, exact_anon=10, shots=(1,), draws=2, exact_shots=(1,), recipe=pc.Recipe(steps=15, batch=32),
             reference=0.1)


def total_timesteps() -> int:
    config = json.loads((REPO / "models" / "digits-ddpm" / "scheduler" / "scheduler_config.json").read_text())
    return int(config["num_train_timesteps"])


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
    attack = paper_metrics.attack(fitted[("attacker",)]["state"], x, y, test_x, test_y)

    def assess(key, images, sources, labels):
        cnn = [fitted[key + (s,)]["accuracy"] for s in range(plan.cnn_seeds)]
        return paper_metrics.assess(attack, images, sources, labels, cnn)

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


def run(plan: Plan, work: Path, out: Path, smoke: bool, threads: int | None, workers: int, processes: int,
        child_args: list[str], device: str | None = None) -> dict:
    import shutil

    import torch

    if threads:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    T = total_timesteps()
    data = load_data(work)
    shutil.rmtree(work / "records", ignore_errors=True)
    if processes > 1:
        run_shards("paper.bench_paper", child_args, processes)
        rt = None  # every job is done: run_job only reads its manifest (and would boot ComfyUI if not)
    else:
        rt = headless.ComfyRuntime(io_dir=Path(tempfile.mkdtemp(prefix="boomerang-paper-")), device=device).boot()
        log.info("samples on %s (%s)", rt.device, rt.device_name)
    jobs = Jobs(work, rt, progress=not smoke)
    marks = {"samples": time.perf_counter() - start}
    made = generate(jobs, data, plan, T)
    marks["generated"] = time.perf_counter() - start
    priv, aug = evaluate(made, data, plan, T, workers)
    marks["evaluated"] = time.perf_counter() - start
    meta = {"T": T, "train": len(data["y"]), "held_out": len(data["test_y"]), "plan": asdict(plan), "smoke": smoke,
            "jobs": jobs.records, "marks": marks, "seconds": time.perf_counter() - start,
            "threads": (f"1 in each of {processes} "
                        f"processes" if processes > 1 else torch.get_num_threads()), "machine": f"{platform.machine()} "
                                                                                                f"CPU, torch "
                                                                                                f"{torch.__version__}",
            "fast": FAST, "fractions": list(FRACTIONS), "aug_fractions": list(AUG_FRACTIONS),
            "reference_fraction": plan.reference, "workers": workers, "processes": processes, "job_seed": JOB_SEED,
            "draw_seed": DRAW_SEED}
    meta["generation_seconds"] = marks["samples"]
    results = {"meta": meta, "privacy": priv, "augmentation": aug}
    paper_report.write(results, data, out)
    return results


def make_shard(plan: Plan, work: Path, which: str, threads: int | None, device: str | None = None):
    """A child of --processes: boot ComfyUI, run this shard's jobs, record what it made."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    i, k = (int(v) for v in which.split("/"))
    data = load_data(work)
    listed, _ = job_list(data, plan, total_timesteps())
    mine = shard(listed, k)[i]
    if not mine:
        return
    rt = headless.ComfyRuntime(io_dir=Path(tempfile.mkdtemp(prefix=f"boomerang-paper-shard{i}-")), device=device).boot()
    log.info("shard %d/%d on %s (%s)", i, k, rt.device, rt.device_name)
    jobs = Jobs(work, rt, progress=False)
    for job in mine:
        jobs.run(job["name"], job["spec"], list_file(data["src"], job["name"], job["rels"]), job["rels"], read=False)


def estimate(work: Path, threads: int | None, workers: int, processes: int, device: str | None = None) -> dict:
    """Time a slice of each kind of work and extrapolate to the FULL plan (printed, nothing written)."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    plan, T = FULL, total_timesteps()
    data = load_data(work)
    rt = headless.ComfyRuntime(io_dir=Path(tempfile.mkdtemp(prefix="boomerang-paper-estimate-")), device=device).boot()
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
             "exact items "
             "s": (plan.exact_anon + exact_union * plan.copies) * round(plan.reference * T) * per_exact_call,
             "CNN trainings s": trainings * per_cnn}
    total = sum(parts.values()) + 60  # boot, SVMs, attacks, plots
    # with --processes k (one thread each) the samples are split k ways; measured here in one process
    split = (parts["fast items s"] + parts["exact items s"]) / processes + parts["CNN trainings s"] + 60
    return {"processes": processes, f"total min, samples split over {processes} processes": split / 60,
            "per fast item s": per_fast, "per exact model call and item s": per_exact_call,
            "per CNN training (pool) s": per_cnn, "augment union": union, "exact augment union": exact_union,
            "CNN trainings": trainings, **parts, "total s": total, "total min": total / 60}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, same structure (the test suite's run)")
    parser.add_argument("--estimate", action="store_true", help="time a slice and print the full run's estimate")
    parser.add_argument("--work", type=Path, default=None,
                        help="folder of the dataset jobs (default: <cache>/bench-paper, or a temporary one with "
                             "--smoke); "
                             "a re-run resumes from it")
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="where PAPER_RESULTS.md and its plots go")
    parser.add_argument("--threads", type=int, default=None, help="torch threads of the dataset jobs (default torch's "
                        "choice; 1 is much faster on a machine shared with other jobs)")
    parser.add_argument("--workers", type=int, default=2, help="processes for the CNN trainings (default 2)")
    parser.add_argument("--processes", type=int, default=2, help="processes that make the samples, one torch "
                        "thread each (default 2; 1: in this process with --threads)")
    parser.add_argument("--render-only", action="store_true", help="rewrite PAPER_RESULTS.md and the two curve "
                        "plots from --out's paper_results.json, running nothing (after a change to the report's text)")
    parser.add_argument("--shard", default=None, help=argparse.SUPPRESS)  # i/k: a child of --processes k
    headless.add_device_arguments(parser)
    args = parser.parse_args(argv)
    device = headless.device_from_args(args)
    if args.threads is not None and not 1 <= args.threads <= 256:
        parser.error(f"--threads must be an integer in [1, 256]; received {args.threads}")
    if not 1 <= args.workers <= 64:
        parser.error(f"--workers must be an integer in [1, 64]; received {args.workers}")
    if not 1 <= args.processes <= 64:
        parser.error(f"--processes must be an integer in [1, 64]; received {args.processes}")
    logging.basicConfig(level=logging.INFO, format="[paper] %(message)s")
    warnings.filterwarnings("ignore", message="Should have tb<=t1")  # torchsde, inside ComfyUI's SDE samplers
    logging.getLogger("boomerang").setLevel(logging.INFO)
    work = args.work or (Path(tempfile.mkdtemp(prefix="boomerang-paper-smoke-")) if args.smoke
                         else headless.cache_dir() / "bench-paper")
    if args.estimate:
        for key, value in estimate(work, args.threads, args.workers, args.processes, device).items():
            print(f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}")  # noqa: T201 - the estimate is the output
        return
    if args.render_only and not (args.out / "paper_results.json").is_file():
        parser.error(f"--render-only needs a paper_results.json in --out from an earlier run; received --out "
                     f"{args.out}")
    if args.render_only:
        results = paper_report.from_json(args.out / "paper_results.json")
        paper_report.write(results, None, args.out)
        print(paper_report.summary(results))  # noqa: T201 - a benchmark prints its table
        return
    plan = SMOKE if args.smoke else FULL
    if args.shard:
        return make_shard(plan, work, args.shard, args.threads, device)
    child_args = (["--smoke"] if args.smoke else []) + ["--work", str(work)] + (["--device", device] if device else [])
    results = run(plan, work, args.out, args.smoke, args.threads, args.workers, args.processes, child_args, device)
    print(paper_report.summary(results))  # noqa: T201 - a benchmark prints its table


if __name__ == "__main__":
    main()
