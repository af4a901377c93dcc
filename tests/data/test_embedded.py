"""Embedded datasets: sklearn digits and procedural dSprites-style shapes."""

from __future__ import annotations

import numpy as np
import torch

from latentscape.config import DataConfig
from latentscape.data.files import clear_cache
from latentscape.data.registry import load_split
from latentscape.data.sources.shapes import FACTOR_NAMES, FACTOR_SIZES, generate_shapes, render_sprite


def test_digits_split_shapes_and_values():
    train = load_split(DataConfig(name="digits"), "train")
    test = load_split(DataConfig(name="digits"), "test")
    assert (len(train), len(test)) == (1500, 297)
    assert train.images.shape[1:] == (1, 8, 8) and train.images.dtype == torch.uint8
    from sklearn.datasets import load_digits

    bunch = load_digits()
    expected = np.rint(bunch.images[:1500] * 255 / 16).astype(np.uint8)
    np.testing.assert_array_equal(train.images[:, 0].numpy(), expected)
    assert train.labels.tolist() == bunch.target[:1500].tolist()
    assert test.labels.tolist() == bunch.target[1500:].tolist()
    assert int(train.images.max()) == 255 and int(train.images.min()) == 0
    assert set(test.labels.tolist()) == set(range(10))


def test_shapes_are_deterministic_and_disjoint():
    a = generate_shapes(300, 32)
    clear_cache()
    b = generate_shapes(300, 32)
    for split in ("train", "test"):
        assert torch.equal(a[split][0], b[split][0]) and torch.equal(a[split][1], b[split][1])
    assert a["train"][0].shape == (300, 1, 32, 32) and a["test"][0].shape == (75, 1, 32, 32)
    combos = lambda f: {tuple(r) for r in f.tolist()}  # noqa: E731
    train, test = combos(a["train"][1]), combos(a["test"][1])
    assert len(train) == 300 and len(test) == 75 and not train & test


def test_shapes_dataset_factors_and_balance():
    data = load_split(DataConfig(name="shapes", num_examples=600, image_size=32), "train")
    assert data.factor_names == FACTOR_NAMES and data.factors.shape == (600, 5)
    for k, size in enumerate(FACTOR_SIZES):
        column = data.factors[:, k]
        assert int(column.min()) >= 0 and int(column.max()) < size
    assert torch.equal(data.labels, data.factors[:, 0])
    counts = torch.bincount(data.labels, minlength=3)
    assert counts.min() > 600 / 3 * 0.8, counts  # uniform sampling: roughly balanced shapes
    values = set(torch.unique(data.images).tolist())
    assert values <= {0, 255} and 255 in values  # binary sprites
    per_image = data.images.flatten(1).amax(1)
    assert bool((per_image == 255).all())  # every sprite is drawn


def test_sprites_stay_inside_and_grow_with_scale():
    for size in (32, 64):
        for shape in range(3):
            for corner in ((0, 0), (31, 31), (0, 31)):
                img = render_sprite(np.array([shape, 5, 7, *corner]), size)
                assert img[0].max() == img[-1].max() == img[:, 0].max() == img[:, -1].max() == 0
        small = render_sprite(np.array([2, 0, 0, 16, 16]), 64).astype(bool).sum()
        large = render_sprite(np.array([2, 5, 0, 16, 16]), 64).astype(bool).sum()
        assert large > 3 * small  # scale 1 vs 0.5: about 4x the area


def test_position_factor_moves_sprite():
    left = render_sprite(np.array([0, 3, 0, 0, 16]), 64)
    right = render_sprite(np.array([0, 3, 0, 31, 16]), 64)
    cols = np.arange(64)
    centre = lambda img: (img.astype(bool).sum(0) * cols).sum() / img.astype(bool).sum()  # noqa: E731
    assert centre(right) - centre(left) > 30
