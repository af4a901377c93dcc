"""Helpers of the crash-consistency tests: a tiny digits run, a fault at write step N, a resume,
and a comparison of two run directories (files, weights bit for bit, metrics rows)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from latentscape import faults
from latentscape.config import config_from_dict
from latentscape.train.api import resume, train_and_evaluate

TINY = {
    "model": {"name": "mlp_classifier", "hidden_dims": [8]},
    "data": {"name": "digits", "fraction": 0.1},
    "train": {"epochs": 2, "batch_size": 32, "log_every": 2, "eval_every": 1, "num_threads": 1,
              "checkpoint_every_steps": 3, "final_eval_splits": ["test"]},
    "seed": 5,
}
#: Files whose bytes legitimately differ between runs (wall-clock times).
TIMED = {"eval/final.json", "report.html"}


def tiny_config(raw: dict | None = None):
    """The run config of `raw` (default TINY)."""
    return config_from_dict(json.loads(json.dumps(TINY if raw is None else raw)))


def uninterrupted(run_dir: Path, monkeypatch, raw: dict | None = None) -> list[str]:
    """Train the tiny run (or the config `raw`) without faults; returns the names of its write
    steps, in order."""
    monkeypatch.setenv(faults.FAULT_AT_ENV, str(10**9))  # count, never fire
    faults.reset()
    train_and_evaluate(tiny_config(raw), run_dir, quiet=True)
    monkeypatch.delenv(faults.FAULT_AT_ENV)
    return faults.steps_counted()


def killed_then_resumed(run_dir: Path, step: int, monkeypatch, raw: dict | None = None) -> None:
    """Raise at write step `step`, then finish the run the way a user would."""
    monkeypatch.setenv(faults.FAULT_AT_ENV, str(step))
    monkeypatch.setenv(faults.FAULT_MODE_ENV, "raise")
    faults.reset()
    try:
        train_and_evaluate(tiny_config(raw), run_dir, quiet=True)
        raise AssertionError(f"write step {step} was never reached")
    except faults.InjectedFault:
        pass
    finally:
        monkeypatch.delenv(faults.FAULT_AT_ENV)
    finish(run_dir, raw)


def finish(run_dir: Path, raw: dict | None = None) -> None:
    """Resume a killed run, or start it again when it was killed before it existed."""
    if run_dir.is_dir():
        resume(run_dir, quiet=True)
    else:
        train_and_evaluate(tiny_config(raw), run_dir, quiet=True)


def files_of(run_dir: Path) -> set[str]:
    return {str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file()}


def assert_same_run(a: Path, b: Path) -> None:
    """Same file names, same bytes (except timed files), same weights and metrics rows."""
    assert files_of(a) == files_of(b)
    assert not [p for p in b.parent.iterdir() if ".creating-" in p.name]
    for rel in files_of(a):
        if rel.endswith(".pt"):
            sa, sb = (torch.load(r / rel, weights_only=True) for r in (a, b))
            wa = sa.get("state_dict", sa.get("model"))
            wb = sb.get("state_dict", sb.get("model"))
            assert wa.keys() == wb.keys()
            assert all(torch.equal(wa[k], wb[k]) for k in wa), rel
            assert sa.get("finished") == sb.get("finished") and sa.get("step") == sb.get("step")
        elif rel == "eval/final.json":
            ja, jb = (json.loads((r / rel).read_text()) for r in (a, b))
            ja.pop("train_seconds"), jb.pop("train_seconds")
            assert ja == jb
        elif rel not in TIMED:
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def env_without_tensorboard(monkeypatch) -> None:
    monkeypatch.setenv("LATENTSCAPE_NO_TENSORBOARD", "1")
    monkeypatch.delenv(faults.FAULT_AT_ENV, raising=False)
    os.environ.pop(faults.FAULT_MODE_ENV, None)


def write_steps(argv: list[str], monkeypatch) -> list[str]:
    """Run the command `argv` in-process without faults; the names of its write steps, in order."""
    from latentscape.cli import main

    monkeypatch.setenv(faults.FAULT_AT_ENV, str(10**9))  # count, never fire
    faults.reset()
    try:
        assert main(argv) == 0
    finally:
        monkeypatch.delenv(faults.FAULT_AT_ENV)
    return faults.steps_counted()


def interrupted(argv: list[str], step: int, monkeypatch) -> None:
    """Run the command `argv` in-process, raising at its write step `step` (a kill there)."""
    from latentscape.cli import main

    monkeypatch.setenv(faults.FAULT_AT_ENV, str(step))
    monkeypatch.setenv(faults.FAULT_MODE_ENV, "raise")
    faults.reset()
    try:
        main(argv)
        raise AssertionError(f"write step {step} was never reached")
    except faults.InjectedFault:
        pass
    finally:
        monkeypatch.delenv(faults.FAULT_AT_ENV)
        monkeypatch.delenv(faults.FAULT_MODE_ENV)
