"""Weight-initialisation choices change the weight statistics as they should."""

import math

import pytest
import torch
from torch import nn

from latentscape.nets.init import init_weights


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(16, 64, 5), nn.BatchNorm2d(64), nn.Linear(400, 300))


def test_normal_is_dcgan_n_0_002():
    net = init_weights(_net(), "normal")
    w = torch.cat([net[0].weight.flatten(), net[2].weight.flatten()])
    assert abs(w.std().item() - 0.02) < 0.001 and abs(w.mean().item()) < 0.001
    assert net[0].bias.abs().max() == 0 and net[2].bias.abs().max() == 0
    assert abs(net[1].weight.mean().item() - 1.0) < 0.01


@pytest.mark.parametrize("layer,fan_in", [(0, 16 * 25), (2, 400)])
def test_kaiming_normal_std(layer, fan_in):
    w = init_weights(_net(), "kaiming_normal")[layer].weight
    assert abs(w.std().item() / math.sqrt(2.0 / fan_in) - 1) < 0.05


@pytest.mark.parametrize("layer,fan_in", [(0, 16 * 25), (2, 400)])
def test_kaiming_uniform_bound_and_std(layer, fan_in):
    w = init_weights(_net(), "kaiming_uniform")[layer].weight
    bound = math.sqrt(6.0 / fan_in)
    assert w.abs().max().item() <= bound
    assert w.abs().max().item() > 0.95 * bound  # fills the interval
    assert abs(w.std().item() / (bound / math.sqrt(3)) - 1) < 0.05  # uniform: std = b / sqrt(3)


def test_default_keeps_weights_and_unknown_fails():
    net = _net()
    before = net[0].weight.clone()
    init_weights(net, "default")
    assert torch.equal(net[0].weight, before)
    with pytest.raises(ValueError, match="unknown init"):
        init_weights(net, "xavier")
