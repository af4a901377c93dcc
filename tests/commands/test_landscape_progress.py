"""Progress of the landscape commands off a terminal: a start line saying what runs, a plain line
per ~10 % of the work (never one per chunk), an end line with the time taken; nothing under
LATENTSCAPE_PROGRESS=none or on the other ranks of torchrun."""

import re

import pytest

from latentscape import progress
from latentscape.cli import main
from latentscape.config import config_from_dict
from latentscape.train.api import train_and_evaluate


def _train(folder, seed):
    cfg = config_from_dict({
        "model": {"name": "mlp_classifier", "hidden_dims": [8]},
        "data": {"name": "digits", "fraction": 0.2},
        "train": {"epochs": 2, "batch_size": 32, "eval_every": 0, "num_threads": 1, "log_every": 1000, "keep_every": 3},
        "seed": seed,
    })
    return str(train_and_evaluate(cfg, folder, quiet=True).path)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("progress") / "r", 0)


@pytest.fixture(scope="module")
def other(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("progress") / "o", 1)


@pytest.fixture(autouse=True)
def _plain(monkeypatch):
    monkeypatch.setenv("LATENTSCAPE_PLOTS", "none")
    monkeypatch.delenv("LATENTSCAPE_PROGRESS", raising=False)  # capsys is no terminal: lines
    monkeypatch.setattr(progress, "GAP", 0.0)  # tiny data: every tenth gets its line, however quick


def test_a_surface_prints_a_line_per_tenth_not_one_per_chunk(run, tmp_path, capsys, monkeypatch):
    calls = []
    real = progress.Progress.update
    monkeypatch.setattr(progress.Progress, "update", lambda self, done, total=None: (calls.append(done), real(self, done, total)))
    out = tmp_path / "s"
    assert main(["surface", run, "--grid", "41", "--splits", "test", "--out", str(out)]) == 0
    err = capsys.readouterr().err.splitlines()
    what = "surface: 41x41 grid on test, 59 examples"
    assert err[0] == f"{what} (1681 points): started"
    assert re.fullmatch(rf"{what}: done \(1681/1681 points\) in \d+ s", err[-1])
    middle = err[1:-1]
    tenths = [int(re.fullmatch(rf"{what}: +(\d+)% \(\d+/1681 points\), \d+ s so far, about \d+ s left", line)[1]) for line in middle]
    assert len(calls) > 40 and 5 <= len(tenths) <= 9 and tenths == sorted(set(tenths))  # 53 chunks, at most a line per tenth
    # a resumed grid counts the points already there as done before this process
    assert main(["surface", run, "--grid", "41", "--splits", "test", "--out", str(out), "--resume"]) == 0
    assert capsys.readouterr().err.splitlines()[0] == f"{what} (1681 points, 1681 done before): started"


@pytest.mark.parametrize("argv, what, count", [
    (["path", "{run}", "{run}@init", "--points", "5"], "path: 5 points along the line on train and test, 300 + 59 examples", "5/5 points"),
    (["plane", "{run}", "{other}", "{run}@init", "--grid", "3", "--compare-points", "2", "--splits", "test"],
     "plane: 3x3 grid and 2 paths of 2 points on test, 59 examples", "13/13 points"),
    (["trajectory", "{run}", "--grid", "3", "--splits", "test"],
     "trajectory: 3x3 grid of the PCA plane of 8 weight sets on test, 59 examples", "9/9 points"),
    (["hessian", "{run}", "--top-k", "2", "--max-iter", "5", "--trace", "--trace-samples", "3", "--batch-size", "50"],
     "hessian: top 2 eigenvalues and trace on train, 50 of 300 examples", "Hessian-vector products"),
    (["fge", "{run}", "--cycles", "2", "--cycle-epochs", "1", "--batch-size", "32"], "fge: 2 cycles of 1 epoch of SGD on train, 300 examples",
     "18/18 steps"),
], ids=["path", "plane", "trajectory", "hessian", "fge"])
def test_each_landscape_command_says_what_runs_and_when_it_is_done(run, other, tmp_path, capsys, argv, what, count):
    argv = [a.replace("{run}", run).replace("{other}", other) for a in argv] + ["--out", str(tmp_path / "out")]
    assert main(argv) == 0, capsys.readouterr().err
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"{what}") and err[0].endswith(": started"), err
    done = [line for line in err if line.startswith(f"{what}: done (")]
    assert len(done) == 1 and count in done[0], err


def test_latentscape_progress_none_silences_them(run, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LATENTSCAPE_PROGRESS", "none")
    assert main(["surface", run, "--grid", "21", "--splits", "test", "--out", str(tmp_path / "s")]) == 0
    assert main(["hessian", run, "--top-k", "1", "--max-iter", "5", "--out", str(tmp_path / "h")]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "surface results:" in captured.out and "top eigenvalues" in captured.out


def test_only_rank_0_draws_under_torchrun(capsys, monkeypatch):
    from latentscape.commands._landscape_args import tracked_points
    from latentscape.landscape.studies import grid_file

    monkeypatch.setattr(grid_file, "is_main", lambda: False)
    with tracked_points("surface: 3x3 grid", 9) as report:
        for done in range(1, 10):
            report(done, 9)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(grid_file, "is_main", lambda: True)
    with tracked_points("surface: 3x3 grid", 9) as report:
        report(9, 9)
    assert capsys.readouterr().err.splitlines()[0] == "surface: 3x3 grid (9 points): started"
