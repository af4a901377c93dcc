"""The metrics of latentscape's own models at weight-space points, by name (`--metrics`).

A metric is registered in `PATH_METRICS` as a factory `(model) -> fn | PointMetric | None`: it
returns None when it does not apply to the model (SSIM for a classifier), a function
`fn(model, batch) -> {name: Tensor (B,)}` of per-example values, which the evaluator averages
over a split, or a `core.task.PointMetric`, a value of the whole point (the top Hessian
eigenvalue). Both kinds are one protocol: any analysis (path, plane, surface) takes any of them.
The functions are called through `torch.func.functional_call` (and `vmap` when the model
allows), so they must use only the model's public methods and pure tensor ops.

Built in:
    model: the model's own `evaluate_batch` (loss and accuracy for classifiers, the training
        objective and its terms for autoencoders) -- works for every registered model.
    loss: only the "loss" entry of `evaluate_batch` (e.g. `--metrics loss,hessian_top`).
    hessian_top: the top Hessian eigenvalue of the objective at the point (`core.sharpness`).
    ssim: SSIM of `reconstruct(x)` against x (Wang et al. 2004), autoencoders.
    lpips: LPIPS (alex) distance of reconstructions (Zhang et al. 2018) via
        `latentscape.metrics.lpips`, included by default only when its weights are present.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from latentscape.errors import LatentscapeError
from latentscape.landscape.core.sharpness import hessian_top
from latentscape.landscape.core.task import Criterion, MetricFn, PointMetric, Task, criterion_task, metric_task
from latentscape.losses.image import fitting_window, ssim
from latentscape.registry import Registry

PATH_METRICS: Registry[Callable[[nn.Module], MetricFn | PointMetric | None]] = Registry("path metric")

#: metrics used when none are named: every one that applies.
DEFAULT_METRICS = ("model", "ssim", "lpips")


def _model_metrics(model: nn.Module) -> MetricFn:
    def fn(m: nn.Module, batch: Any) -> dict[str, Tensor]:
        return {k: v.float() for k, v in m.evaluate_batch(batch).items() if v.dim() == 1}

    return fn


def ssim_per_example(x: Tensor, y: Tensor, data_range: float = 1.0) -> Tensor:
    """Mean SSIM per image: `latentscape.losses.image.ssim` (the one SSIM of the package).

    Args:
        x, y: images (B, C, H, W) in [0, data_range]. The 11-px Gaussian window shrinks to the
            largest odd size that fits images under 11 px.

    Returns:
        (B,) SSIM in [-1, 1] (1 = identical).
    """
    return ssim(x, y, window_size=fitting_window(x.shape[-2:]), data_range=data_range)


def _ssim(model: nn.Module) -> MetricFn | None:
    if not callable(getattr(model, "reconstruct", None)):
        return None

    def fn(m: nn.Module, batch: Any) -> dict[str, Tensor]:
        recon = m.reconstruct(batch.x).clamp(0, 1)  # (B, C, H, W)
        return {"ssim": ssim_per_example(recon, batch.x)}

    return fn


def _lpips(model: nn.Module) -> MetricFn | None:
    """LPIPS (alex) of reconstructions; None without a reconstruct method or the module.

    Raises:
        LatentscapeError (WeightsError): the LPIPS weights are missing (offline, no local copy);
            `resolve_metrics` skips the metric then unless it was asked for by name.
    """
    if not callable(getattr(model, "reconstruct", None)):
        return None
    try:
        lp = importlib.import_module("latentscape.metrics.lpips")
    except ImportError:
        return None
    net = lp.LPIPS("alex").eval()

    def fn(m: nn.Module, batch: Any) -> dict[str, Tensor]:
        x = batch.x
        recon = m.reconstruct(x).clamp(0, 1)
        if x.shape[-1] < 32:  # the backbone needs >= 32 px: compare bilinear 64 px upsamplings
            recon = F.interpolate(recon, size=64, mode="bilinear", align_corners=False)
            x = F.interpolate(x, size=64, mode="bilinear", align_corners=False)
        return {"lpips": net.to(x.device)(recon, x).reshape(-1)}

    return fn


def _loss_only(model: nn.Module) -> MetricFn | None:
    if not callable(getattr(model, "evaluate_batch", None)):
        return None

    def fn(m: nn.Module, batch: Any) -> dict[str, Tensor]:
        out = m.evaluate_batch(batch)
        return {"loss": out["loss"].float()} if "loss" in out else {}

    return fn


PATH_METRICS.register("model", _model_metrics)
PATH_METRICS.register("ssim", _ssim)
PATH_METRICS.register("lpips", _lpips)
PATH_METRICS.register("loss", _loss_only)
PATH_METRICS.register("hessian_top", lambda model: hessian_top())


def resolve_metrics(model: nn.Module, names: Sequence[str] | None = None) -> tuple[list[MetricFn], list[PointMetric]]:
    """Per-example metric functions and point metrics for `model`: the named ones (an error if
    one does not apply) or, with `names=None`, every per-example built-in that applies."""
    fns: list[MetricFn] = []
    points: list[PointMetric] = []
    for name in names if names is not None else DEFAULT_METRICS:
        try:
            fn = PATH_METRICS.get(name)(model)
        except LatentscapeError:
            if names is not None:
                raise  # asked for by name: say why it is unavailable (e.g. missing weights)
            continue
        if fn is None:
            if names is not None:
                raise LatentscapeError(f"path metric {name!r} does not apply to this model")
            continue
        if isinstance(fn, PointMetric):
            points.append(fn)
        else:
            fns.append(fn)
    return fns, points


def combined(fns: Sequence[MetricFn]) -> MetricFn:
    """One function returning the union of `fns`' outputs."""

    def fn(m: nn.Module, batch: Any) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        for f in fns:
            out.update(f(m, batch))
        return out

    return fn


