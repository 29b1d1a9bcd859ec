"""Measured locality of Boomerang on the built-in digits DDPM (a benchmark, not a test).

    make bench-locality            # = .venv/bin/python -m benchmarks.bench_locality  -> docs/LOCALITY.md + .png

Held-out digits (never seen by the DDPM or the classifier) go through the real ComfyUI executor: the
built-in model, BoomerangNoise + PartialReverseSampler (boomerang_exact, the paper's Algorithm 1) at
t_boom/T = 0, 0.1, ..., 1 with several seeds each. Per t_boom it reports the mean RMS distance to the
original (grey levels 0..1), the share of outputs that a digit classifier (an RBF SVM fitted by this script
on the training split) still labels as the original digit, and the share of seed pairs whose outputs are
exact duplicates. Expected (the paper's claim): distance rises and label retention falls with t_boom,
retention at t_boom = T is near chance, and no two seeds give the same image for t_boom > 0.
"""
from __future__ import annotations

import argparse
import itertools
import logging
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

import headless
from headless import demo as run_demo
from headless import digits_data
from headless.models import BUILTIN, model_nodes

REPO = headless.REPO
log = logging.getLogger("boomerang.locality")


def measure(per_class: int, seeds: int, fractions: list[float], device: str | None = None) -> tuple[list[dict], dict]:
    rt = headless.ComfyRuntime(io_dir=Path(tempfile.mkdtemp(prefix="boomerang-locality-")), device=device).boot()
    log.info("on %s (%s)", rt.device, rt.device_name)
    input_dir = Path(rt.folder_paths.get_input_directory())
    names, _ = run_demo.digits_inputs(input_dir, list(range(10)), per_class)
    held_x, held_y = digits_data.load("held_out")
    originals, labels = digits_data.first_of_each_class(held_x, held_y, range(10), per_class)
    labels = np.array(labels)
    nodes, links = model_nodes("pixel", BUILTIN, "")
    total_t = run_demo.model_timesteps(rt, nodes, links, names[0])
    t_booms = sorted({round(f * total_t) for f in fractions})
    settings = {"cfg": 1.0, "sampler": "boomerang_exact", "scheduler": "simple", "steps": 1}
    graph = run_demo.build_graph(nodes, links, names, seeds, t_booms, settings, seed=0)
    from PIL import Image

    start = time.perf_counter()
    history = run_demo.execute_with_bar(rt, graph, sum(t_booms))
    seconds = time.perf_counter() - start
    svm = digits_data.classifier(*digits_data.load("train"))
    # the inputs as the graph saw them (8-bit PNG) -> grey 0..1
    grey_in = np.stack([np.asarray(Image.open(input_dir / n).convert("L"), dtype=np.float64) / 255 for n in names])
    n, rows = len(names), []
    for t in t_booms:
        files = history["outputs"][f"save{t}"]["images"]
        out = np.stack([np.asarray(Image.open(rt.output_dir / f["subfolder"] / f["filename"]).convert("L"),
                                   dtype=np.float64) / 255 for f in files])  # item k = image k % n, copy k // n
        per_seed = out.reshape(seeds, n, *out.shape[1:])
        rms = np.sqrt(((per_seed - grey_in[None]) ** 2).mean(axis=(-1, -2)))
        predicted = svm.predict(per_seed.reshape(seeds * n, -1)).reshape(seeds, n)
        pairs = list(itertools.combinations(range(seeds), 2))
        dup = np.mean([np.array_equal(per_seed[a, i], per_seed[b, i]) for a, b in pairs for i in range(n)])
        rows.append({"t_boom": t, "fraction": t / total_t, "rms": float(rms.mean()), "rms_sd": float(rms.std()),
                     "retention": float((predicted == labels[None]).mean()), "duplicates": float(dup),
                     "label_share": np.bincount(predicted.ravel(), minlength=10) / predicted.size})
    prior = np.bincount(labels, minlength=10) / len(labels)
    chance = float((rows[-1]["label_share"] * prior).sum())
    meta = {"T": total_t, "images": n, "seeds": seeds, "samples": n * seeds, "seconds": seconds, "chance": chance,
            "classifier_acc": float((svm.predict(digits_data.features(originals)) == labels).mean()),
            "model_calls": sum(t_booms), "machine": f"{os.cpu_count()} CPU cores ({platform.machine()})"}
    return rows, meta


