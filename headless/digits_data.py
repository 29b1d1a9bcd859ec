"""The data behind the embedded default model: scikit-learn's 8x8 handwritten digits, at 16x16.

scikit-learn ships the UCI "Optical Recognition of Handwritten Digits" test set (1,797 images, 8x8, 17 grey
levels, CC BY 4.0) inside the package, so nothing is downloaded. Every user of it (training, the demo, the
locality benchmark) takes the same fixed split and the same 2x bilinear resize from here.
"""
from __future__ import annotations

import numpy as np
import torch

SIDE = 16  # 8x8 digits resized 2x: legible in a contact sheet, cheap enough to train on 2 CPU cores
SPLIT_SEED = 20240101
HELD_OUT = 297  # images the DDPM and the classifier never see; the demo and the benchmark start from these


def load(split: str = "train") -> tuple[torch.Tensor, np.ndarray]:
    """(images [N, 3, 16, 16] in 0..1, labels [N]) of ``split`` ("train", "held_out" or "all")."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.from_numpy(digits.images.astype(np.float32) / 16.0)[:, None]
    images = torch.nn.functional.interpolate(images, size=(SIDE, SIDE), mode="bilinear", align_corners=False)
    images = images.clamp(0.0, 1.0).repeat(1, 3, 1, 1)
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(labels))
    picked = {"train": order[HELD_OUT:], "held_out": order[:HELD_OUT], "all": order}.get(split)
    if picked is None:
        raise ValueError(f"split must be one of train, held_out, all; received {split!r}")
    picked = np.sort(picked)
    return images[torch.from_numpy(picked)], labels[picked]


def features(images: torch.Tensor) -> np.ndarray:
    """Flattened grey values (mean over RGB) of images [N, 3, H, W] in 0..1 for the classifiers."""
    return images.float().mean(dim=1).flatten(1).clamp(0.0, 1.0).numpy()


def classifier(train_images: torch.Tensor, train_labels: np.ndarray):
    """A digit classifier (RBF SVM; about 99% on the held-out split) fitted on ``train_images``."""
    from sklearn.svm import SVC

    return SVC(C=10.0, gamma="scale").fit(features(train_images), train_labels)


def first_of_each_class(images: torch.Tensor, labels: np.ndarray, classes=range(10), per_class: int = 1
                        ) -> tuple[torch.Tensor, list]:
    """The first ``per_class`` images of each class in ``classes``, class by class (deterministic inputs)."""
    rows = [int(r) for c in classes for r in np.flatnonzero(labels == c)[:per_class]]
    return images[rows], [int(labels[r]) for r in rows]
