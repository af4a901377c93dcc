"""A study: Optuna samples the searched config keys, each trial trains its repeats as run dirs.

Grid searches use Optuna's GridSampler (its first N trials take the N grid points one each, so
concurrent workers never share a point); sampled spaces use a seeded TPESampler (constant liar
for concurrent workers). Around the sampler a worker keeps three invariants, checked on the
storage so that any number of workers on any machines agree:

* a grid point runs exactly once (a trial that finds a lower-numbered trial of the same point
  waiting, running or finished is pruned as a duplicate without training), and a sampled study
  runs exactly `trials` trials;
* a trial whose worker died is failed and re-queued (heartbeat, or at once for dead processes on
  this host); its retry reuses the finished repeats and resumes the interrupted one;
* a trial that raises (divergence, bad data, ...) is FAILED with its error as the user attr
  `error` and the study goes on; it is not retried;
* a trial whose run folder another process is writing (its run lock is held: the first worker of
  a retried trial that still runs, a `train --resume` or an analysis of the run) did not run: it
  is FAILED with the user attr `refused` (never counted as settled, left out of the summary) and
  re-queued in the same folders, and its worker waits for the folder to be free before going on.
"""

from __future__ import annotations

import logging
import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from latentscape.errors import LatentscapeError
from latentscape.progress import ProgressFn
from latentscape.tune.objective import Objective, ObjectiveMissing
from latentscape.tune.space import Dimension, apply_params, candidate_points, validate
from latentscape.redact import redact
from latentscape.tune.storage import RETRY, default_url, fail_dead_local_trials, fail_stale, open_storage, worker_id
from latentscape.tune.summary import write_summary
from latentscape.tune.trial import RepeatRefused, RepeatResult, run_repeats, wait_until_free


class TrialFailed(Exception):
    """Raised inside the objective so that Optuna records the trial as FAILED and goes on."""


#: How long a worker waits for a refused trial's run folder to be free before it tries again
#: (one re-queued attempt per wait while the other writer runs).
REFUSED_WAIT_SECONDS = 60.0


@dataclass(frozen=True)
class TuneSpec:
    """Everything a worker needs; workers joining one study must agree on `fingerprint()`."""

    base: dict[str, Any]  # the raw config (YAML + overrides) before the searched keys are set
    dims: tuple[Dimension, ...]
    objective: Objective
    study_dir: Path
    repeats: int = 1
    trials: int | None = None  # sampled studies only
    storage: str | None = None
    study_name: str = "latentscape"
    seed: int = 0
    heartbeat: int = 10
    verbose: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_grid(self) -> bool:
        return all(d.kind == "grid" for d in self.dims)

    @property
    def size(self) -> int:
        """Trials the study runs: every grid point, or --trials."""
        return len(candidate_points(self.dims)) if self.is_grid else int(self.trials or 0)

    @property
    def url(self) -> str:
        return self.storage or default_url(self.study_dir)

    def fingerprint(self) -> dict[str, Any]:
        """What workers of one study must share (not the data folder, which differs by machine,
        nor --trials, which may be raised to extend a sampled study)."""
        base = {k: v for k, v in self.base.items() if k != "output_dir"}
        if isinstance(base.get("data"), dict):
            base["data"] = {k: v for k, v in base["data"].items() if k != "data_dir"}
        return {
            "base": base,
            "dims": [d.to_json() for d in self.dims],
            "objective": self.objective.name,
            "direction": self.objective.direction,
            "repeats": self.repeats,
            "seed": self.seed,
            "heartbeat": self.heartbeat,  # every worker must judge staleness alike
        }

    def check(self) -> None:
        """Validate the search before anything runs (ConfigError naming the bad key/value)."""
        if not self.dims:
            raise LatentscapeError("nothing to search: give --grid KEY=v1,v2,... or --space KEY=DIST(...)")
        kinds = {d.kind == "grid" for d in self.dims}
        if len(kinds) > 1:
            raise LatentscapeError("use either --grid or --space in one study, not both")
        if self.repeats < 1:
            raise LatentscapeError("--repeats must be at least 1")
        if self.is_grid and self.trials is not None:
            raise LatentscapeError("--trials is for --space searches; a --grid search runs every point once")
        if not self.is_grid and (self.trials is None or self.trials < 1):
            raise LatentscapeError("a --space search needs --trials N (N >= 1)")
        if self.heartbeat < 1:
            raise LatentscapeError("--heartbeat must be at least 1 second")
        validate(self.base, self.dims)


class _GridSampler(optuna.samplers.GridSampler):
    """Optuna's GridSampler, safe for trials we enqueue.

    With one grid point left, GridSampler.after_trial (Optuna 5.0) reads the finished trial's
    `grid_id`; a trial enqueued with fixed params (how `run_study` fills a point that concurrent
    workers missed) has none, and the worker died with KeyError 'grid_id'. Such a trial stops the
    study only when no grid point is left unvisited.
    """

    def after_trial(self, study, trial, state, values) -> None:  # noqa: ANN001 - Optuna's signature
        if "grid_id" in study._storage.get_trial_system_attrs(trial._trial_id):
            super().after_trial(study, trial, state, values)
        elif not self._get_unvisited_grid_ids(study):
            study.stop()


