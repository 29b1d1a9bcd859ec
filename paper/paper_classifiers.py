"""The classifiers and attacks of the paper-results bench (paper/bench_paper.py); bench code only, the node
pack never imports it.

- an RBF SVM (scikit-learn) and a small CNN (torch) on 16x16 grey digits in 0..1;
- classic augmentation: a random affine map (rotation, shift, scale) per image;
- Boomerang augmentation as in the paper's section 5: each time a training image is drawn, it is replaced by
  one of its pre-made local samples with probability 0.5;
- a linkage attack: rank every original training image by distance to an anonymized one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

SIDE = 16


def svm_accuracy(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray) -> float:
    """Test accuracy of an RBF SVM (C = 10, gamma 'scale', as the model card's classifier) on flat grey images."""
    from sklearn.svm import SVC

    model = SVC(C=10.0, gamma="scale").fit(train_x.reshape(len(train_x), -1), train_y)
    return float((model.predict(test_x.reshape(len(test_x), -1)) == test_y).mean())


class SmallCNN(nn.Module):
    """Two 3x3 conv blocks (16, 32 channels, max-pool 2) and a 64-unit hidden layer: 39 k parameters."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * (SIDE // 4) ** 2, 64), nn.ReLU())
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        return self.head(self.body(x))


@dataclass
class Recipe:
    """How the CNN is trained: a fixed number of Adam steps on batches drawn with replacement, whatever the
    size of the training set, so that every condition of a comparison gets the same compute."""

    steps: int = 400
    batch: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4


def random_affine(x: torch.Tensor, gen: torch.Generator, degrees: float = 10.0, shift_px: float = 1.0,
                  scale: tuple = (0.9, 1.1)) -> torch.Tensor:
    """Classic augmentation: each image of x [N, 1, H, W] rotated by U(-degrees, degrees), shifted by
    U(-shift_px, shift_px) pixels on each axis and scaled by U(scale); bilinear, zero (background) padding."""
    n, side = x.shape[0], x.shape[-1]
    angle = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(degrees)
    factor = scale[0] + torch.rand(n, generator=gen) * (scale[1] - scale[0])
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * shift_px * 2.0 / side  # pixels -> [-1, 1] grid units
    cos, sin = torch.cos(angle) / factor, torch.sin(angle) / factor  # the grid maps output to input coordinates
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = nn.functional.affine_grid(theta, list(x.shape), align_corners=False)
    return nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def train_cnn(images: np.ndarray, labels: np.ndarray, seed: int, recipe: Recipe = Recipe(),
              local: np.ndarray | None = None, affine: bool = False) -> SmallCNN:
    """A SmallCNN fitted on ``images`` [N, 16, 16] (grey 0..1) with ``labels``.

    local: [N, k, 16, 16] Boomerang samples of each image; a drawn image is replaced by one of its k samples
    with probability 0.5 (the paper's section 5). affine: apply ``random_affine`` to every drawn image."""
    gen = torch.Generator().manual_seed(int(seed))
    with torch.random.fork_rng():
        torch.manual_seed(int(seed))  # the initial weights; fork_rng restores the global state afterwards
        model = SmallCNN()
    x = torch.from_numpy(np.asarray(images, dtype=np.float32))[:, None]
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    loc = None if local is None else torch.from_numpy(np.asarray(local, dtype=np.float32))
    opt = torch.optim.Adam(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    model.train()
    for step in range(recipe.steps):
        for group in opt.param_groups:  # cosine decay to 5%
            group["lr"] = recipe.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / recipe.steps)))
        idx = torch.randint(0, len(x), (recipe.batch,), generator=gen)
        xb = x[idx]
        if loc is not None:
            swap = torch.rand(recipe.batch, generator=gen) < 0.5
            copy = torch.randint(0, loc.shape[1], (recipe.batch,), generator=gen)
            xb = torch.where(swap[:, None, None, None], loc[idx, copy][:, None], xb)
        if affine:
            xb = random_affine(xb, gen)
        loss = nn.functional.cross_entropy(model(xb), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


def _fit_task(task: dict) -> dict:
    """One training in a pool worker: {accuracy} and, if asked, the weights."""
    torch.set_num_threads(1)
    model = train_cnn(task["x"], task["y"], task["seed"], task["recipe"], local=task.get("local"),
                      affine=task.get("affine", False))
    out = {"accuracy": cnn_accuracy(model, task["test_x"], task["test_y"])}
    if task.get("keep"):
        out["state"] = model.state_dict()
    return out


def fit_many(tasks: list[dict], workers: int) -> list[dict]:
    """Train one SmallCNN per task (keys of ``train_cnn`` plus test_x, test_y, keep) in ``workers`` processes
    of one torch thread each: small-batch training uses one core well and two threads poorly, so two
    processes on two cores do about twice the work. Same results for any ``workers`` (one thread each)."""
    if workers <= 1:
        with _one_thread():
            return [_fit_task(t) for t in tasks]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_fit_task, tasks, chunksize=1))


