"""One writer per run, with real processes: `train --resume RUN` and an analysis into RUN while RUN
is still training are refused in one line naming the holder's PID and host (exit 2); a SIGKILLed
holder leaves no stale lock; a tune trial whose folder another worker holds is
not deleted or resumed under it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import latentscape
from latentscape.cli import main
from latentscape.errors import LatentscapeError

SRC = str(Path(latentscape.__file__).resolve().parents[1])  # this tree, not an installed copy
ENV = {**os.environ, "PYTHONPATH": SRC, "LATENTSCAPE_NO_TENSORBOARD": "1", "LATENTSCAPE_PLOTS": "none", "OMP_NUM_THREADS": "1"}
LONG = {  # a run that trains for minutes unless stopped
    "model": {"name": "mlp_classifier", "hidden_dims": [8]}, "data": {"name": "digits"}, "seed": 3,
    "train": {"epochs": 5000, "batch_size": 16, "log_every": 2, "eval_every": 0, "num_threads": 1},
}


def _wait_for(predicate, what: str, timeout: float = 120.0) -> None:
    end = time.time() + timeout
    while not predicate():
        if time.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _holder(run_dir: Path) -> subprocess.Popen:
    """Another process that holds the lock of `run_dir` until killed."""
    code = ("import sys, time; from latentscape.rundir.lock import lock_run; "
            "lock_run(sys.argv[1], 'holder test'); print('locked', flush=True); time.sleep(600)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(run_dir)], env=ENV, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


@pytest.fixture
def quiet(monkeypatch):
    monkeypatch.setenv("LATENTSCAPE_NO_TENSORBOARD", "1")
    monkeypatch.setenv("LATENTSCAPE_PLOTS", "none")


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err], err
    return err


def test_a_second_writer_is_refused_while_a_run_trains_and_a_sigkill_frees_it(tmp_path, quiet, capsys):
    from latentscape.rundir.lock import LOCK_FILE, lock_run

    cfg = tmp_path / "long.yaml"
    cfg.write_text(yaml.safe_dump(LONG))
    run = tmp_path / "run"
    trainer = subprocess.Popen([sys.executable, "-m", "latentscape.cli", "train", str(cfg), "--run-dir", str(run)],
                               env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: (run / "checkpoints" / "last.pt").is_file(), "the first checkpoint")
        holder = f"PID {trainer.pid} on host {socket.gethostname()}"
        assert main(["train", "--resume", str(run)]) == 2
        err = _one_line(capsys)
        assert holder in err and "being written by another process" in err
        assert main(["probe", f"{run}@last"]) == 2  # an analysis that writes RUN/analysis/probe
        assert holder in _one_line(capsys)
        assert not (run / "analysis").exists()
    finally:
        trainer.send_signal(signal.SIGKILL)
        trainer.wait(30)
    assert trainer.returncode == -signal.SIGKILL
    assert (run / LOCK_FILE).read_text().startswith(f"PID {trainer.pid}")  # the dead holder's line stays...
    lock_run(run).release()  # ...but not its lock
    assert main(["train", "--resume", str(run), "train.max_steps=1"]) == 0, capsys.readouterr().err
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    keys = [(r["step"], r["split"]) for r in rows]
    assert len(keys) == len(set(keys))  # one writer: no row twice
    assert [r["step"] for r in rows if r["split"] == "train"] == sorted(r["step"] for r in rows if r["split"] == "train")
    assert (run / LOCK_FILE).read_text() == ""  # released: nobody writes the run


def test_a_tune_trial_held_by_another_worker_is_left_alone(tmp_path, quiet):
    from latentscape.rundir.lock import RunLocked
    from latentscape.tune.trial import train_once
    from tinydata import tiny_config

    cfg = tiny_config(epochs=1)
    run = tmp_path / "trials" / "0000-0"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(latentscape.config.dump_config(cfg))  # killed before its first checkpoint...
    proc = _holder(run)  # ...or still starting in another worker: this one must not delete it
    try:
        with pytest.raises(RunLocked, match=f"PID {proc.pid} on host"):
            train_once(cfg, run)
        assert (run / "config.yaml").is_file()
    finally:
        proc.kill()
        proc.wait(30)
    train_once(cfg, run)
    assert (run / "eval" / "final.json").is_file()


def test_the_lock_is_reentrant_in_one_process_and_names_its_holder(tmp_path):
    from latentscape.rundir.lock import LOCK_FILE, run_locked

    run = tmp_path / "run"
    run.mkdir()
    with run_locked(run, "first"):
        with run_locked(run, "second"):  # a resume that trains takes it twice
            pass
        assert "first" in (run / LOCK_FILE).read_text()
        proc = subprocess.run([sys.executable, "-c", "import sys; from latentscape.rundir.lock import lock_run; lock_run(sys.argv[1])", str(run)],
                              env=ENV, capture_output=True, text=True, timeout=60)
        assert proc.returncode != 0 and f"PID {os.getpid()} on host {socket.gethostname()}" in proc.stderr
    assert (run / LOCK_FILE).read_text() == ""


def test_a_read_only_run_directory_cannot_be_locked_in_one_line(tmp_path):
    from latentscape.rundir.lock import lock_run

    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    run = tmp_path / "run"
    run.mkdir()
    run.chmod(0o555)
    try:
        with pytest.raises(LatentscapeError, match="cannot lock the run directory"):
            lock_run(run)
    finally:
        run.chmod(0o755)
