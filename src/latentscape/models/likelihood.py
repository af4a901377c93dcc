"""Decoder likelihoods p(x | z) of a VAE: how decoder outputs become a density over images.

Naming the likelihood makes a VAE's ELBO a number in nats per image that can be compared across
runs: Bernoulli (the PyTorch examples VAE's BCE), Gaussian with a fixed sigma (MSE scaled by
1 / (2 sigma^2), plus the normalising constant), or Gaussian with one learned sigma (the
"calibrated decoder" of Rybkin et al. 2021, sec. 3). Decoders output unconstrained values
(logits); every likelihood's mean image is sigmoid(logits), in [0, 1].
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from latentscape.losses.divergence import bernoulli_log_prob, gaussian_log_prob


class Likelihood(nn.Module):
    """Base: `log_prob(logits, x) -> (B,)` in nats, `mean(logits) -> images in [0, 1]`."""

    def mean(self, logits: Tensor) -> Tensor:
        """Expected image, (B, C, H, W) in [0, 1]."""
        return torch.sigmoid(logits)

    def log_prob(self, logits: Tensor, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class Bernoulli(Likelihood):
    """Independent Bernoulli pixels with probabilities sigmoid(logits); x may be grey levels."""

    def __init__(self, sigma: float = 1.0) -> None:  # sigma is unused; same signature for all
        super().__init__()

    def log_prob(self, logits: Tensor, x: Tensor) -> Tensor:
        return bernoulli_log_prob(logits, x)


class GaussianFixed(Likelihood):
    """N(x; sigmoid(logits), sigma^2) per pixel with a fixed sigma."""

    def __init__(self, sigma: float) -> None:
        super().__init__()
        if not sigma > 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        self.log_sigma = math.log(sigma)

    def log_prob(self, logits: Tensor, x: Tensor) -> Tensor:
        return gaussian_log_prob(x, self.mean(logits), self.log_sigma)


class GaussianLearned(Likelihood):
    """N(x; sigmoid(logits), sigma^2) with one learned log-sigma shared by all pixels.

    log sigma is clamped below at log(1e-3) so a near-perfect reconstruction cannot drive the
    density to infinity.
    """

    def __init__(self, sigma: float) -> None:
        super().__init__()
        self.log_sigma = nn.Parameter(torch.tensor(math.log(sigma)))

    def log_prob(self, logits: Tensor, x: Tensor) -> Tensor:
        return gaussian_log_prob(x, self.mean(logits), self.log_sigma.clamp_min(math.log(1e-3)))


LIKELIHOODS: dict[str, type[Likelihood]] = {
    "bernoulli": Bernoulli,
    "gaussian_fixed": GaussianFixed,
    "gaussian_learned": GaussianLearned,
}


def build_likelihood(name: str, sigma: float) -> Likelihood:
    """The named likelihood (sigma: fixed value, or initial value of the learned one)."""
    try:
        cls = LIKELIHOODS[name]
    except KeyError:
        raise ValueError(f"unknown likelihood {name!r}; allowed: {', '.join(LIKELIHOODS)}") from None
    return cls(sigma)  # type: ignore[call-arg]
