"""Where a study lives: an Optuna RDB storage URL, with heartbeats so killed workers are noticed.

Default: `sqlite:///STUDY_DIR/study.db` (one machine). A PostgreSQL URL
(`postgresql+psycopg://user:password@host:5432/db`) lets workers on several machines share one
study. Every running trial records a heartbeat every `heartbeat` seconds; a trial whose heartbeat
is older than twice that is failed and re-queued (Optuna's RetryHeartbeatStaleTrialCallback), up
to `MAX_RETRY` times. A worker also fails at once the running trials of dead processes on its own
host, so a study killed on this machine resumes without waiting for the grace period.
"""

from __future__ import annotations

import copy
import os
import re
import socket
import time
import warnings
from pathlib import Path

import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from latentscape.errors import LatentscapeError
from latentscape.redact import redact, redact_secret_of
from latentscape.io import process_alive

MAX_RETRY = 3
ATTEMPTS = 4


class _Retry(RetryHeartbeatStaleTrialCallback):
    """Optuna's retry, minus the dead attempt's user attrs: its worker identity must not make the
    retry look like a trial of a dead process, and its partial results are not the retry's."""

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        trial = copy.copy(trial)
        trial.user_attrs = {}
        super().__call__(study, trial)


with warnings.catch_warnings():
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    RETRY = _Retry(max_retry=MAX_RETRY)


def default_url(study_dir: Path) -> str:
    return f"sqlite:///{Path(study_dir).resolve() / 'study.db'}"


def open_storage(url: str, heartbeat: int) -> RDBStorage:
    """An RDBStorage with heartbeats; a bad or unreachable URL is one LatentscapeError."""
    if not re.match(r"^(sqlite|postgresql|mysql)(\+\w+)?://", url):
        raise LatentscapeError(f"--storage {redact(url)!r}: expected sqlite:///FILE or postgresql+psycopg://USER@HOST/DB")
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    # Workers starting together on a fresh database race to create Optuna's tables (PostgreSQL
    # answers the loser with a unique violation): the loser retries and finds the tables there.
    for attempt in range(ATTEMPTS):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            try:
                return RDBStorage(
                    url,
                    engine_kwargs=kwargs,
                    heartbeat_interval=heartbeat,
                    grace_period=2 * heartbeat,
                    heartbeat_stale_trial_callback=RETRY,
                )
            except Exception as exc:  # sqlalchemy/driver errors: unreachable server, bad credentials
                if attempt + 1 < ATTEMPTS:
                    time.sleep(0.2 * (attempt + 1))
                    continue
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
                # drivers may quote the URL, or the password alone, in their messages
                hint = "; write '@' in a password as %40" if url.split("?")[0].count("@") > 1 else ""
                raise LatentscapeError(f"--storage {redact(url)}: cannot open ({redact_secret_of(first, url)}){hint}") from None
    raise AssertionError("unreachable")  # pragma: no cover


def worker_id() -> dict[str, object]:
    """This process as recorded on the trials it runs."""
    return {"host": socket.gethostname(), "pid": os.getpid()}


def fail_dead_local_trials(study: optuna.Study) -> list[int]:
    """Fail (and re-queue) RUNNING trials whose worker was a now-dead process on this host."""
    me = worker_id()
    failed = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        w = t.user_attrs.get("worker") or {}
        if w.get("host") != me["host"] or w.get("pid") in (None, me["pid"]) or process_alive(int(w["pid"])):
            continue
        try:
            if study._storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL):
                failed.append(t.number)
                RETRY(study, study._storage.get_trial(t._trial_id))
        except optuna.exceptions.UpdateFinishedTrialError:
            pass  # another worker got there first
    return failed


def fail_stale(study: optuna.Study) -> None:
    """Optuna's heartbeat check (trials of workers on other machines that stopped beating)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)

