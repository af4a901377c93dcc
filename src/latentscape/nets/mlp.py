"""Fully connected networks (the loss-landscape lab's 784-64-10 classifier and friends)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "leaky_relu": nn.LeakyReLU,
}


def activation(name: str) -> nn.Module:
    """A fresh activation module by name (relu, sigmoid, tanh, leaky_relu)."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; allowed: {', '.join(ACTIVATIONS)}") from None


class MLP(nn.Module):
    """Flatten, then Linear layers with an activation between them.

    Args:
        in_dim: input features (C*H*W for images).
        hidden_dims: widths of the hidden layers, e.g. (64,) for the lab's 784-64-10 net.
        out_dim: output features (number of classes).
        activation_name: relu, sigmoid, tanh or leaky_relu.
    """

    def __init__(
        self, in_dim: int, hidden_dims: Sequence[int], out_dim: int, activation_name: str = "relu"
    ) -> None:
        super().__init__()
        dims = [in_dim, *hidden_dims]
        layers: list[nn.Module] = [nn.Flatten()]
        for d_in, d_out in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(d_in, d_out), activation(activation_name)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(dims[-1], out_dim)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) or (B, D) -> logits (B, out_dim)."""
        return self.head(self.features(x))
