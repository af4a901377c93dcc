import copy

import pytest
import torch

from landscape_nets import bn_convnet, images, mlp, norm_convnet, perturbed
from latentscape.data.loader import iterate_in_order
from latentscape.landscape.core.batchnorm import BatchNormRecomputer
from latentscape.landscape.core.curves import Curve
from latentscape.landscape.core.evaluate import PointEvaluator, PointSet
from latentscape.landscape.core.params import named_params
from latentscape.landscape.core.metrics import resolve_metrics, combined


def _own_eval(model, ds, bs=16):
    sums = {}
    model.eval()
    with torch.no_grad():
        for b in iterate_in_order(ds, bs):
            for k, v in model.evaluate_batch(b).items():
                sums[k] = sums.get(k, 0.0) + float(v.double().sum())
    return {k: v / len(ds) for k, v in sums.items()}


def _evaluator(model, **kw):
    return PointEvaluator(model, combined(resolve_metrics(model)[0]), batch_size=16, **kw)


def test_ends_of_a_line_reproduce_endpoint_models_bit_for_bit():
    ds = {"train": images(40), "test": images(24, seed=5)}
    a, b = mlp(0), mlp(1)
    pa, pb = named_params(a), named_params(b)
    pts = PointSet([pa, pb], [[1.0 - t, t] for t in (0.0, 0.3, 0.5, 1.0)])
    res = _evaluator(a).evaluate(pts, ds)
    for split, data in ds.items():
        own_a, own_b = _own_eval(a, data), _own_eval(b, data)
        for m in ("loss", "accuracy"):
            assert res[split][m][0] == own_a[m]
            assert res[split][m][-1] == own_b[m]
    assert not torch.equal(a.net[1].weight, b.net[1].weight)  # inputs untouched


@pytest.mark.parametrize("make", [mlp, norm_convnet])
def test_basis_points_ride_the_factorised_pass_bit_for_bit(make, monkeypatch):
    # the ends of a line are evaluated from the batched pass's own input-layer outputs (no second
    # full forward through the loop), and still reproduce the endpoint models exactly
    ds = {"train": images(40), "test": images(24, seed=5)}
    a, b = make(0), make(1)
    pts = PointSet([named_params(a), named_params(b)], [[1.0 - t, t] for t in (0.0, 0.4, 1.0)])
    ev = _evaluator(a)

    def no_loop(*args, **kwargs):
        raise AssertionError("a basis point went through the per-point loop")

    monkeypatch.setattr(ev, "_mean_one", no_loop)
    res = ev.evaluate(pts, ds)
    assert ev.last_strategy == "factorised"
    for split, data in ds.items():
        own_a, own_b = _own_eval(a, data), _own_eval(b, data)
        for m in ("loss", "accuracy"):
            assert res[split][m][0] == own_a[m] and res[split][m][-1] == own_b[m]
        assert res[split]["loss"][1] != res[split]["loss"][0]


@pytest.mark.parametrize("make", [mlp, norm_convnet])
def test_vmap_and_factorised_paths_match_the_plain_loop(make):
    ds = {"test": images(40, seed=2)}
    a = make(0)
    basis = [named_params(a), named_params(make(1)), perturbed(a, 3)]
    g = torch.Generator().manual_seed(0)
    coeffs = torch.rand(7, 3, generator=g, dtype=torch.float64) * 2 - 0.5
    pts = PointSet(basis, coeffs)
    fast_eval = _evaluator(a, chunk_size=3)
    fast = fast_eval.evaluate(pts, ds)
    assert fast_eval.last_strategy in ("vmap", "factorised")
    slow = _evaluator(a, use_vmap=False).evaluate(pts, ds)
    for m in slow["test"]:
        torch.testing.assert_close(torch.tensor(fast["test"][m]), torch.tensor(slow["test"][m]), atol=1e-5, rtol=1e-5)
    if make is mlp:
        assert fast_eval.last_strategy == "factorised"
    point_by_point = _evaluator(a, chunk_size=3)
    point_by_point.batch_rest = False  # factorised input layer, the rest one point at a time
    rest = point_by_point.evaluate(pts, ds)
    assert point_by_point.last_strategy == "factorised-loop"
    for m in slow["test"]:
        torch.testing.assert_close(torch.tensor(rest["test"][m]), torch.tensor(slow["test"][m]), atol=1e-5, rtol=1e-5)


def test_batchnorm_points_recompute_statistics_and_t0_matches_endpoint():
    train, test = images(48), images(24, seed=7)
    a, b = bn_convnet(0), bn_convnet(1)
    pa, pb = named_params(a), named_params(b)
    curve = Curve.through(pa, pb, bends=1)
    curve.points[1] = perturbed(a, 9)
    ts = [0.0, 0.5, 1.0]
    pts = PointSet(curve.points, curve.coefficients(ts))
    ev = _evaluator(a, bn_data=train)
    res = ev.evaluate(pts, {"test": test})
    # reference: recompute BN on the endpoint model itself, then its own evaluation
    for model, i in ((a, 0), (b, 2)):
        ref = copy.deepcopy(model)
        bufs = BatchNormRecomputer(ref, lambda: iterate_in_order(train, 16))(named_params(ref))
        ref.load_state_dict({**named_params(ref), **bufs})
        own = _own_eval(ref, test)
        assert res["test"]["loss"][i] == own["loss"]
        assert res["test"]["accuracy"][i] == own["accuracy"]
    assert res["test"]["loss"][1] != res["test"]["loss"][0]


def test_batchnorm_requires_training_data():
    with pytest.raises(ValueError, match="bn_data"):
        _evaluator(bn_convnet(0))
