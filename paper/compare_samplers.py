"""Samplers side by side on the built-in digits DDPM (issue 19 item 5): the paper-results anonymization metrics
(classifier accuracy, re-identification, pixel distance) of several samplers on the same training images with the
same seeds, at several t_boom, each with its sampling uncertainty, and a verdict per metric: is each sampler
within that uncertainty of boomerang_exact (the paper's Algorithm 1)? A benchmark, not a test.

    make bench-samplers     # = .venv/bin/python -m paper.compare_samplers -> docs/SAMPLERS_DIGITS.md + .json
    python -m paper.compare_samplers --samplers boomerang_exact,recommended,euler_ancestral:karras:10
    python -m paper.compare_samplers --samples-only --samplers boomerang_exact   # make (or resume) samples only
    python -m paper.compare_samplers --smoke --out /tmp/s   # the test suite's run: 4 images, tiny t_boom

Every sample is made by the product's dataset job (preset ``anonymize``, one local sample per image, base seed
2024: each image's seed is a hash of that seed and its file, so every sampler starts from the same seeds). The
job folders live under --work (default ``<cache>/bench-samplers``) and are resumable: a sampler's samples are made
once (boomerang_exact's t_boom model calls per image are the slow part) and only read on later runs. The metric
code is paper/paper_metrics.py's, the one docs/PAPER_RESULTS.md is made with; the doc: paper/sampler_report.py.
"""
from __future__ import annotations

import argparse
import logging
import platform
import shutil
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

import headless
from boomerang.advice import RECOMMENDED
from boomerang.checks import EXACT

from . import paper_classifiers as pc
from . import paper_metrics, sampler_report
from .paper_jobs import EXACT as EXACT_JOB
from .paper_jobs import JOB_SEED, Jobs, job_spec, list_file, load_data, stratified

REPO = headless.REPO
log = logging.getLogger("boomerang.paper")
# boomerang_fast ignores the scheduler; "recommended" merges with the entry it equals (boomerang/advice.py)
DEFAULT_SAMPLERS = f"{EXACT},recommended,dpmpp_3m_sde:karras:20,boomerang_fast:karras:10"
SELECTION_SEED = 12  # stratified(labels, 200, 12): the 200 images of docs/PAPER_RESULTS.md section 3


@dataclass
class Plan:
    images: int = 200  # training images (stratified over the classes), the same for every sampler
    fractions: tuple = (0.3, 0.5)  # t_boom / T
    cnn_seeds: int = 5
    recipe: pc.Recipe = field(default_factory=lambda: pc.Recipe(steps=250, batch=64))  # bench_paper's recipe
    boot: int = 2000  # bootstrap resamples of the images for the linkage and distance numbers
    svm_boot: int = 200  # bootstrap resamples for the SVM (one SVM fit each)
    cnn_boot: int = 20  # bootstrap resamples for the CNN (one training each, seed 1000 + resample)
    batch: int = 50  # dataset-job batch size, the same for every sampler
    time_images: int = 8  # images of the side-by-side timing run, per sampler and t_boom


FULL = Plan()
SMOKE = Plan(images=4, fractions=(0.03, 0.05), cnn_seeds=2, recipe=pc.Recipe(steps=10, batch=16), boot=200,
             svm_boot=20, cnn_boot=3, batch=4, time_images=2)


@dataclass(frozen=True)
class Choice:
    """One sampler of the comparison, as named on the command line."""

    name: str  # the command line's spelling
    sampler: str
    scheduler: str
    steps: int

    @property
    def exact(self) -> bool:
        return self.sampler == EXACT

    @property
    def key(self) -> str:  # job folder names
        return self.sampler if self.exact else f"{self.sampler}-{self.scheduler}-{self.steps}"

    @property
    def label(self) -> str:
        return self.sampler if self.exact else f"{self.sampler} / {self.scheduler} / {self.steps}"

    def job_sampler(self) -> dict:
        # boomerang_exact ignores the scheduler; it is named so that the job's parameters hash (and so its cached
        # samples) does not follow JobSpec's default, which follows advice.RECOMMENDED
        return {**EXACT_JOB, "scheduler": "karras"} if self.exact else {
            "sampler": self.sampler, "scheduler": self.scheduler, "steps": self.steps}


