"""The papers' learning-rate schedules: Garipov et al.'s hold / linear decay / hold and step decay
at milestones (Li et al.), as registered LR schedules driven by `lr_factor`."""

from __future__ import annotations

import math

import pytest

from latentscape.config import ScheduleConfig, config_from_dict
from latentscape.errors import ConfigError
from latentscape.registry import LR_SCHEDULES
from latentscape.train.optim import lr_factor


def _garipov_per_epoch(epoch: int, total_epochs: int) -> float:
    """Garipov et al.'s own `learning_rate_schedule` (dnn-mode-connectivity train.py), as a factor."""
    alpha = epoch / total_epochs
    if alpha <= 0.5:
        return 1.0
    if alpha <= 0.9:
        return 1.0 - (alpha - 0.5) / 0.4 * 0.99
    return 0.01


def test_garipov_matches_the_papers_code_at_epoch_starts():
    cfg = ScheduleConfig("garipov")
    epochs, per_epoch = 200, 7
    for epoch in range(epochs):
        got = lr_factor(cfg, epoch * per_epoch, epochs * per_epoch, per_epoch)
        assert math.isclose(got, _garipov_per_epoch(epoch, epochs), abs_tol=1e-12), epoch


def test_garipov_shape_and_its_options():
    cfg = ScheduleConfig("garipov", decay_start=0.2, decay_end=0.6, final_fraction=0.1)
    f = [lr_factor(cfg, s, 100, 10) for s in range(101)]
    assert f[:21] == [1.0] * 21 and f[60:] == [0.1] * 41
    assert math.isclose(f[40], 0.55) and all(a > b for a, b in zip(f[20:60], f[21:61]))


def test_unset_final_fraction_is_each_schedules_own_default():
    assert lr_factor(ScheduleConfig("cosine"), 100, 100, 10) == pytest.approx(0.0)
    assert lr_factor(ScheduleConfig("linear"), 100, 100, 10) == pytest.approx(0.0)
    assert lr_factor(ScheduleConfig("garipov"), 100, 100, 10) == pytest.approx(0.01)
    assert lr_factor(ScheduleConfig("garipov", final_fraction=0.0), 95, 100, 10) == 0.0


@pytest.mark.parametrize("epoch, factor", [(0, 1.0), (149, 1.0), (150, 0.1), (224, 0.1), (225, 0.01), (275, 0.001), (299, 0.001)])
def test_multistep_is_li_et_als_decay(epoch, factor):
    cfg = ScheduleConfig("multistep", milestones=(150, 225, 275), gamma=0.1)
    per_epoch = 391  # 50,000 images in batches of 128
    for step in (epoch * per_epoch, epoch * per_epoch + per_epoch - 1):  # the whole epoch
        assert lr_factor(cfg, step, 300 * per_epoch, per_epoch) == pytest.approx(factor)


def test_schedules_are_registered_and_validated():
    assert {"garipov", "multistep"} <= set(LR_SCHEDULES.names())
    with pytest.raises(ConfigError, match="decay_end=0.3 comes before decay_start=0.5"):
        config_from_dict({"model": {"name": "mlp_classifier"}, "train": {"schedule": {"name": "garipov", "decay_end": 0.3}}})
    with pytest.raises(ConfigError, match="milestones must be increasing"):
        config_from_dict({"model": {"name": "mlp_classifier"}, "train": {"schedule": {"milestones": [20, 10]}}})
    with pytest.raises(ConfigError, match="train.schedule.milestones"):
        config_from_dict({"model": {"name": "mlp_classifier"}, "train": {"schedule": {"milestones": [0]}}})
