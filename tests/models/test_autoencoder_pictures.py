"""The autoencoder pictures: files, sizes, and the geometry of interpolations and traversals."""

from types import SimpleNamespace

import torch
from PIL import Image

from latentscape.config import config_from_dict
from latentscape.data.types import ImageDataset
from latentscape.rundir.model import DataInfo
from latentscape.registry import MODELS
from latentscape.models.autoencoder_pictures import (
    AutoencoderPictures,
    interpolation_codes,
    reconstruction_rows,
    traversal_codes,
    write_pictures,
)


def data(n=40):
    images = torch.randint(0, 256, (n, 1, 8, 8), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    return ImageDataset(images, torch.arange(n) % 4, name="t", split="test", classes=("a", "b", "c", "d"))


def model(name="vae", latent=2):
    torch.manual_seed(0)
    cfg = config_from_dict({"model": {"name": name, "hidden_dims": [16], "latent_dim": latent}}).model
    return MODELS.get(name).build(cfg, DataInfo((1, 8, 8), 4, 40))


def test_codes_geometry():
    z0, z1 = torch.zeros(3), torch.tensor([1.0, 2.0, 3.0])
    path = interpolation_codes(z0, z1, 5)
    assert torch.equal(path[0], z0) and torch.equal(path[-1], z1) and torch.allclose(path[2], z1 / 2)
    center = torch.tensor([0.5, -1.0, 7.0])
    grid = traversal_codes(center, 3.0, 4)  # (16, 3)
    assert grid.shape == (16, 3) and torch.all(grid[:, 2] == 7.0)  # other dims fixed
    assert torch.allclose(grid.view(4, 4, 3)[:, 0, 0], center[0] + torch.linspace(-3, 3, 4))  # rows: dim 0
    assert torch.allclose(grid.view(4, 4, 3)[0, :, 1], center[1] + torch.linspace(-3, 3, 4))  # cols: dim 1
    rows = reconstruction_rows(torch.zeros(16, 1, 2, 2), torch.ones(16, 1, 2, 2), ncol=8)
    assert rows.view(4, 8, -1)[:, :, 0].mean(1).tolist() == [0.0, 1.0, 0.0, 1.0]


def test_pictures_exist_with_the_right_sizes(tmp_path):
    written = write_pictures(model(), data(), tmp_path, seed=1)
    names = {p.name for p in written}
    assert names == {"reconstructions.png", "samples.png", "interpolation.png", "interpolation.gif",
                     "traversal_range1.png", "traversal_range3.png", "traversal_dims.png", "latent_scatter.png"}
    up = 8  # 8 px images are enlarged 8x; a grid is cells of (8 + 2) px plus a 2 px border
    sizes = {n: Image.open(tmp_path / n).size for n in names}
    assert sizes["reconstructions.png"] == (82 * up, 42 * up)  # 8 columns, 4 rows (2 pairs)
    assert sizes["samples.png"] == (82 * up, 82 * up)
    assert sizes["interpolation.png"] == (122 * up, 12 * up)  # original, 10 frames, original
    assert sizes["traversal_range1.png"] == sizes["traversal_range3.png"] == (92 * up, 92 * up)
    gif = Image.open(tmp_path / "interpolation.gif")
    # 10 frames there and 8 back; Pillow merges consecutive frames that quantise identically.
    assert gif.size == (64, 64) and 2 <= gif.n_frames <= 18


def test_ae_has_no_samples_and_no_scatter_beyond_two_dims(tmp_path):
    names = {p.name for p in write_pictures(model("ae", latent=3), data(), tmp_path)}
    assert "samples.png" not in names and "latent_scatter.png" not in names
    assert "traversal_range3.png" in names


def test_callback_writes_only_on_the_main_process(tmp_path):
    state = SimpleNamespace(
        model=model(), run=SimpleNamespace(path=tmp_path), data={"test": data()}, device="cpu",
        config=SimpleNamespace(seed=0, train=SimpleNamespace(eval_split="test")), is_main=False,
    )
    cb = AutoencoderPictures()
    cb.on_train_end(state)
    assert not (tmp_path / "images").exists()
    state.is_main = True
    cb.on_eval_end(state, {})
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == ["reconstructions.png", "samples.png"]
    cb.on_train_end(state)
    assert (tmp_path / "images" / "traversal_range3.png").is_file()
    assert state.model.training  # restored
