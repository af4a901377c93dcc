"""Parsing and validation of --grid / --space: every mistake is one ConfigError naming it."""

import re

import pytest

from latentscape.cli import main
from latentscape.errors import ConfigError, LatentscapeError
from latentscape.tune.space import apply_params, candidate_points, parse_grid, parse_space, split_values, validate
from tunehelp import BASE, write_config


def test_grid_values_are_yaml_and_commas_inside_brackets_do_not_split():
    d = parse_grid("train.optimizer.lr=1e-4,1e-3,0.01")
    assert d.values == (1e-4, 1e-3, 0.01) and all(isinstance(v, float) for v in d.values)
    assert d.log_scale
    h = parse_grid("model.hidden_dims=[8],[8, 8]")
    assert h.values == ("[8]", "[8, 8]")  # stored as text (Optuna keeps scalars only) ...
    raw = apply_params(BASE, [h], {"model.hidden_dims": "[8, 8]"})
    assert raw["model"]["hidden_dims"] == [8, 8]  # ... and parsed back for the config
    assert BASE["model"]["hidden_dims"] == [8]  # the base config is not mutated
    assert split_values("a,'b,c',[1,2]") == ["a", "'b,c'", "[1,2]"]


def test_sampled_spaces():
    lr = parse_space("train.optimizer.lr=loguniform(1e-5, 1e-1)")
    assert (lr.kind, lr.low, lr.high, lr.log_scale) == ("loguniform", 1e-5, 1e-1, True)
    n = parse_space("model.hidden_dims=choice([4],[8])")
    assert n.values == ("[4]", "[8]")
    k = parse_space("train.batch_size=int(16,64)")
    assert candidate_points([k]) == [{"train.batch_size": 16}, {"train.batch_size": 64}]


@pytest.mark.parametrize(
    "maker, text, message",
    [
        (parse_grid, "train.optimizer.lr", "expected KEY=v1,v2"),
        (parse_grid, "train.optimizer.lr=1,,2", "empty value"),
        (parse_grid, "train.optimizer.lr=1,1", "repeated values"),
        (parse_grid, "seed=1,2", "set per repeat"),
        (parse_space, "train.optimizer.lr=1e-3", "expected KEY=KIND(ARGS)"),
        (parse_space, "train.optimizer.lr=gauss(1,2)", "unknown distribution 'gauss'"),
        (parse_space, "train.optimizer.lr=loguniform(0,1)", "positive bounds"),
        (parse_space, "train.optimizer.lr=uniform(2,1)", "low must be below high"),
        (parse_space, "train.batch_size=int(1.5,3)", "must be integers"),
        (parse_space, "train.batch_size=int(a,3)", "must be numbers"),
    ],
)
def test_bad_syntax_is_a_config_error(maker, text, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        maker(text)


@pytest.mark.parametrize(
    "dim, message",
    [
        ("train.lr=1e-3,1e-2", r"unknown key 'train.lr'.*spelled train.optimizer.lr"),
        ("train.optimizer.name=adam,lion", r"train.optimizer.name=lion is invalid.*'lion' is not allowed"),
        ("train.batch_size=16,x", r"train.batch_size=x is invalid.*expected an integer"),
        ("data.val_fraction=0.1,0.95", r"data.val_fraction=0.95 is invalid.*out of range"),
    ],
)
def test_every_grid_point_is_validated_by_the_typed_config(dim, message):
    with pytest.raises(ConfigError, match=message):
        validate(BASE, [parse_grid(dim)])


def test_sampled_range_ends_are_validated():
    with pytest.raises(ConfigError, match="train.optimizer.lr=1e3|train.optimizer.lr=10000.0"):
        validate(BASE, [parse_space("train.optimizer.lr=loguniform(1e-4,1e4)")])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--grid", "train.lr=1e-4,1e-3"], "error: searched value train.lr=0.0001 is invalid: unknown key 'train.lr'"),
        (["--space", "train.optimizer.lr=logu(1,2)", "--trials", "2"], "error: --space 'train.optimizer.lr=logu(1,2)': unknown distribution"),
        (["--grid", "train.optimizer.lr=1e-3", "--space", "train.batch_size=int(8,16)"], "error: use either --grid or --space"),
        (["--space", "train.batch_size=int(8,16)"], "error: a --space search needs --trials N"),
        ([], "error: nothing to search"),
        (["--objective", "loss"], "error: --objective 'loss': expected SPLIT/METRIC"),
    ],
)
def test_cli_errors_are_one_line_exit_2_and_write_nothing(tmp_path, capsys, args, message):
    cfg = write_config(tmp_path / "c.yaml")
    study = tmp_path / "study"
    assert main(["tune", str(cfg), "--study-dir", str(study), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(message), err
    assert not (study / "trials").exists()


def test_bad_storage_url_is_one_error(tmp_path):
    from latentscape.redact import redact
    from latentscape.tune.storage import open_storage

    with pytest.raises(LatentscapeError, match="expected sqlite"):
        open_storage("http://x", 10)
    assert redact("postgresql+psycopg://me:secret@host/db") == "postgresql+psycopg://***@host/db"
    with pytest.raises(LatentscapeError, match=r"cannot open") as info:
        open_storage("postgresql+psycopg://me:secret@127.0.0.1:1/db", 10)
    assert "secret" not in str(info.value)


def test_study_dir_that_is_a_file_is_one_error(tmp_path, capsys):
    cfg = write_config(tmp_path / "c.yaml")
    (tmp_path / "taken").write_text("x")
    assert main(["tune", str(cfg), "--grid", "train.optimizer.lr=1e-3", "--study-dir", str(tmp_path / "taken")]) == 2
    assert capsys.readouterr().err.strip() == f"error: --study-dir {tmp_path / 'taken'} is a file, not a folder"
