"""Crash consistency: a run killed at any file-system write step and then resumed ends with the
same files, bit-identical weights and the same metrics rows as an uninterrupted run.

The fault hook (latentscape.faults, LATENTSCAPE_FAULT_AT=N) fires at the N-th write step:
in-process it raises (fast, every step in the `slow` test, a sample of creation, training,
checkpointing and finishing by default); one test SIGKILLs a real `latentscape train` process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from crashkit import TINY, assert_same_run, env_without_tensorboard, files_of, killed_then_resumed, uninterrupted
import latentscape
from latentscape import faults
from latentscape.cli import main


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    env_without_tensorboard(mp)
    run_dir = tmp_path_factory.mktemp("ref") / "run"
    steps = uninterrupted(run_dir, mp)
    mp.undo()
    return run_dir, steps


@pytest.fixture
def quiet_env(monkeypatch):
    env_without_tensorboard(monkeypatch)
    return monkeypatch


def test_write_steps_cover_creation_training_checkpointing_and_finishing(reference):
    _, steps = reference
    assert steps[:4] == ["write config.yaml", "write data_info.json", "write init.pt", "publish run"]
    assert "append metrics.jsonl" in steps and "write last.pt" in steps
    assert steps[-2:] == ["write report.html", "write last.pt"] and "write final.json" in steps


def _sample(steps: list[str]) -> list[int]:
    """1-based step numbers: publishing, a metrics line, a mid-run last.pt, final.pt, the end."""
    first = lambda name, after=0: next(i for i, s in enumerate(steps, 1) if s == name and i > after)  # noqa: E731
    publish = first("publish run")
    return [publish, first("append metrics.jsonl"), first("write last.pt", publish),
            first("write final.pt"), len(steps)]


def test_killed_at_sampled_write_steps_resumes_to_the_same_run(reference, quiet_env, tmp_path):
    ref, steps = reference
    for n in _sample(steps):
        killed_then_resumed(tmp_path / f"k{n}", n, quiet_env)
        assert_same_run(ref, tmp_path / f"k{n}")


@pytest.mark.slow
def test_killed_at_every_write_step_resumes_to_the_same_run(reference, quiet_env, tmp_path):
    ref, steps = reference
    for n in range(1, len(steps) + 1):
        killed_then_resumed(tmp_path / f"k{n}", n, quiet_env)
        assert_same_run(ref, tmp_path / f"k{n}")


def _cli(args, env_extra, cwd):
    src = str(Path(latentscape.__file__).resolve().parents[1])  # this tree, not an installed copy
    env = {**os.environ, "PYTHONPATH": src, "LATENTSCAPE_NO_TENSORBOARD": "1", "OMP_NUM_THREADS": "1", **env_extra}
    return subprocess.run([sys.executable, "-m", "latentscape.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_sigkill_during_checkpoint_write_leaves_a_temp_file_that_resume_removes(reference, tmp_path):
    ref, steps = reference
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY))
    run_dir = tmp_path / "run"
    n = steps.index("write last.pt", steps.index("publish run")) + 1
    killed = _cli(["train", str(cfg), "--run-dir", str(run_dir)], {faults.FAULT_AT_ENV: str(n)}, tmp_path)
    assert killed.returncode == -9, killed.stderr
    assert list((run_dir / "checkpoints").glob(".last.*.tmp"))  # what a kill leaves behind
    done = _cli(["train", "--resume", str(run_dir)], {}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert not [p for p in run_dir.rglob("*.tmp")]
    assert_same_run(ref, run_dir)


def test_run_killed_during_creation_is_absent_and_says_so(quiet_env, tmp_path, capsys):
    run_dir = tmp_path / "run"
    quiet_env.setenv(faults.FAULT_AT_ENV, "3")  # write init.pt
    quiet_env.setenv(faults.FAULT_MODE_ENV, "raise")
    faults.reset()
    with pytest.raises(faults.InjectedFault):
        main(["train", str(_tiny_yaml(tmp_path)), "--run-dir", str(run_dir)])
    quiet_env.delenv(faults.FAULT_AT_ENV)
    assert not run_dir.exists()
    assert main(["train", "--resume", str(run_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and "never completely created" in err
    # starting it again removes the staging folder of the killed creation
    assert main(["train", str(_tiny_yaml(tmp_path)), "--run-dir", str(run_dir)]) == 0
    assert not [p for p in tmp_path.iterdir() if ".creating-" in p.name]
    assert {"config.yaml", "data_info.json", "checkpoints/init.pt"} <= files_of(run_dir)


def test_resume_drops_torn_metrics_line_duplicate_rows_and_stale_temporaries(reference, quiet_env, tmp_path):
    ref, _ = reference
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(ref, run_dir)
    # Pretend the run was killed right after the last checkpoint before the end: restore the
    # mid-run state by resuming from a copy whose last.pt is not finished.
    from latentscape.rundir.checkpoint import atomic_save, load_checkpoint

    last = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    last["finished"] = False
    atomic_save(last, run_dir / "checkpoints" / "last.pt")
    with open(run_dir / "metrics.jsonl", "a") as f:
        f.write('{"step": 99, "spl')  # torn by a kill
    stale = run_dir / "checkpoints" / ".last.pt.abc123.tmp"  # left by a killed atomic write
    stale.write_bytes(b"x" * 1000)
    assert main(["train", "--resume", str(run_dir)]) == 0
    assert not stale.exists()
    # the final evaluation ran again, but (step, split) rows are not duplicated
    assert (run_dir / "metrics.jsonl").read_bytes() == (ref / "metrics.jsonl").read_bytes()


def _tiny_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def test_resume_rebuilds_creation_files_missing_from_an_older_run(reference, quiet_env, tmp_path):
    """Runs made before creation was atomic could lack init.pt / data_info.json: resume rebuilds
    them from the seed, identical to the uninterrupted run's."""
    import shutil

    from latentscape.rundir.checkpoint import atomic_save, load_checkpoint

    ref, _ = reference
    run_dir = tmp_path / "old"
    shutil.copytree(ref, run_dir)
    (run_dir / "checkpoints" / "init.pt").unlink()
    (run_dir / "data_info.json").unlink()
    last = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    last["finished"] = False
    atomic_save(last, run_dir / "checkpoints" / "last.pt")
    assert main(["train", "--resume", str(run_dir)]) == 0
    assert_same_run(ref, run_dir)
