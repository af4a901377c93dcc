"""Command-line habits: KEY=VALUE anywhere after the command, "did you mean" for misspelt names."""

from __future__ import annotations

import pytest

from latentscape.cli import build_parser, main
from latentscape.config import load_config
from latentscape.errors import ConfigError, LatentscapeError, did_you_mean
from latentscape.registry import DATASETS, METRICS, UnknownNameError

PARSER = build_parser()


@pytest.mark.parametrize(
    "argv, overrides",
    [
        (["tune", "configs/mnist_mlp.yaml", "--trials", "3", "train.epochs=1", "--study-dir", "s"], ["train.epochs=1"]),
        (["train", "configs/mnist_mlp.yaml", "seed=1", "--run-dir", "r", "train.epochs=2", "data.fraction=0.1"],
         ["seed=1", "train.epochs=2", "data.fraction=0.1"]),
        (["connect", "a", "b", "--curve", "bezier", "train.epochs=3"], ["train.epochs=3"]),
    ],
)
def test_overrides_are_taken_anywhere_after_the_command(argv, overrides):
    assert PARSER.parse_args(argv).overrides == overrides


def test_train_resume_takes_overrides_after_its_options():
    ns = PARSER.parse_args(["train", "--resume", "runs/a", "--data-dir", "d", "train.epochs=4"])
    # the first KEY=VALUE lands in `config`; `train --resume` reads every word as an override
    assert ns.resume == "runs/a" and [w for w in (ns.config, *ns.overrides) if w] == ["train.epochs=4"]


def _error(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    return lines[0]


def test_misspelt_command_choice_and_option(capsys):
    assert "invalid choice: 'trian' (did you mean 'train'?); choose from 'train'" in _error(capsys, "trian", "x.yaml")
    assert "(did you mean 'filter'?)" in _error(capsys, "surface", "runs/a", "--norm", "filters")
    line = _error(capsys, "train", "configs/mnist_mlp.yaml", "--rundir", "runs/a")
    assert line.startswith("error: latentscape train: unrecognized arguments: --rundir runs/a (did you mean '--run-dir'?)")
    assert "takes no KEY=VALUE overrides" in _error(capsys, "eval", "runs/a", "train.epochs=1")
    assert "did you mean" not in _error(capsys, "eval", "runs/a", "--zzzzzz")


def test_misspelt_config_key_dataset_and_metric():
    with pytest.raises(ConfigError, match=r"unknown key 'train\.optimiser' \(did you mean 'train\.optimizer'\?\)"):
        load_config("configs/mnist_mlp.yaml", ["train.optimiser.lr=1e-3"])
    with pytest.raises(UnknownNameError, match=r"unknown dataset 'mnistt' \(did you mean 'mnist'\?\)"):
        DATASETS.get("mnistt")
    with pytest.raises(UnknownNameError, match=r"unknown metric 'kidd' \(did you mean 'kid'\?\)"):
        METRICS.get("kidd")


def test_a_name_far_from_every_choice_gets_no_guess():
    assert did_you_mean("zebra", ["train", "eval"]) == ""
    assert did_you_mean("train_epochs", ["train-epochs"]) == " (did you mean 'train-epochs'?)"


def test_a_misspelt_dataset_in_a_config_is_one_line(capsys, tmp_path):
    code = main(["train", "configs/mnist_mlp.yaml", "data.name=fashion-mnst", "--run-dir", str(tmp_path / "r")])
    assert code == 2
    assert "did you mean 'fashion-mnist'?" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
    assert isinstance(UnknownNameError("x"), Exception) and issubclass(ConfigError, LatentscapeError)


def test_report_compare_says_where_it_wrote_and_out_chooses(tmp_path, capsys, monkeypatch):
    from tinydata import tiny_config, train_quietly

    runs = train_quietly(tmp_path, {n: tiny_config(epochs=1) for n in ("a", "b")})
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)
    assert main(["report", "--compare", str(runs["a"]), str(runs["b"])]) == 0
    out = capsys.readouterr().out.strip()
    assert out == f"{(tmp_path / 'compare.html').resolve()} (the comparison page; --out FILE writes it elsewhere)"
    chosen = tmp_path / "pages" / "ab.html"
    chosen.parent.mkdir()
    assert main(["report", "--compare", str(runs["a"]), str(runs["b"]), "--out", str(chosen)]) == 0
    assert capsys.readouterr().out.strip() == str(chosen) and chosen.is_file()