def parse_samplers(text: str) -> list[Choice]:
    """``a,b,c``: each ``boomerang_exact``, ``recommended`` (boomerang/advice.py's RECOMMENDED) or
    ``sampler[:scheduler[:steps]]`` (default scheduler and steps: RECOMMENDED's). The first is the reference.
    ``recommended`` and an entry naming the same setting are one sampler (so the default list holds whichever
    setting advice.py recommends); any other repeat is an error."""
    out = []
    for name in (part.strip() for part in text.split(",") if part.strip()):
        if name == "recommended":
            out.append(Choice(name, RECOMMENDED.sampler, RECOMMENDED.scheduler, RECOMMENDED.steps))
            continue
        parts = name.split(":")
        if len(parts) > 3 or not parts[0] or (len(parts) == 3 and not parts[2].isdigit()):
            raise ValueError(f"--samplers: each entry must be boomerang_exact, recommended or "
                             f"sampler[:scheduler[:steps]] with steps a positive integer; received {name!r}")
        scheduler = parts[1] if len(parts) > 1 and parts[1] else RECOMMENDED.scheduler
        steps = int(parts[2]) if len(parts) == 3 else RECOMMENDED.steps
        if steps < 1:
            raise ValueError(f"--samplers: steps must be a positive integer; received {name!r}")
        out.append(Choice(name, parts[0], scheduler, steps))
    merged: dict[str, Choice] = {}
    for c in out:
        first = merged.get(c.key)
        if first is not None and "recommended" not in (first.name, c.name):
            raise ValueError(f"--samplers must name at least one sampler, each once; received {text!r}")
        merged[c.key] = c if first is None else replace(first, name=f"{first.name} = {c.name}")
    if not merged:
        raise ValueError(f"--samplers must name at least one sampler, each once; received {text!r}")
    return list(merged.values())


def total_timesteps() -> int:
    from .bench_paper import total_timesteps as read

    return read()


def job_name(choice: Choice, t_boom: int) -> str:
    return f"anonymize-{choice.key}-t{t_boom}"


def make_samples(jobs: Jobs, data: dict, idx: np.ndarray, choices: list[Choice], t_booms: list[int], batch: int,
                 read: bool = True) -> dict:
    """{(choice key, t_boom): grey images [N, 16, 16]} made (or read back) by one resumable dataset job each."""
    rels = [data["rels"][i] for i in idx]
    inputs = list_file(data["src"], f"samplers-{len(idx)}", rels)
    made = {}
    for t in t_booms:
        for c in choices:
            result = jobs.run(job_name(c, t), job_spec("anonymize", t, c.job_sampler(), batch), inputs, rels,
                              read=read)
            if read:
                made[(c.key, t)] = result["images"]
    return made


def count_calls(rt, choice: Choice, t_boom: int) -> int:
    """Model calls of one image's pass, counted on the test pack's oracle model with the same sampler, scheduler,
    steps and t_boom (a sampler's call count depends on those, not on the model's weights)."""
    from testkit import graphs

    rt.run(graphs.oracle_boomerang("eps", t_boom, batch=1, size=2, sampler=choice.sampler,
                                   scheduler=choice.scheduler, steps=choice.steps))
    return rt.calls("oracle")


def time_samplers(rt, data: dict, idx: np.ndarray, choices: list[Choice], t_booms: list[int], n: int) -> dict:
    """CPU (process) and wall seconds per image of a fresh dataset job of ``n`` images (batch n), every sampler
    and t_boom in this one process, one after another, after a warm-up job."""
    rels = [data["rels"][i] for i in idx[:n]]
    inputs = list_file(data["src"], f"samplers-time-{n}", rels)
    folder = Path(tempfile.mkdtemp(prefix="boomerang-samplers-time-"))
    try:
        timer = Jobs(folder, rt, progress=False)
        warm = Choice("warm-up", RECOMMENDED.sampler, RECOMMENDED.scheduler, 2)
        timer.run("warm-up", job_spec("anonymize", min(t_booms), warm.job_sampler(), n), inputs, rels, read=False)
        out = {}
        for t in t_booms:
            for c in choices:
                cpu, wall = time.process_time(), time.perf_counter()
                timer.run(job_name(c, t), job_spec("anonymize", t, c.job_sampler(), n), inputs, rels, read=False)
                out[(c.key, t)] = {"cpu_s": (time.process_time() - cpu) / n, "wall_s": (time.perf_counter() - wall) / n}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return out


