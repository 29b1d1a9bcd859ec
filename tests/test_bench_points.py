"""The many-mode oracle (testkit/points_law.py) against closed forms, and the bench that uses it (smoke run)."""
import math

import torch

from testkit import points_law
from testkit.oracle_law import sd_alpha_bars


def test_denoiser_of_two_points_is_the_closed_form_posterior_mean():
    """Points +-p: E[x0 | x] = p tanh(a p . x / s^2) (the two-point posterior), at several levels."""
    p = torch.tensor([[0.6, -0.8]], dtype=torch.float64)
    pts = torch.cat([p, -p])
    x = torch.randn(50, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for a, s in [(1.0, 0.5), (0.7, 1.3), (0.2, 3.0)]:
        expected = p * torch.tanh(a * (x @ p.T) / s ** 2)
        assert torch.allclose(points_law.denoise(pts, x, a, s), expected, atol=1e-12)


def test_algorithm1_with_one_point_returns_it_and_summary_counts():
    """One training point: every output of the exact chain is that point (distance 0, no switch)."""
    pts = torch.tensor([[0.3, -1.2, 2.0]], dtype=torch.float64)
    out = points_law.algorithm1(pts, sd_alpha_bars(), 300, 64, seed=3)
    assert torch.allclose(out, pts.expand_as(out), atol=1e-9)
    s = points_law.summary(pts, out)
    assert s["switch"] == 0.0 and s["dist"] < 1e-9 and s["switch_se"] == math.sqrt(1 / 64) / 8


def test_bench_points_smoke(tmp_path):
    from benchmarks import bench_points

    out = tmp_path / "POINTS.md"
    bench_points.main(["--smoke", "--out", str(out)])
    text = out.read_text()
    assert "## t_boom = 200" in text and "| boomerang_fast | 10 |" in text and "| dpmpp_3m_sde | 20 |" in text
