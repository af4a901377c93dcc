"""BatchNorm models evaluated in batches of weight points: statistics recomputed per point inside
the vmap call give the per-point loop's numbers (issue 15)."""

import torch

from landscape_nets import bn_convnet, images, perturbed
from latentscape.data.loader import iterate_in_order
from latentscape.landscape.core.batched_bn import BatchedBatchNorm
from latentscape.landscape.core.batchnorm import BatchNormRecomputer
from latentscape.landscape.core.evaluate import PointEvaluator, PointSet
from latentscape.landscape.core.params import named_params
from latentscape.landscape.core.metrics import combined, resolve_metrics


def test_stacked_statistics_equal_per_point_recomputation():
    ds = images(40)
    model = bn_convnet(0)
    pts = [perturbed(model, i) for i in range(3)]
    batches = lambda: iterate_in_order(ds, 16)  # noqa: E731  (48 = 16 + 16 + 8: uneven last batch)
    loop = BatchNormRecomputer(model, batches)
    stacked = BatchedBatchNorm(model, batches, lambda m, b: m(b))({k: torch.stack([p[k] for p in pts]) for k in pts[0]})
    for i, p in enumerate(pts):
        ref = loop(p)
        for name, v in ref.items():
            torch.testing.assert_close(stacked[name][i], v, atol=1e-5, rtol=1e-5)
    # the points really differ: the check above is not comparing equal statistics
    assert not torch.allclose(stacked["net.1.running_mean"][0], stacked["net.1.running_mean"][1])


def test_batchnorm_vmap_matches_the_loop_on_every_split():
    train, test = images(48), images(24, seed=7)
    a = bn_convnet(0)
    basis = [named_params(a), named_params(bn_convnet(1)), perturbed(a, 3)]
    coeffs = torch.rand(7, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 0.5
    coeffs[0] = torch.tensor([1.0, 0.0, 0.0])  # a basis element: through the exact loop
    pts = PointSet(basis, coeffs)
    metric = combined(resolve_metrics(a)[0])
    data = {"train": train, "test": test}
    fast_ev = PointEvaluator(a, metric, batch_size=16, bn_data=train, chunk_size=4)
    fast = fast_ev.evaluate(pts, data)
    assert fast_ev.last_strategy == "vmap-batchnorm"
    slow = PointEvaluator(a, metric, batch_size=16, bn_data=train, use_vmap=False).evaluate(pts, data)
    for split in data:
        for m in slow[split]:
            torch.testing.assert_close(torch.tensor(fast[split][m]), torch.tensor(slow[split][m]), atol=1e-5, rtol=1e-5)
    assert len(set(slow["test"]["loss"].round(6))) == 7  # seven distinct points
