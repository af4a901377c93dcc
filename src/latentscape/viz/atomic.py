"""Atomic file writes for pictures and reports: write a temp file, then `os.replace`.

A crash mid-write leaves either the old file or the new one, never a torn PNG/HTML.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from latentscape.faults import fault_point

# mkstemp creates files readable by the owner only; give the result ordinary permissions
# (0o666 minus the process umask), as open() would. Read once: os.umask can only be read by setting.
_UMASK = os.umask(0)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path next to `path`; on success move it onto `path` (parents created).

    Args:
        path: final destination.

    Yields:
        A temporary path in the same folder (same file system, so `os.replace` is atomic). It
        keeps the destination's suffix so that libraries choosing a format by suffix still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f"{path.suffix}.tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, _FILE_MODE)
        fault_point(f"write {path.name}")  # test hook (latentscape.faults)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Call `write(fileobj)` on a binary temp file and move it onto `path` atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 `text` to `path` atomically."""
    return atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))
