"""A check before a dataset is built in memory: will it fit?

Datasets are tensors in memory (DESIGN.md, Data). A config within every declared range can still
ask for terabytes (data.image_size=4096 with 100,000 generated sprites; a folder of 10,000
pictures at 4096 pixels a side); allocating it gets the process killed by the kernel, with no
message and nothing to fix. `check_fits` refuses it first, naming what to lower.
"""

from __future__ import annotations

import os

from latentscape.errors import DataError

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


def check_fits(nbytes: int, what: str, lower: str) -> None:
    """DataError when building `what` needs more than the available memory.

    Args:
        nbytes: bytes the build will hold at its peak.
        what: the thing built, e.g. "the shapes dataset (100000 images of 4096x4096)".
        lower: the settings that shrink it, e.g. "data.image_size or data.num_examples".
    """
    available = available_memory()
    if available is not None and nbytes > available:
        raise DataError(
            f"{what} needs {nbytes / _GIB:.1f} GiB of memory, more than the {available / _GIB:.1f} GiB "
            f"available; lower {lower}"
        )
