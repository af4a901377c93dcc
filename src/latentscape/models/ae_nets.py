"""Encoder/decoder pairs that the autoencoder family can be built from, selected by `net`.

Each entry builds `(encoder, decoder)`: the encoder maps images (B, C, H, W) to (B, code_size)
(code_size = latent_dim for an AE, 2 * latent_dim for a VAE's mean and log-variance), the decoder
maps (B, latent_dim) to logits (B, C, H, W). `symmetric_input` says whether the encoder expects
images in [-1, 1] (convolutional nets) rather than [0, 1] (the FC nets, as in the studies).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from latentscape.nets.celeba64 import Celeba64Decoder, Celeba64Encoder
from latentscape.nets.dcgan import DCGANDecoder, DCGANEncoder
from latentscape.nets.fc import FCDecoder, FCEncoder, mlp
from latentscape.nets.fcconv import FCConvDecoder, FCConvEncoder
from latentscape.registry import Registry

#: (model config, image_shape (C, H, W), code_size, variational) -> (encoder, decoder)
NetBuilder = Callable[[Any, tuple[int, int, int], int, bool], tuple[nn.Module, nn.Module]]


@dataclass(frozen=True)
class AENet:
    """A registered encoder/decoder pair."""

    build: NetBuilder
    symmetric_input: bool
    description: str = ""


AE_NETS: Registry[AENet] = Registry("autoencoder net")


def _decoder_dims(cfg: Any) -> tuple[int, ...]:
    dims = cfg.decoder_hidden_dims
    return tuple(reversed(cfg.hidden_dims)) if dims is None else tuple(dims)


def _fc(cfg, shape, code, variational):
    return FCEncoder(shape, cfg.hidden_dims, code), FCDecoder(cfg.latent_dim, _decoder_dims(cfg), shape)


def _fcconv(cfg, shape, code, variational):
    enc = FCConvEncoder(shape, cfg.hidden_dims, code)
    return enc, FCConvDecoder(cfg.latent_dim, _decoder_dims(cfg), shape)


def _dcgan(cfg, shape, code, variational):
    hidden = tuple(cfg.conv_hidden_dims)
    if not hidden:
        enc = DCGANEncoder(shape, code, width=cfg.width)
        return enc, DCGANDecoder(cfg.latent_dim, shape, width=cfg.width, out_activation=None)
    # Dense layers around the code: conv features -> hidden -> code -> hidden -> projection.
    enc = nn.Sequential(DCGANEncoder(shape, hidden[0], width=cfg.width), nn.ReLU(), mlp([*hidden, code]))
    dec_mlp = mlp([cfg.latent_dim, *reversed(hidden)], final_activation=True)
    dec = nn.Sequential(dec_mlp, DCGANDecoder(hidden[0], shape, width=cfg.width, out_activation=None))
    return enc, dec


def _celeba64(cfg, shape, code, variational):
    # The original AE batch-normalises its code; a VAE's posterior parameters must stay free.
    enc = Celeba64Encoder(shape, code, width=cfg.width, normalize_code=not variational)
    return enc, Celeba64Decoder(cfg.latent_dim, shape, width=cfg.width)


AE_NETS.register("fc", AENet(_fc, False, "dense layers, e.g. 784-400-20 (Kingma & Welling 2014)"))
AE_NETS.register("fcconv", AENet(_fcconv, False, "dense layers written as image-sized convolutions"))
AE_NETS.register("dcgan", AENet(_dcgan, True, "DCGAN strided convolutions for 28, 32 or 64 px"))
AE_NETS.register("celeba64", AENet(_celeba64, True, "64x64 conv AE with upsample+conv decoder"))
