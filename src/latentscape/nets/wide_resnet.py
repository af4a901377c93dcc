"""Wide residual networks (Zagoruyko & Komodakis 2016, "Wide Residual Networks").

WRN-d-k: depth d = 6n + 4, widening factor k. A 3x3 convolution with 16 channels, three stages
of n pre-activation blocks BN-ReLU-conv3x3-BN-ReLU-[dropout]-conv3x3 with 16k, 32k and 64k
channels (table 1), then BN-ReLU, global average pooling and a linear layer. As in the
authors' code, a block that changes the shape sends the pre-activated input through a 1x1
convolution on its shortcut. WRN-28-10 has 36.5M parameters (table 2); Garipov et al. 2018
train it without dropout.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from latentscape.nets.init import init_conv_bn
from latentscape.nets.resnet import blocks_per_stage


class WideBlock(nn.Module):
    """Pre-activation wide basic block (the paper's B(3,3))."""

    def __init__(self, c_in: int, c_out: int, stride: int, dropout: float) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.projection = nn.Conv2d(c_in, c_out, 1, stride, bias=False) if stride != 1 or c_in != c_out else None

    def forward(self, x: Tensor) -> Tensor:
        """(B, C_in, H, W) -> (B, C_out, H / stride, W / stride)."""
        pre = F.relu(self.bn1(x))
        out = self.conv1(pre)
        out = self.conv2(self.dropout(F.relu(self.bn2(out))))
        return out + (x if self.projection is None else self.projection(pre))


class WideResNet(nn.Module):
    """WRN-depth-widen for 32x32 images (any size works: the head pools globally).

    Args:
        in_channels: image channels.
        num_classes: logits produced.
        depth: 6n + 4 (16, 22, 28, 40).
        widen: widening factor k (stages have 16k, 32k, 64k channels).
        dropout: dropout probability between the two convolutions of a block (0.3 in the
            paper's dropout runs, 0 in Garipov et al.'s).
        width: channels of the first convolution and the unwidened stage (16).
    """

    def __init__(
        self, in_channels: int, num_classes: int, depth: int = 28, widen: int = 10, dropout: float = 0.0, width: int = 16
    ) -> None:
        super().__init__()
        n = blocks_per_stage(depth, 2, 4)
        self.conv = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        blocks: list[nn.Module] = []
        c_in = width
        for stage, c_out in enumerate((width * widen, 2 * width * widen, 4 * width * widen)):
            for i in range(n):
                blocks.append(WideBlock(c_in, c_out, 2 if stage > 0 and i == 0 else 1, dropout))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(c_in)
        self.fc = nn.Linear(c_in, num_classes)
        init_conv_bn(self)

    def embed(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> pooled features (B, 64 * widen)."""
        out = F.relu(self.bn(self.blocks(self.conv(x))))  # (B, 64k, H / 4, W / 4)
        return out.mean(dim=(2, 3))

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> logits (B, num_classes)."""
        return self.fc(self.embed(x))
