"""A small VGG-style convolutional classifier with BatchNorm and dropout.

Simonyan & Zisserman 2015 ("Very Deep Convolutional Networks"): stacks of 3x3 convolutions and 2x2
max-pooling. Sized for 28-64 px images; the landscape lab's optional task 3.2 uses such a net to
study BatchNorm along paths in weight space.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from latentscape.nets.pooling import MaxPool2x2


class SmallVGG(nn.Module):
    """Conv blocks [conv3x3-BN-ReLU] x convs_per_block + maxpool, then dropout + linear head.

    Args:
        in_channels: image channels.
        num_classes: logits produced.
        widths: channels of each block, e.g. (32, 64, 128); each block halves H and W.
        convs_per_block: 3x3 convolutions per block.
        dropout: dropout probability before each linear layer.
        hidden: width of the penultimate fully connected layer (the embedding).
        batch_norm: use BatchNorm2d after each convolution.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        widths: Sequence[int] = (32, 64, 128),
        convs_per_block: int = 2,
        dropout: float = 0.3,
        hidden: int = 128,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = in_channels
        for width in widths:
            for _ in range(convs_per_block):
                layers.append(nn.Conv2d(c_in, width, 3, padding=1, bias=not batch_norm))
                if batch_norm:
                    layers.append(nn.BatchNorm2d(width))
                layers.append(nn.ReLU(inplace=True))
                c_in = width
            layers.append(MaxPool2x2())
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.embedding = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(c_in, hidden), nn.ReLU(inplace=True)
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, num_classes))

    def embed(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> penultimate features (B, hidden)."""
        return self.embedding(self.pool(self.features(x)))

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> logits (B, num_classes)."""
        return self.head(self.embed(x))
