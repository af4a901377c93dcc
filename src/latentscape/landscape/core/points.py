"""Evaluate a set of points chunk by chunk: resumable, sharded over torchrun ranks.

The P points are cut into fixed chunks of consecutive points (their boundaries depend on P and
the chunk size only). Chunks that are not finished yet are dealt out in rounds, one per rank
(chunk r * world + rank in round r); after each round every rank has every finished value
(`all_gather_object`) and `on_chunk` is called with the grid so far, so a caller can write it
(Li et al. 2018's `crunch` fills an HDF5 grid the same way, with -1 for points not done yet).
A point's values depend on its chunk only, never on the rank or the number of ranks, so a grid
written by N ranks, killed and resumed by M ranks, is identical to an uninterrupted run.

Per-example metrics go through the `PointEvaluator` (vmap, input-layer factorisation, BatchNorm
statistics per point); the task's point metrics (e.g. "hessian_top") are computed per point
from the evaluator's state of the point.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from latentscape.landscape.core.data import EvalData, as_data
from latentscape.landscape.core.evaluate import PointEvaluator, PointSet
from latentscape.landscape.core.task import PointContext, Task

Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class PointValues:
    """Values at P points, some possibly missing.

    Attributes:
        values: split -> metric -> (P,) float64 (NaN where not done; a finished point may be NaN
            too, e.g. a diverged loss: `done` tells them apart).
        done: (P,) bool, the points finished.
        strategy: how the per-example metrics were evaluated (see `PointEvaluator`).
    """

    values: dict[str, dict[str, np.ndarray]]
    done: np.ndarray
    strategy: str = "loop"

    @classmethod
    def empty(cls, size: int) -> PointValues:
        return cls({}, np.zeros(size, dtype=bool))

    def merge(self, rows: list[int], part: dict[str, dict[str, np.ndarray]]) -> None:
        """Set the values of points `rows` (part: split -> metric -> (len(rows),))."""
        for split, ms in part.items():
            for m, v in ms.items():
                col = self.values.setdefault(split, {}).setdefault(m, np.full(self.done.size, np.nan))
                col[rows] = v
        self.done[rows] = True

    @property
    def complete(self) -> bool:
        return bool(self.done.all())


def chunk_rows(size: int, chunk: int) -> list[list[int]]:
    """[0, size) cut into consecutive chunks of `chunk` points (the last may be shorter)."""
    return [list(range(s, min(s + chunk, size))) for s in range(0, size, chunk)]


def default_chunk(size: int, evaluator_chunk: int = 32, most_writes: int = 256) -> int:
    """Points per chunk: the evaluator's vmap chunk, or more so that a grid is written at most
    `most_writes` times."""
    return max(evaluator_chunk, math.ceil(size / most_writes))


def rank_world() -> tuple[int, int]:
    """(rank, world size) under torchrun; (0, 1) in one process."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def _gather(item: Any, world: int) -> list[Any]:
    if world == 1:
        return [item]
    parts: list[Any] = [None] * world
    torch.distributed.all_gather_object(parts, item)
    return parts


def _point_values(evaluator: PointEvaluator, task: Task, points: PointSet, rows: list[int], data: dict[str, EvalData]) -> dict[str, dict[str, np.ndarray]]:
    """split -> point metric -> (len(rows),) for the task's point metrics."""
    names = [n for n, _ in evaluator.model.named_parameters()]
    out: dict[str, dict[str, np.ndarray]] = {s: {pm.name: np.zeros(len(rows)) for pm in task.point_metrics} for s in data}
    for j, i in enumerate(rows):
        state = evaluator.state(points.point(i))
        params = {n: state[n] for n in names}
        ctx = PointContext(evaluator.model, params, {k: v for k, v in state.items() if k not in params}, data, task, evaluator.device)
        for s in data:
            for pm in task.point_metrics:
                out[s][pm.name][j] = pm.compute(ctx, s)
    return out


