"""DCGAN-style convolutional encoder (discriminator / critic) and decoder (generator).

Radford et al. 2016 ("Unsupervised Representation Learning with Deep Convolutional GANs", sec. 3):
strided 4x4 convolutions instead of pooling, fractionally strided (transposed) convolutions to
upsample, BatchNorm in both nets except the discriminator input layer, ReLU in the generator
(tanh at its output), LeakyReLU(0.2) in the discriminator, weights drawn from N(0, 0.02).

Both nets work for any square size H = base * 2**n with base in 4..7 and n >= 1 (16, 28, 32, 64,
...): 28 px uses a 7x7 base and two resampling stages, 32 px a 4x4 base and three, 64 px four.
Channels double at every downsampling stage (width, 2 width, 4 width, ...); the decoder mirrors it.
The nets know no losses; `latentscape.models.gan` and the autoencoders wrap them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

import torch
from torch import Tensor, nn

from latentscape.registry import Registry, UnknownNameError

#: norm name -> (channels) -> module. WGAN-GP (Gulrajani et al. 2017, sec. 4) drops batch norm
#: from the critic, since the gradient penalty is per example; "layer" (LayerNorm over (C, H, W),
#: GroupNorm with one group) is the replacement they recommend.
NORMS: Registry[Callable[[int], nn.Module]] = Registry("norm")
NORMS.register("batch", nn.BatchNorm2d)
NORMS.register("layer", lambda channels: nn.GroupNorm(1, channels))
NORMS.register("none", lambda channels: nn.Identity())
#: output activation name -> module class (None: raw outputs).
OUT_ACTIVATIONS: Registry[Callable[[], nn.Module]] = Registry("out_activation")
OUT_ACTIVATIONS.register("sigmoid", nn.Sigmoid)
OUT_ACTIVATIONS.register("tanh", nn.Tanh)

Norm = NORMS.literal()
OutActivation = Optional[OUT_ACTIVATIONS.literal()]


def resampling_plan(size: int) -> tuple[int, int]:
    """(base, n): the side length is `base * 2**n`, with base >= 4 as small as possible.

    Args:
        size: image side length (H == W).

    Raises:
        ValueError: for sizes that are not `base * 2**n` with n >= 1 and 4 <= base.
    """
    base, n = size, 0
    while base % 2 == 0 and base // 2 >= 4:
        base //= 2
        n += 1
    if n == 0:
        raise ValueError(f"DCGAN nets need a side length of base * 2**n (n >= 1, base >= 4), got {size}")
    return base, n


def _check_shape(image_shape: tuple[int, int, int]) -> tuple[int, int, int]:
    if len(image_shape) != 3:
        raise ValueError(f"image_shape must be (C, H, W), got {image_shape}")
    c, h, w = (int(v) for v in image_shape)
    if h != w:
        raise ValueError(f"DCGAN nets need square images, got {h}x{w}")
    return c, h, w


def _norm2d(kind: Norm, channels: int) -> nn.Module:
    """BatchNorm2d, LayerNorm over (C, H, W) (GroupNorm with one group), or nothing (see NORMS)."""
    try:
        return NORMS.get(kind)(channels)
    except UnknownNameError as exc:
        raise ValueError(str(exc)) from None


def _out_activation(kind: OutActivation) -> nn.Module:
    if kind is None:
        return nn.Identity()
    try:
        return OUT_ACTIVATIONS.get(kind)()
    except UnknownNameError as exc:
        raise ValueError(str(exc)) from None


class DCGANEncoder(nn.Module):
    """Strided-conv net mapping images (B, C, H, W) to vectors (B, out_dim).

    With `out_dim=1` it is the DCGAN discriminator / WGAN critic (raw scores, no sigmoid); with
    `out_dim=2 * latent_dim` it is a VAE encoder.

    Args:
        image_shape: (C, H, W) of the inputs.
        out_dim: size of the output vector.
        width: channels after the first convolution (doubling at each later stage).
        norm: normalisation after every conv except the first ("batch", "layer" or "none").
        negative_slope: LeakyReLU slope.
        max_channels: cap on the channel count of deep stages.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        out_dim: int,
        width: int = 64,
        norm: Norm = "batch",
        negative_slope: float = 0.2,
        max_channels: int = 1024,
    ) -> None:
        super().__init__()
        c, h, _ = _check_shape(image_shape)
        self.image_shape = (c, h, h)
        self.out_dim = out_dim
        base, n = resampling_plan(h)
        layers: list[nn.Module] = []
        in_ch = c
        for i in range(n):
            out_ch = min(width * 2**i, max_channels)
            layers.append(nn.Conv2d(in_ch, out_ch, 4, stride=2, padding=1, bias=(i == 0 or norm != "batch")))
            if i > 0:
                layers.append(_norm2d(norm, out_ch))
            layers.append(nn.LeakyReLU(negative_slope, inplace=True))
            in_ch = out_ch
        self.features = nn.Sequential(*layers)
        self.feature_shape = (in_ch, base, base)
        self.head = nn.Linear(in_ch * base * base, out_dim)

    def forward(self, x: Tensor) -> Tensor:
        """Images (B, C, H, W) -> (B, out_dim)."""
        h = self.features(x)  # (B, C', base, base)
        return self.head(h.flatten(1))  # (B, C' * base * base) -> (B, out_dim)


