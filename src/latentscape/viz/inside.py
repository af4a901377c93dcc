"""Nothing outside the folder: open a file only when it really lies inside a given folder.

The report server (viz/serve.py) and the self-contained pages (pictures embedded as data URIs)
both read files named by what they find in a folder of runs, a folder that other people's runs,
downloads and symbolic links end up in. A link `images/x.png -> /home/me/.ssh/id_ed25519` must
not put that file into a page meant to be mailed, nor onto a web server's answer.

`open_inside(root, path)` opens `path` and then checks the file it actually opened (via
/proc/self/fd, so a link swapped between a check and the open changes nothing): a regular file
whose resolved path lies inside the resolved `root`. Links that stay inside are fine. FIFOs and
devices are refused without blocking (opened with O_NONBLOCK). `files_under` lists the pictures
of a folder without following links to folders (a link to / would otherwise walk the disk).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from latentscape.errors import LatentscapeError


class OutsideFolder(LatentscapeError):
    """A path that is not a regular file inside the folder it was looked up in."""


def resolved_root(root: str | Path) -> Path:
    """`root` with every link resolved (what `open_inside` compares with)."""
    return Path(os.path.realpath(root))


@contextmanager
def open_inside(root: str | Path, path: str | Path) -> Iterator[tuple[BinaryIO, os.stat_result]]:
    """Open `path` for reading if it is a regular file whose real location is inside `root`.

    Yields:
        (binary file object, its os.fstat result).

    Raises:
        OutsideFolder: missing, a folder, a FIFO or device, or a file outside `root` (through a
            symbolic link or otherwise); the message says which, without the link's target.
    """
    real_root = resolved_root(root)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        raise OutsideFolder(f"{path}: {getattr(exc, 'strerror', None) or 'cannot open'}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OutsideFolder(f"{path}: not a regular file")
        real = _opened_path(fd, path)
        if real_root not in real.parents:
            raise OutsideFolder(f"{path}: leads outside {root}")
        os.set_blocking(fd, True)
        fh = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with fh:
        yield fh, st


def read_inside(root: str | Path, path: str | Path, limit: int | None = None) -> bytes:
    """The bytes of `path` if `open_inside` allows it (at most `limit` bytes when given)."""
    with open_inside(root, path) as (fh, _):
        return fh.read() if limit is None else fh.read(limit)


def files_under(
    folder: str | Path, root: str | Path | None = None, suffixes: tuple[str, ...] = (), left_out: list[Path] | None = None
) -> list[Path]:
    """Sorted regular files below `folder` that lie inside `root` (default `folder`), with one
    of `suffixes` (any when empty); links to folders are not followed, links to files outside
    `root` are left out (and appended to `left_out` when given)."""
    folder = Path(folder)
    real_root = resolved_root(root if root is not None else folder)
    found = []
    for current, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        for name in files:
            path = Path(current) / name
            if suffixes and path.suffix.lower() not in suffixes:
                continue
            real = Path(os.path.realpath(path))
            if (real_root in real.parents) and real.is_file():
                found.append(path)
            elif left_out is not None and path.is_symlink():
                left_out.append(path)
    return sorted(found)


def _opened_path(fd: int, path: str | Path) -> Path:
    """The real path of the file behind `fd` (Linux: /proc/self/fd), else `path` resolved."""
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
        if target.startswith("/") and not target.endswith(" (deleted)"):
            return Path(target)
    except OSError:
        pass
    return Path(os.path.realpath(path))
