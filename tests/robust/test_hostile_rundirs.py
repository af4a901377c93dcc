"""Damaged run directories and output places: a metrics log of garbage bytes, files where folders
belong (and the reverse), a data_info.json declaring absurd sizes, a damaged earlier eval result,
an --out that is a file or a training run, a run directory under a file. One LatentscapeError line
(exit 2), before any evaluation where the problem is known up front, and no torn files."""

from __future__ import annotations

import shutil

import pytest

from latentscape.cli import main
from latentscape.rundir.checkpoint import atomic_save, load_checkpoint
from latentscape.rundir.run import read_metrics
from latentscape.train.api import train_and_evaluate
from tinydata import tiny_config


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("LATENTSCAPE_NO_TENSORBOARD", "1")
    mp.setenv("LATENTSCAPE_PLOTS", "none")
    path = train_and_evaluate(tiny_config(epochs=1), tmp_path_factory.mktemp("rd") / "run", quiet=True).path
    mp.undo()
    return path


@pytest.fixture
def run(run_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTSCAPE_NO_TENSORBOARD", "1")
    monkeypatch.setenv("LATENTSCAPE_PLOTS", "none")
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    return copy


def _unfinished(run):
    last = load_checkpoint(run / "checkpoints" / "last.pt")
    last["finished"] = False
    atomic_save(last, run / "checkpoints" / "last.pt")


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err], err
    return err


GARBAGE = b'\xff\xfe garbage\n[1, 2]\n3\n"text"\n{"step": "x", "split": 5}\n{"step": 2, "split": "train", "loss": 0.5}\n'


def test_readers_skip_metrics_lines_that_are_not_rows(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(GARBAGE)
    assert read_metrics(path) == [{"step": 2, "split": "train", "loss": 0.5}]


def test_resume_over_a_garbage_metrics_log(run, capsys):
    _unfinished(run)
    (run / "metrics.jsonl").write_bytes(GARBAGE)
    assert main(["train", "--resume", str(run)]) == 0, capsys.readouterr().err
    assert all(isinstance(r.get("step"), int) for r in read_metrics(run / "metrics.jsonl"))
    assert main(["report", str(run)]) == 0


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda r: (shutil.rmtree(r / "checkpoints"), (r / "checkpoints").write_text("x")), "checkpoints: should be a folder"),
        (lambda r: ((r / "metrics.jsonl").unlink(), (r / "metrics.jsonl").mkdir()), "metrics.jsonl: should be a file"),
        (lambda r: (shutil.rmtree(r / "eval"), (r / "eval").write_text("x")), "eval: should be a folder"),
        (lambda r: ((r / "checkpoints" / "final.pt").unlink(), (r / "checkpoints" / "final.pt").mkdir()),
         "checkpoints/final.pt: should be a file"),
    ],
    ids=["checkpoints-file", "metrics-folder", "eval-file", "final-folder"],
)
def test_a_damaged_run_layout_is_named(run, capsys, damage, message):
    _unfinished(run)
    damage(run)
    for argv in (["train", "--resume", str(run)], ["eval", str(run), "--metrics", "loss"]):
        assert main(argv) == 2
        assert f"{run}/{message}" in _one_line(capsys)


def test_a_run_path_that_is_a_file(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("x")
    assert main(["eval", str(path)]) == 2
    assert f"{path} is a file, not a run directory" in _one_line(capsys)


@pytest.mark.parametrize("info", [
    '{"image_shape": [1, 100000, 100000], "num_classes": 10, "num_train": 5}',
    '{"image_shape": [1, 8, 8], "num_classes": 10, "num_train": 1000000000000}',
])
def test_absurd_sizes_in_data_info_are_refused_before_building_the_model(run, capsys, info):
    (run / "data_info.json").write_text(info)
    assert main(["eval", str(run), "--metrics", "loss"]) == 2
    err = _one_line(capsys)
    assert "data_info.json: damaged" in err and "beyond" in err


def test_eval_writes_over_a_damaged_earlier_result(run, capsys):
    (run / "eval" / "test.json").write_text("{not json")
    assert main(["eval", str(run), "--metrics", "loss"]) == 0
    assert "test.json is damaged" in capsys.readouterr().err
    import json

    assert "loss" in json.loads((run / "eval" / "test.json").read_text())["metrics"]


def test_an_unusable_out_is_refused_before_evaluating(run, run_dir, tmp_path, capsys, monkeypatch):
    import latentscape.landscape.studies.inputs as inputs

    def never(*a, **k):
        raise AssertionError("evaluated although --out was unusable")

    monkeypatch.setattr(inputs, "from_refs", never)
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    cases = [
        (afile, f"--out {afile}: exists and is not a folder"),
        (afile / "sub", f"--out {afile / 'sub'}: {afile} is not a folder"),
        (run_dir, f"--out {run_dir}: is a training run's folder"),
    ]
    for out, message in cases:
        assert main(["path", str(run), str(run), "--points", "3", "--out", str(out)]) == 2
        assert message in _one_line(capsys)
        assert main(["plane", str(run), str(run), str(run), "--grid", "3", "--out", str(out)]) == 2
        assert message in _one_line(capsys)
    assert afile.read_text() == "keep me"


@pytest.mark.parametrize("where", ["under-a-file", "is-a-folder"])
def test_writes_to_impossible_places_name_the_destination(tmp_path, capsys, where):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model: {name: mlp_classifier, hidden_dims: [4]}\ndata: {name: digits, fraction: 0.1}\n"
                   "train: {epochs: 1, num_threads: 1}\n")
    if where == "under-a-file":
        assert main(["train", str(cfg), "--run-dir", str(cfg / "run")]) == 2
        assert f"cannot create the run directory {cfg / 'run'}" in _one_line(capsys)
    else:
        out = tmp_path / "compare.html"
        out.mkdir()
        a = tmp_path / "a"
        assert main(["train", str(cfg), "--run-dir", str(a)]) == 0
        capsys.readouterr()
        assert main(["report", "--compare", str(a), str(a), "--out", str(out)]) == 2
        assert f"cannot write {out}: it is a folder" in _one_line(capsys)


