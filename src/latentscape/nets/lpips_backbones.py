"""ImageNet backbones of LPIPS (Zhang et al. 2018): AlexNet, VGG16 and SqueezeNet 1.1 features.

Each is the `features` part of the torchvision model, with the same layer indices, so that
torchvision's weights files (`features.<i>.weight`, ...) load directly; the classifier keys of those
files are ignored. `forward` returns the activations LPIPS compares: the ReLU outputs at the ends
of the slices the LPIPS repository uses (alex: relu1..5, vgg: relu1_2, 2_2, 3_3, 4_3, 5_3,
squeeze: relu1 and the outputs of fire3, fire5, fire6, fire7, fire8 and fire9).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from latentscape.nets.weights import WeightsSpec, load_matching_state


class Fire(nn.Module):
    """SqueezeNet fire module (Iandola et al. 2016): 1x1 squeeze, then 1x1 and 3x3 expands."""

    def __init__(self, cin: int, squeeze: int, e1: int, e3: int) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(cin, squeeze, 1)
        self.squeeze_activation = nn.ReLU()
        self.expand1x1 = nn.Conv2d(squeeze, e1, 1)
        self.expand1x1_activation = nn.ReLU()
        self.expand3x3 = nn.Conv2d(squeeze, e3, 3, padding=1)
        self.expand3x3_activation = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        s = self.squeeze_activation(self.squeeze(x))
        e1 = self.expand1x1_activation(self.expand1x1(s))
        e3 = self.expand3x3_activation(self.expand3x3(s))
        return torch.cat([e1, e3], 1)  # (B, e1 + e3, H, W)


def alexnet_features() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
    )


def vgg16_features() -> nn.Sequential:
    layers: list[nn.Module] = []
    cin = 3
    for v in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"):
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, int(v), 3, padding=1), nn.ReLU()]
            cin = int(v)
    return nn.Sequential(*layers)


def squeezenet1_1_features() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 64, 3, stride=2), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True),
        Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), nn.MaxPool2d(3, 2, ceil_mode=True),
        Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), nn.MaxPool2d(3, 2, ceil_mode=True),
        Fire(256, 48, 192, 192), Fire(384, 48, 192, 192), Fire(384, 64, 256, 256), Fire(512, 64, 256, 256),
    )


@dataclass(frozen=True)
class BackboneSpec:
    """A backbone: its layers, the indices whose outputs LPIPS taps, their channels, weights."""

    build: type | object
    taps: tuple[int, ...]
    channels: tuple[int, ...]
    weights: WeightsSpec


BACKBONES: dict[str, BackboneSpec] = {
    "alex": BackboneSpec(
        alexnet_features, (1, 4, 7, 9, 11), (64, 192, 384, 256, 256),
        WeightsSpec("AlexNet (torchvision)", "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth", "7be5be79"),
    ),
    "vgg": BackboneSpec(
        vgg16_features, (3, 8, 15, 22, 29), (64, 128, 256, 512, 512),
        WeightsSpec("VGG16 (torchvision)", "https://download.pytorch.org/models/vgg16-397923af.pth", "397923af"),
    ),
    "squeeze": BackboneSpec(
        squeezenet1_1_features, (1, 4, 7, 9, 10, 11, 12), (64, 128, 256, 384, 384, 512, 512),
        WeightsSpec(
            "SqueezeNet 1.1 (torchvision)", "https://download.pytorch.org/models/squeezenet1_1-b8a52dc0.pth", "b8a52dc0"
        ),
    ),
}


class LPIPSBackbone(nn.Module):
    """`features` of a torchvision classifier returning the LPIPS taps.

    Args:
        net: "alex", "vgg" or "squeeze".
    """

    def __init__(self, net: str) -> None:
        super().__init__()
        if net not in BACKBONES:
            raise ValueError(f"unknown LPIPS backbone {net!r}; allowed: {', '.join(BACKBONES)}")
        spec = BACKBONES[net]
        self.net = net
        self.features = spec.build()  # type: ignore[operator]
        self.taps = spec.taps
        self.channels = spec.channels
        for p in self.parameters():
            p.requires_grad_(False)

    def forward(self, x: Tensor) -> list[Tensor]:
        """Scaled images (B, 3, H, W) -> activations [(B, C_k, H_k, W_k)] at the taps."""
        outs = []
        for i, layer in enumerate(self.features[: self.taps[-1] + 1]):
            x = layer(x)
            if i in self.taps:
                outs.append(x)
        return outs

    def load_torchvision_state_dict(self, state: dict[str, Tensor], source: str) -> None:
        """Load the `features.*` tensors of a torchvision weights file (others are ignored)."""
        feats = {k: v for k, v in state.items() if k.startswith("features.")}
        load_matching_state(self, feats, source, f"{self.net} backbone weights")
