"""Kernel Inception Distance (Binkowski et al. 2018, "Demystifying MMD GANs", sec. 2.3 / App. A).

KID is the unbiased estimate of MMD^2 with the cubic polynomial kernel
    k(x, y) = (x . y / d + 1)^3,
    MMD^2_u = 1/(m(m-1)) sum_{i!=j} k(x_i, x_j) + 1/(m(m-1)) sum_{i!=j} k(y_i, y_j)
              - 2/m^2 sum_{i,j} k(x_i, y_j),
averaged over `n_subsets` random subsets of `subset_size` from each set (subset indices drawn
like torch-fidelity: numpy RandomState(seed).choice without replacement), reported as mean and std.
Kernels are float32 by default (as torch-fidelity; `--opt kid_dtype=float64` for float64), sums
accumulate in float64.
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
    f64 = torch.float64  # sums of m^2 kernel values: accumulate in float64 whatever the dtype
    off_xx = k_xx.sum(dtype=f64) - k_xx.diagonal().sum(dtype=f64)
    off_yy = k_yy.sum(dtype=f64) - k_yy.diagonal().sum(dtype=f64)
    return (off_xx + off_yy) / (m * (m - 1)) - 2 * k_xy.sum(dtype=f64) / (m * m)


def _as_tensor(f: Tensor | np.ndarray, dtype: torch.dtype, device: torch.device) -> Tensor:
    t = f.detach() if isinstance(f, Tensor) else torch.from_numpy(np.asarray(f))
    return t.to(device=device, dtype=dtype)


def _subset_mmd_from_grams(g11: Tensor, g22: Tensor, g12: Tensor, i1: Tensor, i2: Tensor, d: int) -> float:
    """MMD^2_u of one subset pair from precomputed Gram matrices (dot products, not kernels)."""
    m = i1.shape[0]
    k_xx = (g11.index_select(0, i1).index_select(1, i1) / d + 1) ** 3  # (m, m)
    k_yy = (g22.index_select(0, i2).index_select(1, i2) / d + 1) ** 3  # (m, m)
    k_xy = (g12.index_select(0, i1).index_select(1, i2) / d + 1) ** 3  # (m, m)
    off = k_xx.sum(dtype=torch.float64) - k_xx.diagonal().sum(dtype=torch.float64)
    off = off + k_yy.sum(dtype=torch.float64) - k_yy.diagonal().sum(dtype=torch.float64)
    return float(off / (m * (m - 1)) - 2 * k_xy.sum(dtype=torch.float64) / (m * m))


#: largest Gram matrix (elements) precomputed for KID; above it each subset computes its own.
MAX_GRAM_ELEMENTS = 1 << 27


def kernel_inception_distance(
    features1: Tensor | np.ndarray,
    features2: Tensor | np.ndarray,
    subset_size: int = 1000,
    n_subsets: int = 100,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> tuple[float, float]:
    """KID mean and standard deviation over random subsets.

    The subset indices are those of torch-fidelity (numpy RandomState(seed).choice without
    replacement, set 1 then set 2 per subset). When the subsets together would recompute more
    dot products than the whole sets have (n_subsets * 3 m^2 > N1^2 + N2^2 + N1 N2), the three
    Gram matrices are computed once (three GEMMs) and each subset's kernels are gathered from
    them: the same sums with the same precision, fewer multiplications. Kernel sums accumulate in
    float64 whatever `dtype`.

    Args:
        features1, features2: feature sets (N1, D), (N2, D).
        subset_size: examples per subset (capped at min(N1, N2)).
        n_subsets: number of subsets.
        seed: seed of the subset draws.
        dtype: precision of the kernel values (float32, as torch-fidelity; float64 for checks).
        device: where to compute (default: the features' device for tensors, else the CPU).
    """
    dev = torch.device(device) if device is not None else (features1.device if isinstance(features1, Tensor) else torch.device("cpu"))
    f1, f2 = _as_tensor(features1, dtype, dev), _as_tensor(features2, dtype, dev)
    if f1.dim() != 2 or f2.dim() != 2 or f1.shape[1] != f2.shape[1]:
        raise LatentscapeError(f"KID needs feature sets (N, D) of equal D, got {tuple(f1.shape)} and {tuple(f2.shape)}")
    n1, n2, d = f1.shape[0], f2.shape[0], f1.shape[1]
    m = min(subset_size, n1, n2)
    if m < 2:
        raise LatentscapeError(f"MMD needs two sets of the same size >= 2, got {n1} and {n2}")
    rng = np.random.RandomState(seed)
    draws = [(rng.choice(n1, m, replace=False), rng.choice(n2, m, replace=False)) for _ in range(n_subsets)]
    full = n1 * n1 + n2 * n2 + n1 * n2
    values = []
    if n_subsets * 3 * m * m > full and max(n1, n2) ** 2 <= MAX_GRAM_ELEMENTS:
        g11, g22, g12 = f1 @ f1.T, f2 @ f2.T, f1 @ f2.T  # (N1, N1), (N2, N2), (N1, N2)
        for a, b in draws:
            # the sums do not depend on the order within a subset: sorted indices gather rows
            # and columns in memory order (half the time of a random-order gather)
            i1, i2 = torch.from_numpy(np.sort(a)).to(dev), torch.from_numpy(np.sort(b)).to(dev)
            values.append(_subset_mmd_from_grams(g11, g22, g12, i1, i2, d))
    else:
        for a, b in draws:
            i1, i2 = torch.from_numpy(a).to(dev), torch.from_numpy(b).to(dev)
            values.append(float(mmd2_unbiased(f1[i1], f2[i2])))
    arr = np.asarray(values)
    return float(arr.mean()), float(arr.std())


def kid_dtype(options: dict[str, str]) -> torch.dtype:
    """`--opt kid_dtype=float32|float64` (default float32)."""
    name = options.get("kid_dtype", "float32")
    if name not in ("float32", "float64"):
        raise LatentscapeError(f"--opt kid_dtype={name!r}: allowed float32, float64")
    return torch.float32 if name == "float32" else torch.float64


def kid_metric(ctx: EvalContext) -> dict[str, float | str]:
    """KID of the model's samples against the reference split.

    Options: kid_subset_size (default 1000), kid_subsets (default 100), kid_dtype (float32, the
    default, or float64), plus those of `gather`.
    """
    from latentscape.metrics.base import int_option
    from latentscape.metrics.reference_stats import gather

    g = gather(ctx)
    subset = int_option(ctx.options, "kid_subset_size", 1000)
    n_subsets = int_option(ctx.options, "kid_subsets", 100)
    dtype = kid_dtype(ctx.options)
    mean, std = kernel_inception_distance(g.sample_features, g.reference.features, subset, n_subsets, ctx.seed, dtype, ctx.device)
    m = min(subset, g.sample_features.shape[0], g.reference.features.shape[0])
    protocol = {f"kid_{k}": v for k, v in g.protocol.items()}
    protocol["kid_subsets"] = f"{n_subsets} x {m}"
    protocol["kid_dtype"] = str(dtype).removeprefix("torch.")
    return {"kid": mean, "kid_std": std, **protocol}
