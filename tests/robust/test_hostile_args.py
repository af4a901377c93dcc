"""Command-line numbers and lists that make no sense: zero, negative, NaN or infinite counts and
rates, empty lists, ranges that cannot be drawn. Refused in one line (exit 2) while the arguments
are parsed or before the work starts; never a hang, a traceback summary or a silent exit 0."""

from __future__ import annotations

import pytest

from latentscape.cli import main
from latentscape.train.api import train_and_evaluate
from tinydata import tiny_config


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("LATENTSCAPE_NO_TENSORBOARD", "1")
    path = train_and_evaluate(tiny_config(epochs=1), tmp_path_factory.mktemp("args") / "run", quiet=True).path
    mp.undo()
    return str(path)


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("LATENTSCAPE_NO_TENSORBOARD", "1")
    monkeypatch.setenv("LATENTSCAPE_PLOTS", "none")


def _refused(argv, capsys, message) -> None:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse refused it (as `latentscape ...` exits)
        code = exc.code
    assert code == 2, argv
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and message in err, err
    assert "Traceback" not in err and "usage:" not in err


R = "{run}"
CASES = [
    (["path", R, R, "--points", "1000000000"], "argument --points: 1000000000 is out of range [2, 100000]"),
    (["path", R, R, "--points", "nan"], "argument --points: 'nan' is not an integer"),
    (["path", R, R, "--range", "0,inf"], "--range '0,inf': the start and end must be finite numbers"),
    (["path", R, R, "--splits", ","], "--splits: give at least one split"),
    (["path", R, R, "--metrics", ","], "--metrics: give at least one metric name"),
    (["path", R, R, "--batch-size", "0"], "--batch-size 0: must be a positive integer"),
    (["path", R, R, "--max-examples", "-5"], "--max-examples -5: must be a positive integer"),
    (["path", R, R, "--bn-batches", "0"], "--bn-batches 0: must be a positive integer"),
    (["path", R, R, "--threads", "-1"], "argument --threads: -1 is out of range [0, 4096]"),
    (["plane", R, R, R, "--grid", "100000"], "argument --grid: 100000 is out of range [2, 10000]"),
    (["plane", R, R, R, "--margin", "nan"], "--margin 'nan': each margin must be a finite number >= 0"),
    (["plane", R, R, R, "--margin", "0.2,-1,0.2,0.2"], "--margin '0.2,-1,0.2,0.2': each margin must be a finite number >= 0"),
    (["trajectory", R, "--margin", "nan"], "argument --margin: nan is out of range [0, inf)"),
    (["surface", R, "--range", "-inf:inf"], "--range '-inf:inf': each span needs finite LO < HI"),
    (["surface", R, "--range", "-1,1"], "--range '-1,1': expected LO:HI"),
    (["surface", R, "--dims", "3"], "argument --dims: invalid choice: 3"),
    (["hessian", R, "--top-k", "1000000", "--max-iter", "2"], "--top-k 1000000: the Hessian has only"),
    (["hessian", R, "--max-iter", "0"], "--max-iter 0: must be at least 1"),
    (["hessian", R, "--tol", "nan"], "argument --tol: nan is out of range (0, inf)"),
    (["hessian", R, "--top-k", "0", "--density", "--slq-steps", "0"], "--slq-steps 0: must be at least 2"),
    (["hessian", R, "--top-k", "0", "--density", "--slq-runs", "-1"], "--slq-runs -1: must be at least 1"),
    (["hessian", R, "--top-k", "0", "--trace", "--trace-samples", "0"], "--trace-samples 0: must be at least 2"),
    (["eval", R, "--metrics", ","], "--metrics: give at least one metric name"),
    (["eval", R, "--num-samples", "-1"], "argument --num-samples: -1 is out of range [2, inf)"),
    (["probe", R, "--logreg-c", "nan"], "argument --logreg-c: nan is out of range (0, inf)"),
    (["fge", R, "--momentum", "2"], "argument --momentum: 2 is out of range [0, 1)"),
    (["fge", R, "--max-train", "0"], "argument --max-train: 0 is out of range [1, inf)"),
    (["connect", R, R, "--bends", "0"], "model.bends=0 with both ends fixed leaves nothing to train"),
    (["connect", R, R, "--lr", "inf"], "argument --lr: inf is out of range (0, 1000]"),
    (["data", "info", "digits", "--val-fraction", "nan"], "argument --val-fraction: nan is out of range [0, 0.9]"),
    (["train", "--bogus"], "unrecognized arguments: --bogus"),
]


@pytest.mark.parametrize("argv, message", CASES, ids=[" ".join(c[0][:1] + c[0][-2:]) for c in CASES])
def test_nonsense_numbers_are_refused_in_one_line(run, tmp_path, capsys, argv, message):
    argv = [a.replace(R, run) for a in argv]
    if argv[0] in ("path", "plane", "surface", "trajectory", "hessian", "probe", "fge", "connect"):
        argv += ["--out", str(tmp_path / "out")]
    _refused(argv, capsys, message)
    assert not (tmp_path / "out").exists()


@pytest.mark.timeout(60)
def test_fge_with_fewer_examples_than_a_batch_stops_instead_of_looping_forever(run, tmp_path, capsys):
    _refused(["fge", run, "--max-train", "10", "--batch-size", "32", "--cycles", "1", "--out", str(tmp_path / "f")],
             capsys, "fge: 10 training examples make no full batch of 32; lower --batch-size")


def test_an_error_quoting_a_multi_line_message_is_still_one_line(monkeypatch, capsys):
    import latentscape.commands.eval as eval_command
    from latentscape.errors import DataError

    def run(args):
        raise DataError("x.png is not a readable image (first line\n  second line\n)")

    monkeypatch.setattr(eval_command, "run", run)
    _refused(["eval", "anything"], capsys, "error: x.png is not a readable image (first line second line )")


def test_a_file_system_refusal_is_one_line_naming_the_path(monkeypatch, capsys):
    """Permissions cannot be tested as root (the test machine): the refusal is simulated."""
    import errno

    import latentscape.commands.eval as eval_command

    def run(args):
        raise PermissionError(errno.EACCES, "Permission denied", "/runs/a/config.yaml")

    monkeypatch.setattr(eval_command, "run", run)
    _refused(["eval", "anything"], capsys, "error: /runs/a/config.yaml: Permission denied")
