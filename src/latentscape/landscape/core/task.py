"""What is measured at a weight-space point: one protocol for every model and every analysis.

A `Task` says how a model is scored on a batch, in three forms that the analyses need:

- `metric(model, batch) -> {name: (B,)}`: per-example values, averaged over a split by the
  `PointEvaluator` (a path's, plane's or surface's numbers);
- `objective(model, batch) -> ()`: the scalar a Hessian is taken of (a batch mean);
- `forward(model, batch)`: the pass BatchNorm statistics are recomputed from;

plus `point_metrics`: values of a whole point (the top Hessian eigenvalue, "hessian_top"),
computed once per point and split rather than averaged per example.

Three ways to get one, all used through the same functions:

- `criterion_task(nn.CrossEntropyLoss())`: any `criterion(outputs, targets)`, the loss-landscapes /
  PyHessian convention, on batches `(inputs, targets)`;
- `metric_task(fn)`: a function `fn(model, batch) -> {name: per-example tensor}`; its "loss" entry
  is the objective;
- `core.metrics.contract_task(model)`: latentscape's own models, whose contract
  (`evaluate_batch`, `forward(batch).loss`) supplies all three.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from latentscape.errors import LatentscapeError
from latentscape.landscape.core.data import EvalData, batch_inputs, batch_targets

MetricFn = Callable[[nn.Module, Any], dict[str, Tensor]]  # (model, batch) -> {name: (B,)}
ObjectiveFn = Callable[[nn.Module, Any], Tensor]  # (model, batch) -> () batch-mean loss
ForwardFn = Callable[[nn.Module, Any], Any]  # (model, batch) -> anything (BatchNorm statistics)
Criterion = Callable[[Tensor, Tensor], Tensor]  # (outputs, targets) -> loss


@dataclass
class PointContext:
    """What a point metric sees: the model copy, the point's tensors and the data.

    Attributes:
        model: the evaluator's private model copy (eval mode; never modified).
        params: the point's parameters, name -> tensor on `device`.
        buffers: its buffers (BatchNorm statistics recomputed for the point when asked).
        data: split -> data.
        task: the task (its `objective` is what a Hessian is taken of).
        device: where to compute.
    """

    model: nn.Module
    params: dict[str, Tensor]
    buffers: dict[str, Tensor]
    data: dict[str, EvalData]
    task: Task
    device: torch.device


@dataclass(frozen=True)
class PointMetric:
    """A value of a whole point on one split (not an average of per-example values).

    Attributes:
        name: the value's name in results ("hessian_top").
        compute: `(PointContext, split) -> float`.
    """

    name: str
    compute: Callable[[PointContext, str], float]


@dataclass(frozen=True)
class Task:
    """How a model is scored (see the module docstring)."""

    metric: MetricFn | None
    objective: ObjectiveFn
    forward: ForwardFn
    description: str
    point_metrics: tuple[PointMetric, ...] = field(default=())

    def with_point_metrics(self, metrics: Sequence[PointMetric]) -> Task:
        return replace(self, point_metrics=tuple(metrics))

    def only(self, names: Sequence[str] | None) -> Task:
        """This task with its per-example metrics restricted to `names` (None: all of them).

        A name the metric does not give is an error at the first batch, naming what it gives.
        """
        if names is None or self.metric is None:
            return self
        if not names:
            return replace(self, metric=None)
        wanted, inner = list(names), self.metric

        def metric(model: nn.Module, batch: Any) -> dict[str, Tensor]:
            out = inner(model, batch)
            missing = [n for n in wanted if n not in out]
            if missing:
                raise LatentscapeError(f"metric {missing[0]!r} is not given by {self.description} (it gives {', '.join(out)})")
            return {n: out[n] for n in wanted}

        return replace(self, metric=metric)


def _per_example(values: Tensor, batch_size: int) -> Tensor:
    """(B, ...) -> (B,) means over the non-batch axes; a scalar (a batch mean) -> (B,) copies."""
    if values.dim() == 0:  # the mean of B copies of a batch mean is that mean: averages stay exact
        return values.expand(batch_size)
    return values.reshape(values.shape[0], -1).mean(1)


def _unreduced(criterion: Criterion) -> Callable[[Tensor, Tensor], Tensor] | None:
    """`criterion` with reduction="none", when that gives per-example values whose mean is the
    criterion's own value (no class weights, no sum reduction); None otherwise."""
    if isinstance(criterion, nn.Module) and getattr(criterion, "reduction", None) == "mean":
        if getattr(criterion, "weight", None) is not None or getattr(criterion, "pos_weight", None) is not None:
            return None  # a weighted mean divides by the weights' sum, not by B
        per = copy.copy(criterion)
        per.reduction = "none"
        return per
    if criterion in (F.cross_entropy, F.mse_loss, F.l1_loss, F.binary_cross_entropy, F.binary_cross_entropy_with_logits, F.smooth_l1_loss, F.nll_loss):
        return lambda out, y: criterion(out, y, reduction="none")  # type: ignore[call-arg]
    return None


def _is_cross_entropy(criterion: Any) -> bool:
    return isinstance(criterion, nn.CrossEntropyLoss) or criterion is F.cross_entropy


def criterion_task(criterion: Criterion, name: str | None = None) -> Task:
    """A task from `criterion(outputs, targets)` on batches (inputs, targets).

    Per-example values come from the criterion with reduction="none" (means over any other axes)
    when that reproduces its mean; otherwise every example of a batch gets the batch's value,
    whose size-weighted average over batches is still the split's mean. A cross-entropy task
    also reports "accuracy" (argmax of the outputs against integer targets).
    """
    per = _unreduced(criterion)
    accuracy = _is_cross_entropy(criterion)
    label = name or (f"{type(criterion).__name__}()" if isinstance(criterion, nn.Module) else getattr(criterion, "__name__", "the criterion"))

    def metric(model: nn.Module, batch: Any) -> dict[str, Tensor]:
        x, y = batch_inputs(batch), batch_targets(batch)
        out = model(x)
        n = x.shape[0]
        loss = per(out, y) if per is not None else criterion(out, y)
        values = {"loss": _per_example(loss, n).float()}
        if accuracy and out.dim() == 2 and not y.is_floating_point():
            values["accuracy"] = (out.argmax(-1) == y).float()
        return values

    def objective(model: nn.Module, batch: Any) -> Tensor:
        return criterion(model(batch_inputs(batch)), batch_targets(batch))

    def forward(model: nn.Module, batch: Any) -> Any:
        return model(batch_inputs(batch))

    return Task(metric, objective, forward, label)


def metric_task(fn: MetricFn, name: str | None = None) -> Task:
    """A task from `fn(model, batch) -> {name: per-example (B,) tensor}`.

    The objective (for Hessians) is the batch mean of its "loss" entry; BatchNorm statistics are
    taken from running `fn` itself.
    """
    label = name or getattr(fn, "__name__", "the metric function")

    def objective(model: nn.Module, batch: Any) -> Tensor:
        out = fn(model, batch)
        if "loss" not in out:
            raise LatentscapeError(f"{label} gives no 'loss' (it gives {', '.join(out)}): a Hessian needs one")
        return out["loss"].mean()

    return Task(fn, objective, fn, label)
