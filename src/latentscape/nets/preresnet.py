"""Pre-activation ResNets for CIFAR (He et al. 2016b, "Identity Mappings in Deep Residual Networks").

Each block computes BN-ReLU-conv ... and adds its input unchanged (a 1x1 convolution where the
shape changes), so the shortcut path is a clean identity; one BN-ReLU follows the last block.
As in Garipov et al. 2018's PreResNet-110/164 (their code follows bearpaw's
pytorch-classification), depth >= 44 uses bottleneck blocks (1x1, 3x3, 1x1 convolutions, output
4x wider; depth = 9n + 2) and shallower nets basic blocks (two 3x3; depth = 6n + 2).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from latentscape.nets.init import init_conv_bn
from latentscape.nets.resnet import blocks_per_stage


class PreActBasic(nn.Module):
    """BN-ReLU-conv3x3(stride)-BN-ReLU-conv3x3, plus the shortcut."""

    expansion = 1

    def __init__(self, c_in: int, planes: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.downsample = _projection(c_in, planes, stride)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C_in, H, W) -> (B, planes, H / stride, W / stride)."""
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        return out + (x if self.downsample is None else self.downsample(x))


class PreActBottleneck(nn.Module):
    """BN-ReLU-conv1x1-BN-ReLU-conv3x3(stride)-BN-ReLU-conv1x1 (4x wider), plus the shortcut."""

    expansion = 4

    def __init__(self, c_in: int, planes: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, planes, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, 4 * planes, 1, bias=False)
        self.downsample = _projection(c_in, 4 * planes, stride)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C_in, H, W) -> (B, 4 * planes, H / stride, W / stride)."""
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        out = self.conv3(F.relu(self.bn3(out)))
        return out + (x if self.downsample is None else self.downsample(x))


def _projection(c_in: int, c_out: int, stride: int) -> nn.Module | None:
    """The 1x1 convolution of a shortcut that changes the shape (None: identity)."""
    return nn.Conv2d(c_in, c_out, 1, stride, bias=False) if stride != 1 or c_in != c_out else None


class PreResNet(nn.Module):
    """Pre-activation ResNet for 32x32 images (any size works: the head pools globally).

    Args:
        in_channels: image channels.
        num_classes: logits produced.
        depth: 9n + 2 with bottlenecks (110, 164), else 6n + 2.
        width: channels of the first stage (16); stages use width, 2w, 4w (x4 in bottlenecks).
        bottleneck: bottleneck blocks (Garipov et al.'s choice for depth >= 44).
    """

    def __init__(self, in_channels: int, num_classes: int, depth: int = 110, width: int = 16, bottleneck: bool = True) -> None:
        super().__init__()
        block = PreActBottleneck if bottleneck else PreActBasic
        n = blocks_per_stage(depth, 3 if bottleneck else 2, 2)
        self.conv = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        blocks: list[nn.Module] = []
        c_in = width
        for stage, planes in enumerate((width, 2 * width, 4 * width)):
            for i in range(n):
                blocks.append(block(c_in, planes, 2 if stage > 0 and i == 0 else 1))
                c_in = planes * block.expansion
        self.blocks = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(c_in)
        self.fc = nn.Linear(c_in, num_classes)
        init_conv_bn(self)

    def embed(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> pooled features (B, 4 * width * expansion)."""
        out = F.relu(self.bn(self.blocks(self.conv(x))))  # (B, C_last, H / 4, W / 4)
        return out.mean(dim=(2, 3))

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> logits (B, num_classes)."""
        return self.fc(self.embed(x))
