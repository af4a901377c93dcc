"""`digits`: scikit-learn's bundled 8x8 handwritten digits (no download, no data folder).

The 1,797 images of `sklearn.datasets.load_digits` (the UCI "Optical Recognition of Handwritten
Digits" test set, Alpaydin & Kaynak 1998) hold 4x4-block counts 0..16; they are scaled to uint8
0..255 as round(v * 255 / 16).

Published split (fixed, independent of `split_seed`): the first 1,500 images are "train" and the
last 297 are "test", the order scikit-learn ships them in. The digits are interleaved, so both
parts hold every class in near-equal numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from latentscape.config import DataConfig
from latentscape.data.files import memo
from latentscape.data.registry import DatasetEntry
from latentscape.data.types import ImageDataset

NUM_TRAIN = 1500


def digits_arrays() -> tuple[torch.Tensor, torch.Tensor]:
    """All 1,797 digits: uint8 images (N, 1, 8, 8) in 0..255 and int64 labels (N,)."""

    def build() -> tuple[torch.Tensor, torch.Tensor]:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        values = np.asarray(bunch.images, dtype=np.float64)  # (N, 8, 8) in 0..16
        images = np.rint(values * (255.0 / 16.0)).astype(np.uint8)[:, None]  # (N, 1, 8, 8)
        return torch.from_numpy(images), torch.from_numpy(np.asarray(bunch.target, dtype=np.int64))

    return memo(("digits",), build)


def _load(split: str, cfg: DataConfig, root: Path) -> ImageDataset:
    images, labels = digits_arrays()
    part = slice(0, NUM_TRAIN) if split == "train" else slice(NUM_TRAIN, None)
    return ImageDataset(images[part], labels[part], name="digits", split=split,
                        classes=tuple(str(i) for i in range(10)),
                        metadata={"source": "sklearn.datasets.load_digits"})


DIGITS = DatasetEntry(
    name="digits",
    description="scikit-learn's 1,797 handwritten digits, 8x8 grey (embedded; 1500/297 split)",
    load=_load,
    classes=tuple(str(i) for i in range(10)),
)
