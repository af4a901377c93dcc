"""Real datasets from ../shared/data, checked against the facts their READMEs give."""

from __future__ import annotations

import pytest
import torch

from latentscape.config import DataConfig
from latentscape.data.registry import load_split
from latentscape.errors import DataError

pytestmark = pytest.mark.shared_data


def _load(root, name, split, **kw):
    return load_split(DataConfig(name=name, data_dir=str(root), **kw), split)


def test_mnist(shared_data_dir):
    train, test = _load(shared_data_dir, "mnist", "train"), _load(shared_data_dir, "mnist", "test")
    assert (len(train), len(test)) == (60000, 10000)
    assert train.images.shape[1:] == (1, 28, 28) and train.images.dtype == torch.uint8
    assert train.labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert test.labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert abs(train.images.float().mean().item() / 255 - 0.1307) < 1e-3  # the well-known mean
    assert torch.bincount(train.labels).tolist()[:2] == [5923, 6742]


def test_fashion_mnist_alias(shared_data_dir):
    train = _load(shared_data_dir, "fmnist", "train")
    test = _load(shared_data_dir, "fashion-mnist", "test")
    assert train.name == "fashion-mnist" and (len(train), len(test)) == (60000, 10000)
    assert train.labels[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert train.classes[9] == "Ankle boot"
    assert torch.bincount(test.labels).tolist() == [1000] * 10


def test_cifar10_subset_matches_official_order(shared_data_dir):
    train = _load(shared_data_dir, "cifar10-subset", "train")
    test = _load(shared_data_dir, "cifar10-subset", "test")
    assert (len(train), len(test)) == (4000, 1000)
    assert train.images.shape[1:] == (3, 32, 32)
    assert train.labels[:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    assert test.labels[:10].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]
    assert train.images[0, 0, 0, :4].tolist() == [59, 43, 50, 68]  # first red values
    assert test.images[0, 0, 0, :5].tolist() == [158, 159, 165, 166, 160]
    assert train.classes[6] == "frog"


def test_kmnist_without_training_images(shared_data_dir):
    assert len(_load(shared_data_dir, "kmnist", "test")) == 10000
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz.*download"):
        _load(shared_data_dir, "kmnist", "train")


def test_mnist_resized_and_split(shared_data_dir):
    val = _load(shared_data_dir, "mnist", "val", val_fraction=0.1, fraction=0.1, image_size=32)
    assert val.images.shape == (600, 1, 32, 32)
