"""A configurable fully connected decoder (the decoder-only study's `sequential.py`, study 002).

Architecture only: a code (B, latent_dim) goes through Linear [-> BatchNorm] -> activation
[-> Dropout] blocks of the given widths, then a Linear layer to one logit per pixel. The widths
come from an architecture string such as "500-500-1000" (the study's `--arch`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor, nn

#: activations the study offers (`swish` is SiLU, x * sigmoid(x); Ramachandran et al. 2017).
DECODER_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "tanh": nn.Tanh,
    "swish": nn.SiLU,
}


def parse_arch(text: str) -> tuple[int, ...]:
    """Hidden widths from an architecture string: "500-500-1000" -> (500, 500, 1000).

    An empty string means no hidden layer (a linear decoder).

    Raises:
        ValueError: a part is not a positive integer.
    """
    text = str(text).strip()
    if not text:
        return ()
    widths = []
    for part in text.split("-"):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise ValueError(f"{text!r} is not an architecture string like '500-500-1000' (bad part {part!r})")
        widths.append(int(part))
    return tuple(widths)


class ConfigurableFCDecoder(nn.Module):
    """Code -> hidden blocks -> logits (B, C, H, W).

    Args:
        latent_dim: size of the code.
        hidden_dims: widths of the hidden layers, e.g. (500, 500, 1000).
        image_shape: (C, H, W) of the output images.
        activation: relu, leaky_relu, tanh or swish.
        batchnorm: BatchNorm1d after each hidden Linear layer (before the activation).
        dropout: dropout probability after each hidden activation (0 disables it).
        bias: whether the Linear layers have biases.
    """

    def __init__(
        self,
        latent_dim: int,
        hidden_dims: Sequence[int],
        image_shape: Sequence[int],
        activation: str = "leaky_relu",
        batchnorm: bool = True,
        dropout: float = 0.0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if activation not in DECODER_ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; allowed: {', '.join(DECODER_ACTIVATIONS)}")
        self.image_shape = tuple(image_shape)
        layers: list[nn.Module] = []
        width = latent_dim
        for h in hidden_dims:
            layers.append(nn.Linear(width, h, bias=bias))
            if batchnorm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(DECODER_ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, math.prod(self.image_shape), bias=bias))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        """(B, latent_dim) -> logits (B, C, H, W)."""
        return self.net(z).view(z.shape[0], *self.image_shape)  # (B, C*H*W) -> (B, C, H, W)
