"""A check before something big is built in memory: will it fit?

Datasets are tensors in memory (DESIGN.md, Data). A config within every declared range can still
ask for terabytes (data.image_size=4096 with 100,000 generated sprites; a folder of 10,000
pictures at 4096 pixels a side; an MLP of three 100,000-wide layers); allocating it gets the
process killed by the kernel, with no message and nothing to fix, or swaps the machine towards
it. `check_fits` refuses it first, naming what to lower. The models' estimate (parameters,
gradients, optimizer state, activations) is rundir/footprint.py; it calls this check.

`LATENTSCAPE_NO_LIMITS=1` lets a run go beyond the check (and the declared upper bounds of
counts, latentscape.ranges) on purpose: a machine whose free memory the estimate misreads.
"""

from __future__ import annotations

import os

from latentscape.errors import DataError, LatentscapeError
from latentscape.ranges import NO_LIMITS_ENV, limits_lifted

_GIB = 1024**3


def available_memory() -> int | None:
    """Bytes of memory available to new allocations (Linux MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def gib(nbytes: float) -> str:
    """A size for a message: "3.4 GiB", "120 MiB", "24 KiB", "1000 bytes"."""
    for unit, size in (("GiB", _GIB), ("MiB", 1024**2), ("KiB", 1024)):
        if nbytes >= size:
            return f"{nbytes / size:.1f} {unit}" if unit == "GiB" else f"{nbytes / size:.0f} {unit}"
    return f"{int(nbytes)} bytes"


def check_fits(
    nbytes: int,
    what: str,
    lower: str,
    *,
    available: int | None = None,
    usable: float = 1.0,
    error: type[LatentscapeError] = DataError,
) -> None:
    """Raise `error` when building `what` needs more than `usable` x the available memory.

    Args:
        nbytes: bytes the build will hold at its peak.
        what: the thing built, e.g. "the shapes dataset (100000 images of 4096x4096)".
        lower: the settings that shrink it, e.g. "data.image_size or data.num_examples".
        available: bytes free where it will live (default: this machine's MemAvailable).
        usable: the fraction of `available` it may take (the rest: the process itself, the
            allocator's slack, the other users of a shared machine).
        error: the LatentscapeError subclass raised.
    """
    available = available_memory() if available is None else available
    if available is None or nbytes <= usable * available or limits_lifted():
        return
    share = "" if usable >= 1.0 else f" ({usable:.0%} of {gib(available)} available)"
    room = gib(usable * available) if usable < 1.0 else gib(available)
    raise error(
        f"{what} needs {gib(nbytes)} of memory, more than the {room}{share or ' available'}; "
        f"lower {lower} (or set {NO_LIMITS_ENV}=1 to try anyway)"
    )
