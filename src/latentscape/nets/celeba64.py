"""The 64x64 convolutional autoencoder of the mode-connectivity study (000).

The study took the CelebA autoencoder of Korotin et al. ("Wasserstein-2 Generative Networks",
ICLR 2021, src/autoencoders.py) and replaced the decoder's transposed convolutions with nearest
upsampling followed by an ordinary 3x3 convolution (which avoids checkerboard artefacts, Odena
et al. 2016). Encoder: four stride-2 4x4 convolutions (widths w, 2w, 4w, 8w; BatchNorm after all
but the first; LeakyReLU 0.2), a 4x4 valid convolution to an 8w x 1 x 1 map, then a dense layer
to the code. Decoder: dense layer to 8w, then 1 -> 4 -> 8 -> 16 -> 32 -> 64 pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn


class Celeba64Encoder(nn.Module):
    """64x64 images -> code.

    Args:
        image_shape: (C, 64, 64).
        out_dim: output size (latent_dim, or 2 * latent_dim for a VAE).
        width: channels of the first convolution (the study used 16).
        slope: LeakyReLU negative slope.
        normalize_code: end with LeakyReLU + BatchNorm1d(affine=False) on the code, as the original
            autoencoder does (right for an AE; a VAE's posterior head must stay unconstrained).
    """

    def __init__(
        self,
        image_shape: Sequence[int],
        out_dim: int,
        width: int = 16,
        slope: float = 0.2,
        normalize_code: bool = True,
    ) -> None:
        super().__init__()
        c, h, w = image_shape
        if (h, w) != (64, 64):
            raise ValueError(f"the celeba64 net needs 64x64 images, got {h}x{w}")
        chans = [width, 2 * width, 4 * width, 8 * width]
        layers: list[nn.Module] = [nn.Conv2d(c, chans[0], 4, 2, 1, bias=False), nn.LeakyReLU(slope)]
        for a, b in zip(chans[:-1], chans[1:]):  # 32 -> 16 -> 8 -> 4 pixels
            layers += [nn.Conv2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.LeakyReLU(slope)]
        layers.append(nn.Conv2d(chans[-1], chans[-1], 4, 1, 0, bias=False))  # 4 -> 1 pixel
        self.features = nn.Sequential(*layers)
        head: list[nn.Module] = [nn.Linear(chans[-1], out_dim)]
        if normalize_code:
            head += [nn.LeakyReLU(slope), nn.BatchNorm1d(out_dim, affine=False)]
        self.head = nn.Sequential(*head)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, 64, 64) in [-1, 1] -> (B, out_dim)."""
        return self.head(self.features(x).flatten(1))  # (B, 8w, 1, 1) -> (B, 8w) -> (B, out_dim)


def _up_conv(a: int, b: int, scale: int) -> list[nn.Module]:
    return [nn.Upsample(scale_factor=scale, mode="nearest"), nn.Conv2d(a, b, 3, 1, 1, bias=False)]


class Celeba64Decoder(nn.Module):
    """Code -> logits of 64x64 images, by upsampling + 3x3 convolution.

    Args:
        latent_dim: size of the code.
        image_shape: (C, 64, 64).
        width: channels of the last hidden map (the study used 16).
        slope: LeakyReLU negative slope of the input layer.
    """

    def __init__(
        self, latent_dim: int, image_shape: Sequence[int], width: int = 16, slope: float = 0.2
    ) -> None:
        super().__init__()
        c, h, w = image_shape
        if (h, w) != (64, 64):
            raise ValueError(f"the celeba64 net needs 64x64 images, got {h}x{w}")
        self.top = 8 * width
        self.fc = nn.Sequential(
            nn.Linear(latent_dim, self.top), nn.LeakyReLU(slope), nn.BatchNorm1d(self.top)
        )
        chans = [8 * width, 8 * width, 4 * width, 2 * width, width]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(chans[:-1], chans[1:])):  # 1 -> 4 -> 8 -> 16 -> 32 pixels
            layers += [*_up_conv(a, b, 4 if i == 0 else 2), nn.BatchNorm2d(b), nn.ReLU()]
        layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(width, c, 3, 1, 1)]  # -> 64
        self.features = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        """(B, latent_dim) -> logits (B, C, 64, 64)."""
        h = self.fc(z).view(z.shape[0], self.top, 1, 1)  # (B, 8w, 1, 1)
        return self.features(h)  # (B, C, 64, 64)
