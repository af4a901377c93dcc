"""KID: agreement with a direct NumPy computation, unbiasedness, seeding, batch-size independence."""

import numpy as np
import pytest
import torch

from latentscape.errors import LatentscapeError
from latentscape.metrics.kid import kernel_inception_distance, mmd2_unbiased, polynomial_kernel



def _numpy_mmd2(x, y):
    """Binkowski et al. 2018 unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, written as plain loops."""
    m, d = x.shape
    k = lambda a, b: (a @ b / d + 1.0) ** 3  # noqa: E731
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_kernel():
    x = torch.tensor([[1.0, 2.0]])
    y = torch.tensor([[3.0, -1.0]])
    assert polynomial_kernel(x, y).item() == pytest.approx((1 / 2 + 1) ** 3)


def test_mmd_matches_numpy_loops():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(9, 4)), rng.normal(loc=0.5, size=(9, 4))
    got = mmd2_unbiased(torch.from_numpy(x), torch.from_numpy(y)).item()
    assert got == pytest.approx(_numpy_mmd2(x, y), rel=1e-10)


def test_kid_matches_numpy_with_same_subsets():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(30, 5)), rng.normal(loc=0.3, size=(25, 5))
    mean, std = kernel_inception_distance(a, b, subset_size=8, n_subsets=4, seed=7, dtype=torch.float64)
    subsets = np.random.RandomState(7)
    values = []
    for _ in range(4):
        i = subsets.choice(30, 8, replace=False)
        j = subsets.choice(25, 8, replace=False)
        values.append(_numpy_mmd2(a[i], b[j]))
    assert mean == pytest.approx(np.mean(values), rel=1e-9)
    assert std == pytest.approx(np.std(values), rel=1e-9)


def test_kid_near_zero_for_same_distribution_and_positive_otherwise():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(400, 8)), rng.normal(size=(400, 8))
    same, same_std = kernel_inception_distance(a, b, subset_size=100, n_subsets=10)
    diff, _ = kernel_inception_distance(a, b + 1.0, subset_size=100, n_subsets=10)
    assert abs(same) < 3 * same_std + 1e-3
    assert diff > 10 * abs(same)


def test_kid_is_seeded_and_caps_subset_size():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(20, 3)), rng.normal(size=(15, 3))
    r1 = kernel_inception_distance(a, b, subset_size=1000, n_subsets=3, seed=1)
    r2 = kernel_inception_distance(torch.from_numpy(a).float().double(), b, subset_size=1000, n_subsets=3, seed=1)
    assert r1 == pytest.approx(r2)
    # with the subset capped at 15 = all of b, float32 input must give the same value
    r3 = kernel_inception_distance(a, b, subset_size=15, n_subsets=3, seed=1)
    assert r1 == pytest.approx(r3)


def test_kid_errors():
    with pytest.raises(LatentscapeError):
        kernel_inception_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(LatentscapeError):
        mmd2_unbiased(torch.zeros(3, 2), torch.zeros(4, 2))
