"""docs/SAMPLERS_DIGITS.md and samplers_digits.json of paper/compare_samplers.py: per t_boom, one row per sampler
(model calls, CPU time, the anonymization metrics with their standard errors) and the verdicts against the
reference sampler (the first one named)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .paper_report import pct

# (key, column title, percent?) of the compared metrics, in table order
METRICS = (("svm", "SVM accuracy", True), ("cnn", "CNN accuracy", True), ("reid_pixel", "re-id top-1 pixel", True),
           ("reid_feature", "re-id top-1 CNN features", True), ("reid", "re-id top-1, stronger attack", True),
           ("pixel_to_source", "pixel RMS to source", False))
LIMIT = 2.0  # a difference counts as within the sampling uncertainty when |difference| <= LIMIT standard errors


def value(row: dict, metric: str) -> float:
    return {"svm": lambda: row["svm"], "cnn": lambda: row["cnn_mean"], "reid_pixel": lambda: row["pixel"]["top1"],
            "reid_feature": lambda: row["feature"]["top1"],
            "reid": lambda: max(row["pixel"]["top1"], row["feature"]["top1"]),
            "pixel_to_source": lambda: row["pixel"]["to_source"]}[metric]()


def std_error(row: dict, metric: str) -> float:
    """The sd of the metric over bootstrap resamples of the images (the SVM refitted, a CNN trained, on each)."""
    return float(np.std(row["boot"][metric], ddof=1))


def difference(row: dict, ref: dict, metric: str) -> tuple[float, float]:
    """(row - ref, standard error of that difference), paired over the same bootstrap resamples of the images
    (the two sets are made from the same images with the same seeds; a resample's CNNs share their seed)."""
    d = np.asarray(row["boot"][metric]) - np.asarray(ref["boot"][metric])
    return value(row, metric) - value(ref, metric), float(np.std(d, ddof=1))


def stats(results: dict) -> dict:
    """Every number of the doc, JSON-ready: per t_boom, per set (real and every sampler) the metrics with their
    standard errors, calls, times, and the differences to the reference with their verdicts."""
    samplers, metrics = results["samplers"], results["metrics"]
    ref_key = samplers[0]["key"]
    out = {}
    for t in results["meta"]["t_booms"]:
        rows = {}
        for key in ["real"] + [s["key"] for s in samplers]:
            row = metrics[("real", 0) if key == "real" else (key, t)]
            entry = {m: {"value": value(row, m), "se": std_error(row, m)} for m, _, _ in METRICS}
            entry["cnn_per_seed"] = row["cnn"]
            entry["pixel_linkage"] = {k: v for k, v in row["pixel"].items()}
            entry["feature_linkage"] = {k: v for k, v in row["feature"].items()}
            if key != "real":
                entry["calls"] = results["calls"][(key, t)]
                entry["cpu_s_per_image"] = results["timing"][(key, t)]["cpu_s"]
                entry["wall_s_per_image"] = results["timing"][(key, t)]["wall_s"]
                entry["cpu_ratio_to_reference"] = entry["cpu_s_per_image"] / results["timing"][(ref_key, t)]["cpu_s"]
            if key not in ("real", ref_key):
                ref = metrics[(ref_key, t)]
                entry["vs_reference"] = {}
                for m, _, _ in METRICS:
                    d, se = difference(row, ref, m)
                    entry["vs_reference"][m] = {"difference": d, "se": se, "within": bool(abs(d) <= LIMIT * se)}
            rows[key] = entry
        out[str(t)] = rows
    return out


def fmt(metric: str, v: float, se: float | None = None, signed: bool = False) -> str:
    percent = dict((m, p) for m, _, p in METRICS)[metric]
    if percent:
        body = f"{100 * v:+.1f} pp" if signed else pct(v)
        return body if se is None else f"{body} ± {100 * se:.1f}"
    body = f"{v:+.3f}" if signed else f"{v:.3f}"
    return body if se is None else f"{body} ± {se:.3f}"


def metrics_table(results: dict, s: dict, t: int) -> str:
    labels = {x["key"]: x["label"] for x in results["samplers"]}
    ref_key = results["samplers"][0]["key"]
    head = " | ".join(title for _, title, _ in METRICS)
    lines = [f"| images | model calls per image | CPU s per image (x {labels[ref_key]}) | wall s per image | {head} |",
             "|---" * (4 + len(METRICS)) + "|"]
    for key, row in s[str(t)].items():
        cells = " | ".join(fmt(m, row[m]["value"], row[m]["se"]) for m, _, _ in METRICS)
        if key == "real":
            lines.append(f"| the same real images | - | - | - | {cells} |")
            continue
        lines.append(f"| {labels[key]} | {row['calls']} | {row['cpu_s_per_image']:.3f} "
                     f"({row['cpu_ratio_to_reference']:.3f}x) | {row['wall_s_per_image']:.3f} | {cells} |")
    return "\n".join(lines)


def verdict_table(results: dict, s: dict, t: int) -> str:
    labels = {x["key"]: x["label"] for x in results["samplers"]}
    head = " | ".join(title for _, title, _ in METRICS)
    lines = [f"| sampler - {results['samplers'][0]['label']} | {head} |", "|---" * (1 + len(METRICS)) + "|"]
    for key, row in s[str(t)].items():
        if "vs_reference" not in row:
            continue
        cells = []
        for m, _, _ in METRICS:
            v = row["vs_reference"][m]
            cells.append(f"{fmt(m, v['difference'], signed=True)} (SE {fmt(m, v['se']).rstrip('%')}): "
                         f"{'within' if v['within'] else '**outside**'}")
        lines.append(f"| {labels[key]} | {' | '.join(cells)} |")
    return "\n".join(lines)


def conclusions(results: dict, s: dict) -> list[str]:
    out = []
    ref = results["samplers"][0]
    for sampler in results["samplers"][1:]:
        outside = [f"{title} at t_boom {t} ({fmt(m, v[m]['difference'], signed=True)})"
                   for t in results["meta"]["t_booms"] for v in [s[str(t)][sampler["key"]]["vs_reference"]]
                   for m, title, _ in METRICS if not v[m]["within"]]
        calls = ", ".join(f"{s[str(t)][sampler['key']]['calls']} (t_boom {t})" for t in results["meta"]["t_booms"])
        cost = ", ".join(f"{s[str(t)][sampler['key']]['cpu_ratio_to_reference']:.3f}x at t_boom {t}"
                         for t in results["meta"]["t_booms"])
        n = len(METRICS) * len(results["meta"]["t_booms"])
        verdict = (f"within {LIMIT:g} standard errors of {ref['label']} on all {n} metric and t_boom pairs"
                   if not outside else f"outside {LIMIT:g} standard errors of {ref['label']} on {len(outside)} of "
                                       f"{n}: {', '.join(outside)}")
        out.append(f"**{sampler['label']}** ({sampler['name']}): {verdict}. Model calls per image {calls}; CPU time "
                   f"{cost} of {ref['label']}'s.")
    return out


def cross_check(results: dict, s: dict) -> str:
    """The same images' numbers in docs/PAPER_RESULTS.md section 3 (made by another run), next to this run's."""
    ref = results.get("paper_reference")
    if not ref:
        return ""
    t, exact_key = ref["t_boom"], "boomerang_exact"
    rows = [("the same real images", ref["real"], s[str(t)]["real"])]
    if exact_key in s[str(t)]:
        rows.append(("boomerang_exact", ref["exact"], s[str(t)][exact_key]))
    lines = ["| images | SVM (PAPER_RESULTS / here) | re-id top-1 pixel | re-id top-1 CNN features | pixel RMS to "
             "source |", "|---|---|---|---|---|"]
    for label, theirs, ours in rows:
        lines.append(f"| {label} | " + " | ".join(f"{fmt(m, theirs[m])} / {fmt(m, ours[m]['value'])}"
                                                  for m in ("svm", "reid_pixel", "reid_feature", "pixel_to_source"))
                     + " |")
    return (f"## Cross-check with docs/PAPER_RESULTS.md\n\nSection 3 of docs/PAPER_RESULTS.md measured the same "
            f"images at t_boom {t} with the same seeds (boomerang_exact in batches of 256 there, of "
            f"{results['meta']['plan']['batch']} here: outputs may differ by a grey level). The real images' SVM "
            f"is the same computation on the same data, so it must agree exactly; boomerang_exact's numbers should "
            f"agree within their standard errors:\n\n" + "\n".join(lines) + "\n\n")


def write(results: dict, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    meta, plan = results["meta"], results["meta"]["plan"]
    s = stats(results)
    sections = "\n\n".join(
        f"## t_boom = {t} ({f:g} T)\n\n{metrics_table(results, s, t)}\n\nDifference to "
        f"{results['samplers'][0]['label']} (paired standard error) and verdict (within: |difference| <= "
        f"{LIMIT:g} SE):\n\n{verdict_table(results, s, t)}" for t, f in zip(meta["t_booms"], meta["fractions"]))
    smoke = " in **--smoke** mode (tiny sizes: structure only, the numbers mean nothing)" if meta["smoke"] else ""
    samplers = ", ".join(f"`{x['name']}`" for x in results["samplers"])
    text = f"""# Samplers side by side on the built-in digits model

Written by `python -m paper.compare_samplers --samplers {','.join(x['name'] for x in results['samplers'])}` (`make bench-samplers`){smoke}.
The paper-results anonymization metrics (docs/PAPER_RESULTS.md, the same code: paper/paper_metrics.py) for the
samplers {samplers}, the first one the reference. Data: {meta['images']} of the {meta['train']} training images of the
built-in digits DDPM (T = {meta['T']}), stratified over the classes (selection seed {meta['selection_seed']}: the same
images as section 3 of docs/PAPER_RESULTS.md), each anonymized once per sampler and t_boom by the product's
dataset job (preset `anonymize`, batches of {plan['batch']}, base seed {meta['job_seed']}: every sampler starts from the same
per-image seeds). Utility: an RBF SVM and small CNNs ({meta['plan']['cnn_seeds']} training seeds, shared by all sets;
{plan['recipe']['steps']} Adam steps of batch {plan['recipe']['batch']}) trained on the {meta['images']} anonymized
images with their sources' labels, accuracy on the {meta['held_out']} held-out digits. Privacy: the linkage attack
against all {meta['train']} training images (pixel space, and the features of a CNN trained on the real training
split); re-identification = share whose own source ranks first. Pixel distance: RMS grey level to the own source.

**Uncertainty.** ± is one standard error, the sd over bootstrap resamples of the {meta['images']} images:
{plan['boot']} for re-identification and distance, {plan['svm_boot']} for the SVM (refitted on each), {plan['cnn_boot']} for the CNN
(one CNN trained on each resample, seed 1000 + resample; this includes the training-seed noise of one CNN, so it
overstates the SE of the {meta['plan']['cnn_seeds']}-seed mean shown a little). A difference to the reference is paired (the same resamples;
a resample's CNNs share their seed); a sampler is
*within* the sampling uncertainty of the reference on a metric when the difference is at most {LIMIT:g} such
standard errors. "Within" means no difference this many images can resolve, not equality.

**Cost.** Model calls per image: counted on the test pack's oracle model with the same sampler, scheduler, steps
and t_boom. CPU time: process CPU seconds per image of a fresh dataset job of {plan['time_images']} images (batch
{plan['time_images']}, {meta['threads']} torch thread), all samplers and t_boom one after another in one process, so the
ratios are side by side; the machine ({meta['machine']}, 2 cores shared with other work) was contended, so the
absolute times are not clean, the ratios are the number to read.

{sections}

{cross_check(results, s)}## Verdicts

{chr(10).join(f'- {line}' for line in conclusions(results, s))}

Run: {meta['marks']['total_s'] / 60:.1f} min (samples read from or made into --work, timing, {len(results['metrics'])} sets
evaluated). Dataset jobs (made and seconds: the run that made the items, on the contended machine):

| dataset job | sampler | items (manifest: done) | made | seconds |
|---|---|---|---|---|
{chr(10).join(f"| {j['name']} | {j['sampler']} | {j['items']} ({j['manifest_done']}) | {j['made_now']} | {j['seconds']:.0f} |" for j in meta['jobs'])}

Reproduce: `make bench-samplers` (`ARGS="--samplers a,b:karras:10"` for another list); the job folders stay under
`--work` (default `~/.cache/comfyui-boomerang/bench-samplers`), so only a sampler not run before makes samples.
All numbers: `samplers_digits.json` next to this file.
"""  # noqa: E501 - generated markdown: a paragraph is one line of the doc
    (out / "SAMPLERS_DIGITS.md").write_text(text)
    data = {"meta": meta, "samplers": results["samplers"], "index": np.asarray(results["index"]).tolist(),
            "t_boom": s, "limit_se": LIMIT, "paper_reference": results.get("paper_reference")}
    (out / "samplers_digits.json").write_text(json.dumps(data, indent=1, default=float))
    return out / "SAMPLERS_DIGITS.md"


def summary(results: dict) -> str:
    s = stats(results)
    parts = []
    for t in results["meta"]["t_booms"]:
        parts += [f"t_boom {t}", metrics_table(results, s, t), "", verdict_table(results, s, t), ""]
    return "\n".join(parts + [f"- {line}" for line in conclusions(results, s)])
