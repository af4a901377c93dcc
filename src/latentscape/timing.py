"""Phase timings of the commands, printed when LATENTSCAPE_TIMINGS=1 (or written as JSON to the
file it names), so that start-up, data loading, evaluation, writing and plotting can be measured
separately: `LATENTSCAPE_TIMINGS=1 latentscape path A B` prints `timing <phase> <seconds>` lines
to stderr. Plain declarations only (no package imports): any layer may use it.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

#: process start as seen by the interpreter (the CLI records its own import time against it)
_T0 = time.perf_counter()
_PHASES: list[tuple[str, float]] = []


def enabled() -> bool:
    return bool(os.environ.get("LATENTSCAPE_TIMINGS"))


def record(name: str, seconds: float) -> None:
    """Record one phase; printed to stderr right away when timings are on."""
    _PHASES.append((name, seconds))
    if enabled():
        print(f"timing {name} {seconds:.4f}", file=sys.stderr, flush=True)


@contextmanager
def phase(name: str) -> Iterator[None]:
    """`with phase("evaluate"): ...` records the wall time of the block."""
    start = time.perf_counter()
    try:
        yield
    finally:
        record(name, time.perf_counter() - start)


def since_start() -> float:
    """Seconds since this module was first imported."""
    return time.perf_counter() - _T0


def phases() -> list[tuple[str, float]]:
    return list(_PHASES)


def _dump() -> None:
    target = os.environ.get("LATENTSCAPE_TIMINGS", "")
    if target and target not in ("1", "true", "yes") and _PHASES:
        with open(target, "a", encoding="utf-8") as fh:  # a log for benchmarks: one JSON line per process
            fh.write(json.dumps({"argv": sys.argv[1:], "phases": _PHASES, "total": since_start()}) + "\n")


atexit.register(_dump)
