"""A split is copied to a device once (`loader.on_device`), not on every pass over it.

On the CPU nothing is copied or kept. Another device is played by "meta" (tensors without
data: shapes and dtypes only), so the bookkeeping is tested on any machine.
"""

from __future__ import annotations

import gc

import pytest
import torch

from latentscape.data import loader
from latentscape.data.loader import BatchLoader, iterate_in_order, on_device, release_device_copy
from latentscape.data.types import ImageDataset


def dataset(n: int = 20) -> ImageDataset:
    images = torch.randint(0, 256, (n, 1, 3, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(n))
    return ImageDataset(images, torch.arange(n) % 3)


def count_copies(monkeypatch, ds: ImageDataset) -> list[str]:
    """Records each `.to(...)` called on the dataset's own image or label tensor."""
    calls: list[str] = []
    real_to = torch.Tensor.to

    def spy(self, *args, **kwargs):
        if self is ds.images or self is ds.labels:
            calls.append(str(args[0] if args else kwargs.get("device")))
        return real_to(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "to", spy)
    return calls


def test_on_the_cpu_passes_use_the_dataset_tensors_themselves(monkeypatch):
    ds = dataset()
    calls = count_copies(monkeypatch, ds)
    images, labels = on_device(ds, "cpu")
    assert images is ds.images and labels is ds.labels
    for _ in range(3):
        batches = list(iterate_in_order(ds, 8))
        assert torch.equal(torch.cat([b.x for b in batches]), ds.images.float() / 255)
    list(BatchLoader(ds, 8, seed=1))
    assert calls == [] and ds not in loader._DEVICE_COPIES


def test_another_device_gets_one_copy_shared_by_every_pass(monkeypatch):
    ds = dataset()
    calls = count_copies(monkeypatch, ds)
    for _ in range(4):
        batches = list(iterate_in_order(ds, 8, "meta"))
        assert [b.x.shape[0] for b in batches] == [8, 8, 4] and batches[0].x.device.type == "meta"
    list(BatchLoader(ds, 8, seed=1, device="meta"))  # the training loader shares it
    assert len(calls) == 2  # images and labels, once
    images, _ = on_device(ds, "meta")
    assert images is on_device(ds, torch.device("meta"))[0]


def test_a_copy_is_remade_after_an_in_place_change_or_a_release():
    ds = dataset()
    first, _ = on_device(ds, "meta")
    assert on_device(ds, "meta")[0] is first
    ds.images[0] = 7  # changed in place: the copy is stale
    second, _ = on_device(ds, "meta")
    assert second is not first
    release_device_copy(ds)
    assert ds not in loader._DEVICE_COPIES
    assert on_device(ds, "meta")[0] is not second
    release_device_copy(ds)
    release_device_copy(ds)  # nothing held: a no-op


def test_a_copy_lives_no_longer_than_its_dataset():
    ds = dataset()
    on_device(ds, "meta")
    held = len(loader._DEVICE_COPIES)
    del ds
    gc.collect()
    assert len(loader._DEVICE_COPIES) == held - 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_and_cuda_index_share_one_copy(monkeypatch):
    ds = dataset()
    calls = count_copies(monkeypatch, ds)
    a, _ = on_device(ds, "cuda")
    b, _ = on_device(ds, f"cuda:{torch.cuda.current_device()}")
    assert a is b and len(calls) == 2 and a.is_cuda
    assert torch.equal(a.cpu(), ds.images)
