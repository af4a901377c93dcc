"""A landscape evaluation copies each split to the device once, not once per point or chunk.

Every strategy (the per-point loop, vmap chunks, the factorised pass, BatchNorm statistics
recomputed per point) reads its batches through `loader.on_device`. On the CPU the splits are
used where they are (no `.to` on them at all); on a GPU each is copied once.
"""

from __future__ import annotations

import pytest
import torch

from landscape_nets import bn_convnet, images, mlp
from latentscape.landscape.core.evaluate import PointEvaluator, PointSet
from latentscape.landscape.core.params import named_params
from latentscape.landscape.core.metrics import combined, resolve_metrics

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def count_copies(monkeypatch, datasets) -> list[int]:
    """Records each `.to(...)` called on a dataset's own image or label tensor (its position)."""
    tensors = [t for ds in datasets for t in (ds.images, ds.labels)]
    calls: list[int] = []
    real_to = torch.Tensor.to

    def spy(self, *args, **kwargs):
        for i, t in enumerate(tensors):
            if self is t:
                calls.append(i)
        return real_to(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "to", spy)
    return calls


def _line(a, b, n: int = 9) -> PointSet:
    ts = [i / (n - 1) for i in range(n)]
    return PointSet([named_params(a), named_params(b)], [[1 - t, t] for t in ts])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("use_vmap", [False, True])
def test_a_path_copies_each_split_at_most_once(device, use_vmap, monkeypatch):
    data = {"train": images(40), "test": images(24, seed=5)}
    a, b = mlp(0), mlp(1)
    ev = PointEvaluator(a, combined(resolve_metrics(a)[0]), batch_size=16, device=device, use_vmap=use_vmap, chunk_size=2)
    calls = count_copies(monkeypatch, data.values())
    for _ in range(2):  # a second evaluation (another path, a plane) reuses the copies too
        ev.evaluate(_line(a, b), data)
    expected = [] if device == "cpu" else [0, 1, 2, 3]
    assert sorted(calls) == expected


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("use_vmap", [False, True])
def test_batchnorm_statistics_per_point_copy_the_training_split_once(device, use_vmap, monkeypatch):
    train, test = images(48), images(16, seed=3)
    a, b = bn_convnet(0), bn_convnet(1)
    ev = PointEvaluator(a, combined(resolve_metrics(a)[0]), batch_size=16, device=device, bn_data=train,
                        use_vmap=use_vmap, chunk_size=2)
    calls = count_copies(monkeypatch, [train, test])
    ev.evaluate(_line(a, b, 5), {"test": test})
    expected = [] if device == "cpu" else [0, 1, 2, 3]
    assert sorted(calls) == expected
