"""Draw web/docs/tiling_layout.png, the help pages' picture of denoiser tiles, from the real layout code.

    python -m devtools.tiling_figure   # boomerang.imaging.tile_grid and TileGrid.weights, as the nodes use them
"""
from __future__ import annotations

from pathlib import Path

from boomerang.imaging import tile_grid

REPO = Path(__file__).resolve().parents[1]

WIDTH, HEIGHT, TILE, OVERLAP, RATIO = 1280, 768, 512, 64, 8  # pixels; SD's VAE ratio 8


def main(out: Path = REPO / "web" / "docs" / "tiling_layout.png") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    grid = tile_grid(HEIGHT // RATIO, WIDTH // RATIO, TILE // RATIO, OVERLAP // RATIO)
    weights = grid.weights()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6), dpi=110)
    colors = plt.cm.tab10.colors
    for i, (y, x) in enumerate(grid.boxes):
        left.add_patch(plt.Rectangle((x * RATIO, y * RATIO), grid.tile_w * RATIO, grid.tile_h * RATIO, fill=True,
                                     alpha=0.18, facecolor=colors[i % 10], edgecolor=colors[i % 10], linewidth=2))
        left.text((x + grid.tile_w / 2) * RATIO, (y + grid.tile_h / 2) * RATIO, str(i + 1), ha="center",
                  va="center", fontsize=11, color=colors[i % 10])
    left.set(xlim=(0, WIDTH), ylim=(HEIGHT, 0), aspect="equal",
             title=f"{WIDTH}x{HEIGHT} px output: {len(grid)} tiles of {TILE} px, overlap >= {OVERLAP} px")
    total = torch.zeros(grid.height, grid.width)
    for (y, x), w in zip(grid.boxes, weights):
        total[y:y + grid.tile_h, x:x + grid.tile_w] += w
    row = grid.tile_h // 4
    for i, (y, x) in enumerate(grid.boxes[:len(grid.xs)]):
        line = torch.full((grid.width,), float("nan"))
        line[x:x + grid.tile_w] = weights[i][row]
        right.plot(torch.arange(grid.width) * RATIO, line, color=colors[i % 10], label=f"tile {i + 1}")
    right.plot(torch.arange(grid.width) * RATIO, total[row], "k--", label="sum of weights")
    right.set(xlim=(0, WIDTH), ylim=(-0.05, 1.15), xlabel="x (px)", ylabel="blend weight",
              title="Weights along one row: raised-cosine cross-fades, sum 1")
    right.legend(loc="lower center", ncol=4, fontsize=8)
    fig.tight_layout()
    fig.savefig(out)
    print(out)  # noqa: T201 - a developer tool


if __name__ == "__main__":
    main()
