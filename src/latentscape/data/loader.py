"""Index-permutation batching over in-memory tensors (no per-item Python work).

The whole dataset is moved to the model's device once (`on_device`, shared by every loader and
evaluation pass over it); each epoch draws one permutation from a generator seeded by
(seed, epoch), so an epoch's batches can be rebuilt exactly on resume and every distributed rank
sees a disjoint, equally sized shard of the same permutation.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Iterator
from typing import NamedTuple

import torch
from torch import Tensor

from latentscape.data.augment import batch_seed
from latentscape.data.types import Batch, ImageDataset


class _DeviceCopy(NamedTuple):
    device: torch.device
    versions: tuple[int, int]  # the source tensors' version counters when copied
    images: Tensor
    labels: Tensor


#: dataset -> its copy on an accelerator. Weak keys: a copy lives exactly as long as its dataset.
_DEVICE_COPIES: weakref.WeakKeyDictionary[ImageDataset, _DeviceCopy] = weakref.WeakKeyDictionary()


def on_device(dataset: ImageDataset, device: torch.device | str) -> tuple[Tensor, Tensor]:
    """The dataset's uint8 images (N, C, H, W) and int64 labels (N,) on `device`.

    Every loader and evaluation pass gets its data here, so a split is copied to a device once,
    not once per pass (a landscape evaluates the same split at hundreds of points). The policy:

    - where the tensors already are (the CPU, for datasets as loaded) they are returned
      themselves: no copy, nothing kept;
    - elsewhere the copy is made on first use and kept with the dataset: at most one copy per
      dataset, of the device asked for last (asking for another device replaces it), freed with
      the dataset or by `release_device_copy`. Device memory held is thus bounded by the splits
      the caller keeps alive, each once (the training loader shares its split's copy);
    - a dataset whose tensors were changed in place since (version counters) is copied again.
    """
    device = _indexed(torch.device(device))
    images, labels = dataset.images, dataset.labels
    if images.device == device and labels.device == device:
        return images, labels
    versions = (_version(images), _version(labels))
    held = _DEVICE_COPIES.get(dataset)
    if held is not None and held.device == device and held.versions == versions:
        return held.images, held.labels
    _DEVICE_COPIES.pop(dataset, None)  # free the old copy before making the new one
    held = _DeviceCopy(device, versions, images.to(device), labels.to(device))
    _DEVICE_COPIES[dataset] = held
    return held.images, held.labels


def _indexed(device: torch.device) -> torch.device:
    """`cuda` as the `cuda:N` it means (tensors report the index): one key per GPU."""
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return device


def _version(t: Tensor) -> int:
    """The in-place modification counter of `t` (-1 for inference tensors, which have none)."""
    try:
        return t._version
    except RuntimeError:
        return -1


def release_device_copy(dataset: ImageDataset) -> None:
    """Drop the device copy `on_device` keeps for `dataset` (a no-op when there is none)."""
    _DEVICE_COPIES.pop(dataset, None)


class BatchLoader:
    """Iterates over an `ImageDataset` in mini-batches of float images in [0, 1].

    Args:
        dataset: the data, uint8 images (N, C, H, W).
        batch_size: examples per batch *per process* (global batch = batch_size * world_size).
        shuffle: draw a new permutation each epoch (seeded); else keep dataset order.
        seed: base seed of the permutations.
        device: where batches live; the uint8 images are copied there once per dataset
            (`on_device`).
        drop_last: drop a final incomplete batch.
        rank, world_size: distributed shard of this process. Each rank takes every
            `world_size`-th element of the (padded) permutation, as DistributedSampler does.
        augment: training augmentation (`data.augment.CropFlip`), applied to the uint8 images of
            each batch with a generator seeded by (seed, epoch, batch, rank): a batch's crops and
            flips are the same whether or not the run was resumed before it. None: off.
    """

    def __init__(
        self,
        dataset: ImageDataset,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        device: torch.device | str = "cpu",
        drop_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
        augment: Callable[[Tensor, torch.Generator], Tensor] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.device = torch.device(device)
        self.drop_last = drop_last
        self.rank = rank
        self.world_size = world_size
        self.augment = augment
        self.epoch = 0
        self._images, self._labels = on_device(dataset, self.device)  # uint8 (N, C, H, W), int64 (N,)

    def set_epoch(self, epoch: int) -> None:
        """Choose the permutation of `epoch` (call before iterating)."""
        self.epoch = epoch

    @property
    def num_examples_per_rank(self) -> int:
        return math.ceil(len(self.dataset) / self.world_size)

    def __len__(self) -> int:
        n = self.num_examples_per_rank
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _order(self) -> Tensor:
        n = len(self.dataset)
        if not self.shuffle and self.world_size == 1:
            return torch.arange(n, device=self.device)  # made where it is used: no copy
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(n, generator=gen)
        else:
            order = torch.arange(n)
        if self.world_size > 1:
            total = self.num_examples_per_rank * self.world_size
            order = torch.cat([order, order[: total - n]])  # pad by wrapping, like DistributedSampler
            order = order[self.rank :: self.world_size]
        return order.to(self.device)

    def batches(self, start_batch: int = 0) -> Iterator[Batch]:
        """Yield the epoch's batches from `start_batch` on (used to resume mid-epoch)."""
        order = self._order()
        for b in range(start_batch, len(self)):
            idx = order[b * self.batch_size : (b + 1) * self.batch_size]  # (B,)
            images = self._images.index_select(0, idx)  # (B, C, H, W) uint8
            if self.augment is not None:
                gen = torch.Generator(self.device).manual_seed(batch_seed(self.seed, self.epoch, b, self.rank))
                images = self.augment(images, gen)
            x = images.float().div_(255.0)  # (B, C, H, W) in [0, 1]
            yield Batch(x=x, y=self._labels.index_select(0, idx), index=idx, index_bound=len(self.dataset))

    def __iter__(self) -> Iterator[Batch]:
        return self.batches()


def iterate_in_order(
    dataset: ImageDataset, batch_size: int, device: torch.device | str = "cpu"
) -> Iterator[Batch]:
    """Deterministic, unshuffled pass over a whole dataset (evaluation)."""
    return iter(BatchLoader(dataset, batch_size, shuffle=False, device=device))
