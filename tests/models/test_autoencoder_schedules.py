"""Beta schedules at chosen steps."""

import pytest

from latentscape.models.schedules import beta_at


def test_constant():
    assert [beta_at("constant", s, 1.2) for s in (0, 10, 10**6)] == [1.2, 1.2, 1.2]


def test_linear_warmup():
    values = [beta_at("linear", s, 0.8, warmup_steps=100) for s in (0, 25, 50, 100, 500)]
    assert values == pytest.approx([0.0, 0.2, 0.4, 0.8, 0.8])
    assert beta_at("linear", 3, 0.8, warmup_steps=0) == 0.8


def test_cyclical_repeats_ramp_then_hold():
    f = [beta_at("cyclical", s, 1.0, cycle_steps=100, ramp_fraction=0.5) for s in (0, 25, 50, 75, 99, 100, 125)]
    assert f == pytest.approx([0.0, 0.5, 1.0, 1.0, 1.0, 0.0, 0.5])


def test_errors():
    with pytest.raises(ValueError, match="cycle_steps"):
        beta_at("cyclical", 1, 1.0)
    with pytest.raises(ValueError, match="allowed: constant, cyclical, linear"):
        beta_at("sigmoid", 1, 1.0)
