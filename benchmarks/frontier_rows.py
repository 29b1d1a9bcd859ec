"""The frontier bench's rows, stored beside its doc (docs/frontier_rows.json), so that a run can re-measure a few
samplers (``python -m benchmarks.bench_frontier --update boomerang_fast``) and keep every other sampler's rows.

The sidecar holds what docs/FRONTIER.md is rendered from: the latent size, the start levels, the stochastic and
deterministic samplers, the measured calls per steps, every cell's errors and the data-scale table's rows.
``from_markdown`` reads the same back from a FRONTIER.md written before the sidecar existed (to the precision the
doc prints): ``python -m benchmarks.frontier_rows --from-markdown`` writes the sidecar from docs/FRONTIER.md that
way; ``--render`` rewrites the doc, its plot and boomerang/frontier_table.py from the sidecar (no measuring).
"""
from __future__ import annotations

import argparse
import json
import math
import re
from pathlib import Path

from benchmarks.frontier_doc import EXACT, KINDS, UPDATED

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "FRONTIER.md"
SIDECAR_NAME = "frontier_rows.json"
_CELL = re.compile(r"^\| (?P<sampler>[\w.-]+) \| (?P<steps>\d+) \| (?P<calls>\d+) \| (?P<kind>\w+) \| "
                   r"(?P<t_boom>\d+) \| (?P<mean>[\d.]+) \| (?P<var>[\d.]+)% \| (?P<switch>[\d.]+)% "
                   r"\((?P<law>[\d.]+)\) \| (?P<mode_mean>[\d.]+) \| (?P<mode_sd>[\d.]+)% \| (?P<worst>[\d.]+) \| "
                   r"(?P<holds>yes|no) \|$")
_PER_STEPS = re.compile(r"^\| (?P<sampler>[\w.-]+) \|(?: [\d-]+ \|)+ (?P<per>(?:\d+:\d+(?:, )?)+|t_boom) \|$")
_SCALE = re.compile(r"^\| (?P<sampler>[\w.-]+) \| (?P<steps>\d+) \| (?P<s>[\d.]+) \|(?P<errs>(?: [+-][\d.]+% \|)+)$")


def sidecar(doc: Path) -> Path:
    return doc.with_name(SIDECAR_NAME)


def _names(text: str) -> list[str]:
    return [] if text.strip() == "-" else [n.strip() for n in text.split(",")]


def from_markdown(text: str) -> dict:
    """The sidecar's content read from a FRONTIER.md (values to the precision the doc prints them)."""
    n = int(re.search(r"([\d,]+) values per cell", text).group(1).replace(",", ""))
    size = math.isqrt(n // 16)
    t_booms = [int(t) for t in re.search(r"t_boom in \[([\d, ]+)\] of T", text).group(1).split(",")]
    m = re.search(r"^Stochastic \(output changes with the sampler seed\): (.*)\. Deterministic, not benchmarked: "
                  r"(.*)\.$", text, re.M)
    updated = re.search("^" + re.escape(UPDATED) + r"(.*) \(its rows", text, re.M)
    data = {"size": size, "smoke": "--smoke (tiny samples" in text, "t_booms": t_booms,
            "stochastic": _names(m.group(1)), "deterministic": _names(m.group(2)),
            "updated": _names(updated.group(1)) if updated else [], "tables": {}, "rows": [], "scales": []}
    section = ""
    for line in text.splitlines():
        if line.startswith("## "):
            section = line[3:]
        elif section.startswith("Fewest") and (p := _PER_STEPS.match(line)) and p["per"] != "t_boom":
            data["tables"][p["sampler"]] = {int(s): int(c) for s, c in
                                            (pair.split(":") for pair in p["per"].split(", "))}
        elif section.startswith("Away") and (c := _SCALE.match(line)):
            errs = [float(e.strip(" %")) / 100 for e in c["errs"].strip(" |").split("|")]
            cells = [(k, t) for k in KINDS for t in t_booms]
            data["scales"] += [{"sampler": c["sampler"], "steps": int(c["steps"]), "s": float(c["s"]), "kind": k,
                                "t_boom": t, "var_err": e} for (k, t), e in zip(cells, errs, strict=True)]
        elif section.startswith("Every") and (c := _CELL.match(line)):
            data["rows"].append({
                "sampler": c["sampler"], "steps": int(c["steps"]), "calls": int(c["calls"]), "kind": c["kind"],
                "t_boom": int(c["t_boom"]),
                "err": {"mean": float(c["mean"]), "var": float(c["var"]) / 100, "switch": float(c["switch"]) / 100,
                        "mode_mean": float(c["mode_mean"]), "mode_sd": float(c["mode_sd"]) / 100},
                "worst": float(c["worst"]), "holds": c["holds"] == "yes", "switch_law": float(c["law"])})
    return data


def _plain(value):
    """JSON-able: numpy numbers as Python's, floats to 6 significant digits."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, float):
        return float(f"{value:.6g}")
    return value


def dumps(data: dict) -> str:
    """The sidecar's text: one row per line (readable diffs when a sampler is re-measured)."""
    data = _plain(data)
    lines = ["{"]
    for key, value in data.items():
        if key in ("tables", "rows", "scales"):
            items = [f"    {json.dumps(k)}: {json.dumps(v)}" for k, v in value.items()] if key == "tables" else \
                [f"    {json.dumps(v)}" for v in value]
            open_, close = ("{", "}") if key == "tables" else ("[", "]")
            lines.append(f"  {json.dumps(key)}: {open_}" + ("\n" + ",\n".join(items) + f"\n  {close}" if items
                                                           else close) + ",")
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)},")
    lines[-1] = lines[-1].rstrip(",")
    return "\n".join(lines + ["}"]) + "\n"


