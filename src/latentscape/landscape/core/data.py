"""Evaluation data in any form a PyTorch user has it, as one interface: `EvalData`.

A landscape averages per-example values over a split at every point, so all it needs from the
data is its size and a deterministic pass over it in batches on a device. `as_data` accepts:

- latentscape's `ImageDataset` (batches are `Batch(x, y, index)`, x float in [0, 1]);
- a tensor `x` (N, ...), or a tuple `(x, y)` / `(x, y, ...)` of tensors sharing their first
  axis (batches are tensors / tuples of slices, as a `TensorDataset` would give);
- any `torch.utils.data.Dataset` with `len` (batched in order by a `DataLoader` with the default
  collate; no shuffling);
- a `DataLoader` (its own batches, as it yields them; keep `shuffle=False` so that BatchNorm
  statistics, which depend on the batches, are the same at every point).

Batches are moved to the evaluation device as they are produced (tensors inside tuples, lists
and dicts too). `batch_inputs` finds the input tensor of any of these batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from latentscape.data.loader import iterate_in_order
from latentscape.data.types import Batch, ImageDataset
from latentscape.errors import DataError


@runtime_checkable
class EvalData(Protocol):
    """A split to average over: its size and a deterministic pass in batches."""

    def __len__(self) -> int: ...

    def batches(self, batch_size: int, device: torch.device | str) -> Iterator[Any]: ...


class ImageData:
    """An `ImageDataset` (one device copy shared by every pass, see `data.loader.on_device`)."""

    def __init__(self, dataset: ImageDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def batches(self, batch_size: int, device: torch.device | str) -> Iterator[Batch]:
        return iterate_in_order(self.dataset, batch_size, device)


class TensorData:
    """Tensors sharing their first axis: `x` or `(x, y, ...)`; batches are slices of them."""

    def __init__(self, tensors: Tensor | tuple[Tensor, ...]) -> None:
        self.single = isinstance(tensors, Tensor)
        self.tensors = (tensors,) if isinstance(tensors, Tensor) else tuple(tensors)
        if not self.tensors or not all(isinstance(t, Tensor) for t in self.tensors):
            raise DataError("data: give a tensor, or a tuple of tensors such as (x, y)")
        n = self.tensors[0].shape[0] if self.tensors[0].dim() else 0
        if any(t.dim() == 0 or t.shape[0] != n for t in self.tensors):
            raise DataError(f"data: the tensors must share their first axis (sizes {[tuple(t.shape) for t in self.tensors]})")
        self._copies: dict[torch.device, tuple[Tensor, ...]] = {}

    def __len__(self) -> int:
        return int(self.tensors[0].shape[0])

    def batches(self, batch_size: int, device: torch.device | str) -> Iterator[Any]:
        dev = torch.device(device)
        held = self._copies.get(dev)
        if held is None:  # one device copy, reused by every pass (a grid makes hundreds)
            held = tuple(t.to(dev) for t in self.tensors)
            self._copies = {dev: held}
        for start in range(0, len(self), batch_size):
            part = tuple(t[start : start + batch_size] for t in held)
            yield part[0] if self.single else part


class LoaderData:
    """A `DataLoader` (or a `Dataset`, batched in order): its batches, moved to the device."""

    def __init__(self, source: DataLoader | Dataset, batch_size: int | None = None) -> None:
        self.source = source
        self._n: int | None = None
        dataset = source.dataset if isinstance(source, DataLoader) else source
        try:
            self._n = len(dataset)  # type: ignore[arg-type]
        except TypeError:  # an iterable dataset: counted on the first pass
            self._n = None

    def __len__(self) -> int:
        if self._n is None:
            self._n = sum(batch_size_of(b) for b in self.batches(1, "cpu"))
        return self._n

    def batches(self, batch_size: int, device: torch.device | str) -> Iterator[Any]:
        loader = self.source if isinstance(self.source, DataLoader) else DataLoader(self.source, batch_size=batch_size, shuffle=False)
        dev = torch.device(device)
        for batch in loader:
            yield to_device(batch, dev)


def as_data(data: Any) -> EvalData:
    """`data` as `EvalData` (see the module docstring for what is accepted).

    Raises:
        DataError: anything else, naming what was given.
    """
    if isinstance(data, ImageDataset):
        return ImageData(data)
    if isinstance(data, (ImageData, TensorData, LoaderData)):
        return data
    if isinstance(data, Tensor) or (isinstance(data, (tuple, list)) and data and all(isinstance(t, Tensor) for t in data)):
        return TensorData(data if isinstance(data, Tensor) else tuple(data))
    if isinstance(data, (DataLoader, Dataset)):
        return LoaderData(data)
    if isinstance(data, EvalData):
        return data
    raise DataError(
        f"data: cannot evaluate on a {type(data).__name__}; give tensors (x, y), a torch Dataset, a DataLoader "
        "or an ImageDataset"
    )


def to_device(batch: Any, device: torch.device) -> Any:
    """`batch` with every tensor inside (tuples, lists, dicts, NamedTuples) on `device`."""
    if isinstance(batch, Tensor):
        return batch.to(device)
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # a NamedTuple such as Batch
        return type(batch)(*(to_device(v, device) for v in batch))
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(v, device) for v in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


def batch_inputs(batch: Any) -> Tensor:
    """The input tensor of a batch: `Batch.x`, the first tensor of a tuple/list/dict, or the batch."""
    if isinstance(batch, Batch):
        return batch.x
    if isinstance(batch, Tensor):
        return batch
    items = list(batch.values()) if isinstance(batch, dict) else list(batch) if isinstance(batch, (tuple, list)) else []
    for item in items:
        if isinstance(item, Tensor):
            return item
    raise DataError(f"cannot find the input tensor of a batch of type {type(batch).__name__}")


def batch_size_of(batch: Any) -> int:
    """Examples in a batch (the first axis of its input tensor)."""
    return int(batch_inputs(batch).shape[0])


def batch_targets(batch: Any) -> Tensor:
    """The targets of a batch: `Batch.y` or the second tensor of a tuple/list."""
    if isinstance(batch, Batch):
        return batch.y
    if isinstance(batch, (tuple, list)) and len(batch) >= 2 and isinstance(batch[1], Tensor):
        return batch[1]
    raise DataError("a criterion needs targets: give data as (inputs, targets) pairs")
