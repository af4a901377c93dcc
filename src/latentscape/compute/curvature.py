"""Curvature of any PyTorch model's loss at a weight set (see `latentscape.compute`): the Hessian's
top eigenvalues, trace and density (PyHessian), and sharpness (the `hessian_top` point metric)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from latentscape.compute.landscapes import Criterion, Metric, Progress, Weights, _setup

if TYPE_CHECKING:  # importing this module stays cheap: torch comes with the first call
    from torch import nn

    from latentscape.landscape.studies.hessian import HessianResult


def hessian(
    model: nn.Module,
    weights: Weights,
    data: Any,
    *,
    criterion: Criterion | None = None,
    metric: Metric | None = None,
    top_k: int = 1,
    method: str = "power",
    trace: bool = False,
    density: bool = False,
    batches: int = 1,
    batch_size: int = 256,
    seed: int = 0,
    max_iter: int = 100,
    tol: float = 1e-3,
    trace_samples: int = 100,
    slq_runs: int = 1,
    slq_steps: int = 90,
    device: str = "cpu",
    progress: Progress | None = None,
) -> HessianResult:
    """Top eigenvalues, trace and eigenvalue density of the Hessian of the loss at `weights`
    (PyHessian's `hessian(model, criterion, data)`; Yao et al. 2020), in eval mode.

    Args:
        data: the objective averages over its first `batches` batches of `batch_size` examples
            (a DataLoader's own batches).
        top_k, method: the k eigenvalues largest in magnitude, largest magnitude first (as
            PyHessian), by "power" iteration with deflation or by "lanczos".
        trace: Hutchinson's estimate (at most `trace_samples` Rademacher vectors, stops at `tol`).
        density: stochastic Lanczos quadrature, `slq_runs` runs of `slq_steps` steps.
        seed: random vectors, and any noise of a stochastic objective (frozen).
        progress: `progress(done, total)` Hessian-vector products, of at most `total` (it shrinks
            when power iteration or Hutchinson's estimator stop early; done == total at the end).
        Others: as `path`.
    """
    from latentscape.landscape.studies.hessian import compute_hessian

    task, (w,), buffers, _ = _setup(model, [weights], None, criterion, metric, [])
    return compute_hessian(
        model, task, w, data, top_k=top_k, method=method, trace=trace, density=density, batches=batches, batch_size=batch_size,
        buffers=buffers, seed=seed, max_iter=max_iter, tol=tol, trace_samples=trace_samples, slq_runs=slq_runs,
        slq_steps=slq_steps, device=device, progress=progress,
    )


def sharpness(
    model: nn.Module,
    weights: Weights,
    data: Any,
    *,
    criterion: Criterion | None = None,
    metric: Metric | None = None,
    bn_data: Any = None,
    batches: int = 1,
    batch_size: int = 256,
    max_iter: int = 50,
    tol: float = 1e-3,
    seed: int = 0,
    device: str = "cpu",
) -> float:
    """The top Hessian eigenvalue (largest magnitude) of the loss at `weights`: the "hessian_top"
    metric of `path(..., metrics=["hessian_top"])` at one point, the same number.

    BatchNorm statistics are recomputed for the weights from `bn_data` when given (else the
    weights' own are used); the Hessian is taken in eval mode on the first `batches` batches of
    `batch_size` examples of `data`, by power iteration (`max_iter`, relative `tol`).
    """
    from latentscape.landscape.core.data import as_data
    from latentscape.landscape.core.points import evaluator_for
    from latentscape.landscape.core.sharpness import hessian_top
    from latentscape.landscape.core.task import PointContext

    task, (w,), buffers, _ = _setup(model, [weights], None, criterion, metric, [])
    ev = evaluator_for(model, task, bn_data=bn_data, batch_size=batch_size, device=device, buffers=buffers, recompute_bn=bn_data is not None)
    state = ev.state(w)
    params = {n: state[n] for n in w}
    ctx = PointContext(ev.model, params, {k: v for k, v in state.items() if k not in params}, {"data": as_data(data)}, task, ev.device)
    return hessian_top(batches, batch_size, max_iter, tol, seed).compute(ctx, "data")


