"""Shared helpers of the tune tests: a tiny config (digits MLP, one epoch) and study readers."""

from __future__ import annotations

from pathlib import Path

import optuna
import yaml

from latentscape.tune import Objective, TuneSpec, parse_grid, parse_space

BASE = {
    "model": {"name": "mlp_classifier", "hidden_dims": [8]},
    "data": {"name": "digits", "val_fraction": 0.2, "fraction": 0.5},
    "train": {"epochs": 1, "batch_size": 64, "eval_split": "val", "final_eval_splits": ["val"],
              "num_threads": 1, "log_every": 5},
    "seed": 0,
}


def write_config(path: Path) -> Path:
    path.write_text(yaml.safe_dump(BASE))
    return path


def spec(study_dir: Path, grid=(), space=(), **kw) -> TuneSpec:
    dims = tuple([parse_grid(g) for g in grid] + [parse_space(s) for s in space])
    kw.setdefault("objective", Objective.parse("val/loss"))
    kw.setdefault("base", BASE)
    return TuneSpec(dims=dims, study_dir=study_dir, **kw)


def load(study_dir: Path, name: str = "latentscape") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{study_dir / 'study.db'}")


def completed_points(study: optuna.Study) -> list[tuple]:
    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    return sorted(tuple(sorted(t.params.items())) for t in done)


# A worker process as a user starts it, minus the per-run HTML report (3 s of matplotlib a run
# here; the report has its own tests): `python -c WORKER tune CONFIG ...`.
WORKER = (
    "import sys, latentscape.train.api as api; api._write_report = lambda run: None; "
    "from latentscape.cli import main; sys.exit(main(sys.argv[1:]))"
)


def worker_command(*args: str) -> list[str]:
    import sys

    return [sys.executable, "-c", WORKER, "tune", *args]
