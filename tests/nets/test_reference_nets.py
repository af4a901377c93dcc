"""The CIFAR reference nets: parameter counts of the papers, shapes, shortcuts, configs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from latentscape.config import config_from_dict
from latentscape.errors import ConfigError
from latentscape.models.classifier import Classifier
from latentscape.nets.preresnet import PreResNet
from latentscape.nets.resnet import BasicBlock, CifarResNet
from latentscape.nets.vgg import VGG, VGG9
from latentscape.nets.wide_resnet import WideResNet
from latentscape.rundir.load import build_model
from latentscape.rundir.model import DataInfo


def _count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def _on_meta(factory) -> nn.Module:
    with torch.device("meta"):  # shapes only: WRN-28-10's 36M parameters cost no memory or time
        return factory()


@pytest.mark.parametrize(
    "factory, paper, rel",
    [
        # He et al. 2016, table 6: ResNet-20 0.27M, ResNet-56 0.85M, ResNet-110 1.7M
        (lambda: CifarResNet(3, 10, depth=20), 0.27e6, 0.01),
        (lambda: CifarResNet(3, 10, depth=56), 0.85e6, 0.01),
        (lambda: CifarResNet(3, 10, depth=110), 1.7e6, 0.03),
        # Zagoruyko & Komodakis 2016, table 2: WRN-28-10 36.5M
        (lambda: WideResNet(3, 10, depth=28, widen=10), 36.5e6, 0.001),
        # He et al. 2016b, table 3: pre-activation ResNet-164 (bottleneck) 1.7M
        (lambda: PreResNet(3, 10, depth=164), 1.7e6, 0.01),
    ],
    ids=["resnet20", "resnet56", "resnet110", "wrn28-10", "preresnet164"],
)
def test_parameter_counts_match_the_papers(factory, paper, rel):
    assert _count(_on_meta(factory)) == pytest.approx(paper, rel=rel)


def test_parameter_counts_exact():
    """Exact counts, so that a changed layer shows (option-A shortcuts add nothing; VGG16BN adds
    BatchNorm's 2 * 4224 scales and shifts to VGG16's 15.25M)."""
    counts = {
        "resnet20": _count(_on_meta(lambda: CifarResNet(3, 10, 20))),
        "resnet20-noshort": _count(_on_meta(lambda: CifarResNet(3, 10, 20, shortcut=False))),
        "preresnet110": _count(_on_meta(lambda: PreResNet(3, 10, 110))),
        "vgg16": _count(_on_meta(lambda: VGG(3, 10, 16))),
        "vgg16bn": _count(_on_meta(lambda: VGG(3, 10, 16, batch_norm=True))),
        "vgg9": _count(_on_meta(lambda: VGG9(3, 10))),
    }
    assert counts == {
        "resnet20": 269_722, "resnet20-noshort": 269_722, "preresnet110": 1_146_842,
        "vgg16": 15_245_130, "vgg16bn": 15_253_578, "vgg9": 2_789_706,
    }


@pytest.mark.parametrize(
    "net, image, features",
    [
        (CifarResNet(3, 10, depth=8, width=4), (3, 32, 32), 16),
        (CifarResNet(1, 10, depth=8, width=4, shortcut=False), (1, 8, 8), 16),
        (PreResNet(3, 10, depth=11, width=4), (3, 32, 32), 64),
        (PreResNet(3, 10, depth=8, width=4, bottleneck=False), (3, 32, 32), 16),
        (WideResNet(3, 10, depth=10, widen=2, width=4, dropout=0.3), (3, 32, 32), 32),
        (VGG(3, 10, depth=16, width=4, hidden=8, batch_norm=True), (3, 32, 32), 8),
        (VGG(1, 10, depth=11, width=4, hidden=8), (1, 8, 8), 8),
        (VGG9(3, 10, (32, 32), width=4), (3, 32, 32), 16),
        (VGG9(1, 10, (8, 8), width=4), (1, 8, 8), 16),
    ],
)
def test_shapes_of_logits_and_embeddings(net, image, features):
    x = torch.rand(2, *image)  # (B, C, H, W)
    assert net(x).shape == (2, 10)
    assert net.embed(x).shape == (2, features)


def test_option_a_shortcut_subsamples_and_zero_pads():
    block = BasicBlock(4, 8, stride=2, shortcut=True)
    x = torch.randn(2, 4, 6, 6)
    out = block.identity(x)
    assert out.shape == (2, 8, 3, 3)
    assert torch.equal(out[:, :4], x[:, :, ::2, ::2]) and not out[:, 4:].any()


def test_noshort_differs_only_in_the_shortcut():
    torch.manual_seed(0)
    with_short = CifarResNet(3, 10, depth=8, width=4)
    without = CifarResNet(3, 10, depth=8, width=4, shortcut=False)
    without.load_state_dict(with_short.state_dict())  # the same parameters, names and shapes
    x = torch.rand(3, 3, 16, 16)
    assert not torch.allclose(with_short(x), without(x))
    for block in without.blocks:  # a block without its shortcut is relu(bn2(conv2(relu(bn1(conv1 x)))))
        block.shortcut = True
    assert torch.allclose(with_short(x), without(x))


@pytest.mark.parametrize(
    "model, message",
    [
        ({"name": "resnet", "depth": 21}, "depth 21 is not 6n\\+2"),
        ({"name": "preresnet", "depth": 11, "bottleneck": False}, "depth 11 is not 6n\\+2"),
        ({"name": "preresnet", "depth": 14}, "depth 14 is not 9n\\+2"),
        ({"name": "wide_resnet", "depth": 26}, "depth 26 is not 6n\\+4"),
        ({"name": "vgg", "depth": 12}, "model.depth: 12 is not allowed; allowed: 11, 13, 16, 19"),
        ({"name": "resnet", "mean": [0.5], "std": [0.2, 0.2]}, "mean has 1 values and std 2"),
        ({"name": "resnet", "std": [0.0], "mean": [0.5]}, "model.std"),
    ],
)
def test_bad_depths_and_statistics_are_config_errors(model, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict({"model": model})


def test_statistics_must_match_the_channels():
    cfg = config_from_dict({"model": {"name": "vgg9", "width": 4, "mean": [0.5, 0.5, 0.5], "std": [0.2, 0.2, 0.2]}})
    with pytest.raises(ConfigError, match="3 values, but the images have 1 channel"):
        build_model(cfg, DataInfo((1, 8, 8), 10, 100))


def test_normalisation_happens_inside_the_model():
    cfg = config_from_dict({"model": {"name": "resnet", "depth": 8, "width": 4, "mean": [0.25, 0.5, 0.75], "std": [0.5, 0.25, 0.125]}})
    model = build_model(cfg, DataInfo((3, 8, 8), 10, 100)).eval()
    assert isinstance(model, Classifier) and not any(k.rsplit(".", 1)[-1] in ("mean", "std") for k in model.state_dict())
    x = torch.rand(2, 3, 8, 8)
    expected = model.net((x - torch.tensor([0.25, 0.5, 0.75]).view(3, 1, 1)) / torch.tensor([0.5, 0.25, 0.125]).view(3, 1, 1))
    torch.testing.assert_close(model.logits(x), expected)
    torch.testing.assert_close(model.embed(x), model.net.embed(model.normalize(x)))
