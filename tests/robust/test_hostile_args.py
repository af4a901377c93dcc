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
    (["path", R, R, "--batch-size", "0"], "argument --batch-size: 0 is out of range [1, 1000000]"),
    (["path", R, R, "--max-examples", "-5"], "argument --max-examples: -5 is out of range [1, 1000000000]"),
    (["path", R, R, "--bn-batches", "0"], "argument --bn-batches: 0 is out of range [1, 1000000000]"),
    (["surface", R, "--batch-size", "1000000000000"], "argument --batch-size: 1000000000000 is out of range [1, 1000000]"),
    (["surface", R, "--max-examples", "1000000000000"], "argument --max-examples: 1000000000000 is out of range [1, 1000000000]"),
    (["trajectory", R, "--bn-batches", "-1"], "argument --bn-batches: -1 is out of range [1, 1000000000]"),
    (["plane", R, R, R, "--compare-points", "0"], "argument --compare-points: 0 is out of range [2, 10000]"),
    (["trajectory", R, "--grid", "1000000000000"], "argument --grid: 1000000000000 is out of range [2, 10000]"),
    (["path", R, R, "--threads", "-1"], "argument --threads: -1 is out of range [0, 4096]"),
    (["plane", R, R, R, "--grid", "100000"], "argument --grid: 100000 is out of range [2, 10000]"),
    (["plane", R, R, R, "--margin", "nan"], "--margin 'nan': each margin must be a finite number >= 0"),
    (["plane", R, R, R, "--margin", "0.2,-1,0.2,0.2"], "--margin '0.2,-1,0.2,0.2': each margin must be a finite number >= 0"),
    (["trajectory", R, "--margin", "nan"], "argument --margin: nan is out of range [0, inf)"),
    (["surface", R, "--range", "-inf:inf"], "--range '-inf:inf': each span needs finite LO < HI"),
    (["surface", R, "--range", "-1,1"], "--range '-1,1': expected LO:HI"),
    (["surface", R, "--dims", "3"], "argument --dims: invalid choice: 3"),
    (["hessian", R, "--top-k", "9999", "--max-iter", "2"], "--top-k 9999: the Hessian has only"),
    (["hessian", R, "--top-k", "-1"], "argument --top-k: -1 is out of range [0, inf)"),
    (["hessian", R, "--top-k", "1000000000000"], "argument --top-k: 1000000000000 is above the declared limit 10000"),
    (["hessian", R, "--max-iter", "0"], "argument --max-iter: 0 is out of range [1, inf)"),
    (["hessian", R, "--max-iter", "1000000000000"], "argument --max-iter: 1000000000000 is above the declared limit 100000"),
    (["hessian", R, "--batches", "0"], "argument --batches: 0 is out of range [1, inf)"),
    (["hessian", R, "--batches", "1000000000000"], "argument --batches: 1000000000000 is above the declared limit 100000"),
    (["hessian", R, "--tol", "nan"], "argument --tol: nan is out of range (0, inf)"),
    (["hessian", R, "--top-k", "0", "--density", "--slq-steps", "0"], "argument --slq-steps: 0 is out of range [2, inf)"),
    (["hessian", R, "--density", "--slq-steps", "1000000000000"], "argument --slq-steps: 1000000000000 is above the declared limit 100000"),
    (["hessian", R, "--top-k", "0", "--density", "--slq-runs", "-1"], "argument --slq-runs: -1 is out of range [1, inf)"),
    (["hessian", R, "--density", "--slq-runs", "1000000000000"], "argument --slq-runs: 1000000000000 is above the declared limit 10000"),
    (["hessian", R, "--top-k", "0", "--trace", "--trace-samples", "0"], "argument --trace-samples: 0 is out of range [2, inf)"),
    (["hessian", R, "--trace", "--trace-samples", "1000000000000"], "argument --trace-samples: 1000000000000 is above the declared limit 100000"),
    (["hessian", R, "--batch-size", "-3"], "argument --batch-size: -3 is out of range [1, 1000000]"),
    (["eval", R, "--metrics", ","], "--metrics: give at least one metric name"),
    (["eval", R, "--num-samples", "-1"], "argument --num-samples: -1 is out of range [2, inf)"),
    (["probe", R, "--logreg-c", "nan"], "argument --logreg-c: nan is out of range (0, inf)"),
    (["fge", R, "--momentum", "2"], "argument --momentum: 2 is out of range [0, 1)"),
    (["fge", R, "--max-train", "0"], "argument --max-train: 0 is out of range [1, 1000000000]"),
    (["fge", R, "--cycles", "0"], "argument --cycles: 0 is out of range [1, inf)"),
    (["fge", R, "--cycles", "-2"], "argument --cycles: -2 is out of range [1, inf)"),
    (["fge", R, "--cycles", "1000000000000"], "argument --cycles: 1000000000000 is above the declared limit 100000"),
    (["fge", R, "--cycle-epochs", "0"], "argument --cycle-epochs: 0 is out of range (0, 100000]"),
    (["fge", R, "--cycle-epochs", "1e12"], "argument --cycle-epochs: 1e12 is out of range (0, 100000]"),
    (["fge", R, "--cycles", "1000", "--cycle-epochs", "1000"], "--cycles 1000 x --cycle-epochs 1000 = 1e+06 epochs is above the declared limit 100000"),
    (["fge", R, "--batch-size", "0"], "argument --batch-size: 0 is out of range [1, 1000000]"),
    (["fge", R, "--batch-size", "1000000000000"], "argument --batch-size: 1000000000000 is out of range [1, 1000000]"),
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


def test_lifting_the_limits_lets_a_long_hessian_or_fge_through(monkeypatch):
    from latentscape.cli import build_parser

    argv = ["hessian", "r", "--max-iter", "200000", "--top-k", "20000"]
    with pytest.raises(SystemExit):
        build_parser().parse_args(argv)
    monkeypatch.setenv("LATENTSCAPE_NO_LIMITS", "1")
    args = build_parser().parse_args(argv)
    assert args.max_iter == 200_000 and args.top_k == 20_000
    assert build_parser().parse_args(["fge", "r", "--cycles", "200000"]).cycles == 200_000


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
