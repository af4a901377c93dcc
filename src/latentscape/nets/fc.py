"""Fully connected encoder and decoder (the 784-400-20 VAE of Kingma & Welling 2014, section 5).

Architectures only: the encoder maps images to a feature vector (a posterior's parameters, or a
code), the decoder maps a code to per-pixel logits. Losses and likelihoods live elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor, nn


def mlp(sizes: Sequence[int], final_activation: bool = False) -> nn.Sequential:
    """Linear layers between consecutive `sizes`, ReLU between them (and after the last if asked)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 or final_activation:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class FCEncoder(nn.Module):
    """Flatten, then `hidden_dims` ReLU layers, then a linear head of size `out_dim`.

    Args:
        image_shape: (C, H, W) of the input images.
        hidden_dims: widths of the hidden layers, e.g. (400,).
        out_dim: size of the output (latent_dim for an AE, 2 * latent_dim for a VAE).
    """

    def __init__(self, image_shape: Sequence[int], hidden_dims: Sequence[int], out_dim: int) -> None:
        super().__init__()
        self.net = mlp([math.prod(image_shape), *hidden_dims, out_dim])

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, out_dim)."""
        return self.net(x.flatten(1))  # (B, C*H*W) -> (B, out_dim)


class FCDecoder(nn.Module):
    """Linear layers from a code to one logit per pixel.

    Args:
        latent_dim: size of the code.
        hidden_dims: widths of the hidden layers, e.g. (400,).
        image_shape: (C, H, W) of the output images.
    """

    def __init__(self, latent_dim: int, hidden_dims: Sequence[int], image_shape: Sequence[int]) -> None:
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.net = mlp([latent_dim, *hidden_dims, math.prod(image_shape)])

    def forward(self, z: Tensor) -> Tensor:
        """(B, latent_dim) -> logits (B, C, H, W)."""
        return self.net(z).view(z.shape[0], *self.image_shape)  # (B, C, H, W)
