"""A fully connected net written as convolutions (the FC-conv VAE of the Fashion-MNIST study, 001).

The first encoder layer is a convolution whose kernel covers the whole image (so it is a dense
layer over all pixels, producing a 1x1 map), later layers are 1x1 convolutions; the decoder
mirrors this with 1x1 transposed convolutions and a final transposed convolution whose kernel is
the image size (cs231n, "Converting FC layers to CONV layers"). The study's best model used 32
encoder channels and 118 decoder channels with a 10-dimensional latent.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn


class FCConvEncoder(nn.Module):
    """Image-sized convolution, then 1x1 convolutions, to `out_dim` channels at 1x1.

    Args:
        image_shape: (C, H, W) of the input images.
        hidden_dims: channels of the hidden 1x1 maps, e.g. (32,); at least one.
        out_dim: output channels (latent_dim, or 2 * latent_dim for a VAE).
    """

    def __init__(self, image_shape: Sequence[int], hidden_dims: Sequence[int], out_dim: int) -> None:
        super().__init__()
        if not hidden_dims:
            raise ValueError("fcconv needs at least one hidden layer")
        c, h, w = image_shape
        layers: list[nn.Module] = [nn.Conv2d(c, hidden_dims[0], kernel_size=(h, w)), nn.ReLU()]
        for a, b in zip(hidden_dims[:-1], hidden_dims[1:]):
            layers += [nn.Conv2d(a, b, kernel_size=1), nn.ReLU()]
        layers.append(nn.Conv2d(hidden_dims[-1], out_dim, kernel_size=1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, out_dim)."""
        return self.net(x).flatten(1)  # (B, out_dim, 1, 1) -> (B, out_dim)


class FCConvDecoder(nn.Module):
    """1x1 transposed convolutions, then an image-sized transposed convolution to logits.

    Args:
        latent_dim: size of the code.
        hidden_dims: channels of the hidden 1x1 maps, e.g. (118,); at least one.
        image_shape: (C, H, W) of the output images.
    """

    def __init__(self, latent_dim: int, hidden_dims: Sequence[int], image_shape: Sequence[int]) -> None:
        super().__init__()
        if not hidden_dims:
            raise ValueError("fcconv needs at least one hidden layer")
        c, h, w = image_shape
        sizes = [latent_dim, *hidden_dims]
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.ConvTranspose2d(a, b, kernel_size=1), nn.ReLU()]
        layers.append(nn.ConvTranspose2d(hidden_dims[-1], c, kernel_size=(h, w)))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        """(B, latent_dim) -> logits (B, C, H, W)."""
        return self.net(z[:, :, None, None])  # (B, latent, 1, 1) -> (B, C, H, W)
