"""Sharpness at a weight-space point: the top Hessian eigenvalue ("hessian_top", a point metric).

Per-example metrics are averaged over a split by the `PointEvaluator`. Sharpness is a property
of the whole objective at a point, so it is a `PointMetric`, computed once per point and split
(by `core.points.evaluate_points`, for any analysis: a path, a plane, a surface). The point's
parameters and buffers come from the evaluator (BatchNorm statistics recomputed for the point
when asked), and the top eigenvalue (largest magnitude) of the Hessian of the task's objective
on the first `batches` batches of the split (BatchNorm in eval mode) comes from power iteration
(`core.hessian`, PyHessian's `eigenvalues(top_n=1)`).
"""

from __future__ import annotations

from latentscape.landscape.core.hessian import HessianOperator, model_objective, power_iteration
from latentscape.landscape.core.task import PointContext, PointMetric


def hessian_top(batches: int = 1, batch_size: int = 256, max_iter: int = 50, tol: float = 1e-3, seed: int = 0) -> PointMetric:
    """The "hessian_top" point metric.

    Args:
        batches: batches of `batch_size` examples (the first ones of the split) the objective
            averages over.
        max_iter, tol: power iteration steps at most, and its relative stopping tolerance.
        seed: start vector, and the noise of a stochastic objective (frozen per evaluation).
    """

    def compute(ctx: PointContext, split: str) -> float:
        sub = [b for _, b in zip(range(batches), ctx.data[split].batches(batch_size, ctx.device))]
        objective = model_objective(ctx.model, ctx.buffers, seed=seed, loss=ctx.task.objective)
        op = HessianOperator(objective, ctx.params, sub)
        top, _ = power_iteration(op, 1, max_iter=max_iter, tol=tol, seed=seed)
        return float(top[0])

    return PointMetric("hessian_top", compute)
