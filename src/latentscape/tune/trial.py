"""One trial of a study: train its repeats as ordinary run directories and read the objective.

Repeat r of a trial is `study_dir/trials/<key>-<r>/`, trained by `train_and_evaluate` with
`seed = base seed + r` (the same seeds at every point of the search, so points differ by their
parameters, not by their luck). `key` is the number of the trial's first attempt, so a trial
retried after its worker was killed finds its own folders: finished repeats are reused and an
interrupted one resumes from its last checkpoint.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from latentscape.config import RunConfig, config_from_dict, dump_config
from latentscape.errors import LatentscapeError
from latentscape.io import appending
from latentscape.rundir.lock import RunLocked, lock_run, run_locked
from latentscape.train.api import load_data, train_and_evaluate
from latentscape.tune.objective import Objective
from latentscape.tune.space import set_key

_DATA_CACHE: dict[Any, Any] = {}


class RepeatRefused(RunLocked):
    """A repeat's run folder is being written by another process (it holds the run's lock): the
    trial did not run, through no fault of its own, and must be retried, not failed."""

    def __init__(self, run_dir: Path, message: str) -> None:
        super().__init__(message)
        self.run_dir = run_dir


@dataclass(frozen=True)
class RepeatResult:
    """One finished repeat: where it ran, its seed, the objective and its history."""

    run_dir: str
    seed: int
    value: float
    history: list[tuple[int, float]]


def repeat_configs(raw: dict[str, Any], repeats: int) -> list[RunConfig]:
    """Typed configs of the repeats: the searched config with seeds base, base+1, ..."""
    base = config_from_dict(raw).seed
    return [config_from_dict(set_key(raw, "seed", base + r)) for r in range(repeats)]


def run_repeats(
    raw: dict[str, Any],
    repeats: int,
    key: int,
    study_dir: Path,
    objective: Objective,
    on_repeat: Callable[[list[RepeatResult]], None] | None = None,
) -> list[RepeatResult]:
    """Train (or reuse / resume) every repeat of one trial; return their results in order."""
    results: list[RepeatResult] = []
    for r, cfg in enumerate(repeat_configs(raw, repeats)):
        run_dir = study_dir / "trials" / f"{key:04d}-{r}"
        train_once(cfg, run_dir)
        results.append(RepeatResult(str(run_dir), cfg.seed, objective.value(run_dir), objective.history(run_dir)))
        if on_repeat is not None:
            on_repeat(results)
    return results


def train_once(cfg: RunConfig, run_dir: Path) -> None:
    """Make `run_dir` a finished run of `cfg`: reuse it, resume it, or train it from scratch.

    An existing folder is locked first (rundir/lock.py): the retry of a trial whose first worker
    still runs is refused instead of deleting or resuming the folder under it.
    """
    try:
        with run_locked(run_dir, f"tune trial {run_dir.name}") if run_dir.is_dir() else contextlib.nullcontext():
            _train_once(cfg, run_dir)
    except RunLocked as exc:
        raise RepeatRefused(run_dir, str(exc)) from None


def wait_until_free(run_dir: Path, seconds: float, poll: float = 0.2) -> bool:
    """Wait until no process holds the lock of `run_dir` (True), for at most `seconds` (False)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            lock_run(run_dir, f"tune: is {run_dir.name} free?").release()
            return True
        except RunLocked:
            pass
        except LatentscapeError:
            return True  # the folder is gone (or cannot be locked): nobody writes it
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)


def _train_once(cfg: RunConfig, run_dir: Path) -> None:
    saved = run_dir / "config.yaml"
    if saved.is_file():
        if saved.read_text() != dump_config(cfg):
            raise LatentscapeError(
                f"{run_dir} holds a run of another config (an older study in this folder?); use a new --study-dir"
            )
        if (run_dir / "eval" / "final.json").is_file():
            return  # finished before a kill: never trained twice
        if not (run_dir / "checkpoints" / "last.pt").is_file():
            shutil.rmtree(run_dir)  # killed before its first checkpoint: nothing worth keeping
    resume = saved.is_file()
    logs = run_dir.parent.parent / "logs"
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    # The trainer prints a line per log window; keep it in study_dir/logs/<trial>.log instead of
    # flooding the study's terminal output (appended: a resumed repeat keeps its earlier log).
    # Not inside the run folder: a new run is created whole, by renaming a finished folder there.
    with appending(logs / f"{run_dir.name}.log") as log, contextlib.redirect_stdout(log):  # a full disk names the log
        train_and_evaluate(cfg, run_dir, resume=resume, data=_data(cfg), quiet=True)


def _data(cfg: RunConfig):
    """The datasets of `cfg`, loaded once per data config (repeats and grid points share them)."""
    if cfg.data not in _DATA_CACHE:
        _DATA_CACHE.clear()
        _DATA_CACHE[cfg.data] = load_data(cfg)
    return _DATA_CACHE[cfg.data]
