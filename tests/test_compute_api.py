"""The compute-only API returns numbers and writes nothing (issue 15)."""

import os
import sys

import numpy as np
import pytest
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "landscape"))

from landscape_nets import images, mlp  # noqa: E402
from latentscape import compute  # noqa: E402
from latentscape.landscape.core.evaluate import PointEvaluator, PointSet  # noqa: E402
from latentscape.landscape.core.params import named_params  # noqa: E402
from latentscape.landscape.core.metrics import combined, resolve_metrics  # noqa: E402
from latentscape.metrics.fid import fid_from_features  # noqa: E402


def test_path_and_plane_return_arrays_equal_to_the_evaluator(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a, b, c = mlp(0), mlp(1), mlp(2)
    data = {"test": images(30, seed=4)}
    r = compute.evaluate_path(a, a, b, data, points=5, batch_size=16)
    assert r["ts"] == [0.0, 0.25, 0.5, 0.75, 1.0] and r["values"]["test"]["loss"].shape == (5,)
    pts = PointSet([named_params(a), named_params(b)], [[1 - t, t] for t in r["ts"]])
    ref = PointEvaluator(a, combined(resolve_metrics(a)), batch_size=16, use_vmap=False).evaluate(pts, data)
    np.testing.assert_allclose(r["values"]["test"]["loss"], ref["test"]["loss"], rtol=1e-5)
    p = compute.evaluate_plane(a, a, b, c, data, grid=3, batch_size=16)
    assert p["values"]["test"]["loss"].shape == (3, 3) and p["xs"].shape == (3,)
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_fid_and_kid_functions():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(200, 8, generator=g), torch.randn(150, 8, generator=g) + 0.5
    assert compute.fid(x, y) == pytest.approx(fid_from_features(x, y), rel=1e-12)
    assert compute.fid(x, x) == pytest.approx(0.0, abs=1e-9)
    m32, _ = compute.kid(x, y, subset_size=50, n_subsets=10)
    m64, _ = compute.kid(x, y, subset_size=50, n_subsets=10, dtype="float64")
    assert m64 > 0.05 and m32 == pytest.approx(m64, rel=1e-4)
