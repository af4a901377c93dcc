"""A study whose worker is SIGKILLed mid-trial resumes without redoing finished work."""

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
