"""benchmarks/bench_video.py keeps working (its --smoke mode, into a temporary folder); no timing is asserted."""
from testkit.bench_smoke import run_smoke


def test_bench_video_smoke_writes_both_tables(tmp_path):
    out = tmp_path / "VIDEO.md"
    run_smoke("benchmarks.bench_video", "--out", out)
    text = out.read_text()
    assert "## Temporal coherence" in text and "## Peak memory, tiled and untiled" in text
    rows = [line for line in text.splitlines() if line.startswith("| 8 x 8 x 2 |")]
    assert len(rows) == 2  # untiled and tiled, each from its own child process
    untiled, tiled = (row.split(" | ") for row in rows)
    # 8 x 8 latent, 64 px tiles = 4 samples with 1 of overlap: tiles at 0, 3, 4 per side = 9 model calls of 4 x 4,
    # each with both latent frames; untiled: one call with the whole latent
    assert (untiled[3], untiled[4]) == ("1", "1x48x2x8x8") and (tiled[3], tiled[4]) == ("9", "1x48x2x4x4")
    assert "| 500 | " in text  # the coherence row
