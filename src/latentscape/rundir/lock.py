"""One writer per run directory: an OS file lock (`fcntl.flock`) on RUN/.lock.

Every command that writes a run directory (train, train --resume, connect, tune trials, the
analyses that write into RUN/analysis/) holds the lock while it writes; a second writer is refused
with one line naming the holder (PID, host, command). The kernel drops the lock when the holding
process exits, however it exits, so a SIGKILL never leaves a stale lock behind: the file stays,
the lock does not. Readers (path, eval, report) never lock: every file they read is written
atomically (or, for metrics.jsonl, appended one line at a time and read up to the last whole line).

The lock file is never replaced or deleted while runs exist (a lock on a replaced file would lock
nothing); the holder's line is written into it through the locked descriptor and emptied when the
lock is released (a killed holder's line stays, but its lock does not). Within one process
the lock is re-entrant (a resume that trains locks the run twice), counted per lock file.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from latentscape.errors import LatentscapeError
from latentscape.redact import redact

LOCK_FILE = ".lock"

# (st_dev, st_ino) of a lock file -> [descriptor, how many times this process holds it]
_HELD: dict[tuple[int, int], list[int]] = {}
_COMMAND_LOCKS: list[RunLock] = []  # taken by lock_enclosing_run, held until the command ends


class RunLocked(LatentscapeError):
    """Another process holds the run's lock."""


class RunLock:
    """A held lock on one run directory; `release()` (or the end of the process) frees it."""

    def __init__(self, run_dir: Path, key: tuple[int, int] | None) -> None:
        self.run_dir = run_dir
        self._key = key
        self._released = key is None

    def release(self) -> None:
        """Give the lock back (once; the last release of this process unlocks the file)."""
        if self._released:
            return
        self._released = True
        held = _HELD.get(self._key)
        if held is None:
            return
        held[1] -= 1
        if held[1] == 0:
            del _HELD[self._key]
            try:
                os.ftruncate(held[0], 0)  # a run nobody writes has an empty lock file
            except OSError:
                pass
            os.close(held[0])  # closing the last descriptor of the file unlocks it

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_run(run_dir: str | Path, command: str | None = None) -> RunLock:
    """Take the write lock of `run_dir` (which must exist) or raise RunLocked.

    Args:
        run_dir: the run directory (or the staging folder a run is being created in).
        command: what writes, for the refusal another writer sees (default: this command line).

    Raises:
        RunLocked: another process holds the lock; the message names its PID, host and command.
        LatentscapeError: the lock file cannot be created (a read-only run directory).
    """
    run_dir = Path(run_dir)
    path = run_dir / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise LatentscapeError(f"cannot lock the run directory {run_dir}: {exc.strerror or exc}") from None
    st = os.fstat(fd)
    key = (st.st_dev, st.st_ino)
    if key in _HELD:  # this process holds it already
        os.close(fd)
        _HELD[key][1] += 1
        return RunLock(run_dir, key)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EACCES):
            holder = _read_holder(fd)
            os.close(fd)
            raise RunLocked(
                f"{run_dir} is being written by another process ({holder}); wait for it to finish or stop "
                "it (one writer per run directory)"
            ) from None
        os.close(fd)  # a file system without locks (ENOLCK, EOPNOTSUPP): say so and go on unlocked
        print(f"warning: cannot lock {path} ({exc.strerror or exc}); make sure nothing else writes this run",
              file=sys.stderr, flush=True)
        return RunLock(run_dir, None)
    _write_holder(fd, command)
    _HELD[key] = [fd, 1]
    return RunLock(run_dir, key)


@contextmanager
def run_locked(run_dir: str | Path, command: str | None = None) -> Iterator[RunLock]:
    """`lock_run` for the duration of a `with` block."""
    lock = lock_run(run_dir, command)
    try:
        yield lock
    finally:
        lock.release()


def lock_enclosing_run(path: str | Path, command: str | None = None) -> RunLock | None:
    """Lock the run directory that `path` (an analysis output folder, existing or not) lies in,
    until the command ends (`release_command_locks`) or the process does; None when `path` is
    not inside a run. For writers that cannot scope the lock to a `with` block."""
    for parent in Path(os.path.abspath(path)).parents:
        if (parent / "config.yaml").is_file() and (parent / "checkpoints").is_dir():
            lock = lock_run(parent, command)
            _COMMAND_LOCKS.append(lock)
            return lock
    return None


def release_command_locks() -> None:
    """Release the locks `lock_enclosing_run` took (the CLI calls it when a command ends)."""
    while _COMMAND_LOCKS:
        _COMMAND_LOCKS.pop().release()


def holds_lock(run_dir: str | Path) -> bool:
    """Whether this process holds the lock of `run_dir`."""
    try:
        st = os.stat(Path(run_dir) / LOCK_FILE)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) in _HELD


def _write_holder(fd: int, command: str | None) -> None:
    """Record who holds the lock (best effort: the lock itself is what protects the run)."""
    what = redact(command or " ".join(["latentscape", *sys.argv[1:]]))[:200]  # e.g. tune --storage URL
    line = f"PID {os.getpid()} on host {socket.gethostname()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}: {what}\n"
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, line.encode("utf-8", "replace"), 0)
    except OSError:
        pass


def _read_holder(fd: int) -> str:
    """The holder's line; it may not be written yet when the holder has just taken the lock."""
    for _ in range(20):
        try:
            text = os.pread(fd, 1000, 0).decode("utf-8", "replace").strip()
        except OSError:
            text = ""
        if text:
            return " ".join(text.split())
        time.sleep(0.01)
    return "its PID is not recorded yet"
