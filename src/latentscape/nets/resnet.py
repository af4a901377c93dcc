"""CIFAR ResNets (He et al. 2016, sec. 4.2) with and without shortcuts (Li et al. 2018).

depth = 6n + 2 layers: a 3x3 convolution with `width` channels, three stages of n basic blocks
with width, 2 * width and 4 * width channels (the first block of stages 2 and 3 halves H and W),
global average pooling and one linear layer. Shortcuts are identities; where a block changes
the shape they subsample by 2 and pad the new channels with zeros ("option A", He et al. 2016,
sec. 4.2), so they add no parameters: ResNet-20 / 56 / 110 have the 0.27M / 0.85M / 1.7M
parameters of the paper's table 6.

`shortcut=False` drops the shortcuts and keeps everything else: the "noshort" nets whose loss
surfaces Li et al. 2018 (sec. 5, fig. 5) show turning chaotic as depth grows.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from latentscape.nets.init import init_conv_bn


def blocks_per_stage(depth: int, layers_per_block: int, extra: int) -> int:
    """n of a depth = layers_per_block * 3 * n + extra network; ValueError naming the rule."""
    per_stage = 3 * layers_per_block
    if depth < per_stage + extra or (depth - extra) % per_stage:
        raise ValueError(f"depth {depth} is not {per_stage}n+{extra} with n >= 1 (e.g. {per_stage + extra}, "
                         f"{2 * per_stage + extra}, {3 * per_stage + extra})")
    return (depth - extra) // per_stage


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN, plus the (option A) shortcut when on, then ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int, shortcut: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = shortcut
        self.stride = stride
        self.extra_channels = c_out - c_in

    def forward(self, x: Tensor) -> Tensor:
        """(B, C_in, H, W) -> (B, C_out, H / stride, W / stride)."""
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.shortcut:
            out = out + self.identity(x)
        return F.relu(out)

    def identity(self, x: Tensor) -> Tensor:
        """Option A: subsample by the stride and zero-pad the new channels; no parameters."""
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]  # (B, C_in, H / s, W / s)
        if self.extra_channels:
            x = F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))  # (B, C_out, H / s, W / s)
        return x


class CifarResNet(nn.Module):
    """ResNet-(6n+2) for 32x32 images (any size works: the head pools globally).

    Args:
        in_channels: image channels.
        num_classes: logits produced.
        depth: 6n + 2 (20, 32, 44, 56, 110, ...).
        width: channels of the first stage (16 in the paper); stages use width, 2w, 4w.
        shortcut: identity shortcuts (False: Li et al.'s "noshort" variant).
    """

    def __init__(self, in_channels: int, num_classes: int, depth: int = 20, width: int = 16, shortcut: bool = True) -> None:
        super().__init__()
        n = blocks_per_stage(depth, 2, 2)
        self.conv = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        blocks: list[nn.Module] = []
        c_in = width
        for stage, c_out in enumerate((width, 2 * width, 4 * width)):
            for i in range(n):
                blocks.append(BasicBlock(c_in, c_out, 2 if stage > 0 and i == 0 else 1, shortcut))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(c_in, num_classes)
        init_conv_bn(self)

    def embed(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> pooled features (B, 4 * width)."""
        out = self.blocks(F.relu(self.bn(self.conv(x))))  # (B, 4w, H / 4, W / 4)
        return out.mean(dim=(2, 3))  # (B, 4w)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> logits (B, num_classes)."""
        return self.fc(self.embed(x))