def evaluate(made: dict, data: dict, idx: np.ndarray, choices: list[Choice], t_booms: list[int], plan: Plan,
             workers: int) -> dict:
    """paper_metrics.assess of the real images and of every (sampler, t_boom), with bootstrap resamples of the
    images (the same resamples for every set, so differences are paired) and CNN seeds shared by all sets."""
    x, y, test_x, test_y = data["x"], data["y"], data["test_x"], data["test_y"]
    sets = {("real", 0): x[idx], **made}
    base = {"recipe": plan.recipe, "test_x": test_x, "test_y": test_y}
    tasks = [{**base, "x": x, "y": y, "seed": 0, "keep": True}]  # the attacker (as in bench_paper)
    rng = np.random.default_rng(2026)
    boot = rng.integers(0, len(idx), size=(max(plan.boot, plan.svm_boot, plan.cnn_boot), len(idx)))
    svm_boot, per_set = boot[:plan.svm_boot], plan.cnn_seeds + plan.cnn_boot
    for images in sets.values():
        tasks += [{**base, "x": images, "y": y[idx], "seed": s} for s in range(plan.cnn_seeds)]
        tasks += [{**base, "x": images[b], "y": y[idx][b], "seed": 1000 + k}
                  for k, b in enumerate(boot[:plan.cnn_boot])]
    log.info("%d CNN trainings on %d worker process(es)", len(tasks), workers)
    fitted = pc.fit_many(tasks, workers)
    attack = paper_metrics.attack(fitted[0]["state"], x, y, test_x, test_y)
    boot = boot[:plan.boot]
    out = {}
    for k, (key, images) in enumerate(sets.items()):
        accuracies = [f["accuracy"] for f in fitted[1 + k * per_set:1 + (k + 1) * per_set]]
        cnn, cnn_boot = accuracies[:plan.cnn_seeds], accuracies[plan.cnn_seeds:]
        row = paper_metrics.assess(attack, images, idx, y[idx], cnn)
        per = paper_metrics.per_image(attack, images, idx)
        px, ft = per["pixel_rank"][boot] == 0, per["feature_rank"][boot] == 0
        row["boot"] = {"reid_pixel": px.mean(1), "reid_feature": ft.mean(1),
                       "reid": np.maximum(px.mean(1), ft.mean(1)),
                       "pixel_to_source": per["pixel_to_source"][boot].mean(1),
                       "cnn": np.array(cnn_boot),
                       "svm": np.array([pc.svm_accuracy(images[b], y[idx][b], test_x, test_y) for b in svm_boot])}
        out[key] = row
    return out


def run(plan: Plan, choices: list[Choice], work: Path, out: Path | None, smoke: bool, threads: int, workers: int,
        device: str | None = None) -> dict | None:
    import torch

    from testkit.runtime import TEST_PACK, TestRuntime

    torch.set_num_threads(threads)
    start = time.perf_counter()
    T = total_timesteps()
    t_booms = [max(1, round(f * T)) for f in plan.fractions]
    data = load_data(work)
    idx = stratified(data["y"], plan.images, SELECTION_SEED)
    rt = TestRuntime(extra_packs=[TEST_PACK], io_dir=Path(tempfile.mkdtemp(prefix="boomerang-samplers-")),
                     device=device).boot()
    log.info("samples on %s (%s)", rt.device, rt.device_name)
    jobs = Jobs(work, rt, progress=not smoke)
    made = make_samples(jobs, data, idx, choices, t_booms, plan.batch, read=out is not None)
    if out is None:  # --samples-only
        return None
    calls = {(c.key, t): count_calls(rt, c, t) for t in t_booms for c in choices}
    timing = time_samplers(rt, data, idx, choices, t_booms, min(plan.time_images, len(idx)))
    marks = {"samples_and_timing_s": time.perf_counter() - start}
    metrics = evaluate(made, data, idx, choices, t_booms, plan, workers)
    marks["total_s"] = time.perf_counter() - start
    results = {"meta": {"T": T, "t_booms": t_booms, "fractions": list(plan.fractions), "images": len(idx),
                        "selection_seed": SELECTION_SEED, "job_seed": JOB_SEED, "train": len(data["y"]),
                        "held_out": len(data["test_y"]), "plan": asdict(plan), "smoke": smoke, "threads": threads,
                        "workers": workers, "machine": f"{platform.machine()} CPU, torch {torch.__version__}",
                        "device": str(rt.device), "jobs": jobs.records, "marks": marks},
               "samplers": [{**asdict(c), "key": c.key, "label": c.label} for c in choices],
               "index": idx, "calls": calls, "timing": timing, "metrics": metrics}
    results["paper_reference"] = paper_reference(len(idx), t_booms)
    sampler_report.write(results, out)
    return results


