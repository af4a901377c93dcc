"""What killed writers leave is swept by the next successful run: a `probe` SIGKILLed while it
writes its temporary folder, a `hessian --density` SIGKILLed while it draws its picture and then
rerun without --density (that picture is never written again, so only a sweep of the folder
removes its temp file). Real processes, real SIGKILLs (latentscape.faults)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import latentscape
from latentscape import faults
from latentscape.cli import main
from tinydata import tiny_config, train_quietly

SRC = str(Path(latentscape.__file__).resolve().parents[1])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return train_quietly(tmp_path_factory.mktemp("left"), {"run": tiny_config(epochs=1)})["run"]


def _killed_at(args: list[str], out: Path, step_name: str, monkeypatch) -> None:
    """Run the command (`args` + --out) in-process into a scratch folder, counting its write
    steps, then into `out` in a child process that SIGKILLs itself at the step `step_name`."""
    monkeypatch.setenv(faults.FAULT_AT_ENV, str(10**9))
    faults.reset()
    assert main([*args, "--out", str(out.with_name(out.name + "-count"))]) == 0
    steps = faults.steps_counted()
    monkeypatch.delenv(faults.FAULT_AT_ENV)
    n = steps.index(step_name) + 1
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1", "LATENTSCAPE_PLOTS": "sync", faults.FAULT_AT_ENV: str(n)}
    proc = subprocess.run([sys.executable, "-m", "latentscape.cli", *args, "--out", str(out)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr


def test_a_killed_probe_leaves_nothing_after_a_successful_rerun(run, tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTSCAPE_PLOTS", "sync")
    out = tmp_path / "probe"
    args = ["probe", str(run), "--baselines", "pca", "--classifiers", "knn", "--map-points", "0"]
    _killed_at(args, out, "write probe.md", monkeypatch)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".probe.")]  # what the kill left
    assert main([*args, "--out", str(out)]) == 0
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".probe.")]
    assert (out / "probe.json").is_file()


def test_a_killed_hessian_picture_is_swept_by_a_rerun_without_density(run, tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTSCAPE_PLOTS", "sync")
    out = tmp_path / "hessian"
    base = ["hessian", str(run), "--top-k", "1", "--max-iter", "3"]
    _killed_at([*base, "--density", "--slq-steps", "5"], out, "write hessian_density.png", monkeypatch)
    assert list((out / "images").glob(".hessian_density.*.tmp"))  # the kill left the picture's temp file
    assert main([*base, "--out", str(out)]) == 0  # no --density: hessian_density.png is not written again
    assert not [p for p in out.rglob("*.tmp")]
