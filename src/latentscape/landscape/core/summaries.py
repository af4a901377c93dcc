"""Summaries of a metric along a path: ends, extremes, mean and the barrier height."""

from __future__ import annotations

import numpy as np

HIGHER_IS_BETTER = ("accuracy", "acc", "ssim", "psnr")


def higher_is_better(metric: str) -> bool:
    return any(metric == h or metric.endswith("_" + h) or metric.endswith("/" + h) for h in HIGHER_IS_BETTER)


def summarize(values: np.ndarray, metric: str, ends: tuple[int, int] = (0, -1)) -> dict[str, float]:
    """start, end, min, max, mean and barrier height of one metric along a path.

    `ends` are the indices of the two endpoints (t = 0 and t = 1). The barrier is
    max(path) - max(ends) for losses and min(ends) - min(path) for metrics where
    higher is better (so a positive barrier always means "worse somewhere inside").
    """
    v = np.asarray(values, dtype=np.float64)
    a, b = v[ends[0]], v[ends[1]]
    barrier = min(a, b) - v.min() if higher_is_better(metric) else v.max() - max(a, b)
    return {
        "start": float(a),
        "end": float(b),
        "min": float(v.min()),
        "max": float(v.max()),
        "mean": float(v.mean()),
        "barrier": float(barrier),
    }
