"""DCGAN encoder / decoder: shapes for 28, 32 and 64 px, output ranges, norms, init."""

import pytest
import torch

from latentscape.nets.dcgan import DCGANDecoder, DCGANEncoder, dcgan_init_, resampling_plan



@pytest.mark.parametrize(("size", "plan"), [(28, (7, 2)), (32, (4, 3)), (64, (4, 4)), (16, (4, 2))])
def test_resampling_plan(size, plan):
    base, n = resampling_plan(size)
    assert (base, n) == plan
    assert base * 2**n == size


@pytest.mark.parametrize("size", [5, 7, 9])
def test_resampling_plan_rejects_odd_sizes(size):
    with pytest.raises(ValueError):
        resampling_plan(size)


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("norm", ["batch", "none", "layer"])
def test_shapes(size, norm):
    c = 1 if size == 28 else 3
    enc = DCGANEncoder((c, size, size), out_dim=6, width=4, norm=norm)
    dec = DCGANDecoder(3, (c, size, size), width=4, norm=norm)
    x = torch.rand(2, c, size, size)
    assert enc(x).shape == (2, 6)
    assert dec(torch.randn(2, 3)).shape == (2, c, size, size)


def test_channels_double_per_stage():
    enc = DCGANEncoder((3, 32, 32), out_dim=1, width=8)
    convs = [m for m in enc.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [m.out_channels for m in convs] == [8, 16, 32]
    dec = DCGANDecoder(4, (3, 32, 32), width=8)
    assert dec.base_shape == (32, 4, 4)


@pytest.mark.parametrize(("act", "low", "high"), [("sigmoid", 0.0, 1.0), ("tanh", -1.0, 1.0)])
def test_out_activation_range(act, low, high):
    dec = DCGANDecoder(4, (1, 28, 28), width=4, out_activation=act)
    with torch.no_grad():
        y = dec(10 * torch.randn(8, 4))
    assert y.min() >= low and y.max() <= high


def test_layer_norm_is_per_example():
    # WGAN-GP needs a critic whose output for one example ignores the rest of the batch.
    enc = DCGANEncoder((1, 28, 28), out_dim=1, width=4, norm="layer").train()
    x = torch.rand(4, 1, 28, 28)
    alone = enc(x[:1])
    together = enc(x)[:1]
    torch.testing.assert_close(alone, together)


def test_dcgan_init():
    torch.manual_seed(0)
    dec = dcgan_init_(DCGANDecoder(16, (3, 64, 64), width=32))
    w = torch.cat([m.weight.flatten() for m in dec.modules() if isinstance(m, torch.nn.ConvTranspose2d)])
    assert abs(w.std().item() - 0.02) < 0.002
    assert abs(w.mean().item()) < 0.002


def test_bad_arguments():
    with pytest.raises(ValueError):
        DCGANEncoder((1, 28, 32), out_dim=1)
    with pytest.raises(ValueError):
        DCGANEncoder((1, 28, 28), out_dim=1, norm="group")
    with pytest.raises(ValueError):
        DCGANDecoder(4, (1, 28, 28), out_activation="relu")
