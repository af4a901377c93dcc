"""VGG-style convolutional classifiers (Simonyan & Zisserman 2015, "Very Deep Convolutional Networks":
stacks of 3x3 convolutions and 2x2 max-pooling).

`SmallVGG` is sized for 28-64 px images (the landscape lab's optional task 3.2 uses such a net to
study BatchNorm along paths in weight space); `VGG` is VGG-11/13/16/19 as Garipov et al. 2018
train it on CIFAR and `VGG9` the VGG-9 of Li et al. 2018.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from latentscape.nets.init import init_conv_bn
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


#: Channels of each convolution per block, in units of `width` (64 in the papers); every block
#: ends with a 2x2 max-pool. Simonyan & Zisserman 2015, table 1, configurations A, B, D, E; depth
#: 9 is Li et al. 2018's VGG-9 (their code's `cfg["VGG9"]`: seven convolutions, two linear layers).
VGG_LAYOUTS: dict[int, tuple[tuple[int, ...], ...]] = {
    9: ((1, 1), (2, 2), (4, 4, 4)),
    11: ((1,), (2,), (4, 4), (8, 8), (8, 8)),
    13: ((1, 1), (2, 2), (4, 4), (8, 8), (8, 8)),
    16: ((1, 1), (2, 2), (4, 4, 4), (8, 8, 8), (8, 8, 8)),
    19: ((1, 1), (2, 2), (4, 4, 4, 4), (8, 8, 8, 8), (8, 8, 8, 8)),
}


def conv_blocks(in_channels: int, layout: Sequence[Sequence[int]], width: int, batch_norm: bool) -> tuple[nn.Sequential, int]:
    """[conv3x3(+bias)-(BN)-ReLU] per entry, a 2x2 max-pool after each block; (stack, channels out)."""
    layers: list[nn.Module] = []
    c_in = in_channels
    for block in layout:
        for multiple in block:
            layers.append(nn.Conv2d(c_in, multiple * width, 3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(multiple * width))
            layers.append(nn.ReLU())
            c_in = multiple * width
        layers.append(MaxPool2x2())
    return nn.Sequential(*layers), c_in


class VGG(nn.Module):
    """VGG-11/13/16/19 for CIFAR as Garipov et al. 2018 train it (their VGG16 and VGG16BN).

    The convolution stack of Simonyan & Zisserman 2015, its last maps max-pooled to a vector (at
    32x32 they are 1x1, so this is Garipov et al.'s flatten), and the classifier
    dropout-linear-ReLU-dropout-linear-ReLU-linear with `hidden` units. Convolutions keep their biases also with BatchNorm, as in Garipov et al.'s code.

    Args:
        in_channels: image channels.
        num_classes: logits produced.
        depth: 11, 13, 16 or 19 (`VGG_LAYOUTS`).
        width: channels of the first block (64); later blocks use 2x, 4x and 8x.
        batch_norm: BatchNorm after every convolution (VGG16BN).
        dropout: dropout probability before the first two linear layers (0.5).
        hidden: width of the two hidden linear layers (512 = 8 * width in the paper).
    """

    def __init__(
        self, in_channels: int, num_classes: int, depth: int = 16, width: int = 64, batch_norm: bool = False,
        dropout: float = 0.5, hidden: int = 512,
    ) -> None:
        super().__init__()
        self.features, c_out = conv_blocks(in_channels, VGG_LAYOUTS[depth], width, batch_norm)
        self.embedding = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(c_out, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, hidden), nn.ReLU()
        )
        self.head = nn.Linear(hidden, num_classes)
        init_conv_bn(self)

    def embed(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> penultimate features (B, hidden)."""
        maps = self.features(x)  # (B, 8w, H / 32, W / 32): 1x1 for 32x32 images
        return self.embedding(maps.amax(dim=(2, 3)))  # (B, 8w) -> (B, hidden)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> logits (B, num_classes)."""
        return self.head(self.embed(x))


class VGG9(nn.Module):
    """Li et al. 2018's VGG-9: seven 3x3 convolutions with BatchNorm in three blocks, then a
    linear layer on the flattened (4w, H/8, W/8) maps with BatchNorm1d and ReLU, and the output
    layer (their `cifar10/models/vgg.py`).

    Args:
        in_channels, num_classes: image channels and logits produced.
        image_size: (H, W) of the inputs (the flattened feature size depends on it).
        width: channels of the first block (64); the others use 2x and 4x.
        batch_norm: BatchNorm after every convolution and the hidden linear layer.
    """

    def __init__(self, in_channels: int, num_classes: int, image_size: tuple[int, int] = (32, 32), width: int = 64, batch_norm: bool = True) -> None:
        super().__init__()
        self.features, c_out = conv_blocks(in_channels, VGG_LAYOUTS[9], width, batch_norm)
        h, w = image_size
        for _ in VGG_LAYOUTS[9]:
            h, w = (h + 1) // 2, (w + 1) // 2  # ceil-mode pooling
        self.embedding = nn.Sequential(
            nn.Flatten(), nn.Linear(c_out * h * w, c_out), *([nn.BatchNorm1d(c_out)] if batch_norm else []), nn.ReLU()
        )
        self.head = nn.Linear(c_out, num_classes)
        init_conv_bn(self)

    def embed(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> penultimate features (B, 4 * width)."""
        return self.embedding(self.features(x))  # (B, 4w, H/8, W/8) -> (B, 4w)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> logits (B, num_classes)."""
        return self.head(self.embed(x))
