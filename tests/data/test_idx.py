"""IDX parser: round trips, and corrupt files rejected before any large allocation."""

from __future__ import annotations

import gzip
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from latentscape.data.sources.idx import read_idx
from latentscape.errors import DataError


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    header = struct.pack(">HBB", 0, type_code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path: Path, data: bytes, compress: bool) -> Path:
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@pytest.mark.parametrize("compress", [False, True])
def test_round_trip_uint8_images(tmp_path, compress):
    images = np.random.default_rng(0).integers(0, 256, size=(5, 4, 3), dtype=np.uint8)
    out = read_idx(write(tmp_path / "x.idx", idx_bytes(images), compress))
    assert out.dtype == np.uint8 and out.shape == (5, 4, 3)
    np.testing.assert_array_equal(out, images)


def test_round_trip_big_endian_int32(tmp_path):
    values = np.array([1, -2, 70000, 2**31 - 1], dtype=np.int32)
    out = read_idx(write(tmp_path / "v.idx.gz", idx_bytes(values, 0x0C), True))
    assert out.dtype == np.int32 and out.dtype.byteorder in "=|<"
    np.testing.assert_array_equal(out, values)


@pytest.mark.parametrize("compress", [False, True])
def test_truncated_file_is_an_error(tmp_path, compress):
    data = idx_bytes(np.zeros((10, 8, 8), dtype=np.uint8))
    if compress:
        path = tmp_path / "t.gz"
        path.write_bytes(gzip.compress(data)[:-30])  # cut into the deflate stream and trailer
    else:
        path = write(tmp_path / "t.idx", data[:-7], False)
    with pytest.raises(DataError, match="truncated|corrupt"):
        read_idx(path)


def test_bad_magic_and_type_code(tmp_path):
    good = idx_bytes(np.zeros((2, 2), dtype=np.uint8))
    with pytest.raises(DataError, match="bad magic"):
        read_idx(write(tmp_path / "a", b"\x01\x00" + good[2:], False))
    with pytest.raises(DataError, match="element type"):
        read_idx(write(tmp_path / "b", good[:2] + b"\x07" + good[3:], False))
    with pytest.raises(DataError, match="dimensions"):
        read_idx(write(tmp_path / "c", good[:3] + b"\x00" + good[4:], False))


def test_trailing_bytes_rejected(tmp_path):
    data = idx_bytes(np.zeros((3,), dtype=np.uint8)) + b"extra"
    with pytest.raises(DataError):
        read_idx(write(tmp_path / "raw", data, False))
    with pytest.raises(DataError):
        read_idx(write(tmp_path / "gz", data, True))


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dims", [(60000, 28, 28), (2**32 - 1, 2**32 - 1, 2**32 - 1)])
def test_lying_header_fails_before_allocating(tmp_path, compress, dims):
    header = struct.pack(">HBB", 0, 0x08, 3) + struct.pack(">3I", *dims)
    path = write(tmp_path / "lie", header + bytes(100), compress)
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="declares"):
            read_idx(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000  # the 47 MB (or astronomically large) payload was never allocated


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        read_idx(tmp_path / "nope.gz")