def evaluate_chunk(evaluator: PointEvaluator, task: Task, points: PointSet, rows: list[int], data: dict[str, EvalData]) -> dict[str, dict[str, np.ndarray]]:
    """split -> metric -> (len(rows),): every metric of the task at the points `rows`."""
    part: dict[str, dict[str, np.ndarray]] = {s: {} for s in data}
    if task.metric is not None:
        part = evaluator.evaluate(points.subset(rows), data)
    if task.point_metrics:
        with torch.no_grad():
            for s, ms in _point_values(evaluator, task, points, rows, data).items():
                part[s].update(ms)
    return part


def evaluate_points(
    evaluator: PointEvaluator,
    task: Task,
    points: PointSet,
    data: dict[str, Any],
    *,
    chunk: int | None = None,
    known: PointValues | None = None,
    on_chunk: Callable[[PointValues], None] | None = None,
    progress: Progress | None = None,
) -> PointValues:
    """Every metric of `task` on every split of `data` at every point not in `known`.

    Args:
        evaluator: evaluates per-example metrics (its metric is `task.metric`).
        task: what to measure (per-example metrics and point metrics).
        points: the P points.
        data: split -> data (anything `core.data.as_data` accepts).
        chunk: points per chunk (default `default_chunk(P, evaluator.chunk_size)`); a resumed
            grid must use the chunks it was started with.
        known: values already computed (a resumed grid); its finished points are kept as they
            are and only the chunks with missing points are evaluated.
        on_chunk: called on every rank with the values so far after each round of chunks.
        progress: `progress(done, total)` points: once before the first round (the points
            already in `known`), then after each round.

    Returns:
        The values at all P points (on every rank).
    """
    data = {s: as_data(d) for s, d in data.items()}
    size = len(points)
    grid = known if known is not None else PointValues.empty(size)
    if grid.done.size != size:
        raise ValueError(f"known values are for {grid.done.size} points, not {size}")
    pending = [rows for rows in chunk_rows(size, chunk or default_chunk(size, evaluator.chunk_size)) if not grid.done[rows].all()]
    rank, world = rank_world()
    strategies: set[str] = set()
    if progress is not None:
        progress(int(grid.done.sum()), size)
    for start in range(0, len(pending), world):
        mine = pending[start + rank] if start + rank < len(pending) else None
        item = None
        if mine is not None:
            item = (mine, evaluate_chunk(evaluator, task, points, mine, data), evaluator.last_strategy)
        for got in _gather(item, world):
            if got is not None:
                grid.merge(got[0], got[1])
                strategies.add(got[2])
        fast = sorted(strategies - {"loop"})  # the strategy of the points that are not basis points
        grid.strategy = fast[0] if fast else grid.strategy if known is not None else "loop"
        if on_chunk is not None:
            on_chunk(grid)
        if progress is not None:
            progress(int(grid.done.sum()), size)
    return grid


def evaluator_for(
    model: torch.nn.Module,
    task: Task,
    *,
    bn_data: Any = None,
    batch_size: int = 1000,
    device: torch.device | str = "cpu",
    bn_batches: int | None = None,
    buffers: dict[str, torch.Tensor] | None = None,
    use_vmap: bool = True,
    recompute_bn: bool = True,
    chunk_size: int = 32,
) -> PointEvaluator:
    """The `PointEvaluator` of `task` on `model` (its metric; BatchNorm statistics from
    `task.forward` on `bn_data`, required when the model has BatchNorm and `recompute_bn`)."""
    return PointEvaluator(
        model, task.metric or _nothing, batch_size=batch_size, device=device, bn_data=bn_data,
        bn_batches=bn_batches, bn_forward=task.forward, buffers=buffers, use_vmap=use_vmap, recompute_bn=recompute_bn,
        chunk_size=chunk_size,
    )


def _nothing(model: torch.nn.Module, batch: Any) -> dict[str, torch.Tensor]:
    return {}
