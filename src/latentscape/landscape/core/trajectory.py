"""Optimisation trajectories projected onto their top PCA plane (Li et al. 2018, sec. 7).

Given weight sets w_0, ..., w_{n-1} along training and the final weights w_n, the rows of
M = [w_i - w_n] (n, N) are decomposed by PCA (centred, as in their `setup_PCA_directions`, which
calls sklearn's PCA); the top two components d1, d2 (unit vectors) span the plane in which the
trajectory moves most, and each w_i is drawn at (<w_i - w_n, d1>, <w_i - w_n, d2>) (their
`project_trajectory`). The explained variance ratio says how much of the motion the plane shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from latentscape.errors import CheckpointError
from latentscape.landscape.core.params import Params, check_compatible, flatten, unflatten

@dataclass
class TrajectoryPlane:
    """The PCA plane of a trajectory.

    Attributes:
        origin: the final weights w_n (plane coordinates (0, 0)).
        directions: [d1, d2], orthonormal.
        explained_variance_ratio: (2,) fraction of the variance of the rows of M per component.
        coords: (n + 1, 2) plane coordinates of w_0 ... w_n (the last row is (0, 0)).
        residuals: (n + 1,) distance of each weight set from the plane.
    """

    origin: Params
    directions: list[Params]
    explained_variance_ratio: np.ndarray
    coords: np.ndarray
    residuals: np.ndarray


def _mask_1d(p: Params, ignore: str) -> Params:
    """Zero the one-dimensional parameters (biases, BatchNorm affine) when ignore == "biasbn"."""
    if ignore != "biasbn":
        return p
    return {k: (torch.zeros_like(v) if v.dim() <= 1 else v) for k, v in p.items()}


def pca_plane(weights: Sequence[Params], ignore: str = "none") -> TrajectoryPlane:
    """PCA plane of `weights` (ordered along training; the last is the reference w_n).

    Args:
        weights: n + 1 >= 4 weight sets of one architecture (the n >= 3 centred rows of M span
            at most n - 1 directions).
        ignore: "biasbn" leaves the 1-D parameters out of the directions (as Li et al.).

    Raises:
        CheckpointError: fewer than four weight sets, or a trajectory that does not move in two
            independent directions.
    """
    if len(weights) < 4:
        raise CheckpointError(f"a trajectory needs at least 4 weight sets for a plane (got {len(weights)}); train with train.keep_every=N")
    final = weights[-1]
    for i, w in enumerate(weights[:-1]):
        check_compatible(final, w, what=f"trajectory weight set {i} and the final weights")
    ref = _mask_1d(final, ignore)
    m = torch.stack([flatten(_mask_1d(w, ignore)).double() - flatten(ref).double() for w in weights[:-1]])  # (n, N)
    centred = m - m.mean(0, keepdim=True)
    _, s, vh = torch.linalg.svd(centred, full_matrices=False)  # vh: (min(n, N), N)
    var = s.pow(2)
    total = float(var.sum())
    if vh.shape[0] < 2 or total <= 0 or float(s[1]) <= 1e-12 * float(s[0]):
        raise CheckpointError("the trajectory does not span two directions (all weight sets on a line?)")
    dirs = vh[:2]  # (2, N), orthonormal rows
    ratio = (var[:2] / total).cpu().numpy()
    full = torch.cat([m, m.new_zeros(1, m.shape[1])])  # (n + 1, N), w_n - w_n = 0
    coords = full @ dirs.T  # (n + 1, 2)
    resid = (full - coords @ dirs).norm(dim=1)  # (n + 1,)
    like = {k: v for k, v in final.items()}
    directions = [{k: t.to(final[k].dtype) for k, t in unflatten(d.clone(), like).items()} for d in dirs]
    return TrajectoryPlane(final, directions, ratio, coords.cpu().numpy(), resid.cpu().numpy())


def axis_through_zero(lo: float, hi: float, n: int) -> np.ndarray:
    """(n,) evenly spaced positions covering [lo, hi] (lo <= 0 <= hi) with 0 exactly on a node.

    A plain linspace(lo, hi, n) usually misses 0, so the surface would have no value at the final
    weights. Here 0 is node k and the step is the smallest that still reaches both ends:
    step = max(-lo / k, hi / (n - 1 - k)), minimised over k.
    """
    if n < 3:
        return np.linspace(lo, hi, n)
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    best_k, best_step = 1, np.inf
    for k in range(1, n - 1):
        step = max(-lo / k, hi / (n - 1 - k))
        if step < best_step:
            best_k, best_step = k, step
    if not np.isfinite(best_step) or best_step <= 0:
        return np.linspace(lo, hi, n)
    return (np.arange(n) - best_k) * best_step


def trajectory_axes(coords: np.ndarray, n: int, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Grid axes (n,), (n,) covering the trajectory's plane coordinates `coords` (K, 2) plus
    `margin` (a fraction of the span on each side), with the final weights (0, 0) on a node."""
    from latentscape.landscape.core.plane import grid_axes

    xs, ys = grid_axes([(0.0, 0.0), *map(tuple, np.asarray(coords, dtype=np.float64))], n, margin)  # the extent
    return axis_through_zero(float(xs[0]), float(xs[-1]), n), axis_through_zero(float(ys[0]), float(ys[-1]), n)
