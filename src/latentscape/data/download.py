"""Downloads from canonical sources: stream to a temp file, verify MD5, then rename atomically.

A partial or corrupt download never takes the place of a file: the data goes to a temporary file
next to the target, its MD5 is checked while streaming, and only a verified file is moved into
place with `os.replace`. Archives (CIFAR, CUB) are extracted with `tarfile`'s "data" filter, which
refuses absolute paths, `..` components, links out of the folder and device files.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from latentscape.errors import DataError
from latentscape.progress import Progress

_CHUNK = 1 << 20
_TIMEOUT_S = 60


@dataclass(frozen=True)
class Archive:
    """A downloadable archive that holds a dataset folder.

    Attributes:
        url: canonical address.
        filename: name of the archive file (kept in the data root after download).
        md5: the official checksum of the archive.
    """

    url: str
    filename: str
    md5: str


def download_file(url: str, dest: Path, md5: str | None) -> Path:
    """Fetch `url` to `dest` (atomically), checking its MD5 when given.

    Raises:
        DataError: network failure, HTTP error, or checksum mismatch (nothing is left at `dest`).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    digest = hashlib.md5()
    try:
        with os.fdopen(fd, "wb") as out:
            request = urllib.request.Request(url, headers={"User-Agent": "latentscape"})
            with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response, Progress(
                f"downloading {url}", _megabytes(response.headers.get("Content-Length")), unit="MB", lazy=True,
            ) as progress:
                got = 0
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    digest.update(chunk)
                    out.write(chunk)
                    got += len(chunk)
                    progress.update(got // 1_000_000)
        if md5 is not None and digest.hexdigest() != md5:
            raise DataError(
                f"checksum mismatch downloading {url}: md5 {digest.hexdigest()}, expected {md5}; "
                "the download is corrupt or the server changed the file: try again, or fetch it "
                f"by hand to {dest}"
            )
        os.replace(tmp, dest)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DataError(
            f"could not download {url} ({reason}); check the network, or fetch the file by hand "
            f"to {dest}"
        ) from None
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _megabytes(length: str | None) -> int | None:
    """A Content-Length header in whole megabytes (None when absent or not a number)."""
    try:
        return max(1, int(length) // 1_000_000) if length else None
    except ValueError:
        return None


def download_archive(archive: Archive, root: Path) -> None:
    """Download `archive` into `root` (unless a verified copy is there) and extract it there."""
    path = root / archive.filename
    from latentscape.data.files import md5_file

    if not path.is_file() or md5_file(path) != archive.md5:
        download_file(archive.url, path, archive.md5)
    extract_tar(path, root)


def extract_tar(path: Path, dest: Path) -> None:
    """Extract a (gzip) tar archive into `dest`, refusing unsafe members.

    Raises:
        DataError: unreadable archive, or a member that would escape `dest`.
    """
    try:
        with tarfile.open(path, "r:*") as tar:
            tar.extractall(dest, filter="data")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DataError(f"cannot extract {path}: {exc}; delete it and download it again") from None