def training_objective(group: str | None = None) -> Callable[[nn.Module, Any], Tensor]:
    """`(model, batch) -> model(batch[, group]).loss`: a latentscape model's training objective."""

    def objective(model: nn.Module, batch: Any) -> Tensor:
        out = model(batch, group=group) if group is not None else model(batch)
        return out.loss if hasattr(out, "loss") else out  # a LossOutput, or the loss itself

    return objective


def bn_forward(module: nn.Module, batch: Any) -> Any:
    """The training objective as the BatchNorm-statistics pass; with autograd on, because some
    objectives differentiate inside (WGAN-GP's gradient penalty)."""
    with torch.enable_grad():
        return module(batch)


def contract_task(model: nn.Module, names: Sequence[str] | None = None, group: str | None = None) -> Task:
    """The task of a latentscape model: its registered metrics (`names`, default all that apply),
    its training objective (of optimizer `group`) and its forward for BatchNorm statistics."""
    fns, points = resolve_metrics(model, names)
    metric = combined(fns) if fns else None
    return Task(metric, training_objective(group), bn_forward, f"{type(model).__name__}'s own metrics", tuple(points))


def task_for(
    model: nn.Module,
    *,
    criterion: Criterion | None = None,
    metric: MetricFn | None = None,
    metrics: Sequence[str] | None = None,
    group: str | None = None,
) -> Task:
    """The task of any model: from `criterion` or `metric` when given (`metrics` then selects
    among what they give and adds point metrics such as "hessian_top"), else from latentscape's
    model contract.

    Raises:
        LatentscapeError: both or neither given for a model without `evaluate_batch`.
    """
    if criterion is not None and metric is not None:
        raise LatentscapeError("give a criterion or a metric function, not both")
    if criterion is None and metric is None:
        if not callable(getattr(model, "evaluate_batch", None)):
            raise LatentscapeError(
                f"{type(model).__name__} is not a latentscape model (no evaluate_batch): pass criterion= "
                "(e.g. nn.CrossEntropyLoss()) or metric=fn(model, batch) -> {name: per-example tensor}"
            )
        return contract_task(model, names=metrics, group=group)
    task = criterion_task(criterion) if criterion is not None else metric_task(metric)  # type: ignore[arg-type]
    if metrics is None:
        return task
    points = [m for m in (PATH_METRICS.get(n)(model) if n in POINT_METRIC_NAMES else None for n in metrics) if m is not None]
    return task.only([n for n in metrics if n not in POINT_METRIC_NAMES]).with_point_metrics(points)


#: the registered metrics that are values of a whole point.
POINT_METRIC_NAMES = ("hessian_top",)
