"""SIGTERM is handled like Ctrl-C by every command: one line naming how to go on, what was
written is kept, and the named way to continue works (a real subprocess, a real signal)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from latentscape.cli import Terminated, how_to_continue, main

CONFIG = (
    "model: {name: mlp_classifier, hidden_dims: [32]}\n"
    "data: {name: digits}\n"
    "train: {epochs: 400, batch_size: 64, optimizer: {lr: 0.01}, num_threads: 1, eval_every: 0}\n"
)


def _last_epoch(run: Path) -> int:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return max((r.get("epoch", 0) for r in rows), default=0)


def test_sigterm_during_training_keeps_the_run_and_names_the_resume(tmp_path):
    cfg, run = tmp_path / "c.yaml", tmp_path / "run"
    cfg.write_text(CONFIG)
    env = {**os.environ, "LATENTSCAPE_PROGRESS": "lines", "LATENTSCAPE_PLOTS": "none", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "latentscape.cli", "train", str(cfg), "--run-dir", str(run),
                             "train.log_every=5"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while not (run / "checkpoints" / "last.pt").is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    last = err.strip().splitlines()[-1]
    assert last == (f"terminated (SIGTERM); what was written so far is kept "
                    f"(continue with `latentscape train --resume {run}`)")
    assert "Traceback" not in err
    # what was written is there, and the command it names goes on from it
    epoch = _last_epoch(run)
    assert (run / "config.yaml").is_file() and epoch >= 1
    done = subprocess.run([sys.executable, "-m", "latentscape.cli", "train", "--resume", str(run),
                           f"train.epochs={epoch + 1}"], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (run / "checkpoints" / "final.pt").is_file() and _last_epoch(run) == epoch + 1


def test_sigterm_in_a_command_that_cannot_resume(tmp_path, monkeypatch, capsys):
    """In-process: the handler turns SIGTERM into `Terminated`, caught like Ctrl-C (exit 143)."""
    from latentscape.commands import report

    def hang(args):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises inside this sleep
        return 0

    monkeypatch.setattr(report, "run", hang)
    before = signal.getsignal(signal.SIGTERM)
    assert main(["report", str(tmp_path)]) == 143
    assert capsys.readouterr().err.strip() == (
        "terminated (SIGTERM); what was written so far is kept (run the same command again to redo it)"
    )
    assert signal.getsignal(signal.SIGTERM) is before  # put back after the command
    assert issubclass(Terminated, KeyboardInterrupt)


def test_how_to_continue_names_what_exists(tmp_path):
    run = tmp_path / "r"
    ns = argparse.Namespace
    assert "--resume RUN_DIR" in how_to_continue(ns(command="train", resume=None, run_dir=None))
    assert how_to_continue(ns(command="train", resume=None, run_dir=str(run))) == " (run the same command again to redo it)"
    (run).mkdir()
    (run / "config.yaml").write_text("{}")
    assert how_to_continue(ns(command="train", resume=None, run_dir=str(run))) == f" (continue with `latentscape train --resume {run}`)"
    assert how_to_continue(ns(command="connect", out=str(run))) == f" (continue with `latentscape train --resume {run}`)"
    assert "finished trials are not redone" in how_to_continue(ns(command="tune"))
    assert "with --resume to continue" in how_to_continue(ns(command="surface", resume=False))  # the landscape analyses
    assert how_to_continue(ns(command="fge")) == " (run the same command again to redo it)"
