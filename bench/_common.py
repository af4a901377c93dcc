"""Helpers shared by the benchmark scripts (run as `python bench/NAME.py`, so this imports as
`from _common import ...`)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from latentscape.io import write_json
from latentscape.rundir.callbacks import Callback

REPO = Path(__file__).resolve().parents[1]


def default_data_dir() -> str:
    """$LATENTSCAPE_DATA, else ../shared/data beside the repository."""
    return os.environ.get("LATENTSCAPE_DATA") or str(REPO.parent / "shared" / "data")


def write_results(path: str | Path, results: dict[str, Any]) -> Path:
    """Write a benchmark's JSON atomically (parent folders created) and say where."""
    path = write_json(path, results)
    print(f"wrote {path}")
    return path


class StepClock(Callback):
    """Times the optimisation steps only (no evaluation, no pictures)."""

    def __init__(self) -> None:
        self.start = self.end = 0.0

    def on_train_start(self, state) -> None:
        self.start = time.perf_counter()

    def on_step_end(self, state, logs) -> None:
        self.end = time.perf_counter()
