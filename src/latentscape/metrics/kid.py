"""Kernel Inception Distance (Binkowski et al. 2018, "Demystifying MMD GANs", sec. 2.3 / App. A).

KID is the unbiased estimate of MMD^2 with the cubic polynomial kernel
    k(x, y) = (x . y / d + 1)^3,
    MMD^2_u = 1/(m(m-1)) sum_{i!=j} k(x_i, x_j) + 1/(m(m-1)) sum_{i!=j} k(y_i, y_j)
              - 2/m^2 sum_{i,j} k(x_i, y_j),
averaged over `n_subsets` random subsets of `subset_size` from each set (subset indices drawn
like torch-fidelity: numpy RandomState(seed).choice without replacement), reported as mean and std.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from latentscape.errors import LatentscapeError
from latentscape.metrics.base import EvalContext


def polynomial_kernel(x: Tensor, y: Tensor, degree: int = 3, coef0: float = 1.0) -> Tensor:
    """k(x, y) = (x . y / d + coef0)^degree for rows of x (N, D) and y (M, D) -> (N, M)."""
    return (x @ y.T / x.shape[1] + coef0) ** degree


def mmd2_unbiased(x: Tensor, y: Tensor) -> Tensor:
    """Unbiased MMD^2 between equally sized sets x, y (m, D) with the cubic kernel."""
    m = x.shape[0]
    if y.shape[0] != m or m < 2:
        raise LatentscapeError(f"MMD needs two sets of the same size >= 2, got {x.shape[0]} and {y.shape[0]}")
    k_xx = polynomial_kernel(x, x)  # (m, m)
    k_yy = polynomial_kernel(y, y)  # (m, m)
    k_xy = polynomial_kernel(x, y)  # (m, m)
    off_xx = k_xx.sum() - k_xx.diagonal().sum()
    off_yy = k_yy.sum() - k_yy.diagonal().sum()
    return (off_xx + off_yy) / (m * (m - 1)) - 2 * k_xy.sum() / (m * m)


def kernel_inception_distance(
    features1: Tensor | np.ndarray,
    features2: Tensor | np.ndarray,
    subset_size: int = 1000,
    n_subsets: int = 100,
    seed: int = 0,
) -> tuple[float, float]:
    """KID mean and standard deviation over random subsets (float64).

    Args:
        features1, features2: feature sets (N1, D), (N2, D).
        subset_size: examples per subset (capped at min(N1, N2)).
        n_subsets: number of subsets.
        seed: seed of the subset draws.
    """
    f1 = torch.as_tensor(np.asarray(features1) if not isinstance(features1, Tensor) else features1).double().cpu()
    f2 = torch.as_tensor(np.asarray(features2) if not isinstance(features2, Tensor) else features2).double().cpu()
    if f1.dim() != 2 or f2.dim() != 2 or f1.shape[1] != f2.shape[1]:
        raise LatentscapeError(f"KID needs feature sets (N, D) of equal D, got {tuple(f1.shape)} and {tuple(f2.shape)}")
    m = min(subset_size, f1.shape[0], f2.shape[0])
    rng = np.random.RandomState(seed)
    values = []
    for _ in range(n_subsets):
        i1 = torch.from_numpy(rng.choice(f1.shape[0], m, replace=False))
        i2 = torch.from_numpy(rng.choice(f2.shape[0], m, replace=False))
        values.append(float(mmd2_unbiased(f1[i1], f2[i2])))
    arr = np.asarray(values)
    return float(arr.mean()), float(arr.std())


def kid_metric(ctx: EvalContext) -> dict[str, float | str]:
    """KID of the model's samples against the reference split.

    Options: kid_subset_size (default 1000), kid_subsets (default 100), plus those of `gather`.
    """
    from latentscape.metrics.reference_stats import gather, int_option

    g = gather(ctx)
    subset = int_option(ctx.options, "kid_subset_size", 1000)
    n_subsets = int_option(ctx.options, "kid_subsets", 100)
    mean, std = kernel_inception_distance(g.sample_features, g.reference.features, subset, n_subsets, ctx.seed)
    m = min(subset, g.sample_features.shape[0], g.reference.features.shape[0])
    protocol = {f"kid_{k}": v for k, v in g.protocol.items()}
    protocol["kid_subsets"] = f"{n_subsets} x {m}"
    return {"kid": mean, "kid_std": std, **protocol}
