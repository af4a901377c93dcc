"""The CIFAR reference classifiers of the loss-landscape literature, as registered models.

- `resnet`: CIFAR ResNet-(6n+2) of He et al. 2016 (option A shortcuts); `shortcut: false` is
  Li et al. 2018's "noshort" variant (nets/resnet.py).
- `preresnet`: pre-activation ResNet, Garipov et al. 2018's PreResNet-110/164 (nets/preresnet.py).
- `wide_resnet`: WRN-d-k of Zagoruyko & Komodakis 2016 (nets/wide_resnet.py).
- `vgg`: VGG-11/13/16/19, with or without BatchNorm, as Garipov et al. train them (nets/vgg.py).
- `vgg9`: Li et al. 2018's VGG-9 (nets/vgg.py).

Every one is a `Classifier` (cross-entropy objective, per-example loss and accuracy, `logits`,
`embed`) with an optional per-channel input normalisation `mean` / `std` (the papers' CIFAR
statistics live in configs/cifar10_*.yaml). `width` options shrink a net for quick runs and tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch import nn

from latentscape.errors import ConfigError
from latentscape.models.classifier import Classifier, num_classes_of
from latentscape.nets.preresnet import PreResNet
from latentscape.nets.resnet import CifarResNet, blocks_per_stage
from latentscape.nets.vgg import VGG, VGG9
from latentscape.nets.wide_resnet import WideResNet
from latentscape.ranges import ranged
from latentscape.rundir.model import DataInfo, ModelConfig, ModelEntry


@dataclass(frozen=True)
class NormalizedClassifierConfig(ModelConfig):
    """Base of the reference nets' configs: per-channel input normalisation.

    Attributes:
        mean, std: one value per image channel; inputs in [0, 1] become (x - mean) / std inside
            the model. Empty: no normalisation.
    """

    mean: tuple[float, ...] = ranged((), 0.0, 1.0)
    std: tuple[float, ...] = ranged((), 0.0, 1e3, low_open=True)

    def __post_init__(self) -> None:
        if len(self.mean) != len(self.std):
            raise ValueError(f"mean has {len(self.mean)} values and std {len(self.std)}; give one of each per channel")


@dataclass(frozen=True)
class ResNetConfig(NormalizedClassifierConfig):
    """CIFAR ResNet: depth 6n+2 (20, 32, 44, 56, 110), first-stage width 16, shortcuts on/off."""

    name: str = "resnet"
    depth: int = ranged(20, 8, 10_000)
    width: int = ranged(16, 1, 4096)
    shortcut: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        blocks_per_stage(self.depth, 2, 2)


@dataclass(frozen=True)
class PreResNetConfig(NormalizedClassifierConfig):
    """Pre-activation ResNet: bottleneck blocks with depth 9n+2 (110, 164), basic ones 6n+2."""

    name: str = "preresnet"
    depth: int = ranged(110, 8, 10_000)
    width: int = ranged(16, 1, 4096)
    bottleneck: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        blocks_per_stage(self.depth, 3 if self.bottleneck else 2, 2)


@dataclass(frozen=True)
class WideResNetConfig(NormalizedClassifierConfig):
    """WRN-depth-widen: depth 6n+4 (16, 22, 28, 40), widening factor, dropout inside blocks."""

    name: str = "wide_resnet"
    depth: int = ranged(28, 10, 10_000)
    widen: int = ranged(10, 1, 1024)
    dropout: float = ranged(0.0, 0.0, 1.0, high_open=True)
    width: int = ranged(16, 1, 4096)

    def __post_init__(self) -> None:
        super().__post_init__()
        blocks_per_stage(self.depth, 2, 4)


@dataclass(frozen=True)
class VGGConfig(NormalizedClassifierConfig):
    """VGG-11/13/16/19 with Garipov et al.'s CIFAR classifier (dropout, two hidden layers)."""

    name: str = "vgg"
    depth: Literal[11, 13, 16, 19] = 16
    width: int = ranged(64, 1, 4096)
    batch_norm: bool = False
    dropout: float = ranged(0.5, 0.0, 1.0, high_open=True)
    hidden: int = ranged(512, 1, 10**6)


@dataclass(frozen=True)
class VGG9Config(NormalizedClassifierConfig):
    """Li et al.'s VGG-9: seven convolutions (first width 64) and two linear layers, BatchNorm."""

    name: str = "vgg9"
    width: int = ranged(64, 1, 4096)
    batch_norm: bool = True


def _classifier(net: nn.Module, cfg: NormalizedClassifierConfig, info: DataInfo) -> Classifier:
    channels = info.image_shape[0]
    if cfg.mean and len(cfg.mean) != channels:
        raise ConfigError(
            f"model.mean and model.std have {len(cfg.mean)} values, but the images have {channels} channel(s)"
        )
    return Classifier(net, cfg.mean, cfg.std)


def build_resnet(cfg: ResNetConfig, info: DataInfo) -> Classifier:
    net = CifarResNet(info.image_shape[0], num_classes_of(info), cfg.depth, cfg.width, cfg.shortcut)
    return _classifier(net, cfg, info)


def build_preresnet(cfg: PreResNetConfig, info: DataInfo) -> Classifier:
    net = PreResNet(info.image_shape[0], num_classes_of(info), cfg.depth, cfg.width, cfg.bottleneck)
    return _classifier(net, cfg, info)


def build_wide_resnet(cfg: WideResNetConfig, info: DataInfo) -> Classifier:
    net = WideResNet(info.image_shape[0], num_classes_of(info), cfg.depth, cfg.widen, cfg.dropout, cfg.width)
    return _classifier(net, cfg, info)


def build_vgg(cfg: VGGConfig, info: DataInfo) -> Classifier:
    net = VGG(info.image_shape[0], num_classes_of(info), cfg.depth, cfg.width, cfg.batch_norm, cfg.dropout, cfg.hidden)
    return _classifier(net, cfg, info)


def build_vgg9(cfg: VGG9Config, info: DataInfo) -> Classifier:
    c, h, w = info.image_shape
    net = VGG9(c, num_classes_of(info), (h, w), cfg.width, cfg.batch_norm)
    return _classifier(net, cfg, info)


# Declared in latentscape.registry.MODELS.
RESNET_ENTRY = ModelEntry(ResNetConfig, build_resnet, description="CIFAR ResNet-(6n+2), shortcut: false for Li et al.'s noshort")
PRERESNET_ENTRY = ModelEntry(PreResNetConfig, build_preresnet, description="pre-activation ResNet (Garipov et al.'s PreResNet-110)")
WIDE_RESNET_ENTRY = ModelEntry(WideResNetConfig, build_wide_resnet, description="WideResNet-d-k (WRN-28-10)")
VGG_ENTRY = ModelEntry(VGGConfig, build_vgg, description="VGG-11/13/16/19 (batch_norm: VGG16BN), Garipov et al.'s CIFAR head")
VGG9_ENTRY = ModelEntry(VGG9Config, build_vgg9, description="Li et al.'s VGG-9 with BatchNorm")
