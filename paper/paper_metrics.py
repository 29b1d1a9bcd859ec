"""The anonymization metrics of the paper-results bench, shared by paper/bench_paper.py (docs/PAPER_RESULTS.md)
and paper/compare_samplers.py (docs/SAMPLERS_DIGITS.md), so both docs measure a set of anonymized digits alike:
utility (an RBF SVM and small CNNs trained on the anonymized images with their sources' labels, tested on the
held-out split) and privacy (the linkage attack in pixel space and in the attacker CNN's feature space)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import paper_classifiers as pc

PIXEL_SCALE = 16.0  # sqrt of the pixel count of a 16x16 digit: pixel distances / PIXEL_SCALE are RMS grey levels


@dataclass
class Attack:
    """What every assessment of one run shares: the originals the attacker ranks, the attacker's CNN (trained on
    the whole real training split), its features of the originals, the same-class mean distances, the test split."""

    x: np.ndarray
    y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    attacker: pc.SmallCNN
    feats: np.ndarray
    same_px: float
    same_ft: float


def attack(attacker_state: dict, x: np.ndarray, y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray) -> Attack:
    attacker = pc.load_cnn(attacker_state)
    feats = pc.cnn_features(attacker, x)
    return Attack(x, y, test_x, test_y, attacker, feats, pc.same_class_mean(x, y, PIXEL_SCALE),
                  pc.same_class_mean(feats, y))


def assess(a: Attack, images: np.ndarray, sources: np.ndarray, labels: np.ndarray, cnn: list[float]) -> dict:
    """The metrics of one set of (anonymized) ``images`` made from originals ``sources`` with ``labels``; ``cnn``:
    the held-out accuracies of the CNNs trained on them (one per seed, trained by the caller in a pool)."""
    return {"svm": pc.svm_accuracy(images, labels, a.test_x, a.test_y), "cnn": list(cnn),
            "cnn_mean": float(np.mean(cnn)), "cnn_sd": float(np.std(cnn, ddof=1)) if len(cnn) > 1 else 0.0,
            "pixel": pc.linkage(images, sources, a.x, a.y, scale=PIXEL_SCALE, same_class=a.same_px),
            "feature": pc.linkage(pc.cnn_features(a.attacker, images), sources, a.feats, a.y, same_class=a.same_ft)}


def per_image(a: Attack, images: np.ndarray, sources: np.ndarray) -> dict:
    """The per-image quantities behind ``assess``'s linkage numbers (for resampling them): each image's rank of
    its source in pixel space and in feature space, and its pixel RMS distance to its source."""
    px_rank, px_own = pc.link_ranks(images, sources, a.x, PIXEL_SCALE)
    ft_rank, _ = pc.link_ranks(pc.cnn_features(a.attacker, images), sources, a.feats)
    return {"pixel_rank": px_rank, "feature_rank": ft_rank, "pixel_to_source": px_own}
