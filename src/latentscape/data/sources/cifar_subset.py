"""The real CIFAR-10 subset in PNG form (ConvNetJS demo files, ../shared/data/cifar10-subset).

Each `cifar10_batch_K.png` is a 1024 x 1000 RGB image: row k holds one 32x32 CIFAR image,
flattened row-major with interleaved R, G, B (pixel p = y * 32 + x). Batches 0-3 are records
0-3999 of the official `data_batch_1`; batch 50 is records 0-999 of `test_batch`. Labels are plain
text, one per line.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from latentscape.config import DataConfig
from latentscape.data.files import FileSpec, cached_parse
from latentscape.data.registry import DatasetEntry
from latentscape.data.sources.cifar import CIFAR10_CLASSES
from latentscape.data.types import ImageDataset
from latentscape.errors import DataError

_IMAGES_PER_PNG = 1000
_SIDE = 32


def read_png_batch(path: Path) -> np.ndarray:
    """uint8 images (1000, 3, 32, 32) from one ConvNetJS-style PNG batch."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size check says it in one line
            with Image.open(path) as img:
                if img.size != (_SIDE * _SIDE, _IMAGES_PER_PNG):
                    raise DataError(
                        f"{path}: expected a {_SIDE * _SIDE}x{_IMAGES_PER_PNG} PNG, got "
                        f"{img.size[0]}x{img.size[1]}"
                    )
                pixels = np.asarray(img.convert("RGB"))  # (1000, 1024, 3)
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"{path} is not a readable PNG ({exc}); copy it again") from None
    hwc = pixels.reshape(_IMAGES_PER_PNG, _SIDE, _SIDE, 3)  # (N, H, W, C)
    return np.ascontiguousarray(hwc.transpose(0, 3, 1, 2))  # (N, C, H, W)


def read_labels(path: Path, expected: int) -> np.ndarray:
    """int64 labels (expected,) from a text file with one integer per line."""
    try:
        lines = path.read_text().split()
        labels = np.array([int(v) for v in lines], dtype=np.int64)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a list of integer labels ({exc})") from None
    if labels.shape[0] < expected:
        raise DataError(f"{path}: {labels.shape[0]} labels for {expected} images")
    return labels[:expected]


_SPLITS = {
    "train": (tuple(f"cifar10_batch_{k}.png" for k in range(4)), "train_labels_first4000.txt"),
    "test": (("cifar10_batch_50.png",), "test_labels_first1000.txt"),
}

_MD5 = {
    "cifar10_batch_0.png": ("22905c3a5cc5e101d06a2b6d6087eff0", 2318456),
    "cifar10_batch_1.png": ("268c70910bb9bd5055b57d0870f26d63", 2326379),
    "cifar10_batch_2.png": ("7276547afd77ffb906d58242360a2534", 2312906),
    "cifar10_batch_3.png": ("7daf46aac2cef4fae955f89c83a9c34f", 2328590),
    "cifar10_batch_50.png": ("fc6b4e3450caf155c495dd8de98e47bf", 2315890),
    "train_labels_first4000.txt": ("2b4961456ceab6fdc51e959ab8015ce0", 8000),
    "test_labels_first1000.txt": ("c86e7e8091164939dca05635ec5f1194", 2000),
    "classes.txt": ("40a0b180e208fe03a63ecc891b2555ad", 60),
}


def _load(split: str, cfg: DataConfig, folder: Path) -> ImageDataset:
    pngs, label_file = _SPLITS[split]
    paths = [folder / p for p in pngs]

    def parse() -> tuple[torch.Tensor, torch.Tensor]:
        images = np.concatenate([read_png_batch(p) for p in paths])
        labels = read_labels(folder / label_file, images.shape[0])
        return torch.from_numpy(images), torch.from_numpy(labels)

    images, labels = cached_parse([*paths, folder / label_file], "cifar10-subset", parse)
    classes_file = folder / "classes.txt"
    try:
        classes = tuple(classes_file.read_text(encoding="utf-8").split()) if classes_file.is_file() else CIFAR10_CLASSES
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{classes_file}: not a list of class names ({exc})") from None
    return ImageDataset(images, labels, name="cifar10-subset", split=split, classes=classes,
                        metadata={"source": str(folder)})


_SPLIT_OF = {name: split for split, (pngs, lbl) in _SPLITS.items() for name in (*pngs, lbl)}

CIFAR10_SUBSET = DatasetEntry(
    name="cifar10-subset",
    description="CIFAR-10 real subset as PNG (ConvNetJS): 4,000 train / 1,000 test, 32x32 RGB",
    load=_load,
    folder="cifar10-subset",
    files=tuple(
        FileSpec(name, md5, size, splits=(_SPLIT_OF[name],) if name in _SPLIT_OF else ())
        for name, (md5, size) in _MD5.items()
    ),
    classes=CIFAR10_CLASSES,
    manual="these files are a derived subset with no download source; copy the folder from "
    "../shared/data/cifar10-subset",
)
