"""The objective SPLIT/METRIC: the last logged value of METRIC on SPLIT's lines of metrics.jsonl."""

import json

import pytest

from latentscape.errors import ConfigError, LatentscapeError
from latentscape.tune.objective import Objective, ObjectiveMissing


def _write(run, rows):
    run.mkdir(exist_ok=True)
    text = "".join(json.dumps(r) + "\n" for r in rows)
    (run / "metrics.jsonl").write_text(text + '{"step": 9, "split": "val", "lo')  # torn last line


def test_last_value_of_the_split_and_its_history(tmp_path):
    _write(tmp_path / "r", [
        {"step": 5, "split": "train", "loss": 3.0},
        {"step": 10, "split": "val", "epoch": 1, "loss": 2.0, "accuracy": 0.5},
        {"step": 10, "split": "train", "loss": 1.5, "critic/loss": 7.0},
        {"step": 20, "split": "val", "epoch": 2, "loss": 1.0, "accuracy": 0.8},
    ])
    assert Objective.parse("val/loss").value(tmp_path / "r") == 1.0
    assert Objective.parse("val/loss").history(tmp_path / "r") == [(10, 2.0), (20, 1.0)]
    assert Objective.parse("train/loss").value(tmp_path / "r") == 1.5
    assert Objective.parse("train/critic/loss").value(tmp_path / "r") == 7.0  # metric names may hold '/'
    assert Objective.parse("val/accuracy", "maximize").direction == "maximize"


def test_missing_objective_names_what_was_logged(tmp_path):
    _write(tmp_path / "r", [{"step": 5, "split": "train", "loss": 3.0}])
    with pytest.raises(ObjectiveMissing, match=r"val/loss was never logged.*logged: train/loss"):
        Objective.parse("val/loss").value(tmp_path / "r")


def test_non_finite_final_value_is_an_error(tmp_path):
    _write(tmp_path / "r", [{"step": 5, "split": "val", "loss": float("nan")}])
    with pytest.raises(LatentscapeError, match="is nan"):
        Objective.parse("val/loss").value(tmp_path / "r")


@pytest.mark.parametrize("text, direction", [("loss", "minimize"), ("/loss", "minimize"), ("val/", "minimize"), ("val/loss", "up")])
def test_bad_objective_is_a_config_error(text, direction):
    with pytest.raises(ConfigError):
        Objective.parse(text, direction)


def test_the_objective_split_is_evaluated_on_the_final_weights():
    raw = {"model": {"name": "mlp_classifier"}, "train": {"epochs": 2}}
    out, note = Objective.parse("val/loss").ensure_final_eval(raw)
    assert out["train"]["final_eval_splits"] == ["train", "test", "val"] and "added val" in note
    assert raw == {"model": {"name": "mlp_classifier"}, "train": {"epochs": 2}}  # not mutated
    assert Objective.parse("test/loss").ensure_final_eval(raw) == (raw, "")  # already evaluated
    assert Objective.parse("train/loss").ensure_final_eval(raw) == (raw, "")  # train is the default
    assert Objective.parse("recon/mse").ensure_final_eval(raw) == (raw, "")  # a model's own split