def open_study(spec: TuneSpec) -> optuna.Study:
    """Create the study, or join it when the fingerprints match."""
    optuna.logging.set_verbosity(logging.ERROR)  # not "[I ...] A new study created": our own lines say what happens
    if spec.study_dir.exists() and not spec.study_dir.is_dir():
        raise LatentscapeError(f"--study-dir {spec.study_dir} is a file, not a folder")
    spec.study_dir.mkdir(parents=True, exist_ok=True)
    storage = open_storage(spec.url, spec.heartbeat)
    if spec.is_grid:
        sampler: optuna.samplers.BaseSampler = _GridSampler(
            {d.key: list(d.values) for d in spec.dims}, seed=spec.seed
        )
    else:
        sampler = optuna.samplers.TPESampler(seed=spec.seed, constant_liar=True)
    study = optuna.create_study(
        storage=storage, study_name=spec.study_name, sampler=sampler,
        direction=spec.objective.direction, load_if_exists=True,
    )
    saved = study.user_attrs.get("spec")
    if saved is None:
        study.set_user_attr("spec", spec.fingerprint())
    elif saved != _plain(spec.fingerprint()):
        raise LatentscapeError(
            f"study {spec.study_name!r} in {redact(spec.url)} was created with another search (config, "
            "keys, objective, repeats, seed or heartbeat differ); use a new --study-dir or --study-name"
        )
    return study


def run_study(spec: TuneSpec, log=print, progress: ProgressFn | None = None) -> optuna.Study:
    """Run this worker until the study is complete (its own trials and those of dead workers).

    `progress(runs done, runs in the study)` after each repeat this worker trains (a run is one
    repeat of one trial; the runs of trials settled before count as done)."""
    spec.check()
    study = open_study(spec)  # quiets Optuna's logging: failures are reported by `log`, one line each
    points = candidate_points(spec.dims) if spec.is_grid else []
    while True:
        fail_dead_local_trials(study)
        fail_stale(study)
        trials = study.get_trials(deepcopy=False)
        waiting = [t for t in trials if t.state == TrialState.WAITING]
        running = [t for t in trials if t.state == TrialState.RUNNING]
        if spec.is_grid:
            covered = [_point(t) for t in trials if _settles(t) or t.state in (TrialState.RUNNING, TrialState.WAITING)]
            missing = [p for p in points if p not in covered]
            if missing and not waiting and len(trials) >= len(points):
                study.enqueue_trial(missing[0])  # past the sampler's first N trials: name the point
                waiting = [missing[0]]
            todo = bool(missing or waiting)
        else:
            todo = bool(waiting) or _budget_used(trials) < spec.trials
        if todo:
            settled = sum(_settles(t) for t in trials)
            on_run = None if progress is None else (lambda runs, before=settled: progress(
                min(before * spec.repeats + runs, spec.size * spec.repeats), spec.size * spec.repeats))
            refused: list[Path] = []
            try:
                study.optimize(lambda trial: _objective(trial, spec, log, on_run, refused), n_trials=1, catch=(TrialFailed,))
            except KeyboardInterrupt:
                _requeue_interrupted(study)  # Ctrl-C is not the trial's fault: the next run redoes it
                raise
            if refused:  # another process writes the trial's folder: retry it once that is over
                _requeue_refused(study, log)
                wait_until_free(refused[0], REFUSED_WAIT_SECONDS)
            write_summary(study, spec, redact(spec.url))
        elif running:
            time.sleep(min(spec.heartbeat, 5))  # another worker's trial: wait for it, or for it to go stale
        else:
            return study