class DCGANDecoder(nn.Module):
    """Transposed-conv net mapping latent codes (B, latent_dim) to images (B, C, H, W).

    Args:
        latent_dim: size of the input code.
        image_shape: (C, H, W) of the outputs.
        width: channels before the output layer (doubling towards the base resolution).
        norm: normalisation after every hidden layer ("batch", "layer" or "none").
        out_activation: None (raw values / logits), "sigmoid" ([0, 1]) or "tanh" ([-1, 1]).
        max_channels: cap on the channel count of deep stages.
    """

    def __init__(
        self,
        latent_dim: int,
        image_shape: tuple[int, int, int],
        width: int = 64,
        norm: Norm = "batch",
        out_activation: OutActivation = None,
        max_channels: int = 1024,
    ) -> None:
        super().__init__()
        c, h, _ = _check_shape(image_shape)
        self.image_shape = (c, h, h)
        self.latent_dim = latent_dim
        base, n = resampling_plan(h)
        channels = [min(width * 2 ** (n - 1 - i), max_channels) for i in range(n)]  # base -> top
        self.base_shape = (channels[0], base, base)
        # The projection is the "fully connected first layer, reshaped" of DCGAN (sec. 3).
        self.project = nn.Linear(latent_dim, channels[0] * base * base, bias=(norm != "batch"))
        self.project_act = nn.Sequential(_norm2d(norm, channels[0]), nn.ReLU(inplace=True))
        layers: list[nn.Module] = []
        for i in range(n - 1):
            layers += [
                nn.ConvTranspose2d(channels[i], channels[i + 1], 4, stride=2, padding=1, bias=(norm != "batch")),
                _norm2d(norm, channels[i + 1]),
                nn.ReLU(inplace=True),
            ]
        layers.append(nn.ConvTranspose2d(channels[-1], c, 4, stride=2, padding=1))
        layers.append(_out_activation(out_activation))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        """Latent codes (B, latent_dim) -> images (B, C, H, W)."""
        h = self.project(z).view(z.shape[0], *self.base_shape)  # (B, C', base, base)
        return self.net(self.project_act(h))


@torch.no_grad()
def dcgan_init_(module: nn.Module, std: float = 0.02) -> nn.Module:
    """Initialise in place as DCGAN (Radford et al. 2016, sec. 4): conv / linear weights from
    N(0, std), norm scales from N(1, std), all biases 0. Returns `module`."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)
    return module