def loads(text: str) -> dict:
    data = json.loads(text)
    data["tables"] = {smp: {int(s): c for s, c in table.items()} for smp, table in data["tables"].items()}
    return data


def merge(stored: dict, rows, tables, scales, remeasured, stochastic, deterministic) -> dict:
    """``stored`` with the rows and calls per steps of the samplers in ``remeasured`` (boomerang_exact's reference
    rows among them only if named) replaced by ``rows``/``tables``, the scale rows of the samplers in ``scales``
    replaced by those, and the sampler lists as given; rows keep the order EXACT, then ``stochastic``."""
    gone = set(remeasured)
    order = [EXACT] + list(stochastic)
    kept = [r for r in stored["rows"] if r["sampler"] not in gone] + list(rows)
    new_scale = {r["sampler"] for r in scales}
    scale_order = list(dict.fromkeys(r["sampler"] for r in [*stored["scales"], *scales]))
    return {**stored, "stochastic": list(stochastic), "deterministic": list(deterministic),
            "updated": list(dict.fromkeys([*stored["updated"], *(s for s in remeasured if s in order)])),
            "tables": {s: (tables if s in gone else stored["tables"])[s] for s in stochastic
                       if s in (tables if s in gone else stored["tables"])},
            "rows": sorted((r for r in kept if r["sampler"] in order), key=lambda r: order.index(r["sampler"])),
            "scales": sorted([r for r in stored["scales"] if r["sampler"] not in new_scale] + list(scales),
                             key=lambda r: scale_order.index(r["sampler"]))}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--doc", type=Path, default=DOC)
    how = parser.add_mutually_exclusive_group(required=True)
    how.add_argument("--from-markdown", action="store_true", help="write the sidecar from the doc (once, for a "
                     "doc written before the sidecar existed)")
    how.add_argument("--render", action="store_true", help="rewrite the doc, its plot and boomerang/frontier_table.py "
                     "from the sidecar (after a change to the doc's text, without measuring)")
    args = parser.parse_args(argv)
    side = sidecar(args.doc)
    if args.from_markdown:
        side.write_text(dumps(from_markdown(args.doc.read_text())))
        print(f"wrote {side}")
        return
    from benchmarks import frontier_table
    from benchmarks.frontier_doc import SCHEDULER, plot, render_data

    data = loads(side.read_text())
    args.doc.write_text(render_data(data))
    plot(data["rows"], args.doc.with_name("frontier.png"), tuple(data["t_booms"]))
    module = args.doc.with_name("frontier_table.py") if data["smoke"] else frontier_table.MODULE
    module.write_text(frontier_table.render_module(data["rows"], data["deterministic"], SCHEDULER, data["t_booms"]))
    print(f"wrote {args.doc}, {args.doc.with_name('frontier.png')} and {module}")


if __name__ == "__main__":
    main()
