"""Image grids: exact layout, padding, clamping, channels and PNG round trips."""

import numpy as np
import pytest
import torch
from PIL import Image

from latentscape.viz.grid import make_grid, save_image_grid, save_labeled_rows, to_pil


def test_make_grid_2x2_layout_is_pixel_exact():
    # four 1x1 images with distinct values, 2 per row, 1 pixel of padding 1.0
    images = torch.tensor([0.0, 0.25, 0.5, 0.75]).view(4, 1, 1, 1)  # (N, C, H, W)
    grid = make_grid(images, nrow=2, padding=1, pad_value=1.0)
    expected = torch.tensor(
        [
            [1.0, 1.0, 1.0, 1.0, 1.0],
            [1.0, 0.0, 1.0, 0.25, 1.0],
            [1.0, 1.0, 1.0, 1.0, 1.0],
            [1.0, 0.5, 1.0, 0.75, 1.0],
            [1.0, 1.0, 1.0, 1.0, 1.0],
        ]
    ).unsqueeze(0)  # (1, 5, 5)
    assert torch.equal(grid, expected)


@pytest.mark.parametrize("n,nrow,rows,cols", [(10, 4, 3, 4), (3, 8, 1, 3), (8, 8, 1, 8), (9, 8, 2, 8)])
def test_make_grid_shape(n, nrow, rows, cols):
    grid = make_grid(torch.rand(n, 3, 5, 7), nrow=nrow, padding=2)
    assert grid.shape == (3, rows * (5 + 2) + 2, cols * (7 + 2) + 2)


def test_make_grid_places_images_and_fills_unused_cells_with_pad_value():
    images = torch.rand(3, 3, 4, 4)
    grid = make_grid(images, nrow=2, padding=2, pad_value=0.5)
    assert torch.equal(grid[:, 2:6, 2:6], images[0])
    assert torch.equal(grid[:, 2:6, 8:12], images[1])
    assert torch.equal(grid[:, 8:12, 2:6], images[2])
    assert torch.all(grid[:, 8:12, 8:12] == 0.5)  # the empty fourth cell


def test_make_grid_clamps_and_keeps_input():
    images = torch.tensor([-1.0, 2.0]).view(2, 1, 1, 1)
    grid = make_grid(images, nrow=2, padding=0)
    assert grid.tolist() == [[[0.0, 1.0]]]
    assert images.flatten().tolist() == [-1.0, 2.0]


def test_make_grid_rejects_bad_channels():
    with pytest.raises(ValueError, match="C in"):
        make_grid(torch.rand(2, 2, 4, 4))


def test_to_pil_modes_and_values():
    gray = to_pil(torch.full((1, 2, 3), 0.5))
    rgb = to_pil(torch.stack([torch.zeros(2, 3), torch.ones(2, 3), torch.full((2, 3), 0.2)]))
    assert gray.mode == "L" and gray.size == (3, 2)
    assert np.all(np.asarray(gray) == 128)
    assert rgb.mode == "RGB" and rgb.getpixel((0, 0)) == (0, 255, 51)


@pytest.mark.parametrize("channels", [1, 3])
def test_save_image_grid_png_round_trip(tmp_path, channels):
    images = torch.randint(0, 256, (6, channels, 5, 4)).float() / 255.0  # exact in uint8
    path = save_image_grid(images, tmp_path / "deep" / "grid.png", nrow=3, padding=1, upscale=2)
    assert path.is_file() and not list(path.parent.glob(".*tmp"))
    with Image.open(path) as img:
        assert img.format == "PNG"
        assert img.mode == ("L" if channels == 1 else "RGB")
        array = np.asarray(img)
    grid = make_grid(images, nrow=3, padding=1)
    expected = (grid * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()  # (H, W, C)
    expected = expected.repeat(2, axis=0).repeat(2, axis=1)  # nearest-neighbour upscale
    assert np.array_equal(array.reshape(expected.shape), expected)


def test_save_labeled_rows_draws_labels_in_a_margin(tmp_path):
    rows = [torch.zeros(4, 1, 6, 6), torch.zeros(3, 1, 6, 6)]
    path = save_labeled_rows(rows, ["originals", "reconstructions"], tmp_path / "rows.png", padding=2, upscale=2)
    with Image.open(path) as img:
        array = np.asarray(img.convert("L"))
    row_width = (4 * (6 + 2) + 2) * 2
    assert array.shape[0] == 2 * (6 + 2 * 2) * 2  # two rows of height H + 2 * padding, upscaled
    margin = array.shape[1] - row_width
    assert margin > 20
    assert array[:, :margin].min() < 100  # label text drawn (dark pixels on white)
    assert array[:, margin:].min() == 0  # the black images are there


def test_save_labeled_rows_rejects_mismatch(tmp_path):
    with pytest.raises(ValueError):
        save_labeled_rows([torch.zeros(2, 1, 4, 4)], ["a", "b"], tmp_path / "x.png")
    with pytest.raises(ValueError, match="share"):
        save_labeled_rows([torch.zeros(2, 1, 4, 4), torch.zeros(2, 3, 4, 4)], ["a", "b"], tmp_path / "x.png")
