"""The sampler comparison on the digits model (paper/compare_samplers.py) keeps working: its --smoke run (4 images,
t_boom 30 and 50) checked for structure, ranges and facts known independently of the pack (Algorithm 1's call
count, one model call per step of the one-step samplers, an image's distance to itself, the SVM accuracy of the
real images computed here directly with scikit-learn), never for a measured accuracy, rate or time."""
import json

import numpy as np
import pytest

from testkit.bench_smoke import run_smoke

SAMPLERS = "boomerang_exact,recommended,euler_ancestral:karras:4"


def test_sampler_list_parsing():
    from boomerang.advice import RECOMMENDED
    from paper.compare_samplers import parse_samplers

    exact, rec, other, bare = parse_samplers("boomerang_exact, recommended,euler_ancestral:simple:6,dpmpp_sde")
    assert exact.exact and exact.key == "boomerang_exact"
    assert (rec.sampler, rec.scheduler, rec.steps) == (RECOMMENDED.sampler, RECOMMENDED.scheduler, RECOMMENDED.steps)
    assert (other.sampler, other.scheduler, other.steps, other.key) == ("euler_ancestral", "simple", 6,
                                                                        "euler_ancestral-simple-6")
    assert (bare.scheduler, bare.steps) == (RECOMMENDED.scheduler, RECOMMENDED.steps)
    # "recommended" and the entry naming the same setting are one sampler, in the place of the first
    merged = parse_samplers(f"boomerang_exact,recommended,{RECOMMENDED.sampler}:{RECOMMENDED.scheduler}:"
                            f"{RECOMMENDED.steps},euler")
    assert [c.key for c in merged] == ["boomerang_exact", rec.key, f"euler-{RECOMMENDED.scheduler}-{RECOMMENDED.steps}"]
    assert merged[1].name.startswith("recommended = ")
    for bad in ("", "a:b:c", "a:b:0", "a:b:3:4", "boomerang_exact,boomerang_exact", ":karras:4"):
        with pytest.raises(ValueError, match="--samplers"):
            parse_samplers(bad)


def test_compare_samplers_smoke(tmp_path):  # about 1.5 minutes on 2 cores
    from sklearn.svm import SVC

    from headless import digits_data

    out, work = tmp_path / "docs", tmp_path / "work"
    run_smoke("paper.compare_samplers", "--out", out, "--work", work, "--samplers", SAMPLERS)
    doc = (out / "SAMPLERS_DIGITS.md").read_text()
    data = json.loads((out / "samplers_digits.json").read_text())
    meta, index = data["meta"], np.asarray(data["index"])
    assert meta["smoke"] and meta["t_booms"] == [30, 50] and meta["images"] == len(index) == 4
    from boomerang.advice import RECOMMENDED

    rec = f"{RECOMMENDED.sampler}-{RECOMMENDED.scheduler}-{RECOMMENDED.steps}"
    keys = ["boomerang_exact", rec, "euler_ancestral-karras-4"]
    assert [s["key"] for s in data["samplers"]] == keys
    # one dataset job per (sampler, t_boom), every item recorded done
    assert sorted(j["name"] for j in meta["jobs"]) == sorted(f"anonymize-{k}-t{t}" for k in keys for t in (30, 50))
    assert all(j["items"] == j["manifest_done"] == 4 for j in meta["jobs"])
    for t in (30, 50):
        assert f"## t_boom = {t} (" in doc
        rows = data["t_boom"][str(t)]
        assert list(rows) == ["real"] + keys
        # Algorithm 1 calls the model once per timestep; euler_ancestral and the recommended sampler (boomerang_fast,
        # dpmpp_3m_sde before it) once per step
        assert [rows[k]["calls"] for k in keys] == [t, RECOMMENDED.steps, 4]
        assert rows["boomerang_exact"]["cpu_ratio_to_reference"] == 1.0
        for key, row in rows.items():
            for metric in ("svm", "cnn", "reid_pixel", "reid_feature", "reid", "pixel_to_source"):
                assert 0.0 <= row[metric]["value"] <= 1.0 and row[metric]["se"] >= 0.0, (t, key, metric, row[metric])
            assert row["reid"]["value"] == max(row["reid_pixel"]["value"], row["reid_feature"]["value"])
            if key != "real":
                assert row["cpu_s_per_image"] > 0 and row["wall_s_per_image"] > 0
            if key not in ("real", "boomerang_exact"):
                assert set(row["vs_reference"]) == {"svm", "cnn", "reid_pixel", "reid_feature", "reid",
                                                    "pixel_to_source"}
                assert f"| {key.replace('-', ' / ')} |" in doc
        # the real images: each is its own source at distance 0, so every attack links all of them
        real = rows["real"]
        assert real["pixel_to_source"]["value"] == 0.0 and real["reid_pixel"]["value"] == 1.0
        assert real["reid_feature"]["value"] == 1.0
    # the real images' SVM accuracy, computed here directly: scikit-learn's SVC (C = 10, gamma "scale") on the
    # selected training digits as 8-bit grey PNGs store them, scored on the held-out split
    images, labels = digits_data.load("train")
    test_images, test_labels = digits_data.load("held_out")
    assert sorted(labels[index]) == [0, 1, 2, 3]  # stratified: one image of each of the first 4 classes

    def grey(batch):
        return (np.round(batch.float().mean(dim=1).numpy() * 255.0) / 255.0).reshape(len(batch), -1)

    svm = SVC(C=10.0, gamma="scale").fit(grey(images)[index], labels[index])
    direct = float((svm.predict(grey(test_images)) == test_labels).mean())
    assert data["t_boom"]["30"]["real"]["svm"]["value"] == pytest.approx(direct, abs=1e-12)
