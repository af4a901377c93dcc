"""Atomic file writes (the only ones in the package): write a temp file, then `os.replace`.

A crash or SIGKILL mid-write leaves either the old file or the new one, never a torn checkpoint,
JSON, PNG or HTML file. Results get ordinary permissions (0o666 minus the umask), as `open()`
would give them, not mkstemp's owner-only 0o600.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
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
    remove_orphans(path)


# Temp names carry the writer's PID: `.NAME.PID-RANDOM[.SUFFIX].tmp`, files (atomic_path) and folders
# (temp_folder) alike, so that any later writer can tell a dead writer's leftovers from live work.
_TEMP_NAME = re.compile(r"\.(?P<name>.*)\.(?P<pid>\d+)-[^.]*(?P<suffix>(?:\.[^.]*)?)\.tmp")


def temp_writer(name: str) -> int | None:
    """The PID in a temp file or folder name of this module's pattern, else None."""
    m = _TEMP_NAME.fullmatch(name)
    return int(m["pid"]) if m else None


def _dead_writer(name: str, unattributed: bool = False) -> bool:
    pid = temp_writer(name)
    if pid is None:  # not one of ours, or (unattributed) a `.*.tmp` of an older writer without a PID
        return unattributed and name.startswith(".") and name.endswith(".tmp")
    return pid != os.getpid() and not process_alive(pid)


def remove_orphans(path: str | Path) -> None:
    """Delete the temp files and folders of `path` (of `atomic_path` and `temp_folder`) left by
    writers that were killed (their process is gone)."""
    path = Path(path)
    prefix = f".{path.stem}."
    for p in path.parent.glob(f"{glob.escape(prefix)}*{glob.escape(path.suffix)}.tmp"):
        m = _TEMP_NAME.fullmatch(p.name)  # `.a.old.PID-x.png.tmp` is a temp of a.old.png, not of a.png
        if m and (m["name"], m["suffix"]) == (path.stem, path.suffix) and _dead_writer(p.name):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)


def remove_dead_temporaries(folder: str | Path, unattributed: bool = False) -> list[Path]:
    """Delete, anywhere below `folder`, the temp files and folders of writers that are gone (a
    killed writer of a file this run never writes again, e.g. a picture a later run leaves out).
    Symbolic links are not followed; temps of live processes are kept. `unattributed`: also
    `.*.tmp` names without a PID (for a caller that holds the folder's write lock)."""
    removed: list[Path] = []
    for current, dirs, files in os.walk(folder, followlinks=False):
        for name in [d for d in dirs if _dead_writer(d, unattributed)]:
            dirs.remove(name)
            path = Path(current) / name
            if not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
        for name in files:
            if _dead_writer(name, unattributed):
                (Path(current) / name).unlink(missing_ok=True)
                removed.append(Path(current) / name)
    return removed


def temp_folder(dest: str | Path) -> Path:
    """A new, empty temp folder next to `dest` (same file system: `os.replace` moves it onto
    `dest` atomically), named after this process so that a later writer sweeps it if we are killed."""
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{dest.stem}.{os.getpid()}-", suffix=f"{dest.suffix}.tmp", dir=dest.parent))
    except OSError as exc:
        raise LatentscapeError(f"cannot write {dest}: {exc.strerror or exc}") from None


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (a permission error means it does)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


class _WriteErrors:
    """A file object that remembers the OSError of a failed write: libraries that write through
    it (torch.save: "[enforce fail at inline_container.cc] unexpected pos", PIL, matplotlib)
    report their own error instead, which names neither the file nor the cause."""

    def __init__(self, fh: IO[Any]) -> None:
        self._fh = fh
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        try:
            return self._fh.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def __getattr__(self, name: str) -> Any:  # flush, tell, seek, fileno, ... of the real file
        return getattr(self._fh, name)


def atomic_write(path: str | Path, write: Callable[[IO[Any]], Any], mode: str = "wb") -> Path:
    """Call `write(fileobj)` on a temp file (opened with `mode`, "wb" or "w") and move it onto
    `path` atomically, after flushing it to disk. A failed write (a full disk) is one
    LatentscapeError: "cannot write PATH: No space left on device"."""
    path = Path(path)
    encoding = None if "b" in mode else "utf-8"
    with atomic_path(path) as tmp:
        with open(tmp, mode, encoding=encoding) as fh:
            recorder = _WriteErrors(fh)
            try:
                write(recorder)
            except Exception as exc:
                cause = recorder.error if recorder.error is not None else exc if isinstance(exc, OSError) else None
                if cause is None:
                    raise
                raise LatentscapeError(f"cannot write {path}: {cause.strerror or cause}") from None
            fh.flush()
            os.fsync(fh.fileno())
    return path


class _NamingWrites:
    """A text file whose failed writes raise one LatentscapeError naming the file (a write error
    of the OS carries no file name: "No space left on device", but which file?)."""

    def __init__(self, fh: IO[str], path: Path) -> None:
        self._fh, self._path = fh, path

    def write(self, text: str) -> int:
        try:
            return self._fh.write(text)
        except OSError as exc:
            raise LatentscapeError(f"cannot write {self._path}: {exc.strerror or exc}") from None

    def flush(self) -> None:
        try:
            self._fh.flush()
        except OSError as exc:
            raise LatentscapeError(f"cannot write {self._path}: {exc.strerror or exc}") from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)


@contextmanager
def appending(path: str | Path) -> Iterator[IO[str]]:
    """`path` opened for appending UTF-8 text (logs, metrics.jsonl): opening, writing and closing
    errors are one LatentscapeError naming the file; errors of the `with` body are not touched."""
    path = Path(path)
    try:
        fh = open(path, "a", encoding="utf-8")
    except OSError as exc:
        raise LatentscapeError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        yield _NamingWrites(fh, path)  # type: ignore[misc]
    finally:
        try:
            fh.close()
        except OSError as exc:
            raise LatentscapeError(f"cannot write {path}: {exc.strerror or exc}") from None


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
