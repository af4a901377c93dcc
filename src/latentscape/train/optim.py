"""Optimizers and learning-rate schedules built from config (one optimizer per parameter group).

A model's optimizer group may hold several torch param groups (`LatentModel.param_groups_for`):
dicts with "params" and optionally "lr" (a base LR of their own, scheduled like the group's),
"weight_decay" and "sparse" (sparse gradients, stepped by SparseAdam in the same step).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from latentscape.config import OptimizerConfig, ScheduleConfig
from latentscape.registry import LR_SCHEDULES, OPTIMIZERS


def build_optimizer(params: Iterable[nn.Parameter] | Iterable[dict], cfg: OptimizerConfig):
    """The optimizer named by `cfg.name` (registry.OPTIMIZERS: Adam, AdamW, SGD) with weight decay.

    `params` is parameters, or param-group dicts; a dict's own "lr" becomes its "base_lr" (what
    `set_lr` scales). Dicts marked "sparse" get SparseAdam, joined with the dense optimizer so
    that both step together (`JointOptimizer`).
    """
    items = list(params)
    if items and isinstance(items[0], dict):
        groups = [dict(g, params=[p for p in g["params"] if p.requires_grad]) for g in items]
        for g in groups:
            g["base_lr"] = g.get("lr", cfg.lr)
            g["lr"] = g["base_lr"]
        dense = [g for g in groups if not g.get("sparse")]
        sparse = [g for g in groups if g.get("sparse")]
        if sparse:
            from latentscape.train.joint_optim import JointOptimizer

            sparse_opt = torch.optim.SparseAdam(
                [{k: v for k, v in g.items() if k != "weight_decay"} for g in sparse], lr=cfg.lr, betas=cfg.betas
            )
            return JointOptimizer([_build(dense, cfg), sparse_opt])
        return _build(dense, cfg)
    return _build([p for p in items if p.requires_grad], cfg)


def _build(params: list, cfg: OptimizerConfig) -> torch.optim.Optimizer:
    """One optimizer of class OPTIMIZERS[cfg.name], fused where PyTorch has a fused kernel for the
    parameters' device (CPU and CUDA): the whole update is one kernel instead of a few per
    parameter tensor. On CUDA at small batches the step is launch-bound; on the CPU the fused Adam
    step of the FC VAE is 0.36 ms against 2.3 ms (`bench/peers.py`, vae_epoch row)."""
    tensors = [p for g in params for p in g["params"]] if params and isinstance(params[0], dict) else params
    fused = {"fused": True} if _fusable(tensors) else {}
    cls = OPTIMIZERS.get(cfg.name)
    if cls is torch.optim.SGD:  # momentum / Nesterov instead of Adam's betas
        return cls(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov, weight_decay=cfg.weight_decay, **fused)
    return cls(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay, **fused)


def _fusable(tensors: list) -> bool:
    """True when every tensor is a floating-point parameter on one CPU or CUDA device."""
    if not tensors or not all(p.is_floating_point() for p in tensors):
        return False
    devices = {p.device for p in tensors}
    return len(devices) == 1 and next(iter(devices)).type in ("cpu", "cuda")


def constant_factor(cfg: ScheduleConfig, step: int, progress: float, steps_per_epoch: int) -> float:
    """1."""
    return 1.0


def step_factor(cfg: ScheduleConfig, step: int, progress: float, steps_per_epoch: int) -> float:
    """gamma ** (epoch // step_epochs)."""
    return cfg.gamma ** (step // max(1, cfg.step_epochs * steps_per_epoch))


def multistep_factor(cfg: ScheduleConfig, step: int, progress: float, steps_per_epoch: int) -> float:
    """gamma ** (number of milestones <= epoch), epochs counted from 0 (torch's MultiStepLR).

    Li et al. 2018 train 300 epochs with milestones (150, 225, 275): epochs 0-149 at the base
    LR, 150-224 at 0.1 of it, and so on.
    """
    epoch = step // max(1, steps_per_epoch)
    return cfg.gamma ** sum(1 for m in cfg.milestones if epoch >= m)


def cosine_factor(cfg: ScheduleConfig, step: int, progress: float, steps_per_epoch: int) -> float:
    """final + (1 - final) * (1 + cos(pi * p)) / 2 (Loshchilov & Hutter 2017, eq. 5, no restarts)."""
    final = final_fraction(cfg, 0.0)
    return final + (1 - final) * (1 + math.cos(math.pi * progress)) / 2


def linear_factor(cfg: ScheduleConfig, step: int, progress: float, steps_per_epoch: int) -> float:
    """1 - (1 - final) * p."""
    return 1.0 - (1.0 - final_fraction(cfg, 0.0)) * progress


def garipov_factor(cfg: ScheduleConfig, step: int, progress: float, steps_per_epoch: int) -> float:
    """1 until p = decay_start, then linear down to `final` at p = decay_end, then `final`.

    Garipov et al. 2018 (their train.py `learning_rate_schedule`, also used by SWA): decay_start
    0.5, decay_end 0.9, final 0.01. They evaluate it once per epoch; here it moves every step.
    """
    final = final_fraction(cfg, 0.01)
    if progress <= cfg.decay_start:
        return 1.0
    if progress >= cfg.decay_end:
        return final
    return 1.0 - (1.0 - final) * (progress - cfg.decay_start) / (cfg.decay_end - cfg.decay_start)


def final_fraction(cfg: ScheduleConfig, default: float) -> float:
    """`cfg.final_fraction`, or the schedule's own default when it is unset."""
    return default if cfg.final_fraction is None else cfg.final_fraction


def lr_factor(cfg: ScheduleConfig, step: int, total_steps: int, steps_per_epoch: int) -> float:
    """Multiplier of the base LR at optimizer step `step` (0-based) of `total_steps`.

    The schedule named by `cfg.name` (LR_SCHEDULES: constant, step, multistep, cosine, linear,
    garipov; see `ScheduleConfig`) at progress p = step / total_steps in [0, 1]. A linear warm-up
    over `warmup_steps` multiplies all.
    """
    warm = min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps > 0 else 1.0
    progress = min(1.0, step / max(1, total_steps))
    return warm * LR_SCHEDULES.get(cfg.name)(cfg, step, progress, steps_per_epoch)


def set_lr(optimizer: torch.optim.Optimizer, base_lr: float, factor: float) -> float:
    """Set every param group's LR to (its own base LR, else base_lr) * factor; return base_lr * factor."""
    lr = base_lr * factor
    for group in optimizer.param_groups:
        group["lr"] = group.get("base_lr", base_lr) * factor
    return lr
