"""Fault injection for crash-consistency tests (a TEST HOOK; unset in normal use).

Every file-system write step of a run (each atomic file write just before its rename, each
metrics line half-way through, the rename that publishes a new run directory) calls
`fault_point`. With `LATENTSCAPE_FAULT_AT=N` in the environment, the N-th such call (counted per
process, from 1) kills the process with SIGKILL, or, with `LATENTSCAPE_FAULT_MODE=raise`, raises
`InjectedFault` (a BaseException, so no `except Exception` swallows it). A test kills a run at
each step N, resumes it and compares with an uninterrupted run (tests/robust/test_crash_resume.py).
"""

from __future__ import annotations

import os
import signal

FAULT_AT_ENV = "LATENTSCAPE_FAULT_AT"
FAULT_MODE_ENV = "LATENTSCAPE_FAULT_MODE"

_count = 0
_names: list[str] = []


class InjectedFault(BaseException):
    """Raised at the chosen write step when LATENTSCAPE_FAULT_MODE=raise."""


def fault_point(what: str) -> None:
    """Count one write step; die or raise here if it is the one LATENTSCAPE_FAULT_AT names.

    Args:
        what: the step, for the message of `InjectedFault` (e.g. "write last.pt").
    """
    target = os.environ.get(FAULT_AT_ENV)
    if not target:
        return
    global _count
    _count += 1
    _names.append(what)
    if _count != int(target):
        return
    if os.environ.get(FAULT_MODE_ENV, "kill") == "raise":
        raise InjectedFault(f"injected fault at write step {_count}: {what}")
    os.kill(os.getpid(), signal.SIGKILL)


def reset() -> None:
    """Start counting write steps from zero again (in-process tests)."""
    global _count
    _count = 0
    _names.clear()


def steps_counted() -> list[str]:
    """Names of the write steps counted since the last `reset` (while LATENTSCAPE_FAULT_AT is set)."""
    return list(_names)
