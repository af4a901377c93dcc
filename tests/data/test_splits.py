"""Seeded validation split, fractions and resizing on top of the published splits."""

from __future__ import annotations

import pytest
import torch

from latentscape.config import DataConfig
from latentscape.data.registry import (
    fraction_indices,
    load_split,
    load_splits,
    resize_images,
    validation_indices,
)
from latentscape.errors import ConfigError, DataError


def test_validation_indices_partition_and_seed():
    train, val = validation_indices(1000, 0.1, seed=3)
    assert len(val) == 100 and len(train) == 900
    assert torch.equal(torch.cat([train, val]).sort().values, torch.arange(1000))
    again_train, again_val = validation_indices(1000, 0.1, seed=3)
    assert torch.equal(val, again_val) and torch.equal(train, again_train)
    assert not torch.equal(val, validation_indices(1000, 0.1, seed=4)[1])


def test_fraction_indices():
    keep = fraction_indices(200, 0.25, seed=0)
    assert len(keep) == 50 and len(set(keep.tolist())) == 50 and int(keep.max()) < 200
    assert torch.equal(keep, fraction_indices(200, 0.25, seed=0))
    assert len(fraction_indices(3, 0.01, seed=0)) == 1


def test_val_split_removed_from_train():
    cfg = DataConfig(name="digits", val_fraction=0.2, split_seed=7)
    splits = load_splits(cfg)
    assert set(splits) == {"train", "val", "test"}
    assert (len(splits["train"]), len(splits["val"]), len(splits["test"])) == (1200, 300, 297)
    assert splits["val"].split == "val" and splits["val"].name == "digits"
    full = load_split(DataConfig(name="digits"), "train")
    rows = lambda d: {bytes(r) for r in d.images.flatten(1).numpy()}  # noqa: E731
    # every val image comes from the published train split and is no longer in train
    _, val_idx = validation_indices(1500, 0.2, 7)
    assert torch.equal(splits["val"].images, full.images[val_idx])
    assert rows(splits["val"]) <= rows(full)
    assert len(splits["train"]) + len(splits["val"]) == len(full)
    other = load_split(DataConfig(name="digits", val_fraction=0.2, split_seed=8), "val")
    assert not torch.equal(other.labels, splits["val"].labels)


def test_fraction_applies_to_each_split():
    cfg = DataConfig(name="digits", fraction=0.1, val_fraction=0.2)
    splits = load_splits(cfg)
    assert [len(splits[s]) for s in ("train", "val", "test")] == [120, 30, 30]
    assert torch.equal(load_split(cfg, "train").images, splits["train"].images)


def test_val_without_fraction_is_an_error():
    with pytest.raises(DataError, match="val_fraction"):
        load_split(DataConfig(name="digits"), "val")
    with pytest.raises(ConfigError, match="allowed"):
        load_split(DataConfig(name="digits"), "valid")
    with pytest.raises(ConfigError, match="unknown dataset 'nope'"):
        load_split(DataConfig(name="nope"), "train")


def test_image_size_resizes_fixed_size_datasets():
    data = load_split(DataConfig(name="digits", image_size=16), "test")
    assert data.images.shape == (297, 1, 16, 16) and data.images.dtype == torch.uint8
    flat = torch.full((2, 3, 8, 8), 77, dtype=torch.uint8)
    assert bool((resize_images(flat, 4) == 77).all())  # a constant image stays constant
