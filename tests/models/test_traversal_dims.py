"""traversal_dims.png: one row per latent dimension, that dimension alone swept."""

import torch
from PIL import Image

from latentscape.config import config_from_dict
from latentscape.data.types import ImageDataset
from latentscape.rundir.model import DataInfo
from latentscape.registry import MODELS
from latentscape.models.autoencoder_pictures import dimension_traversal_codes, write_pictures


def test_dimension_traversal_codes_sweep_one_dimension_per_row():
    center = torch.tensor([0.5, -1.0, 7.0])
    grid = dimension_traversal_codes(center, 2.0, 5).view(3, 5, 3)  # (dims, steps, D)
    for d in range(3):
        assert torch.allclose(grid[d, :, d], center[d] + torch.linspace(-2, 2, 5))
        others = [i for i in range(3) if i != d]
        assert torch.all(grid[d][:, others] == center[others])
    assert dimension_traversal_codes(torch.zeros(40), 1.0, 3, max_dims=32).shape == (96, 40)


def test_traversal_dims_picture_has_a_row_per_dimension(tmp_path):
    torch.manual_seed(0)
    cfg = config_from_dict({"model": {"name": "vae", "hidden_dims": [16], "latent_dim": 5}}).model
    model = MODELS.get("vae").build(cfg, DataInfo((1, 8, 8), 4, 40))
    data = ImageDataset(torch.randint(0, 256, (4, 1, 8, 8), dtype=torch.uint8), torch.zeros(4, dtype=torch.int64))
    (path,) = write_pictures(model, data, tmp_path, which=("traversal_dims",), traversal_steps=7)
    assert path.name == "traversal_dims.png"
    up = 8  # 8 px images are enlarged 8x; cells of (8 + 2) px plus a 2 px border
    assert Image.open(path).size == ((7 * 10 + 2) * up, (5 * 10 + 2) * up)
