"""CIFAR-10 and CIFAR-100 in the official "python version" (pickled batches).

Krizhevsky, "Learning Multiple Layers of Features from Tiny Images", 2009;
https://www.cs.toronto.edu/~kriz/cifar.html. Each batch is a pickled dict with b"data", a uint8
array (N, 3072) holding the 1024 red, then green, then blue values of each 32x32 image row-major,
and b"labels" (CIFAR-10) or b"fine_labels" (CIFAR-100).

Pickle can run arbitrary code, so batches are read with `RestrictedUnpickler`, which only
resolves the handful of globals that numpy array reconstruction needs.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentscape.config import DataConfig
from latentscape.data.download import Archive
from latentscape.data.files import FileSpec, cached_parse
from latentscape.data.registry import DatasetEntry
from latentscape.data.types import ImageDataset
from latentscape.errors import DataError


def _allowed_globals() -> dict[tuple[str, str], Any]:
    from numpy._core import multiarray, numeric

    allowed: dict[tuple[str, str], Any] = {}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = multiarray._reconstruct
        allowed[(module, "scalar")] = multiarray.scalar
    for module in ("numpy.core.numeric", "numpy._core.numeric"):
        allowed[(module, "_frombuffer")] = numeric._frombuffer
    allowed[("numpy", "ndarray")] = np.ndarray
    allowed[("numpy", "dtype")] = np.dtype
    # Python 3 pickles bytes at protocol <= 2 as _codecs.encode(str, "latin1").
    import _codecs

    allowed[("_codecs", "encode")] = _codecs.encode
    # ... and empty bytes as bytes() (a numpy array with no elements).
    allowed[("__builtin__", "bytes")] = bytes
    allowed[("builtins", "bytes")] = bytes
    return allowed


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that only reconstructs builtin containers and numpy arrays.

    Any other global (os.system, builtins.eval, subprocess.Popen, ...) raises
    `pickle.UnpicklingError` instead of being imported.
    """

    _ALLOWED: dict[tuple[str, str], Any] | None = None

    def find_class(self, module: str, name: str) -> Any:
        if RestrictedUnpickler._ALLOWED is None:
            RestrictedUnpickler._ALLOWED = _allowed_globals()
        try:
            return RestrictedUnpickler._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}") from None


def safe_unpickle(path: Path) -> Any:
    """Load a pickle file with `RestrictedUnpickler` (bytes keys kept as bytes).

    Raises:
        DataError: unreadable or truncated file, or a pickle that asks for a forbidden global.
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return RestrictedUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except pickle.UnpicklingError as exc:
        raise DataError(f"{path}: not a CIFAR batch ({exc})") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        raise DataError(f"{path} is truncated or corrupt ({exc.__class__.__name__}); download it again") from None


def read_cifar_batch(path: Path, label_key: bytes) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 3, 32, 32) and int64 labels (N,) of one pickled batch."""
    batch = safe_unpickle(path)
    if not isinstance(batch, dict) or b"data" not in batch or label_key not in batch:
        raise DataError(f"{path}: not a CIFAR batch (expected keys b'data' and {label_key!r})")
    data = np.asarray(batch[b"data"])
    try:
        labels = np.asarray(batch[label_key])
        if labels.size and labels.dtype.kind not in "iu":  # bools, floats, strings or objects are not class indices
            raise TypeError(f"{labels.dtype} values")
        labels = labels.astype(np.int64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{path}: {label_key!r} is not a list of integer labels ({exc})") from None
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(f"{path}: expected uint8 data (N, 3072), got {data.dtype} {data.shape}")
    if labels.shape != (data.shape[0],):
        raise DataError(f"{path}: {labels.shape} labels for {data.shape[0]} images")
    return data.reshape(-1, 3, 32, 32), labels  # (N, C, H, W): channel planes, rows row-major


def read_label_names(path: Path, key: bytes) -> tuple[str, ...]:
    meta = safe_unpickle(path)
    if not isinstance(meta, dict) or key not in meta:
        raise DataError(f"{path}: no {key!r} in the CIFAR meta file")
    names = meta[key]
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, (bytes, str)) for n in names):
        raise DataError(f"{path}: {key!r} in the CIFAR meta file is not a list of class names")
    try:
        return tuple(n.decode() if isinstance(n, bytes) else n for n in names)
    except UnicodeDecodeError:
        raise DataError(f"{path}: {key!r} in the CIFAR meta file holds names that are not text") from None


def load_cifar_files(paths: list[Path], label_key: bytes) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenate batches: uint8 (N, 3, 32, 32) and int64 (N,) tensors (cached per process)."""

    def parse() -> tuple[torch.Tensor, torch.Tensor]:
        parts = [read_cifar_batch(p, label_key) for p in paths]
        images = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        return torch.from_numpy(images), torch.from_numpy(labels)

    return cached_parse(paths, f"cifar:{label_key!r}", parse)


CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                   "truck")


def _cifar_entry(name: str, description: str, folder: str, archive: Archive,
                 splits: dict[str, list[tuple[str, str]]], meta: tuple[str, str, bytes],
                 label_key: bytes, classes: tuple[str, ...]) -> DatasetEntry:
    files = tuple(FileSpec(f, md5, splits=(split,)) for split, fs in splits.items() for f, md5 in fs)
    files += (FileSpec(meta[0], meta[1]),)

    def load(split: str, cfg: DataConfig, folder_path: Path) -> ImageDataset:
        paths = [folder_path / f for f, _ in splits[split]]
        images, labels = load_cifar_files(paths, label_key)
        names = cached_parse([folder_path / meta[0]], "cifar-meta",
                             lambda: read_label_names(folder_path / meta[0], meta[2]))
        return ImageDataset(images, labels, name=name, split=split, classes=names or classes,
                            metadata={"source": str(folder_path)})

    return DatasetEntry(
        name=name, description=description, load=load, folder=folder, files=files,
        archive=archive, classes=classes,
    )


CIFAR10 = _cifar_entry(
    "cifar10", "CIFAR-10, 50k/10k, 32x32 RGB, 10 classes (Krizhevsky 2009)",
    "cifar-10-batches-py",
    Archive("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "cifar-10-python.tar.gz",
            "c58f30108f718f92721af3b95e74349a"),
    {
        "train": [
            ("data_batch_1", "c99cafc152244af753f735de768cd75f"),
            ("data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"),
            ("data_batch_3", "54ebc095f3ab1f0389bbae665268c751"),
            ("data_batch_4", "634d18415352ddfa80567beed471001a"),
            ("data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"),
        ],
        "test": [("test_batch", "40351d587109b95175f43aff81a1287e")],
    },
    ("batches.meta", "5ff9c542aee3614f3951f8cda6e48888", b"label_names"),
    b"labels",
    CIFAR10_CLASSES,
)

CIFAR100 = _cifar_entry(
    "cifar100", "CIFAR-100, 50k/10k, 32x32 RGB, 100 fine classes (Krizhevsky 2009)",
    "cifar-100-python",
    Archive("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz", "cifar-100-python.tar.gz",
            "eb9058c3a382ffc7106e4002c42a8d85"),
    {
        "train": [("train", "16019d7e3df5f24257cddd939b257f8d")],
        "test": [("test", "f0ef6b0ae62326f3e7ffdfab6717acfc")],
    },
    ("meta", "7973b15100ade9c7d40fb424638fde48", b"fine_label_names"),
    b"fine_labels",
    (),
)
