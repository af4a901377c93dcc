"""IDX files (MNIST, Fashion-MNIST, KMNIST): parser and dataset entries.

IDX format (LeCun et al., http://yann.lecun.com/exdb/mnist/): a 4-byte magic `0x00 0x00 T D`
(T = element type code, D = number of dimensions), D big-endian uint32 sizes, then the elements
in row-major order, big-endian. Files are usually gzip-compressed.

The parser validates the magic, type code, dimension count and that the declared sizes fit the
file *before* allocating the payload, so a corrupt or hostile header cannot request gigabytes.
For gzip files the uncompressed length is checked against the gzip trailer (ISIZE, length mod
2**32) and against deflate's maximum compression ratio.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from latentscape.config import DataConfig
from latentscape.data.files import FileSpec, cached_parse
from latentscape.data.registry import DatasetEntry
from latentscape.data.types import ImageDataset
from latentscape.errors import DataError

#: IDX type code -> big-endian numpy dtype.
IDX_DTYPES: dict[int, str] = {
    0x08: ">u1",
    0x09: ">i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}
_MAX_NDIM = 8
_MAX_DEFLATE_RATIO = 1032  # deflate cannot compress better than ~1032:1


def read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file (gzip or raw) into a native-endian numpy array.

    Raises:
        DataError: unreadable file, bad magic / type / dimensions, sizes that do not match the
            file length, truncated or corrupt gzip data.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    is_gzip = head == b"\x1f\x8b"
    try:
        opener = gzip.open if is_gzip else open
        with opener(path, "rb") as stream:
            shape, dtype, header_len = _read_header(stream, path)
            payload = math.prod(shape) * np.dtype(dtype).itemsize
            _check_length(path, is_gzip, header_len, payload)
            data = stream.read(payload)
            if len(data) != payload:
                raise DataError(f"{path} is truncated: {len(data)} of {payload} data bytes")
            if stream.read(1):
                raise DataError(f"{path} has trailing bytes after the declared {shape} array")
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(f"{path} is truncated or not valid gzip ({exc}); download it again") from None
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    array = np.frombuffer(data, dtype=dtype).reshape(shape)
    return array.astype(array.dtype.newbyteorder("="))  # native byte order, writable copy


def _read_header(stream, path: Path) -> tuple[tuple[int, ...], str, int]:
    magic = stream.read(4)
    if len(magic) < 4:
        raise DataError(f"{path} is too short to be an IDX file")
    zero, type_code, ndim = struct.unpack(">HBB", magic)
    if zero != 0:
        raise DataError(f"{path} is not an IDX file (bad magic {magic.hex()})")
    if type_code not in IDX_DTYPES:
        raise DataError(f"{path}: unknown IDX element type 0x{type_code:02x}")
    if not 1 <= ndim <= _MAX_NDIM:
        raise DataError(f"{path}: IDX header declares {ndim} dimensions (1..{_MAX_NDIM} allowed)")
    raw = stream.read(4 * ndim)
    if len(raw) < 4 * ndim:
        raise DataError(f"{path} is truncated inside its IDX header")
    shape = struct.unpack(f">{ndim}I", raw)
    return shape, IDX_DTYPES[type_code], 4 + 4 * ndim


def _check_length(path: Path, is_gzip: bool, header_len: int, payload: int) -> None:
    """Refuse declared sizes that the file cannot hold, before reading the payload."""
    size = path.stat().st_size
    if not is_gzip:
        if size != header_len + payload:
            raise DataError(
                f"{path}: IDX header declares {payload} data bytes but the file holds "
                f"{size - header_len}; the file is truncated or corrupt"
            )
        return
    if payload > size * _MAX_DEFLATE_RATIO:
        raise DataError(
            f"{path}: IDX header declares {payload} data bytes, impossible for a "
            f"{size}-byte gzip file; the header is corrupt"
        )
    with open(path, "rb") as fh:
        fh.seek(-4, 2)
        (isize,) = struct.unpack("<I", fh.read(4))
    if isize != (header_len + payload) % (1 << 32):
        raise DataError(
            f"{path}: IDX header declares {header_len + payload} bytes but the gzip data holds "
            f"{isize} (mod 2^32); the file is truncated or corrupt"
        )


# ----------------------------------------------------------------------------- datasets

_IDX_NAMES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def load_idx_pair(images_path: Path, labels_path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images (N, 1, H, W) and int64 labels (N,) from an IDX image/label file pair."""

    def parse() -> tuple[torch.Tensor, torch.Tensor]:
        images = read_idx(images_path)
        labels = read_idx(labels_path)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise DataError(f"{images_path}: expected uint8 images (N, H, W), got {images.dtype} {images.shape}")
        if labels.dtype.kind not in "iu":  # float labels would be truncated to wrong classes
            raise DataError(f"{labels_path}: expected integer labels, got {labels.dtype}")
        if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
            raise DataError(
                f"{labels_path}: {labels.shape[0] if labels.ndim == 1 else labels.shape} labels "
                f"for {images.shape[0]} images"
            )
        x = torch.from_numpy(images).unsqueeze(1)  # (N, 1, H, W)
        return x, torch.from_numpy(labels.astype(np.int64))

    return cached_parse([images_path, labels_path], "idx-pair", parse)