@pytest.mark.parametrize(
    "name, text",
    [
        ("config.yaml", "model: " + "[" * 5000 + "]" * 5000 + "\n"),
        ("eval/final.json", "[" * 100_000 + "]" * 100_000),
        ("metrics.jsonl", "[" * 100_000 + "]" * 100_000 + "\n"),
        ("config_history.jsonl", "\udcff" + "[" * 100_000 + "\n"),
    ],
    ids=["deep-yaml-config", "deep-json-eval", "deep-json-metrics", "garbage-history"],
)
def test_reports_and_resume_survive_files_nested_too_deeply(run, tmp_path, capsys, name, text):
    """The report and index pages show a damaged file as unreadable; a resume with overrides
    appends to a damaged history; none of them dies of a RecursionError."""
    (run / name).write_text(text, errors="surrogateescape")
    assert main(["report", str(run)]) == 0, capsys.readouterr().err
    assert main(["report", str(run.parent), "--index"]) == 0, capsys.readouterr().err
    if name != "config.yaml":
        _unfinished(run)
        assert main(["train", "--resume", str(run), "train.optimizer.lr=1e-4"]) == 0, capsys.readouterr().err


def test_python_dash_m_latentscape_is_the_command_line(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    import latentscape

    src = str(Path(latentscape.__file__).resolve().parents[1])
    done = subprocess.run([sys.executable, "-m", "latentscape", "path", "a", "b", "--points", "0"], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": src}, timeout=120)
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        "error: latentscape path: argument --points: 0 is out of range [2, 100000] (see `latentscape path --help`)"]


def test_a_run_published_by_another_process_meanwhile_is_kept(tmp_path):
    """Two `train --run-dir X` started together: the second to publish says so and leaves the
    first one's run (and no staging folder) behind."""
    from latentscape.errors import LatentscapeError
    from latentscape.rundir.run import Run

    target = tmp_path / "run"

    def other_process_wins(run):
        (target / "checkpoints").mkdir(parents=True)
        (target / "config.yaml").write_text("theirs")

    with pytest.raises(LatentscapeError, match="another process created it meanwhile"):
        Run.create(tiny_config(), target, other_process_wins)
    assert (target / "config.yaml").read_text() == "theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_a_write_removes_the_temp_files_of_killed_writers_of_the_same_file(tmp_path):
    """A kill between the temp write and the rename leaves `.NAME.PID-xxxx.SUFFIX.tmp` (e.g. a
    killed tune's history.png); the next write of that file removes it, not a live writer's."""
    import os
    import subprocess
    import sys

    from latentscape.io import atomic_write_text

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    orphan = tmp_path / f".history.{dead_pid}-abcd.png.tmp"
    live = tmp_path / f".history.{os.getppid()}-efgh.png.tmp"
    other = tmp_path / f".history.old.{dead_pid}-ijkl.png.tmp"  # a temp of history.old.png
    for p in (orphan, live, other):
        p.write_bytes(b"half")
    atomic_write_text(tmp_path / "history.png", "whole")
    assert not orphan.exists() and live.exists() and other.exists()
    assert (tmp_path / "history.png").read_text() == "whole"


def test_a_failing_background_plot_prints_one_line_not_a_traceback(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    import latentscape

    code = (
        "import os, time\n"
        "from latentscape.viz.deferred import draw\n"
        "def bad():\n    raise ValueError('cannot draw NaN\\nsecond line')\n"
        "draw(bad)\n"
        "time.sleep(3)\n"
    )
    src = str(Path(latentscape.__file__).resolve().parents[1])
    env = {k: v for k, v in os.environ.items() if k != "LATENTSCAPE_DEBUG"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**env, "PYTHONPATH": src, "LATENTSCAPE_PLOTS": "background"})
    err = done.stderr.strip()
    assert err.splitlines() == [err] and "error: background plots: ValueError: cannot draw NaN" in err, err
