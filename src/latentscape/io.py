"""Atomic file writes (the only ones in the package): write a temp file, then `os.replace`.

A crash or SIGKILL mid-write leaves either the old file or the new one, never a torn checkpoint,
JSON, PNG or HTML file. Results get ordinary permissions (0o666 minus the umask), as `open()`
would give them, not mkstemp's owner-only 0o600.
"""

from __future__ import annotations

import glob
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from latentscape.errors import LatentscapeError
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
    if path.is_dir():
        raise LatentscapeError(f"cannot write {path}: it is a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # the writer's PID is in the name: a later write removes what a killed writer left
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.{os.getpid()}-", suffix=f"{path.suffix}.tmp", dir=path.parent)
    except OSError as exc:  # a parent that is a file, a read-only or missing place
        raise LatentscapeError(f"cannot write {path}: {exc.strerror or exc}") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, _FILE_MODE)
        fault_point(f"write {path.name}")  # test hook (latentscape.faults): a kill here leaves the temp file
        os.replace(tmp_path, path)
    except OSError as exc:  # e.g. the disk is full: one line naming the destination, not the temp file
        raise LatentscapeError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
    _remove_orphans(path)


def _remove_orphans(path: Path) -> None:
    """Delete temp files of `path` left by writers that were killed (their process is gone)."""
    prefix = f".{path.stem}."
    for p in path.parent.glob(f"{glob.escape(prefix)}*{glob.escape(path.suffix)}.tmp"):
        pid = p.name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            p.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def atomic_write(path: str | Path, write: Callable[[IO[Any]], Any], mode: str = "wb") -> Path:
    """Call `write(fileobj)` on a temp file (opened with `mode`, "wb" or "w") and move it onto
    `path` atomically, after flushing it to disk."""
    path = Path(path)
    encoding = None if "b" in mode else "utf-8"
    with atomic_path(path) as tmp:
        with open(tmp, mode, encoding=encoding) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 `text` to `path` atomically."""
    return atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


def to_json_value(obj: Any) -> Any:
    """A JSON-ready copy of `obj`: tensors/arrays become (lists of) numbers, paths strings, NaN and
    infinities null (strict JSON has no NaN token), mapping keys strings."""
    if hasattr(obj, "tolist"):  # torch / numpy scalars and arrays
        obj = obj.tolist()
    if isinstance(obj, float) and (obj != obj or obj in (float("inf"), float("-inf"))):
        return None
    if isinstance(obj, dict):
        return {str(k): to_json_value(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json_value(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path: str | Path, obj: Any) -> Path:
    """Write `obj` as indented, strict JSON atomically (see `to_json_value`)."""
    return atomic_write_text(path, json.dumps(to_json_value(obj), indent=2) + "\n")


def load_tensors(path: str | Path) -> Any:
    """`torch.load(path, weights_only=True)` on the CPU, never unpickling code, and without
    torch's multi-line warnings (e.g. "Detected pickle protocol 4"): the callers turn a refusal
    into their own one-line error, or rebuild a cache."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.load(path, map_location="cpu", weights_only=True)
