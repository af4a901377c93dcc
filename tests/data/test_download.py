"""Downloads (file:// URLs stand in for the network): MD5 checks, atomic writes, safe extraction."""

from __future__ import annotations

import gzip
import io
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from latentscape.config import DataConfig
from latentscape.data.download import download_file, extract_tar
from latentscape.data.files import FileSpec, clear_cache, md5_file
from latentscape.data.registry import DatasetEntry, load_split
from latentscape.data.sources.idx import load_idx_pair
from latentscape.data.types import ImageDataset
from latentscape.errors import DataError
from latentscape.registry import DATASETS


def test_download_verifies_md5(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"hello world")
    dest = tmp_path / "out" / "file.bin"
    download_file(src.as_uri(), dest, md5_file(src))
    assert dest.read_bytes() == b"hello world"
    bad = tmp_path / "out" / "bad.bin"
    with pytest.raises(DataError, match="checksum mismatch downloading"):
        download_file(src.as_uri(), bad, "0" * 32)
    assert not bad.exists()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["file.bin"]  # no temp files left


def test_download_failure_is_clear(tmp_path):
    with pytest.raises(DataError, match="could not download"):
        download_file((tmp_path / "missing").as_uri(), tmp_path / "x", None)


def test_unsafe_tar_member_refused(tmp_path):
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    (tmp_path / "dest").mkdir()
    with pytest.raises(DataError, match="cannot extract"):
        extract_tar(archive, tmp_path / "dest")
    assert not (tmp_path / "escaped.txt").exists()


def _idx_gz(array: np.ndarray) -> bytes:
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return gzip.compress(header + array.tobytes())


def test_missing_files_downloaded_when_asked(tmp_path, monkeypatch):
    """A registered IDX-style entry fetches missing files from its URLs and checks their MD5."""
    server = tmp_path / "server"
    server.mkdir()
    images = np.arange(4 * 3 * 3, dtype=np.uint8).reshape(4, 3, 3)
    (server / "img.gz").write_bytes(_idx_gz(images))
    (server / "lbl.gz").write_bytes(_idx_gz(np.array([0, 1, 0, 1], dtype=np.uint8)))
    files = tuple(FileSpec(n, md5_file(server / n), url=(server / n).as_uri()) for n in ("img.gz", "lbl.gz"))

    def load(split: str, cfg: DataConfig, folder: Path) -> ImageDataset:
        x, y = load_idx_pair(folder / "img.gz", folder / "lbl.gz")
        return ImageDataset(x, y)

    entry = DatasetEntry(name="tiny-idx", description="test", load=load, folder="tiny", files=files,
                         has_test=False)
    monkeypatch.setitem(DATASETS._entries, "tiny-idx", entry)
    root = tmp_path / "root"
    with pytest.raises(DataError, match=r"dataset folder .*tiny does not exist.*download=true"):
        load_split(DataConfig(name="tiny-idx", data_dir=str(root)), "train")
    clear_cache()
    data = load_split(DataConfig(name="tiny-idx", data_dir=str(root), download=True), "train")
    assert data.name == "tiny-idx" and data.images.shape == (4, 1, 3, 3)
    assert torch.equal(data.images[:, 0], torch.from_numpy(images))
    (root / "tiny" / "lbl.gz").write_bytes(_idx_gz(np.array([1, 1, 1, 1], dtype=np.uint8)))
    with pytest.raises(DataError, match="checksum mismatch for .*lbl.gz"):
        load_split(DataConfig(name="tiny-idx", data_dir=str(root)), "train")
    with pytest.raises(DataError, match="no test split"):
        load_split(DataConfig(name="tiny-idx", data_dir=str(root)), "test")
