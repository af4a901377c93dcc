import pytest
import torch
from torch import nn

from latentscape.config import OptimizerConfig
from latentscape.nets.fc_decoder import ConfigurableFCDecoder, parse_arch
from latentscape.train.optim import build_optimizer, set_lr


def test_parse_arch():
    assert parse_arch("500-500-1000") == (500, 500, 1000)
    assert parse_arch(" 64 ") == (64,)
    assert parse_arch("") == ()
    for bad in ("500-", "a-1", "0-5", "5.5"):
        with pytest.raises(ValueError, match="architecture string"):
            parse_arch(bad)


def test_decoder_layers_follow_options():
    dec = ConfigurableFCDecoder(2, (8, 4), (1, 3, 3), activation="swish", batchnorm=True, dropout=0.5, bias=False)
    kinds = [type(m).__name__ for m in dec.net]
    assert kinds == ["Linear", "BatchNorm1d", "SiLU", "Dropout", "Linear", "BatchNorm1d", "SiLU", "Dropout", "Linear"]
    assert [m.out_features for m in dec.net if isinstance(m, nn.Linear)] == [8, 4, 9]
    assert dec(torch.zeros(5, 2)).shape == (5, 1, 3, 3)
    with pytest.raises(ValueError, match="gelu"):
        ConfigurableFCDecoder(2, (), (1, 2, 2), activation="gelu")


def test_param_groups_keep_their_own_base_lr_under_a_schedule():
    a, b = nn.Parameter(torch.zeros(2)), nn.Parameter(torch.zeros(2))
    opt = build_optimizer([{"params": [a]}, {"params": [b], "lr": 0.5}], OptimizerConfig(lr=1e-3))
    assert set_lr(opt, 1e-3, 0.1) == pytest.approx(1e-4)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([1e-4, 0.05])