def _idx_entry(name: str, folder: str, description: str, base_url: str, md5s: dict[str, str],
               classes: tuple[str, ...], sizes: dict[str, int], aliases: tuple[str, ...] = ()
               ) -> DatasetEntry:
    files = tuple(
        FileSpec(fname, md5s[fname], sizes.get(fname), base_url + fname, (split,))
        for split, pair in _IDX_NAMES.items()
        for fname in pair
    )

    def load(split: str, cfg: DataConfig, folder_path: Path) -> ImageDataset:
        img_name, lbl_name = _IDX_NAMES[split]
        images, labels = load_idx_pair(folder_path / img_name, folder_path / lbl_name)
        return ImageDataset(images, labels, name=name, split=split, classes=classes,
                            metadata={"source": str(folder_path)})

    return DatasetEntry(
        name=name, description=description, load=load, folder=folder, files=files,
        classes=classes, aliases=aliases,
    )


MNIST = _idx_entry(
    "mnist", "mnist", "MNIST handwritten digits, 60k/10k, 28x28 grey (LeCun et al.)",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    tuple(str(i) for i in range(10)),
    {"train-images-idx3-ubyte.gz": 9912422, "train-labels-idx1-ubyte.gz": 28881,
     "t10k-images-idx3-ubyte.gz": 1648877, "t10k-labels-idx1-ubyte.gz": 4542},
)

FASHION_MNIST = _idx_entry(
    "fashion-mnist", "fashion-mnist",
    "Fashion-MNIST clothing, 60k/10k, 28x28 grey (Xiao et al., Zalando)",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
    ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
     "Ankle boot"),
    {"train-images-idx3-ubyte.gz": 26421880, "train-labels-idx1-ubyte.gz": 29515,
     "t10k-images-idx3-ubyte.gz": 4422102, "t10k-labels-idx1-ubyte.gz": 5148},
    aliases=("fmnist",),
)

KMNIST = _idx_entry(
    "kmnist", "kmnist",
    "Kuzushiji-MNIST cursive Japanese, 60k/10k, 28x28 grey (Clanuwat et al., CODH)",
    "http://codh.rois.ac.jp/kmnist/dataset/kmnist/",
    {
        "train-images-idx3-ubyte.gz": "bdb82020997e1d708af4cf47b453dcf7",
        "train-labels-idx1-ubyte.gz": "e144d726b3acfaa3e44228e80efcd344",
        "t10k-images-idx3-ubyte.gz": "5c965bf0a639b31b8f53240b1b52f4d7",
        "t10k-labels-idx1-ubyte.gz": "7320c461ea6c1c855c0b718fb2a4b134",
    },
    ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
    {"train-labels-idx1-ubyte.gz": 29497, "t10k-images-idx3-ubyte.gz": 3041136,
     "t10k-labels-idx1-ubyte.gz": 5120},
)
