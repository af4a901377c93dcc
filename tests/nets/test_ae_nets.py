"""Shapes and structure of the autoencoder nets (fc, fcconv, celeba64, dcgan via AE_NETS)."""

import math

import pytest
import torch
import torch.nn.functional as F

from latentscape.models.ae_nets import AE_NETS
from latentscape.models.autoencoder import AEConfig
from latentscape.nets.celeba64 import Celeba64Decoder, Celeba64Encoder
from latentscape.nets.fc import FCDecoder, FCEncoder
from latentscape.nets.fcconv import FCConvDecoder, FCConvEncoder

SHAPES = [(1, 28, 28), (3, 32, 32), (3, 64, 64)]


@pytest.mark.parametrize("shape", SHAPES)
def test_fc_shapes(shape):
    enc, dec = FCEncoder(shape, (16, 8), 6), FCDecoder(3, (8, 16), shape)
    assert enc(torch.rand(2, *shape)).shape == (2, 6)
    assert dec(torch.randn(2, 3)).shape == (2, *shape)
    assert enc.net[0].in_features == math.prod(shape)


@pytest.mark.parametrize("shape", SHAPES)
def test_fcconv_shapes(shape):
    enc, dec = FCConvEncoder(shape, (32,), 10), FCConvDecoder(5, (118,), shape)
    assert enc(torch.rand(2, *shape)).shape == (2, 10)
    assert dec(torch.randn(2, 5)).shape == (2, *shape)
    assert enc.net[0].kernel_size == shape[1:]  # the kernel covers the image


def test_fcconv_first_layer_is_a_dense_layer():
    enc = FCConvEncoder((1, 28, 28), (32,), 4)
    x = torch.rand(3, 1, 28, 28)
    conv = enc.net[0]
    dense = F.linear(x.flatten(1), conv.weight.flatten(1), conv.bias)  # (3, 32)
    assert torch.allclose(conv(x).flatten(1), dense, atol=1e-5)


def test_celeba64_shapes_and_size_check():
    enc, dec = Celeba64Encoder((3, 64, 64), 128, width=8), Celeba64Decoder(128, (3, 64, 64), width=8)
    assert enc(torch.rand(4, 3, 64, 64)).shape == (4, 128)
    assert dec(torch.randn(4, 128)).shape == (4, 3, 64, 64)
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in dec.modules())
    assert any(isinstance(m, torch.nn.Upsample) for m in dec.modules())
    with pytest.raises(ValueError, match="64x64"):
        Celeba64Encoder((3, 32, 32), 8)


def test_celeba64_code_normalisation_only_for_ae():
    free = Celeba64Encoder((3, 64, 64), 6, width=4, normalize_code=False)
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in free.head.modules())
    normed = Celeba64Encoder((3, 64, 64), 6, width=4).train()
    code = normed(torch.rand(16, 3, 64, 64))
    assert torch.allclose(code.mean(0), torch.zeros(6), atol=1e-4)  # BatchNorm1d(affine=False)


@pytest.mark.parametrize("net,shapes", [
    ("fc", SHAPES), ("fcconv", SHAPES), ("dcgan", SHAPES), ("celeba64", [(3, 64, 64)]),
])
def test_registered_nets_for_each_size(net, shapes):
    cfg = AEConfig(net=net, latent_dim=4, hidden_dims=(16,), width=4)
    for shape in shapes:
        for variational, code in ((False, 4), (True, 8)):
            enc, dec = AE_NETS.get(net).build(cfg, shape, code, variational)
            enc.eval(), dec.eval()
            assert enc(torch.rand(2, *shape)).shape == (2, code)
            assert dec(torch.randn(2, 4)).shape == (2, *shape)


def test_dcgan_with_dense_layers_around_the_code():
    cfg = AEConfig(net="dcgan", latent_dim=4, width=4, conv_hidden_dims=(24, 12))
    enc, dec = AE_NETS.get("dcgan").build(cfg, (1, 28, 28), 8, True)
    enc.eval(), dec.eval()
    assert enc(torch.rand(2, 1, 28, 28)).shape == (2, 8)
    assert dec(torch.randn(2, 4)).shape == (2, 1, 28, 28)
    widths = [m.out_features for m in enc.modules() if isinstance(m, torch.nn.Linear)]
    assert widths == [24, 12, 8]
    assert [m.out_features for m in dec.modules() if isinstance(m, torch.nn.Linear)][:2] == [12, 24]
