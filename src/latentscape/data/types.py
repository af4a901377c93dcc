"""Core data containers: an in-memory image dataset and a training batch (DESIGN.md, Data)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import NamedTuple

import torch
from torch import Tensor


class Batch(NamedTuple):
    """One mini-batch.

    Attributes:
        x: float images in [0, 1], shape (B, C, H, W), on the model's device.
        y: int64 labels, shape (B,) (all -1 when a dataset has no labels).
        index: int64 positions of the examples in their dataset, shape (B,); the
            auto-decoder uses them to look up per-example latents.
        index_bound: every entry of `index` is below this (the length of the dataset the batch
            comes from), or None when unknown; lets a model check the indices without reading
            them back from the device.
    """

    x: Tensor
    y: Tensor
    index: Tensor
    index_bound: int | None = None


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """Images held as tensors in memory.

    Attributes:
        images: uint8 tensor (N, C, H, W).
        labels: int64 tensor (N,); -1 where unknown.
        factors: optional ground-truth generative factors (N, K) (dSprites-style data).
        name: dataset name as registered (e.g. "mnist").
        split: "train", "val" or "test".
        classes: class names, index = label.
        factor_names: names of the K factor columns.
    """

    images: Tensor
    labels: Tensor
    name: str = "unnamed"
    split: str = "train"
    classes: tuple[str, ...] = ()
    factors: Tensor | None = None
    factor_names: tuple[str, ...] = ()
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(
                f"images must be uint8 (N, C, H, W), got {self.images.dtype} {tuple(self.images.shape)}"
            )
        if self.labels.dtype != torch.int64 or self.labels.shape != (self.images.shape[0],):
            raise ValueError(
                f"labels must be int64 (N,) with N={self.images.shape[0]}, "
                f"got {self.labels.dtype} {tuple(self.labels.shape)}"
            )
        if self.factors is not None and self.factors.shape[0] != self.images.shape[0]:
            raise ValueError("factors must have one row per image")

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return len(self.classes) if self.classes else int(self.labels.max().item()) + 1

    def subset(self, indices: Tensor, split: str | None = None) -> "ImageDataset":
        """A new dataset holding the rows at `indices` (int64 (M,))."""
        return replace(
            self,
            images=self.images[indices],
            labels=self.labels[indices],
            factors=None if self.factors is None else self.factors[indices],
            split=split or self.split,
        )

    def float_images(self, device: torch.device | str | None = None) -> Tensor:
        """All images as float in [0, 1], (N, C, H, W)."""
        return self.images.to(device).float().div_(255.0)
