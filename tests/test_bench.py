"""The benchmark script keeps working (its --smoke mode); no timing is asserted, only what must hold exactly."""
import re

from testkit.bench_smoke import run_smoke


def test_bench_smoke_writes_every_section_with_equal_model_calls(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    run_smoke("benchmarks.bench_perf", "--out", out)
    text = out.read_text()
    for heading in ("## 1. Overhead", "## 2. Cost grows with t_boom", "## 3. Accuracy per model call",
                    "## 4. Batching", "## 5. Peak memory", "## 6. GPU", "## Cold start", "## 7. Tiled denoiser"):
        assert heading in text
    # the same sigma schedule and the same number of UNet calls as KSamplerAdvanced
    row = re.search(r"\| 64x64 \| 1 \| .*? \| (\d+) / (\d+) \| ([0-9.e+-]+) \|", text)
    assert row and row.group(1) == row.group(2) == "10", text[:2000]
    assert float(row.group(3)) < 1e-4
    # boomerang_exact makes exactly t_boom model calls on the oracle
    for t in (200, 500, 800):
        assert re.search(rf"\| boomerang_exact \| t_boom \|.*\b{t} / ", text)
    # the tiled denoiser (smoke: 128 px tiles, overlap 16, 1 step): a 32x32 latent in 3x3 tiles of 16x16,
    # one UNet call per tile; untiled, one call on the whole 32x32 latent
    assert re.search(r"\| 256 px \| tiled \(auto\) \| 9 \| 9 \| 16x16 \|", text), text[-3000:]
    assert re.search(r"\| 256 px \| untiled \(off\) \| 1 \| 1 \| 32x32 \|", text), text[-3000:]


def test_tiling_bench_rewrites_only_its_own_section(tmp_path):
    from benchmarks import bench_tiling

    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text(f"# Benchmarks\n\nkeep me\n\n{bench_tiling.BEGIN}\nold numbers\n{bench_tiling.END}\n\ntail\n")
    bench_tiling.write_section(f"{bench_tiling.BEGIN}\nnew numbers\n{bench_tiling.END}", doc)
    expected = f"# Benchmarks\n\nkeep me\n\n{bench_tiling.BEGIN}\nnew numbers\n{bench_tiling.END}\n\ntail\n"
    assert doc.read_text() == expected
    # full-size buffers of the tiled 4096 px run, from their shapes: 40 bytes per output pixel in image space
    sizes = bench_tiling.full_size_bytes(4096)
    assert sizes["upscaled image"] + sizes["VAE decode accumulator + weights"] + sizes["normalised "
                                                                                       "decode"] == 40 * 4096 ** 2
    assert sizes["latent (one copy)"] == 4 * 4 * 512 * 512
    assert sizes["denoiser blend weights"] == 4 * 81 * 64 * 64  # 9 x 9 tiles of 64 x 64 latent samples


def test_tiling_bench_rows_file_lists_each_row_once(tmp_path, monkeypatch):
    """Regression: with --rows, every measured row was read back from the file and listed twice in the doc."""
    from benchmarks import bench_memory, bench_tiling

    calls = []

    def fake_child(args, cap, module=None, device=None):  # the child's JSON, without running ComfyUI
        calls.append((int(args[1]), args[2]))
        return {"seconds": 1.0}

    monkeypatch.setattr(bench_memory, "run_child", fake_child)
    rows_file = tmp_path / "rows.jsonl"
    rows = bench_tiling.measure((512, 1024), (1024,), rows_file=rows_file)
    expected = [(512, "auto"), (1024, "auto"), (1024, "off")]
    assert [(r["side"], r["mode"]) for r in rows] == expected and calls == expected
    assert [r["tiles"] for r in rows] == [1, 9, 1]  # 3 x 3 tiles of 512 px with 64 px overlap cover 1024 px
    again = bench_tiling.measure((512, 1024), (1024,), rows_file=rows_file)  # resumed: nothing measured again
    assert [(r["side"], r["mode"]) for r in again] == expected and len(calls) == 3
    assert len(rows_file.read_text().splitlines()) == 3
