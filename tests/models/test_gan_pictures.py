"""Latent interpolation and two-dimension sweep codes, and the pictures they make."""

import pytest
import torch
from PIL import Image

from latentscape.errors import LatentscapeError
from latentscape.rundir.model import DataInfo
from latentscape.models.gan import GAN, GANConfig
from latentscape.models.gan_pictures import interpolation_codes, sweep_codes, write_interpolation, write_sweep



def test_interpolation_codes_endpoints_and_linearity():
    z0, z1 = torch.randn(3, 5), torch.randn(3, 5)
    codes = interpolation_codes(z0, z1, 6)
    assert codes.shape == (6, 3, 5)
    torch.testing.assert_close(codes[0], z0)
    torch.testing.assert_close(codes[-1], z1)
    steps = codes[1:] - codes[:-1]
    torch.testing.assert_close(steps, steps[:1].expand_as(steps))  # equal steps: a straight line


@pytest.mark.parametrize("r", [1.0, 3.0])
def test_sweep_codes_vary_two_dims_only(r):
    z = torch.randn(6)
    codes = sweep_codes(z, r, 4).view(4, 4, 6)
    torch.testing.assert_close(codes[:, :, 2:], z[2:].expand(4, 4, 4))
    torch.testing.assert_close(codes[:, 0, 0], torch.linspace(-r, r, 4))  # rows: dim 0
    torch.testing.assert_close(codes[0, :, 1], torch.linspace(-r, r, 4))  # columns: dim 1
    assert codes[:, :, 0].min() == -r and codes[:, :, 1].max() == r


def test_sweep_needs_two_dims():
    with pytest.raises(LatentscapeError):
        sweep_codes(torch.randn(1), 1.0, 3)


def test_pictures_have_the_right_size(tmp_path):
    gan = GAN(GANConfig(latent_dim=4, width=4), DataInfo((1, 16, 16), 10, 10))
    write_interpolation(gan, torch.randn(3, 4), torch.randn(3, 4), 5, tmp_path / "i.png", tmp_path / "i.gif")
    write_sweep(gan, torch.randn(4), 3.0, 4, tmp_path / "s.png")
    pad = 2
    with Image.open(tmp_path / "i.png") as im:  # 3 rows x 5 columns, upscaled 2x
        assert im.size == (2 * (5 * (16 + pad) + pad), 2 * (3 * (16 + pad) + pad))
    with Image.open(tmp_path / "i.gif") as im:
        assert im.n_frames == 5 + 3  # forth and back, endpoints once
    with Image.open(tmp_path / "s.png") as im:
        assert im.size == (2 * (4 * (16 + pad) + pad),) * 2


def test_write_generator_pictures(tmp_path):
    from latentscape.models.gan_pictures import write_generator_pictures

    gan = GAN(GANConfig(latent_dim=4, width=4), DataInfo((3, 16, 16), 10, 10))
    paths = write_generator_pictures(gan, tmp_path / "images", grid_size=6, interpolation_steps=3, sweep_steps=3)
    names = sorted(p.name for p in paths)
    assert names == ["interpolation.gif", "interpolation.png", "samples.png", "sweep_range1.png", "sweep_range3.png"]
    assert all(p.is_file() for p in paths)
    with Image.open(tmp_path / "images" / "samples.png") as im:
        assert im.mode == "RGB"
