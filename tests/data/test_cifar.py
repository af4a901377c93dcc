"""CIFAR pickled batches through the restricted unpickler."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from latentscape.config import DataConfig
from latentscape.data.files import clear_cache
from latentscape.data.registry import load_split
from latentscape.data.sources.cifar import read_cifar_batch, read_label_names, safe_unpickle
from latentscape.errors import DataError


def tiny_batch(n: int = 3, seed: int = 0) -> tuple[np.ndarray, list[int]]:
    data = np.random.default_rng(seed).integers(0, 256, size=(n, 3072), dtype=np.uint8)
    return data, [int(i % 10) for i in range(n)]


@pytest.mark.parametrize("protocol", [2, 5])
def test_batch_layout_is_channel_planes(tmp_path, protocol):
    data, labels = tiny_batch()
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": data, b"labels": labels}, protocol=protocol))
    images, out_labels = read_cifar_batch(path, b"labels")
    assert images.shape == (3, 3, 32, 32) and images.dtype == np.uint8
    np.testing.assert_array_equal(out_labels, labels)
    # record i = 1024 red values, then green, then blue, each row-major
    np.testing.assert_array_equal(images[1, 0].reshape(-1), data[1, :1024])
    np.testing.assert_array_equal(images[1, 2, 5, 7], data[1, 2048 + 5 * 32 + 7])


class _Evil:
    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def test_malicious_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": _Evil(str(marker))}, protocol=2))
    with pytest.raises(DataError, match="refusing to load global"):
        safe_unpickle(path)
    assert not marker.exists()


def test_wrong_keys_and_truncation(tmp_path):
    data, labels = tiny_batch()
    path = tmp_path / "b"
    path.write_bytes(pickle.dumps({b"data": data, b"labels": labels}, protocol=2))
    with pytest.raises(DataError, match="fine_labels"):
        read_cifar_batch(path, b"fine_labels")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match="truncated|corrupt"):
        read_cifar_batch(path, b"labels")


def test_label_names_from_meta(tmp_path):
    path = tmp_path / "batches.meta"
    path.write_bytes(pickle.dumps({b"label_names": [b"airplane", b"automobile"]}, protocol=2))
    assert read_label_names(path, b"label_names") == ("airplane", "automobile")


def test_checksum_mismatch_names_file_and_fix(tmp_path):
    """Files with the official names but other content fail the MD5 check with advice."""
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    data, labels = tiny_batch()
    for name in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
                 "test_batch"):
        (folder / name).write_bytes(pickle.dumps({b"data": data, b"labels": labels}, protocol=2))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"a"]}, protocol=2))
    clear_cache()
    with pytest.raises(DataError, match=r"checksum mismatch for .*data_batch_1.*download"):
        load_split(DataConfig(name="cifar10", data_dir=str(tmp_path)), "train")
