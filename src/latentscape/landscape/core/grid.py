"""Grids of points around one weight set along given directions (Li et al. 2018), and the
choice of how to evaluate them.

The point at grid coordinates (a, b) is theta = w + a d1 + b d2 (eq. 1 of Li et al., "f(alpha,
beta) = L(theta* + alpha delta + beta eta)"). The grid is a `PointSet` over the basis
[w, d1, d2] with coefficient rows (1, a, b), so it is evaluated by the shared `PointEvaluator`
(vmap over points, input-layer factorisation, BatchNorm statistics per point or fixed) and the
grid point (0, 0) is w itself, bit for bit.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from latentscape.landscape.core.evaluate import PointEvaluator, PointSet, linspace
from latentscape.landscape.core.params import Params, check_compatible


def grid_points(origin: Params, directions: Sequence[Params], xs: Sequence[float], ys: Sequence[float] | None = None) -> PointSet:
    """w + a d1 (1-D, P = len(xs)) or w + a d1 + b d2 for b in ys (rows), a in xs (columns)."""
    for i, d in enumerate(directions):
        check_compatible(origin, d, what=f"the weights and direction {i + 1}")
    if ys is None:
        if len(directions) != 1:
            raise ValueError("a 1-D surface takes one direction")
        coeffs = torch.tensor([[1.0, a] for a in xs], dtype=torch.float64)  # (P, 2)
    else:
        if len(directions) != 2:
            raise ValueError("a 2-D surface takes two directions")
        coeffs = torch.tensor([[1.0, a, b] for b in ys for a in xs], dtype=torch.float64)  # (P, 3)
    return PointSet([origin, *directions], coeffs)


def axes(spans: Sequence[tuple[float, float]], counts: Sequence[int], dims: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Grid coordinates: the x span/count, and for 2-D the y ones (the x ones when one is given)."""
    xs = np.array(linspace(spans[0][0], spans[0][1], counts[0]))
    if dims == 1:
        return xs, None
    sy, cy = spans[-1], counts[-1]
    return xs, np.array(linspace(sy[0], sy[1], cy))


def choose_strategy(evaluator: PointEvaluator, points: PointSet, data: dict[str, Any], probe: int | None = None) -> str:
    """Time 2 x `probe` points (default a quarter of a vmap chunk) with each strategy that applies
    and keep the fastest.

    The candidates: vmap over points (with the input-layer factorisation when the model has one),
    the factorisation followed by one forward pass per point through the rest of the network, and
    the plain loop. vmap pays off for dense layers, but batched convolutions after the input layer
    can be slower than one forward pass per point on a CPU. All give the same numbers. Skipped
    (vmap kept) for grids smaller than four probes and for recomputed BatchNorm statistics.
    Returns the strategy kept (the evaluator's `last_strategy` names it after the next call).
    """
    probe = probe or max(4, evaluator.chunk_size // 4)  # a few points: timing them is overhead for the whole grid
    if not evaluator.use_vmap or evaluator.bn or len(points) < 4 * probe:
        return "vmap" if evaluator.use_vmap and not evaluator.bn else "loop"
    rows = [i for i in range(len(points)) if not points.is_basis_element(i)][: 2 * probe]
    sample = points.subset(rows)  # the same basis objects: its cached stacks and input-layer outputs are reused
    first = {s: ds for s, ds in list(data.items())[:1]}
    timings: dict[tuple[bool, bool], float] = {}
    names: dict[tuple[bool, bool], str] = {}

    def time_it(use_vmap: bool, batch_rest: bool) -> None:
        evaluator.use_vmap, evaluator.batch_rest = use_vmap, batch_rest
        t0 = time.perf_counter()
        evaluator.evaluate(sample, first)
        timings[(use_vmap, batch_rest)] = time.perf_counter() - t0
        names[(use_vmap, batch_rest)] = evaluator.last_strategy

    evaluator.evaluate(points.subset(rows[:2]), first)  # the first vmap call's one-off set-up
    time_it(True, True)
    if evaluator.last_strategy == "factorised" and _convolutions_after_input(evaluator):
        time_it(True, False)  # vmap makes them grouped convolutions: also time them point by point
    time_it(False, True)
    best = min(timings, key=timings.__getitem__)
    evaluator.use_vmap, evaluator.batch_rest = best
    return names[best]


def _convolutions_after_input(evaluator: PointEvaluator) -> bool:
    """True on a CPU when the network has a convolution besides its input layer (the only case
    where running the rest point by point can beat vmap)."""
    if evaluator.device.type != "cpu":
        return False
    convs = [n for n, m in evaluator.model.named_modules() if isinstance(m, nn.modules.conv._ConvNd)]
    return any(n != evaluator._input_layer for n in convs)
