"""BatchLoader: index-permutation batching (each example once per epoch, seeded, DDP shards)."""

from __future__ import annotations

import pytest
import torch

from latentscape.data.loader import BatchLoader, iterate_in_order
from latentscape.data.types import ImageDataset


def dataset(n: int = 50) -> ImageDataset:
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 2, 2).contiguous()
    return ImageDataset(images, torch.arange(n) % 7)


def epoch_indices(loader: BatchLoader) -> torch.Tensor:
    return torch.cat([b.index for b in loader])


def test_every_index_once_per_epoch_and_batches_match_data():
    data = dataset(50)
    loader = BatchLoader(data, 8, seed=1)
    batches = list(loader)
    assert len(batches) == len(loader) == 7 and batches[-1].x.shape[0] == 2
    assert torch.equal(epoch_indices(loader).sort().values, torch.arange(50))
    for b in batches:
        assert b.x.dtype == torch.float32 and 0.0 <= float(b.x.min()) and float(b.x.max()) <= 1.0
        assert torch.allclose(b.x, data.images[b.index].float() / 255)
        assert torch.equal(b.y, data.labels[b.index])
        assert b.index_bound == 50  # every index is below the dataset's length


def test_permutation_seeded_per_epoch():
    data = dataset(40)
    a, b = BatchLoader(data, 8, seed=5), BatchLoader(data, 8, seed=5)
    assert torch.equal(epoch_indices(a), epoch_indices(b))
    first = epoch_indices(a)
    a.set_epoch(1)
    assert not torch.equal(first, epoch_indices(a))
    assert not torch.equal(first, epoch_indices(BatchLoader(data, 8, seed=6)))
    assert torch.equal(epoch_indices(BatchLoader(data, 8, shuffle=False)), torch.arange(40))


def test_resume_mid_epoch_gives_the_remaining_batches():
    loader = BatchLoader(dataset(40), 8, seed=2)
    full = [b.index for b in loader.batches()]
    rest = [b.index for b in loader.batches(start_batch=3)]
    assert len(rest) == 2 and all(torch.equal(x, y) for x, y in zip(full[3:], rest))


@pytest.mark.parametrize("n", [48, 50])
def test_ddp_shards_disjoint_and_covering(n):
    data = dataset(n)
    shards = [epoch_indices(BatchLoader(data, 5, seed=3, rank=r, world_size=4)) for r in range(4)]
    assert len({len(s) for s in shards}) == 1  # equal work per rank
    union = torch.cat(shards)
    assert set(union.tolist()) == set(range(n))
    assert len(union) - len(set(union.tolist())) == (-n) % 4  # only the padding repeats


def test_drop_last_and_in_order():
    assert len(list(BatchLoader(dataset(50), 8, drop_last=True))) == 6
    order = torch.cat([b.index for b in iterate_in_order(dataset(10), 4)])
    assert torch.equal(order, torch.arange(10))
