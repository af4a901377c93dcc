"""A study whose worker is SIGKILLed mid-trial resumes without redoing finished work."""

import json
import os
import subprocess
import time

import optuna
import pytest

from latentscape.tune import run_study
from tunehelp import completed_points, load, spec, worker_command, write_config

GRID = "train.optimizer.lr=1e-2,1e-1"


def test_sigkilled_study_resumes_without_redoing_finished_trials(tmp_path):
    cfg = write_config(tmp_path / "c.yaml")
    study_dir = tmp_path / "study"
    # a long heartbeat: the resume must notice the dead local worker at once, not by its heartbeat
    args = [str(cfg), "train.epochs=2", "data.fraction=1.0", "--grid", GRID, "--repeats", "2",
            "--study-dir", str(study_dir), "--heartbeat", "600"]
    env = {**os.environ, "LATENTSCAPE_NO_TENSORBOARD": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(worker_command(*args), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    target = study_dir / "trials" / "0001-0" / "eval" / "final.json"  # trial 1's first repeat done
    deadline = time.time() + 240
    while not target.exists():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.time() < deadline, "the worker never reached trial 1"
        time.sleep(0.01)
    proc.kill()  # SIGKILL: no cleanup of any kind, the trial stays RUNNING in the storage
    proc.wait()
    finished = {p: p.stat().st_mtime_ns for p in study_dir.glob("trials/*/eval/final.json")}
    assert len(finished) in (3, 4)
    before = load(study_dir).get_trials()
    assert [t.state for t in before] == [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.RUNNING]

    from tunehelp import BASE

    base = {**BASE, "train": {**BASE["train"], "epochs": 2}, "data": {**BASE["data"], "fraction": 1.0}}
    study = run_study(spec(study_dir, grid=[GRID], repeats=2, heartbeat=600, base=base), log=lambda _: None)

    trials = study.get_trials()
    states = [t.state for t in trials]
    assert states == [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL, optuna.trial.TrialState.COMPLETE]
    assert "error" not in trials[1].user_attrs  # failed because its worker died, so retried ...
    assert trials[2].system_attrs["failed_trial"] == 1  # ... by trial 2, in trial 1's folders
    assert completed_points(study) == [(("train.optimizer.lr", 0.01),), (("train.optimizer.lr", 0.1),)]
    assert sorted(p.name for p in (study_dir / "trials").iterdir()) == ["0000-0", "0000-1", "0001-0", "0001-1"]
    # nothing that had finished was trained again
    assert {p: p.stat().st_mtime_ns for p in finished} == finished
    assert len(trials[2].user_attrs["values"]) == 2


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")  # the test asks the ghost trial by hand
def test_a_trial_whose_remote_worker_stopped_beating_is_retried(tmp_path):
    """A RUNNING trial of a worker on another machine is failed after two missed heartbeats and
    re-run here (Optuna's heartbeat + RetryHeartbeatStaleTrialCallback)."""
    from latentscape.tune.study import open_study

    s = spec(tmp_path / "study", grid=["train.optimizer.lr=1e-2"], heartbeat=1)
    study = open_study(s)
    ghost = study.ask()
    ghost.suggest_categorical("train.optimizer.lr", [0.01])
    ghost.set_user_attr("worker", {"host": "another-machine", "pid": 1})
    study._storage.record_heartbeat(ghost._trial_id)  # it beat once, then its machine vanished

    trials = run_study(s, log=lambda _: None).get_trials()
    assert [t.state for t in trials] == [optuna.trial.TrialState.FAIL, optuna.trial.TrialState.COMPLETE]
    assert trials[1].system_attrs["failed_trial"] == 0 and trials[1].params == {"train.optimizer.lr": 0.01}


def test_ctrl_c_requeues_the_interrupted_trial(tmp_path):
    s = spec(tmp_path / "study", grid=["train.optimizer.lr=1e-2"])

    def interrupt(line):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_study(s, log=interrupt)
    states = [t.state for t in load(tmp_path / "study").get_trials()]
    assert states == [optuna.trial.TrialState.FAIL, optuna.trial.TrialState.WAITING]
    trials = run_study(s, log=lambda _: None).get_trials()
    assert trials[1].state == optuna.trial.TrialState.COMPLETE and trials[1].system_attrs["failed_trial"] == 0


HOLDER = """
import pathlib, sys, time
from latentscape.rundir.lock import lock_run
lock = lock_run(sys.argv[1], "latentscape hessian " + sys.argv[1])
pathlib.Path(sys.argv[2]).touch()  # holding it
while not pathlib.Path(sys.argv[3]).exists():
    time.sleep(0.05)
"""


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")  # the test asks the ghost trial by hand
def test_a_trial_refused_by_another_writers_run_lock_is_requeued_not_lost(tmp_path):
    """The retry of a trial whose first worker stopped beating finds the trial's folder locked by
    another live process (here a second process holding the run lock, as an analysis of the run
    or that first worker does): it is not settled as FAILED but re-queued in the same folder, and
    runs once the other process lets go, reusing the finished repeat instead of training it again."""
    import sys

    from latentscape.tune.space import apply_params
    from latentscape.tune.study import open_study
    from latentscape.tune.trial import repeat_configs, train_once

    study_dir = tmp_path / "study"
    s = spec(study_dir, grid=["train.optimizer.lr=1e-2"], heartbeat=1)
    run_dir = study_dir / "trials" / "0000-0"
    train_once(repeat_configs(apply_params(s.base, s.dims, {"train.optimizer.lr": 0.01}), 1)[0], run_dir)
    finished = (run_dir / "eval" / "final.json").stat().st_mtime_ns
    study = open_study(s)
    ghost = study.ask()  # trial 0, of a worker on another machine that stopped beating
    ghost.suggest_categorical("train.optimizer.lr", [0.01])
    ghost.set_user_attr("worker", {"host": "another-machine", "pid": 1})
    study._storage.record_heartbeat(ghost._trial_id)

    holding, release = tmp_path / "holding", tmp_path / "release"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(run_dir), str(holding), str(release)])
    try:
        deadline = time.time() + 60
        while not holding.exists():
            assert holder.poll() is None and time.time() < deadline
            time.sleep(0.02)
        lines: list[str] = []

        def log(line: str) -> None:
            lines.append(line)
            if "re-queued" in line:
                release.touch()  # the other writer finishes after the refusal

        trials = run_study(s, log=log).get_trials()
    finally:
        release.touch()
        holder.wait(30)
    refusal = next(line for line in lines if "did not run" in line)
    assert f"PID {holder.pid}" in refusal and "latentscape hessian" in refusal
    states = [t.state for t in trials]
    assert states == [optuna.trial.TrialState.FAIL] * 2 + [optuna.trial.TrialState.COMPLETE], lines
    assert "refused" in trials[1].user_attrs and "error" not in trials[1].user_attrs
    assert trials[2].system_attrs["failed_trial"] == 0 and trials[2].system_attrs["requeued_from"] == 1
    assert trials[2].system_attrs["retry_history"] == [0]  # waiting is not one of the MAX_RETRY retries
    assert trials[2].user_attrs["run_dirs"] == [str(run_dir)]
    assert completed_points(load(study_dir)) == [(("train.optimizer.lr", 0.01),)]
    assert (run_dir / "eval" / "final.json").stat().st_mtime_ns == finished  # reused, not trained again
    summary = json.loads((study_dir / "summary.json").read_text())
    assert [r["trial"] for r in summary["trials"]] == [2, 0]  # the refused attempt is no row
    assert summary["counts"] == {"COMPLETE": 1, "FAIL": 1}
