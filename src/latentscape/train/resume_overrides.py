"""Config changes allowed when resuming a run (`latentscape train --resume RUN key=value ...`).

Only keys that steer the rest of the optimisation without invalidating the saved state may
change: the learning rates, the schedule, gradient clipping and the length of the run (e.g. after
a NaN stop, resume with a lower `train.optimizer.lr`). Anything else (model, data, batch size,
optimizer type, seed) would make the checkpoint describe a different run, so it is refused with
the allowed keys named. Each change is appended to `config_history.jsonl` (step, time, key, old
and new value) before `config.yaml` is rewritten as the resolved current config.
"""

from __future__ import annotations

import fnmatch
import json
import os
import time
from typing import Any

from latentscape.config import RunConfig, apply_overrides, config_from_dict, config_to_dict, dump_config
from latentscape.errors import CheckpointError, ConfigError
from latentscape.io import atomic_write_text
from latentscape.rundir.checkpoint import STATE_FORMAT, load_checkpoint
from latentscape.rundir.run import CONFIG_FILE, Run

HISTORY_FILE = "config_history.jsonl"

#: Patterns of the keys `--resume` may change (fnmatch syntax; `*` is one section name or more).
RESUMABLE_KEYS = (
    "train.optimizer.lr",
    "train.group_optimizers.*.lr",
    "train.schedule.*",
    "train.grad_clip",
    "train.epochs",
    "train.max_steps",
)


def resume_config(run: Run, overrides: list[str] | tuple[str, ...], write: bool = True) -> RunConfig:
    """The run's config with `overrides` applied (only RESUMABLE_KEYS), recorded when `write`.

    Args:
        run: the run being resumed.
        overrides: `key=value` strings.
        write: record the change (config_history.jsonl, then config.yaml); False on the non-zero
            ranks of a distributed resume, which only need the resulting config.

    Returns:
        The validated new config (the saved one when there are no overrides).
    """
    current = run.config()
    if not overrides:
        return current
    keys = [_key_of(item) for item in overrides]
    refused = [k for k in keys if not any(fnmatch.fnmatchcase(k, p) for p in RESUMABLE_KEYS)]
    if refused:
        raise ConfigError(
            f"{refused[0]} cannot change when resuming (the checkpoint was made with it); "
            f"allowed with --resume: {', '.join(RESUMABLE_KEYS)}"
        )
    raw = config_to_dict(current)
    for k in keys:  # a new per-group entry starts as a copy of the default optimizer
        parts = k.split(".")
        if parts[:2] == ["train", "group_optimizers"] and parts[2] not in raw["train"]["group_optimizers"]:
            raw["train"]["group_optimizers"][parts[2]] = dict(raw["train"]["optimizer"])
    new = config_from_dict(apply_overrides(raw, overrides))
    changes = {k: {"from": _lookup(raw, k), "to": _lookup(config_to_dict(new), k)} for k in keys}
    changes = {k: v for k, v in changes.items() if v["from"] != v["to"]}
    if write and changes:
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "step": _resumed_step(run), "changes": changes}
        history = run.path / HISTORY_FILE
        old = history.read_text(encoding="utf-8", errors="replace") if history.is_file() else ""
        if old and not old.endswith("\n"):
            old = old[: old.rfind("\n") + 1]  # drop a line torn by a kill
        atomic_write_text(history, old + json.dumps(entry) + "\n")
        atomic_write_text(run.path / CONFIG_FILE, dump_config(new))
    return new


def read_history(run: Run) -> list[dict[str, Any]]:
    """The recorded resume-time config changes, oldest first."""
    path = run.path / HISTORY_FILE
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):  # a line torn by a kill, or damaged
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def is_main_process() -> bool:
    """Rank 0 (or not distributed): the process that writes run files."""
    return os.environ.get("RANK", "0") == "0"


def _key_of(item: str) -> str:
    if "=" not in item:
        raise ConfigError(f"override {item!r} is not of the form key=value (e.g. train.optimizer.lr=3e-4)")
    return item.split("=", 1)[0].strip()


def _lookup(raw: Any, key: str) -> Any:
    for part in key.split("."):
        if not isinstance(raw, dict) or part not in raw:
            return None
        raw = raw[part]
    return raw


def _resumed_step(run: Run) -> int:
    try:
        return int(load_checkpoint(run.checkpoints / "last.pt", STATE_FORMAT)["step"])
    except CheckpointError:
        return 0
