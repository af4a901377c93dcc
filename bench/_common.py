"""Helpers shared by the benchmark scripts (run as `python bench/NAME.py`, so this imports as
`from _common import ...`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from latentscape.io import write_json

REPO = Path(__file__).resolve().parents[1]


def default_data_dir() -> str:
    """$LATENTSCAPE_DATA, else ../shared/data beside the repository."""
    return os.environ.get("LATENTSCAPE_DATA") or str(REPO.parent / "shared" / "data")


def write_results(path: str | Path, results: dict[str, Any]) -> Path:
    """Write a benchmark's JSON atomically (parent folders created) and say where."""
    path = write_json(path, results)
    print(f"wrote {path}")
    return path
