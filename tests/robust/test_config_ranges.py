"""Every numeric config field declares a range; out-of-range values are refused (exit 2) with the
key, the value and the range named, and nothing is written."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from latentscape.cli import main
from latentscape.config import DataConfig, OptimizerConfig, RunConfig, ScheduleConfig, TrainConfig
from latentscape.models.gan import GANPicturesConfig
from latentscape.ranges import range_of
from latentscape.registry import MODELS


def _config_classes() -> set[type]:
    found: set[type] = set()
    todo = [RunConfig, DataConfig, OptimizerConfig, ScheduleConfig, TrainConfig, GANPicturesConfig]
    todo += [MODELS.get(n).config for n in MODELS.names()]
    while todo:
        cls = todo.pop()
        if cls in found:
            continue
        found.add(cls)
        for tp in typing.get_type_hints(cls).values():
            todo += [a for a in _leaves(tp) if dataclasses.is_dataclass(a)]
    return found


def _leaves(tp) -> list:
    args = typing.get_args(tp)
    return [tp] if not args else [leaf for a in args for leaf in _leaves(a)]


def _is_numeric(tp) -> bool:
    if typing.get_origin(tp) is typing.Literal:
        return False
    return any(a in (int, float) for a in _leaves(tp))


def test_every_numeric_field_of_every_config_class_has_a_range():
    missing = []
    for cls in _config_classes():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if _is_numeric(hints[f.name]) and range_of(f) is None:
                missing.append(f"{cls.__name__}.{f.name}")
    assert not missing, f"numeric config fields without a declared range: {missing}"


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.max_steps=-1", "train.max_steps=-1 is out of range [1, inf)"),
        ("train.eval_every=-1", "train.eval_every=-1 is out of range [0, inf)"),
        ("train.checkpoint_every_steps=-2", "train.checkpoint_every_steps=-2 is out of range [0, inf)"),
        ("train.optimizer.lr=0", "train.optimizer.lr=0.0 is out of range (0, 1000]"),
        ("train.optimizer.lr=-1e-3", "train.optimizer.lr=-0.001 is out of range (0, 1000]"),
        ("train.batch_size=0", "train.batch_size=0 is out of range [1, inf)"),
        ("train.epochs=0", "train.epochs=0 is out of range [1, inf)"),
        ("data.fraction=0", "data.fraction=0.0 is out of range (0, 1]"),
        ("data.fraction=1.5", "data.fraction=1.5 is out of range (0, 1]"),
        ("train.optimizer.betas=[0.9,1.0]", "train.optimizer.betas[1]=1.0 is out of range [0, 1)"),
        ("train.group_optimizers.main.lr=0", "train.group_optimizers.main.lr=0.0 is out of range (0, 1000]"),
        ("train.schedule.gamma=0", "train.schedule.gamma=0.0 is out of range (0, 1]"),
        ("train.grad_clip=0", "train.grad_clip=0.0 is out of range (0, inf)"),
        ("model.hidden_dims=[8,0]", "model.hidden_dims"),
        ("seed=-1", "seed=-1 is out of range [0,"),
    ],
)
def test_out_of_range_value_is_refused_naming_key_value_and_range(tmp_path, capsys, override, message):
    run_dir = tmp_path / "run"
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model: {name: mlp_classifier}\ndata: {name: digits}\n")
    before = cfg.read_bytes()
    assert main(["train", str(cfg), override, "--run-dir", str(run_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not run_dir.exists() and cfg.read_bytes() == before


def test_model_section_ranges(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model: {name: vae, sigma: 0}\ndata: {name: digits}\n")
    assert main(["train", str(cfg), "--run-dir", str(tmp_path / "r")]) == 2
    assert "model.sigma" in capsys.readouterr().err
