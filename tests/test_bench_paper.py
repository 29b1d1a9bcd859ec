"""The paper-results bench (paper/bench_paper.py) keeps working: its --smoke run, checked only for structure and
exact facts (the model card's split, the chance rates, the item counts its dataset jobs' manifests report, every
table row), never for a measured accuracy or time. Plus the attack and the augmentation against closed forms."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from testkit.bench_smoke import run_smoke

REPO = Path(__file__).resolve().parent.parent
FRACTIONS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0]


def _classifiers():
    from paper import paper_classifiers

    return paper_classifiers


def test_linkage_attack_on_known_distances():
    pc = _classifiers()
    # 4 originals on a line (1-pixel images): 0, 1, 3, 7; labels a, a, b, b
    originals = np.array([0.0, 1.0, 3.0, 7.0]).reshape(4, 1, 1)
    labels = np.array([0, 0, 1, 1])
    anon = np.array([0.4, 2.9, 6.0]).reshape(3, 1, 1)  # made from sources 1, 2, 2
    r = pc.linkage(anon, np.array([1, 2, 2]), originals, labels)
    # ranks: 0.4 -> source 1 at 0.6, original 0 is closer (0.4): rank 1; 2.9 -> source 2 nearest: rank 0;
    # 6.0 -> source 2 at 3.0, original 3 (1.0) closer: rank 1
    assert r["top1"] == 1 / 3 and r["top10"] == 1.0 and r["median_rank"] == 1
    assert np.isclose(r["to_source"], (0.6 + 0.1 + 3.0) / 3)
    assert np.isclose(r["same_class"], (1.0 + 4.0) / 2)  # the pairs (0, 1) and (3, 7), each counted both ways
    assert r["pool"] == 4 and r["n"] == 3


def test_classic_augmentation_is_the_identity_at_zero_strength_and_keeps_the_grid():
    pc = _classifiers()
    x = torch.rand(5, 1, 16, 16)
    gen = torch.Generator().manual_seed(0)
    same = pc.random_affine(x, gen, degrees=0.0, shift_px=0.0, scale=(1.0, 1.0))
    assert torch.allclose(same, x, atol=1e-5)
    # a pure shift moves a single bright pixel by the drawn amount: bilinear resampling keeps its mass (1) and
    # moves its centroid by exactly the shift; the draws are replayed from the same seed (angle, scale, shift)
    dot = torch.zeros(1, 1, 16, 16)
    dot[0, 0, 8, 8] = 1.0
    moved = pc.random_affine(dot, torch.Generator().manual_seed(1), degrees=0.0, shift_px=1.0, scale=(1.0, 1.0))
    replay = torch.Generator().manual_seed(1)
    torch.rand(1, generator=replay), torch.rand(1, generator=replay)
    shift_x, shift_y = ((torch.rand(1, 2, generator=replay) * 2 - 1) * 1.0)[0].tolist()
    mass = moved.sum().item()
    rows = (moved[0, 0] * torch.arange(16.0)[:, None]).sum().item() / mass
    cols = (moved[0, 0] * torch.arange(16.0)[None]).sum().item() / mass
    assert abs(mass - 1.0) < 1e-5
    assert abs(rows - (8.0 - shift_y)) < 1e-4 and abs(cols - (8.0 - shift_x)) < 1e-4, (rows, cols, shift_x, shift_y)


def test_bench_paper_smoke(tmp_path):  # about 1 minute on 2 cores
    out, work = tmp_path / "docs", tmp_path / "work"
    run_smoke("paper.bench_paper", "--out", out, "--work", work)
    doc = (out / "PAPER_RESULTS.md").read_text()
    # --render-only rewrites the same doc from paper_results.json alone (after a change to the report's text)
    (out / "PAPER_RESULTS.md").unlink()
    proc = subprocess.run([sys.executable, "-m", "paper.bench_paper", "--render-only", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "PAPER_RESULTS.md").read_text() == doc
    data = json.loads((out / "paper_results.json").read_text())
    meta, plan = data["meta"], data["meta"]["plan"]
    # the model card's split and schedule
    assert (meta["train"], meta["held_out"], meta["T"]) == (1500, 297, 1000)
    # every dataset job: one output per input (anonymize) or `copies` (augment), all recorded done
    jobs = {j["name"]: j for j in meta["jobs"]}
    expected = {f"anonymize-fast-t{round(f * 1000)}" for f in FRACTIONS}
    expected |= {f"augment-fast-t{t}" for t in (100, 200, 300)}
    ref = round(plan["reference"] * 1000)
    expected |= {f"anonymize-exact-t{ref}", f"augment-exact-t{ref}"}
    assert set(jobs) == expected
    for name, j in jobs.items():
        copies = 4 if name.startswith("augment") else 1
        assert j["copies"] == copies
        assert j["items"] == j["inputs"] * copies == j["manifest_done"] == j["made_now"], j
        assert j["sampler"] == ("boomerang_exact" if "exact" in name else "dpmpp_3m_sde")
    assert jobs["anonymize-fast-t100"]["inputs"] == plan["anon"]
    assert jobs[f"anonymize-exact-t{ref}"]["inputs"] == plan["exact_anon"]
    assert jobs["augment-fast-t100"]["inputs"] == data["augmentation"]["union"]
    # the privacy-utility curve: every level, ranked against the whole training split
    rows = data["privacy"]["rows"]
    assert [r["fraction"] for r in rows] == FRACTIONS
    assert [r["t_boom"] for r in rows] == [round(f * 1000) for f in FRACTIONS]
    for r in rows:
        assert r["pixel"]["pool"] == r["feature"]["pool"] == 1500 and r["pixel"]["n"] == plan["anon"]
        assert len(r["cnn"]) == 3
    # real images linked to themselves: every one at distance 0, ranked first
    real = data["privacy"]["reference"]["real"]
    assert real["pixel"]["top1"] == 1.0 and real["pixel"]["to_source"] == 0.0
    text = (out / "PAPER_RESULTS.md").read_text()
    assert "| chance | | 10% | 10% | 0.067% | 0.67% | 0.067% | 0.67% |" in text  # 1/1500 and 10/1500
    for f in FRACTIONS:
        assert f"| anonymized | {f:g} |" in text
    # augmentation: every condition for every n, one accuracy per draw; exact rows only where planned
    names = ["real only", "classic"] + [f"Boomerang {f:g}" for f in (0.1, 0.2, 0.3)] + \
        [f"Boomerang {f:g} + classic" for f in (0.1, 0.2, 0.3)]
    exact = [f"Boomerang {plan['reference']:g} exact", f"Boomerang {plan['reference']:g} exact + classic"]
    acc = data["augmentation"]["accuracy"]
    assert sorted(acc) == sorted(str(n) for n in plan["shots"])
    for n, table in acc.items():
        assert list(table) == names + (exact if int(n) in plan["exact_shots"] else [])
        assert all(len(v) == plan["draws"] for v in table.values())
        for name in table:
            assert f"| {name} |" in text
    for heading in ("## 1. Privacy-utility curve", "## 2. Augmentation", "## 3. Fast path",
                    "## Where this agrees with the paper and where not", "## Dataset jobs of this run"):
        assert heading in text
    for png in ("paper_privacy_utility.png", "paper_augmentation.png", "paper_examples.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
