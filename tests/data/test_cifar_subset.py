"""The CIFAR-10 PNG subset format: 1000 images of 32x32x3 per 1024x1000 PNG, row-major."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from latentscape.data.sources.cifar_subset import read_labels, read_png_batch
from latentscape.errors import DataError


def test_png_rows_are_images(tmp_path):
    rng = np.random.default_rng(0)
    hwc = np.zeros((1000, 32, 32, 3), dtype=np.uint8)
    hwc[::97] = rng.integers(0, 256, size=hwc[::97].shape, dtype=np.uint8)
    path = tmp_path / "cifar10_batch_0.png"
    Image.fromarray(hwc.reshape(1000, 1024, 3)).save(path, compress_level=1)
    images = read_png_batch(path)
    assert images.shape == (1000, 3, 32, 32) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, hwc.transpose(0, 3, 1, 2))
    # image k, pixel (y, x), channel c sits at PNG row k, column y*32+x, channel c
    assert images[97, 1, 3, 5] == np.asarray(Image.open(path))[97, 3 * 32 + 5, 1]


def test_wrong_size_and_garbage(tmp_path):
    small = tmp_path / "small.png"
    Image.new("RGB", (32, 32)).save(small)
    with pytest.raises(DataError, match="1024x1000"):
        read_png_batch(small)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not a png")
    with pytest.raises(DataError, match="not a readable PNG"):
        read_png_batch(junk)


def test_labels_file(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("6\n9\n9\n4\n")
    assert read_labels(path, 3).tolist() == [6, 9, 9]
    with pytest.raises(DataError, match="4 labels for 5"):
        read_labels(path, 5)
    path.write_text("6\nx\n")
    with pytest.raises(DataError):
        read_labels(path, 2)