def table(rows: list[dict], meta: dict) -> str:
    lines = ["| t_boom / T | t_boom | mean RMS distance to original (sd) | label kept | duplicate seed pairs |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['fraction']:.2f} | {r['t_boom']} | {r['rms']:.3f} ({r['rms_sd']:.3f}) | "
                     f"{r['retention']:.1%} | {r['duplicates']:.1%} |")
    return "\n".join(lines)


def plot(rows: list[dict], meta: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [r["fraction"] for r in rows]
    fig, left = plt.subplots(figsize=(6.4, 3.8), dpi=110)
    left.plot(x, [r["rms"] for r in rows], "o-", color="tab:blue", label="RMS distance to original")
    left.set_xlabel("t_boom / T")
    left.set_ylabel("RMS distance (grey 0..1)", color="tab:blue")
    right = left.twinx()
    right.plot(x, [r["retention"] for r in rows], "s-", color="tab:red", label="label kept")
    right.axhline(meta["chance"], color="tab:red", ls=":", lw=1, label="chance at T")
    right.set_ylim(0, 1.05)
    right.set_ylabel("share labelled as the original digit", color="tab:red")
    fig.suptitle(f"Boomerang locality, built-in digits DDPM ({meta['samples']} samples per t_boom)", fontsize=10)
    fig.legend(loc="center right", bbox_to_anchor=(0.86, 0.5), fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def write_docs(rows, meta, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    plot(rows, meta, out / "locality.png")
    text = f"""# Locality of Boomerang on the built-in digits model

Written by `python -m benchmarks.bench_locality` (`make bench-locality`). {meta['images']} held-out digits
({meta['images'] // 10} per class; neither the DDPM nor the classifier saw them) x {meta['seeds']} seeds =
{meta['samples']} local samples per t_boom, all through ComfyUI's executor with `boomerang_exact` (Algorithm 1,
T = {meta['T']}). Distance: RMS over the 16x16 grey image (0..1) between output and original. Label kept:
share of outputs an RBF SVM (fitted on the training split, {meta['classifier_acc']:.1%} accurate on these
originals) labels as the original digit. Duplicates: share of same-input seed pairs with bit-identical outputs.

{table(rows, meta)}

Chance agreement at t_boom = T (labels of the fresh samples against the classes of the inputs):
{meta['chance']:.1%}. Run time: {meta['seconds']:.0f} s for {meta['model_calls']} reverse steps of batch
{meta['samples']} on {meta['machine']}.

![distance and label retention against t_boom / T](locality.png)
"""
    path = out / "LOCALITY.md"
    path.write_text(text)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=4, help="held-out digits per class (default 4)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per digit (default 3)")
    parser.add_argument("--fractions", type=run_demo.fractions,
                        default=run_demo.fractions(",".join(f"{i / 10:g}" for i in range(11))))
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    headless.add_device_arguments(parser)
    args = parser.parse_args(argv)
    fewest = int(np.bincount(digits_data.load("held_out")[1]).min())
    if not 1 <= args.per_class <= fewest:
        parser.error(f"--per-class must be an integer in [1, {fewest}] (held-out digits of the rarest class); "
                     f"received {args.per_class}")
    if args.seeds < 2:
        parser.error(f"--seeds must be an integer >= 2 (duplicates are counted between seeds); received {args.seeds}")
    logging.basicConfig(level=logging.INFO, format="[locality] %(message)s")
    rows, meta = measure(args.per_class, args.seeds, args.fractions, headless.device_from_args(args))
    print(table(rows, meta))  # noqa: T201 - a benchmark prints its table
    log.info("chance at T %.1f%%; wrote %s", 100 * meta["chance"], write_docs(rows, meta, args.out))


if __name__ == "__main__":
    main()
