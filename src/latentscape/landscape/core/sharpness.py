"""Whole-point metrics along paths: the top Hessian eigenvalue ("hessian_top").

Per-example path metrics (`path_metrics`) are averaged over a split by the `PointEvaluator`.
Sharpness is a property of the whole objective at a point, so it is computed here, one point
at a time (points sharded over torchrun ranks like the evaluator's): the point's parameters and
buffers come from `PointEvaluator.state` (BatchNorm statistics recomputed for the point), and
the top eigenvalue of the Hessian of the model's objective on the split (BatchNorm in eval mode)
by power iteration (`latentscape.landscape.core.hessian`).

The per-example metric "loss" (`path A B --metrics loss,hessian_top`) is a built-in of
`path_metrics`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from latentscape.data.loader import iterate_in_order
from latentscape.landscape.core.evaluate import PointEvaluator, PointSet
from latentscape.landscape.core.sharding import _gather, shard
from latentscape.landscape.core.hessian import HessianOperator, model_objective, power_iteration

#: metrics computed per point (not per example) by `point_metrics`.
POINT_METRICS = ("hessian_top",)


def split_metric_names(names: Sequence[str] | None) -> tuple[list[str] | None, list[str]]:
    """(per-example names or None for the defaults, point-metric names)."""
    if names is None:
        return None, []
    return [n for n in names if n not in POINT_METRICS], [n for n in names if n in POINT_METRICS]


def hessian_top_along(
    evaluator: PointEvaluator,
    model: nn.Module,
    points: PointSet,
    data: dict[str, Any],
    *,
    batches: int = 1,
    batch_size: int = 256,
    max_iter: int = 50,
    tol: float = 1e-3,
    seed: int = 0,
) -> dict[str, dict[str, np.ndarray]]:
    """split -> {"hessian_top": (P,)}: the top (largest-magnitude) Hessian eigenvalue per point."""
    names = [n for n, _ in model.named_parameters()]
    mine, _, world = shard(range(len(points)))
    local: dict[int, dict[str, dict[str, float]]] = {}
    subsets = {}
    for s, ds in data.items():
        it = iterate_in_order(ds, batch_size, evaluator.device)
        subsets[s] = [b for _, b in zip(range(batches), it)]
    for i in mine:
        state = evaluator.state(points.point(i))
        params = {n: state[n] for n in names}
        buffers = {k: v for k, v in state.items() if k not in params}
        objective = model_objective(evaluator.model, buffers, seed=seed)
        local[i] = {}
        for s, sub in subsets.items():
            op = HessianOperator(objective, params, sub)
            top, _ = power_iteration(op, 1, max_iter=max_iter, tol=tol, seed=seed)
            local[i][s] = {"hessian_top": top[0]}
    merged = _gather(local, world)
    return {s: {"hessian_top": np.array([merged[i][s]["hessian_top"] for i in range(len(points))])} for s in data}