class _one_thread:
    def __enter__(self):
        self.before = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc):
        torch.set_num_threads(self.before)


def load_cnn(state: dict) -> SmallCNN:
    model = SmallCNN()
    model.load_state_dict(state)
    return model.eval()


@torch.no_grad()
def cnn_accuracy(model: SmallCNN, images: np.ndarray, labels: np.ndarray) -> float:
    x = torch.from_numpy(np.asarray(images, dtype=np.float32))[:, None]
    return float((model(x).argmax(1).numpy() == labels).mean())


@torch.no_grad()
def cnn_features(model: SmallCNN, images: np.ndarray) -> np.ndarray:
    """The 64-d penultimate activations of images [N, 16, 16], on one thread (float sums then do not depend on
    the caller's thread count, so the attack's distances repeat to the last bit)."""
    x = torch.from_numpy(np.asarray(images, dtype=np.float32))[:, None]
    with _one_thread():
        return model.body(x).numpy().astype(np.float64)


def pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances [len(a), len(b)] between flattened rows, from the differences themselves (so an
    image's distance to itself is exactly 0, which the |a|^2 + |b|^2 - 2ab shortcut does not give)."""
    a = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64).reshape(len(a), -1))
    b = torch.from_numpy(np.ascontiguousarray(b, dtype=np.float64).reshape(len(b), -1))
    return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist").numpy()


def same_class_mean(originals: np.ndarray, labels: np.ndarray, scale: float = 1.0) -> float:
    """Mean distance between two different images of the same class (every ordered pair i != j)."""
    same = labels[:, None] == labels[None]
    np.fill_diagonal(same, False)
    return float((pairwise(originals, originals) / scale)[same].mean())


def link_ranks(anon: np.ndarray, sources: np.ndarray, originals: np.ndarray,
               scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Per anonymized row: (rank of its own source among ``originals`` by distance: how many are strictly closer,
    0 = re-identified; its distance to that source, divided by ``scale``)."""
    d = pairwise(anon, originals) / scale
    own = d[np.arange(len(anon)), sources]
    return (d < own[:, None]).sum(1), own


def linkage(anon: np.ndarray, sources: np.ndarray, originals: np.ndarray, labels: np.ndarray,
            scale: float = 1.0, same_class: float | None = None) -> dict:
    """The linkage attack: for each anonymized row (made from original ``sources[i]``), rank all ``originals``
    by distance. rank = how many originals are strictly closer than the true source (0 = re-identified).
    Distances are divided by ``scale`` (sqrt of the pixel count turns pixel distances into RMS);
    ``same_class``: ``same_class_mean`` of the originals, if already known."""
    rank, own = link_ranks(anon, sources, originals, scale)
    if same_class is None:
        same_class = same_class_mean(originals, labels, scale)
    return {"top1": float((rank == 0).mean()), "top10": float((rank < 10).mean()),
            "median_rank": float(np.median(rank)), "to_source": float(own.mean()), "to_source_sd": float(own.std()),
            "same_class": same_class, "n": len(anon), "pool": len(originals)}
