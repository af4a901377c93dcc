"""Latent codes for pictures: straight-line interpolation between codes."""

from __future__ import annotations

import torch
from torch import Tensor


def interpolation_codes(z0: Tensor, z1: Tensor, steps: int) -> Tensor:
    """Codes on the segment from z0 to z1 (same shape S, e.g. (D,) or (P, D)), endpoints included.

    Returns:
        (steps, *S): row i is (1 - t_i) z0 + t_i z1 with t_i = i / (steps - 1).
    """
    t = torch.linspace(0.0, 1.0, steps, device=z0.device, dtype=z0.dtype)
    t = t.view(steps, *([1] * z0.dim()))  # (T, 1, ..., 1)
    return (1.0 - t) * z0.unsqueeze(0) + t * z1.unsqueeze(0)  # (T, *S)
