"""probe.diagnostics: active units (Burda et al. 2016) and class-balanced subsamples."""

import numpy as np
import pytest

from latentscape.errors import LatentscapeError
from latentscape.probe.diagnostics import active_units, per_class_indices


def test_active_units_counts_dimensions_that_move_with_the_input():
    rng = np.random.default_rng(0)
    codes = np.concatenate([rng.normal(size=(500, 3)),            # active: variance ~1
                            0.01 * rng.normal(size=(500, 2))], 1)  # collapsed: variance ~1e-4
    assert active_units(codes) == 3
    assert active_units(codes, threshold=1e-6) == 5
    assert active_units(np.zeros((10, 4))) == 0


def test_active_units_rejects_bad_shapes():
    with pytest.raises(LatentscapeError, match="shape"):
        active_units(np.zeros((1, 3)))
    with pytest.raises(LatentscapeError, match="shape"):
        active_units(np.zeros(5))


def test_per_class_indices_is_balanced_seeded_and_sorted():
    labels = np.repeat(np.arange(4), [10, 20, 3, 30])
    idx = per_class_indices(labels, 5, seed=1)
    counts = np.bincount(labels[idx], minlength=4)
    assert counts.tolist() == [5, 5, 3, 5]  # a class smaller than per_class gives all its rows
    assert np.all(np.diff(idx) > 0)
    assert np.array_equal(idx, per_class_indices(labels, 5, seed=1))
    assert not np.array_equal(idx, per_class_indices(labels, 5, seed=2))
    with pytest.raises(LatentscapeError, match="per_class"):
        per_class_indices(labels, 0, seed=0)
