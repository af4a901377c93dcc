"""Two worker processes (two "machines": two study folders) share one study on a real local
PostgreSQL server: every grid point is trained exactly `repeats` times, by one trial."""

import os
import subprocess
from collections import Counter

import optuna

from pgserver import postgres_server
from tunehelp import worker_command, write_config

POINTS = (1e-3, 1e-2, 1e-1)


def test_two_workers_on_one_postgres_study_record_every_trial_once(tmp_path):
    cfg = write_config(tmp_path / "c.yaml")
    env = {**os.environ, "LATENTSCAPE_NO_TENSORBOARD": "1", "OMP_NUM_THREADS": "1"}
    with postgres_server() as url:
        grid = "train.optimizer.lr=" + ",".join(map(str, POINTS))
        procs = [
            subprocess.Popen(
                worker_command(str(cfg), "--grid", grid, "--repeats", "2", "--storage", url, "--study-name", "pg",
                               "--study-dir", str(tmp_path / f"machine{i}"), "--heartbeat", "2"),
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for i in range(2)
        ]
        outputs = [p.communicate(timeout=280) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outputs
        trials = optuna.load_study(study_name="pg", storage=url).get_trials()

    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert sorted(t.params["train.optimizer.lr"] for t in complete) == sorted(POINTS)
    others = [t for t in trials if t.state != optuna.trial.TrialState.COMPLETE]
    assert all(t.state == optuna.trial.TrialState.PRUNED and "duplicate" in t.user_attrs["skipped"] for t in others)
    # every (trial, repeat) run directory exists once, across both machines' study folders
    runs = [p.name for i in range(2) for p in (tmp_path / f"machine{i}" / "trials").glob("*") if p.is_dir()]
    assert len(runs) == len(POINTS) * 2 and len(set(runs)) == len(runs)
    assert Counter(r.split("-")[0] for r in runs) == Counter({f"{t.number:04d}": 2 for t in complete})
    # each worker's summary lists the whole study (read from the shared storage)
    for i in range(2):
        assert "best: trial" in outputs[i][0]


def test_missing_postgres_is_a_visible_skip_outside_ci_and_a_failure_in_ci(monkeypatch):
    import pytest

    import pgserver

    monkeypatch.setattr(pgserver, "find_bin_dir", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Debian package postgresql"):
        pgserver.require_postgres()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        pgserver.require_postgres()