def paper_reference(images: int, t_booms: list[int]) -> dict | None:
    """docs/PAPER_RESULTS.md section 3's numbers on the same images (same selection, same seeds, its own batch
    size), from docs/paper_results.json, when it measured this many images at one of these t_boom."""
    import json

    path = REPO / "docs" / "paper_results.json"
    if not path.is_file():
        return None
    ref = json.loads(path.read_text())["privacy"]["reference"]
    if ref["images"] != images or ref["t_boom"] not in t_booms:
        return None
    return {"t_boom": ref["t_boom"], **{name: {"svm": ref[name]["svm"], "reid_pixel": ref[name]["pixel"]["top1"],
                                              "reid_feature": ref[name]["feature"]["top1"],
                                              "pixel_to_source": ref[name]["pixel"]["to_source"]}
                                       for name in ("real", "exact")}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samplers", default=DEFAULT_SAMPLERS,
                        help="comma-separated: boomerang_exact, recommended (boomerang/advice.py's setting) or "
                             "sampler[:scheduler[:steps]]; the first is the reference the verdicts compare with "
                             f"(default {DEFAULT_SAMPLERS})")
    parser.add_argument("--fractions", default=None, help="comma-separated t_boom / T values (default "
                        f"{','.join(f'{f:g}' for f in FULL.fractions)})")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, same structure (the test suite's run)")
    parser.add_argument("--samples-only", action="store_true", help="make (or resume) the samplers' dataset jobs "
                        "and stop: no metrics, no doc")
    parser.add_argument("--work", type=Path, default=None, help="folder of the dataset jobs (default: "
                        "<cache>/bench-samplers, or a temporary one with --smoke); a re-run resumes from it")
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="where SAMPLERS_DIGITS.md and "
                        "samplers_digits.json go")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of this process (default 1)")
    parser.add_argument("--workers", type=int, default=2, help="processes for the CNN trainings (default 2)")
    headless.add_device_arguments(parser)
    args = parser.parse_args(argv)
    device = headless.device_from_args(args)
    try:
        choices = parse_samplers(args.samplers)
    except ValueError as exc:
        parser.error(str(exc))
    if not 1 <= args.threads <= 256:
        parser.error(f"--threads must be an integer in [1, 256]; received {args.threads}")
    if not 1 <= args.workers <= 64:
        parser.error(f"--workers must be an integer in [1, 64]; received {args.workers}")
    logging.basicConfig(level=logging.INFO, format="[samplers] %(message)s")
    warnings.filterwarnings("ignore", message="Should have tb<=t1")  # torchsde, inside ComfyUI's SDE samplers
    logging.getLogger("boomerang").setLevel(logging.INFO)
    work = args.work or (Path(tempfile.mkdtemp(prefix="boomerang-samplers-smoke-")) if args.smoke
                         else headless.cache_dir() / "bench-samplers")
    plan = SMOKE if args.smoke else FULL
    if args.fractions:
        try:
            fractions = tuple(float(f) for f in args.fractions.split(","))
        except ValueError:
            fractions = ()
        if not fractions or not all(0 < f <= 1 for f in fractions):
            parser.error(f"--fractions must be comma-separated numbers in (0, 1]; received {args.fractions!r}")
        plan = replace(plan, fractions=fractions)
    results = run(plan, choices, work, None if args.samples_only else args.out, args.smoke, args.threads,
                  args.workers, device)
    if results is not None:
        print(sampler_report.summary(results))  # noqa: T201 - a benchmark prints its table


if __name__ == "__main__":
    main()