def _objective(trial: optuna.Trial, spec: TuneSpec, log, on_run=None, refused: list[Path] | None = None) -> float:
    trial.set_user_attr("worker", worker_id())  # first: dead-worker checks look for it
    params = {d.key: _suggest(trial, d) for d in spec.dims}
    frozen = _frozen(trial)
    reason = _redundant(trial.study, frozen, spec)
    if reason:
        trial.set_user_attr("skipped", reason)
        raise optuna.TrialPruned(reason)
    key = int(frozen.system_attrs.get("failed_trial", trial.number))
    shown = " ".join(f"{k}={v}" for k, v in params.items())
    log(f"trial {trial.number}: {shown} ({spec.repeats} repeat{'s' * (spec.repeats > 1)})")

    def record(results: list[RepeatResult]) -> None:
        trial.set_user_attr("values", [r.value for r in results])
        trial.set_user_attr("run_dirs", [r.run_dir for r in results])
        trial.set_user_attr("seeds", [r.seed for r in results])
        trial.set_user_attr("histories", [r.history for r in results])
        if on_run is not None:
            on_run(len(results))

    try:
        results = run_repeats(apply_params(spec.base, spec.dims, params), spec.repeats, key, spec.study_dir, spec.objective, record)
    except ObjectiveMissing as exc:
        trial.set_user_attr("error", str(exc))
        raise  # a mistake in the search itself: stop instead of failing every trial the same way
    except RepeatRefused as exc:  # not the trial's fault: no `error`, so it is retried, not settled
        trial.set_user_attr("refused", str(exc))
        log(f"trial {trial.number} did not run: {exc}")
        if refused is not None:
            refused.append(exc.run_dir)
        raise TrialFailed(str(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - any failure of one trial is recorded, the study goes on
        message = f"{exc.__class__.__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        trial.set_user_attr("error", message)
        log(f"trial {trial.number} FAILED: {message}")
        raise TrialFailed(message) from exc
    values = [r.value for r in results]
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    trial.set_user_attr("std", std)
    mean = math.fsum(values) / len(values)
    log(f"trial {trial.number}: {spec.objective.name} = {mean:.6g} +- {std:.3g} over {len(values)}")
    return mean


def _requeue_interrupted(study: optuna.Study) -> None:
    """Re-queue this worker's trial that Optuna just failed because of KeyboardInterrupt, so a
    rerun retries it in the same folders (as for a killed worker)."""
    trials = study.get_trials(deepcopy=False)
    retried = _retried(trials)
    for t in trials:
        if (t.state == TrialState.FAIL and t.user_attrs.get("worker") == worker_id()
                and "error" not in t.user_attrs and "refused" not in t.user_attrs and t.number not in retried):
            RETRY(study, t)


def _requeue_refused(study: optuna.Study, log) -> None:
    """Re-queue this worker's trials refused by a run lock, in the same folders (`failed_trial`).

    Unlike RETRY this does not add to `retry_history`: waiting for another writer is not one of
    the MAX_RETRY attempts that a trial whose workers keep dying gets."""
    trials = study.get_trials(deepcopy=False)
    retried = _retried(trials)
    for t in trials:
        if (t.state == TrialState.FAIL and "refused" in t.user_attrs
                and t.user_attrs.get("worker") == worker_id() and t.number not in retried):
            number = study._storage.create_new_trial(study._study_id, template_trial=optuna.create_trial(
                state=TrialState.WAITING, params=t.params, distributions=t.distributions,
                system_attrs={**t.system_attrs, "failed_trial": t.system_attrs.get("failed_trial", t.number),
                              "requeued_from": t.number},
            ))
            log(f"trial {t.number} re-queued as trial {study._storage.get_trial_number_from_id(number)}, "
                "to run once its folder is free")


def _retried(trials: list[FrozenTrial]) -> set[int]:
    """Trials already re-queued: by Optuna's retry (a dead worker, Ctrl-C) or after a refusal."""
    return ({n for t in trials for n in t.system_attrs.get("retry_history", [])}
            | {t.system_attrs["requeued_from"] for t in trials if "requeued_from" in t.system_attrs})


def _suggest(trial: optuna.Trial, d: Dimension) -> Any:
    if d.kind in ("grid", "choice"):
        return trial.suggest_categorical(d.key, list(d.values))
    if d.kind in ("int", "logint"):
        return trial.suggest_int(d.key, int(d.low), int(d.high), log=d.kind == "logint")
    return trial.suggest_float(d.key, d.low, d.high, log=d.kind == "loguniform")


def _frozen(trial: optuna.Trial) -> FrozenTrial:
    return next(t for t in trial.study.get_trials(deepcopy=False) if t.number == trial.number)


def _point(t: FrozenTrial) -> dict[str, Any]:
    return dict(t.params or t.system_attrs.get("fixed_params") or {})


def settled_runs(study: optuna.Study, spec: TuneSpec) -> int:
    """Runs (repeats of trials) the study has finished already: where a rerun starts counting."""
    return min(sum(_settles(t) for t in study.get_trials(deepcopy=False)), spec.size) * spec.repeats


def _settles(t: FrozenTrial) -> bool:
    """A finished trial that counts: complete, or failed by its own error (not by a dead worker)."""
    return t.state == TrialState.COMPLETE or (t.state == TrialState.FAIL and "error" in t.user_attrs)


def _counts_against(t: FrozenTrial, me: FrozenTrial) -> bool:
    return _settles(t) or (t.state in (TrialState.RUNNING, TrialState.WAITING) and t.number < me.number)


def _budget_used(trials: list[FrozenTrial]) -> int:
    return sum(_settles(t) or t.state in (TrialState.RUNNING, TrialState.WAITING) for t in trials)


def _redundant(study: optuna.Study, me: FrozenTrial, spec: TuneSpec) -> str:
    """Why this trial must not train ('' when it must): a duplicate grid point or over budget."""
    others = [t for t in study.get_trials(deepcopy=False) if t.number != me.number and _counts_against(t, me)]
    if spec.is_grid:
        dup = [t.number for t in others if _point(t) == me.params]
        return f"duplicate of trial {dup[0]}" if dup else ""
    lower = [t for t in others if t.number < me.number]
    return f"over the budget of {spec.trials} trials" if len(lower) >= (spec.trials or 0) else ""


def _plain(obj: Any) -> Any:
    """JSON round trip, as the storage returns user attrs (tuples become lists)."""
    import json

    return json.loads(json.dumps(obj))
