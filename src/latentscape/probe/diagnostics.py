"""Diagnostics that explain probe numbers: active latent units, class-balanced subsamples.

`active_units` tells how many code dimensions carry information (a VAE's collapsed dimensions
have posterior means that barely move with the input); `per_class_indices` draws the
class-balanced training subsample of study 001's kNN protocol (500 images per class).
"""

from __future__ import annotations

import numpy as np

from latentscape.errors import LatentscapeError


def active_units(codes: np.ndarray, threshold: float = 0.01) -> int:
    """Number of active latent units (Burda, Grosse & Salakhutdinov 2016, "Importance Weighted
    Autoencoders", section 5.2): dimension u is active when A_u = Cov_x(E_{q(z|x)}[z_u]) > 0.01.

    Args:
        codes: posterior means (or codes) of a data set, (N, D), N >= 2.
        threshold: the variance above which a dimension counts as active (0.01 in the paper).

    Returns:
        How many of the D dimensions have variance over the data above `threshold`.
    """
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2 or codes.shape[0] < 2:
        raise LatentscapeError(f"active_units needs codes of shape (N >= 2, D), got {codes.shape}")
    return int(np.sum(codes.var(axis=0) > threshold))


def per_class_indices(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Sorted indices of `per_class` seeded random rows of every class (all rows of a smaller class).

    Args:
        labels: class labels, (N,).
        per_class: rows drawn from each class, >= 1.
        seed: random state of the draw (numpy RandomState).
    """
    if per_class < 1:
        raise LatentscapeError(f"per_class must be at least 1, got {per_class}")
    labels = np.asarray(labels)
    rng = np.random.RandomState(seed)
    picked = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in np.unique(labels)]
    return np.sort(np.concatenate(picked))
