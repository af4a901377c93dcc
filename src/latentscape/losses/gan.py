"""GAN objectives as pure functions of critic scores (raw, pre-sigmoid outputs of D).

Every function returns a scalar to *minimise*; batch means stand for the expectations.

- "bce": the original minimax game (Goodfellow et al. 2014, Algorithm 1): the discriminator
  ascends log D(x) + log(1 - D(G(z))), the generator descends log(1 - D(G(z))).
- "bce_nonsaturating": the same discriminator, the generator maximises log D(G(z)) instead
  (Goodfellow et al. 2014, sec. 3), which keeps gradients when D rejects fakes confidently.
- "lsgan": least squares (Mao et al. 2017, eq. 2) with targets a=0 (fake), b=1 (real) and c=1
  (what G wants D to believe), as in the source study.
- "wgan_gp": Wasserstein critic with gradient penalty (Gulrajani et al. 2017, Algorithm 1, line 7):
  L = D(x~) - D(x) + lambda (||grad D(x^)||_2 - 1)^2, x^ on lines between real and fake examples;
  the generator descends -D(G(z)) (line 11).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from latentscape.registry import Registry


def bce_discriminator_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """-[log D(x) + log(1 - D(G(z)))] with D = sigmoid(score) (Goodfellow et al. 2014, Alg. 1).

    Args:
        real_scores: raw critic outputs on real images, (B,) or (B, 1).
        fake_scores: raw critic outputs on generated images, (B,) or (B, 1).
    """
    # -log sigmoid(s) = softplus(-s); -log(1 - sigmoid(s)) = softplus(s): stable for large |s|.
    return F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()


def bce_generator_loss(fake_scores: Tensor) -> Tensor:
    """Minimax generator objective log(1 - D(G(z))) (Goodfellow et al. 2014, Alg. 1).

    Its gradient vanishes when D confidently rejects the fakes (the saturation the study saw).
    """
    return -F.softplus(fake_scores).mean()


def bce_nonsaturating_generator_loss(fake_scores: Tensor) -> Tensor:
    """Non-saturating generator objective -log D(G(z)) (Goodfellow et al. 2014, sec. 3)."""
    return F.softplus(-fake_scores).mean()


def lsgan_discriminator_loss(real_scores: Tensor, fake_scores: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2] (Mao et al. 2017, eq. 2)."""
    return 0.5 * (real_scores - b).pow(2).mean() + 0.5 * (fake_scores - a).pow(2).mean()


def lsgan_generator_loss(fake_scores: Tensor, c: float = 1.0) -> Tensor:
    """1/2 E[(D(G(z)) - c)^2] (Mao et al. 2017, eq. 2)."""
    return 0.5 * (fake_scores - c).pow(2).mean()


def wasserstein_critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """E[D(G(z))] - E[D(x)] (Gulrajani et al. 2017, Alg. 1, line 7 without the penalty)."""
    return fake_scores.mean() - real_scores.mean()


def wasserstein_generator_loss(fake_scores: Tensor) -> Tensor:
    """-E[D(G(z))] (Gulrajani et al. 2017, Alg. 1, line 11)."""
    return -fake_scores.mean()


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    generator: torch.Generator | None = None,
) -> Tensor:
    """E[(||grad_x^ D(x^)||_2 - 1)^2] with x^ = eps x + (1 - eps) x~, eps ~ U[0, 1] per example
    (Gulrajani et al. 2017, Alg. 1, lines 4-7).

    The graph is kept (create_graph=True) so that the penalty's gradient reaches the critic.

    Args:
        critic: maps images (B, C, H, W) to scores (B,) or (B, 1); must treat examples
            independently (no batch norm), else the per-example gradient is meaningless.
        real: real images (B, C, H, W).
        fake: generated images (B, C, H, W), detached from the generator.
        generator: RNG for eps (None: the global RNG).

    Returns:
        Scalar penalty (without the weight lambda).
    """
    b = real.shape[0]
    eps = torch.rand(b, 1, 1, 1, generator=generator, device="cpu" if generator is None else generator.device)
    eps = eps.to(device=real.device, dtype=real.dtype)  # (B, 1, 1, 1)
    mixed = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)  # (B, C, H, W)
    scores = critic(mixed)
    (grad,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)  # (B, C, H, W)
    norms = grad.flatten(1).norm(2, dim=1)  # (B,)
    return (norms - 1).pow(2).mean()


class GANLoss(NamedTuple):
    """A GAN objective: the critic's loss (real, fake scores) and the generator's (fake scores).

    `gradient_penalty` says whether the critic loss also takes the WGAN-GP penalty.
    """

    critic: Callable[[Tensor, Tensor], Tensor]
    generator: Callable[[Tensor], Tensor]
    gradient_penalty: bool = False
    default_n_critic: int = 1


#: name -> objective. The names are the `loss` values of `GANConfig`.
GAN_LOSSES: Registry[GANLoss] = Registry("GAN loss")
GAN_LOSSES.register("bce", GANLoss(bce_discriminator_loss, bce_generator_loss))
GAN_LOSSES.register("bce_nonsaturating", GANLoss(bce_discriminator_loss, bce_nonsaturating_generator_loss))
GAN_LOSSES.register("lsgan", GANLoss(lsgan_discriminator_loss, lsgan_generator_loss))
# n_critic = 5 is Gulrajani et al.'s default (Algorithm 1).
GAN_LOSSES.register("wgan_gp", GANLoss(wasserstein_critic_loss, wasserstein_generator_loss, True, 5))
