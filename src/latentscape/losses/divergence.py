"""Log-likelihoods and KL divergences, per example, in nats.

All functions return one value per example, shape (B,), summed over that example's dimensions, so
an ELBO built from them is in nats per image and comparable across runs and architectures.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

_LOG_2PI = math.log(2.0 * math.pi)


def _per_example_sum(t: Tensor) -> Tensor:
    return t.flatten(1).sum(1)  # (B, ...) -> (B,)


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) per example, (B,).

    Kingma & Welling 2014 ("Auto-Encoding Variational Bayes"), appendix B:
    -KL = 1/2 * sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2).

    Args:
        mu: posterior means, (B, D).
        logvar: posterior log-variances, (B, D).
    """
    return 0.5 * _per_example_sum(mu.square() + logvar.exp() - 1.0 - logvar)


def standard_normal_log_prob(z: Tensor) -> Tensor:
    """log N(z; 0, I) summed over the last dimension, (...,) for z of shape (..., D)."""
    return -0.5 * (z.square() + _LOG_2PI).sum(-1)


def diagonal_normal_log_prob(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """log N(z; mu, diag(exp(logvar))) summed over the last dimension (broadcasting), (...,)."""
    return -0.5 * ((z - mu).square() * torch.exp(-logvar) + logvar + _LOG_2PI).sum(-1)


def bernoulli_log_prob(logits: Tensor, x: Tensor) -> Tensor:
    """sum_pixels log Bernoulli(x; sigmoid(logits)) per example, (B,).

    For grey levels x in [0, 1] this is minus the summed binary cross-entropy, the "reconstruction
    term" of the PyTorch examples VAE (not a normalised density over [0, 1]).
    """
    return -_per_example_sum(F.binary_cross_entropy_with_logits(logits, x, reduction="none"))


def gaussian_log_prob(x: Tensor, mean: Tensor, log_sigma: Tensor | float) -> Tensor:
    """sum_pixels log N(x; mean, sigma^2) per example, with the normalising constant, (B,).

    Args:
        x: targets, (B, C, H, W).
        mean: predicted means, same shape.
        log_sigma: log standard deviation: a float, or a tensor broadcastable to x.
    """
    log_sigma = torch.as_tensor(log_sigma, dtype=x.dtype, device=x.device)
    z = (x - mean) * torch.exp(-log_sigma)
    return -_per_example_sum(0.5 * z.square() + log_sigma + 0.5 * _LOG_2PI)


def log_mean_exp(t: Tensor, dim: int = 0) -> Tensor:
    """log(mean(exp(t), dim)) computed stably."""
    return torch.logsumexp(t, dim) - math.log(t.shape[dim])
