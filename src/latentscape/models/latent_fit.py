"""Fit latent vectors of given images with a frozen decoder (the auto-decoder's inference).

The decoder-only study (002) validates by "initialising the latent vectors of the validation set
and updating them by backpropagation with the weights of the decoder frozen"; GLO (Bojanowski et
al. 2018, sec. 3) and DeepSDF's auto-decoder (Park et al. 2019, eq. 10) infer codes of new data
the same way: z* = argmin_z L(g_theta(z), x) for fixed theta.

The optimiser is Adam (Kingma & Ba 2015, Algorithm 1) written out on the codes, so that:
- gradients are taken with `torch.autograd.grad` w.r.t. the codes only: no `.grad` is ever
  written on the decoder's parameters and no parameter changes;
- every code has its own moments and the loss is the *sum* of per-image losses, so each image's
  trajectory is the same whatever else is in the batch (batch-size independent, deterministic).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from latentscape.progress import ProgressFn

#: (codes (B, D), images (B, C, H, W)) -> per-image loss (B,)
PerImageLoss = Callable[[Tensor, Tensor], Tensor]


def project_to_unit_ball(z: Tensor) -> Tensor:
    """Rows scaled to norm <= 1: z / max(1, ||z||) (GLO, Bojanowski et al. 2018, sec. 3.1)."""
    return z / z.norm(dim=-1, keepdim=True).clamp_min(1.0)


def fit_latents(
    loss_fn: PerImageLoss,
    x: Tensor,
    z0: Tensor,
    steps: int,
    lr: float,
    *,
    project: bool = False,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    progress: ProgressFn | None = None,
) -> Tensor:
    """Minimise `loss_fn(z, x)` over the codes z only, starting from `z0`.

    Args:
        loss_fn: per-image loss of decoding codes (B, D) against images (B, C, H, W).
        x: images (B, C, H, W) in [0, 1].
        z0: starting codes (B, D) (not modified).
        steps: Adam steps (0 returns z0).
        lr: Adam step size.
        project: keep the codes in the unit ball after each step.
        betas, eps: Adam's moment decays and denominator constant.
        progress: `progress(step, steps)` after each Adam step.

    Returns:
        Fitted codes (B, D), detached, float32.
    """
    z = z0.detach().float().clone()
    if project:
        z = project_to_unit_ball(z)
    m = torch.zeros_like(z)
    v = torch.zeros_like(z)
    b1, b2 = betas
    with torch.enable_grad():
        for t in range(1, steps + 1):
            zv = z.requires_grad_(True)
            loss = loss_fn(zv, x).sum()  # sum: each image's gradient is its own
            (g,) = torch.autograd.grad(loss, [zv])
            z = zv.detach()
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            m_hat = m / (1 - b1**t)
            v_hat = v / (1 - b2**t)
            z = z - lr * m_hat / (v_hat.sqrt() + eps)
            if project:
                z = project_to_unit_ball(z)
            if progress is not None:
                progress(t, steps)
    return z.detach()
