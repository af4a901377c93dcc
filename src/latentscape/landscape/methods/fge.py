"""Fast geometric ensembling (Garipov et al. 2018, sec. 4).

Starting from a trained model, SGD runs with a cyclic learning rate that, within each cycle of
c epochs, falls linearly from lr1 to lr2 over the first half and climbs back over the second:
    lr(s) = (1 - 2s) lr1 + 2s lr2        for s in [0, 1/2]
    lr(s) = (2 - 2s) lr2 + (2s - 1) lr1  for s in (1/2, 1],   s = position in the cycle.
A snapshot is taken where the learning rate reaches lr2 (the middle of every cycle); the
ensemble predicts the mean of the snapshots' softmax outputs. The SGD batches are augmented as
the run's training batches were (`data.augment`: Garipov et al. train and ensemble with the
standard CIFAR crops and flips); predictions and BatchNorm statistics see the images as they are.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from latentscape.data.loader import BatchLoader, iterate_in_order
from latentscape.data.types import ImageDataset
from latentscape.errors import LatentscapeError
from latentscape.landscape.core.batchnorm import BatchNormRecomputer, has_batchnorm
from latentscape.landscape.core.functional import Bound
from latentscape.landscape.core.params import Params, named_params
from latentscape.progress import StageFn, silent
from latentscape.train.guard import FiniteGuard


@dataclass(frozen=True)
class FGEConfig:
    """Options of fast geometric ensembling.

    Attributes:
        cycles: number of cycles (= snapshots).
        cycle_epochs: length of a cycle in epochs (Garipov et al. use 2-4).
        lr1, lr2: largest and smallest learning rate (lr1 > lr2).
        momentum, weight_decay: SGD settings.
        batch_size: training batch size.
        seed: seed of the batch order.
    """

    cycles: int = 4
    cycle_epochs: float = 2.0
    lr1: float = 0.05
    lr2: float = 0.0005
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_size: int = 128
    seed: int = 0

    def __post_init__(self) -> None:
        if self.cycles < 1 or not self.cycle_epochs > 0:
            raise LatentscapeError("fge: cycles must be >= 1 and the cycle length > 0")
        if not self.lr1 > self.lr2 > 0 or not math.isfinite(self.lr1):
            raise LatentscapeError(f"fge: need lr1 > lr2 > 0, got lr1={self.lr1}, lr2={self.lr2}")
        if not 0 <= self.momentum < 1 or not 0 <= self.weight_decay < math.inf or self.batch_size < 1:
            raise LatentscapeError(
                f"fge: need 0 <= momentum < 1, weight decay >= 0 and batch size >= 1, got momentum={self.momentum}, "
                f"wd={self.weight_decay}, batch size={self.batch_size}"
            )


def cyclic_lr(s: float, lr1: float, lr2: float) -> float:
    """Learning rate at position s in [0, 1) of a cycle (Garipov et al. 2018, sec. 4)."""
    s = s % 1.0
    if s <= 0.5:
        return (1 - 2 * s) * lr1 + 2 * s * lr2
    return (2 - 2 * s) * lr2 + (2 * s - 1) * lr1


def _logits_fn(model: nn.Module) -> Bound:
    if not callable(getattr(model, "logits", None)):
        raise LatentscapeError("fge needs a classifier (a model with logits(x)); this model has none")
    return Bound(model, lambda m, x: m.logits(x))


def _diverged(value: float, step: int) -> LatentscapeError:
    return LatentscapeError(f"fge: loss became {value} at step {step}; lower --lr1")


def train_snapshots(
    model: nn.Module,
    train: ImageDataset,
    cfg: FGEConfig,
    device: torch.device | str = "cpu",
    objective: Callable[[nn.Module, Any], Tensor] | None = None,
    progress: Callable[[int, int], None] | None = None,
    augment: Callable[[Tensor, torch.Generator], Tensor] | None = None,
) -> list[Params]:
    """Run the cyclic schedule on a copy of `model`; return the parameter snapshots (one per cycle).

    Args:
        objective: `(model, batch) -> scalar loss` (a `core.task.Task`'s; default the model's own
            training objective `model(batch).loss`).
        augment: the training augmentation of the batches (`data.augment.augmentation(cfg.data)`,
            as the trainer's loader; None: the images as they are).
        progress: `progress(done, total)` SGD steps (first (0, total), once the data is checked).
    """
    loss_of = objective or (lambda m, b: m(b).loss)
    work = copy.deepcopy(model).to(device).train()
    params = [p for p in work.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=cfg.lr1, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    loader = BatchLoader(train, cfg.batch_size, shuffle=True, seed=cfg.seed, device=device, drop_last=True, augment=augment)
    if len(loader) == 0:  # full batches only: the loop below would never take a step
        raise LatentscapeError(
            f"fge: {len(train)} training examples make no full batch of {cfg.batch_size}; lower --batch-size"
        )
    per_cycle = max(2, round(cfg.cycle_epochs * len(loader)))
    snap_at = per_cycle // 2  # the iteration of a cycle where the LR reaches lr2
    total = cfg.cycles * per_cycle
    snapshots: list[Params] = []
    guard = FiniteGuard(device, _diverged)  # the trainer's NaN guard
    if progress is not None:
        progress(0, total)
    step, epoch = 0, 0
    while step < total:
        loader.set_epoch(epoch)
        for batch in loader:
            if step >= total:
                break
            i = step % per_cycle
            for g in opt.param_groups:
                g["lr"] = cyclic_lr(i / per_cycle, cfg.lr1, cfg.lr2)
            opt.zero_grad(set_to_none=True)
            loss = loss_of(work, batch)
            guard.check(loss, step)
            loss.backward()
            opt.step()
            step += 1
            if i + 1 == snap_at:
                guard.raise_if_seen()
                snapshots.append({k: v.cpu() for k, v in named_params(work).items()})
            if progress is not None:
                progress(step, total)
        epoch += 1
    guard.raise_if_seen()
    return snapshots


@torch.no_grad()
def predict_proba(
    model: nn.Module,
    params: Params,
    data: ImageDataset,
    train: ImageDataset,
    batch_size: int = 1000,
    device: torch.device | str = "cpu",
    logits: Callable[[nn.Module, Tensor], Tensor] | None = None,
    bn_forward: Callable[[nn.Module, Any], Any] | None = None,
) -> Tensor:
    """Softmax outputs (N, K) of `model` at `params` (BatchNorm statistics recomputed if any).

    Args:
        logits: `(model, x) -> (B, K)` class scores (default the model's `logits(x)`).
        bn_forward: the pass BatchNorm statistics are taken from (default `model(batch)`).
    """
    work = copy.deepcopy(model).to(device).eval()
    buffers = {k: v for k, v in work.named_buffers()}
    params = {k: v.to(device) for k, v in params.items()}
    if has_batchnorm(work):
        rec = BatchNormRecomputer(work, lambda: iterate_in_order(train, batch_size, device), forward=bn_forward or (lambda m, b: m(b)), buffers=buffers)
        buffers = rec(params)
    bound = Bound(work, logits) if logits is not None else _logits_fn(work)
    out = [F.softmax(bound.call({**params, **buffers}, b.x).float(), -1).cpu() for b in iterate_in_order(data, batch_size, device)]
    return torch.cat(out)  # (N, K)


def scores(probs: Tensor, labels: Tensor) -> dict[str, float]:
    """Accuracy (a fraction in [0, 1]) and mean negative log-likelihood of probabilities (N, K)."""
    nll = -torch.log(probs.gather(1, labels.view(-1, 1)).clamp_min(1e-12)).mean()
    acc = (probs.argmax(1) == labels).float().mean()
    return {"accuracy": float(acc), "nll": float(nll)}


def run_fge(
    model: nn.Module,
    train: ImageDataset,
    test: ImageDataset,
    cfg: FGEConfig,
    device: torch.device | str = "cpu",
    objective: Callable[[nn.Module, Any], Tensor] | None = None,
    logits: Callable[[nn.Module, Tensor], Tensor] | None = None,
    bn_forward: Callable[[nn.Module, Any], Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
    stage: StageFn = silent,
    augment: Callable[[Tensor, torch.Generator], Tensor] | None = None,
) -> dict:
    """FGE from `model`: snapshots, then single-model and ensemble test scores.

    Args:
        objective, logits, bn_forward: for any classifier (e.g. your own module with a
            cross-entropy task); default: latentscape's contract (`forward(batch).loss`,
            `logits(x)`).
        progress: `progress(done, total)` SGD steps.
        stage: wraps the test predictions of the original model and the snapshots
            (`stage(what)`, e.g. `latentscape.progress.stage`: a start and an end line).
        augment: the training augmentation of the SGD batches (see `train_snapshots`).
    """
    if logits is None:
        _logits_fn(model)
    snaps = train_snapshots(model, train, cfg, device, objective, progress, augment)
    labels = test.labels

    def proba(p: Params) -> Tensor:
        return predict_proba(model, p, test, train, device=device, logits=logits, bn_forward=bn_forward)

    bn = " (BatchNorm statistics recomputed for each)" if has_batchnorm(model) else ""
    with stage(f"fge: test predictions of the original model and {len(snaps)} snapshot{'s' if len(snaps) != 1 else ''}{bn}"):
        start = scores(proba(named_params(model)), labels)
        probs = [proba(s) for s in snaps]
    per_snapshot = [scores(p, labels) for p in probs]
    ens_curve = [scores(torch.stack(probs[: k + 1]).mean(0), labels) for k in range(len(probs))]
    return {
        "config": cfg.__dict__,
        "augment": dataclasses.asdict(augment) if dataclasses.is_dataclass(augment) else (None if augment is None else repr(augment)),
        "original": start,
        "final_snapshot": per_snapshot[-1],
        "snapshots": per_snapshot,
        "ensemble": ens_curve[-1],
        "ensemble_by_size": ens_curve,
        "mean_single_accuracy": float(np.mean([s["accuracy"] for s in per_snapshot])),
    }
