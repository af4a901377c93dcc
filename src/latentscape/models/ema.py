"""Exponential moving average of a module's weights (e.g. a GAN generator).

theta_ema <- decay * theta_ema + (1 - decay) * theta after every update of theta (as in
Karras et al. 2018, "Progressive Growing of GANs", sec. A.1, and Yazici et al. 2019). Buffers
(BatchNorm running statistics) are copied, not averaged.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def make_ema_copy(module: nn.Module) -> nn.Module:
    """A frozen deep copy of `module` to hold the averaged weights (no gradients)."""
    ema = copy.deepcopy(module)
    for p in ema.parameters():
        p.requires_grad_(False)
    return ema


@torch.no_grad()
def update_ema_(ema: nn.Module, module: nn.Module, decay: float) -> None:
    """Move `ema`'s parameters towards `module`'s in place and copy its buffers.

    Args:
        ema: the averaged copy (same architecture as `module`).
        module: the trained module.
        decay: in [0, 1); 0 copies the weights.
    """
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
    for pe, p in zip(ema.parameters(), module.parameters(), strict=True):
        pe.lerp_(p.detach(), 1.0 - decay)
    for be, b in zip(ema.buffers(), module.buffers(), strict=True):
        be.copy_(b)
