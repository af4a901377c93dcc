"""Hyperparameter search over any config key on Optuna (`latentscape tune`).

space (parse and validate --grid / --space), objective (SPLIT/METRIC from metrics.jsonl), trial
(repeats as run dirs), storage (URL, heartbeats, dead workers), study (the worker), summary and
plots (the study folder's outputs).
"""

from latentscape.tune.objective import Objective
from latentscape.tune.space import Dimension, parse_grid, parse_space
from latentscape.tune.study import TuneSpec, run_study

__all__ = ["Dimension", "Objective", "TuneSpec", "parse_grid", "parse_space", "run_study"]
