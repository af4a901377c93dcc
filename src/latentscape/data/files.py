"""Files on disk: expected names and checksums, MD5 hashing, and an in-process parse cache.

Every real dataset lists the files it reads as `FileSpec`s (name inside the dataset folder, MD5,
size, download URL). `require_file` turns a missing, empty or corrupt file into one `DataError`
line that says what to do. Parsed arrays are cached per process, keyed by (path, mtime, size), so
loading the same split twice (train + val, or several commands in one test session) is free and a
changed file is re-read. Decoded tensors and MD5 digests are also kept on disk under
`processed_cache_dir()` with the same keys, so the next command skips decompression, unpickling
and hashing (start-up time); a cache file is loaded with `torch.load(weights_only=True)` and
rebuilt when unreadable.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from latentscape.errors import DataError
from latentscape.io import load_tensors

T = TypeVar("T")

_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileSpec:
    """One file of a dataset folder.

    Attributes:
        name: path relative to the dataset folder (e.g. "train-images-idx3-ubyte.gz").
        md5: expected MD5 hex digest, or None when no official checksum exists.
        size: expected size in bytes, or None when unknown.
        url: where to download it from, or None (the file comes inside an archive, or by hand).
        splits: which published splits need it ("train", "test"); empty means every split.
    """

    name: str
    md5: str | None = None
    size: int | None = None
    url: str | None = None
    splits: tuple[str, ...] = ()

    def needed_for(self, split: str) -> bool:
        return not self.splits or split in self.splits


def md5_file(path: Path) -> str:
    """MD5 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.md5()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                digest.update(chunk)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    return digest.hexdigest()


_MD5_CACHE: dict[tuple[str, int, int], str] = {}


def cached_md5(path: Path) -> str:
    """`md5_file` remembered per (path, mtime, size): in the process, and on disk across runs."""
    key = _file_key(path)
    if key not in _MD5_CACHE:
        disk_key = "|".join(map(str, key))
        stored = _read_md5_store()
        if disk_key in stored:
            _MD5_CACHE[key] = stored[disk_key]
        else:
            _MD5_CACHE[key] = md5_file(path)
            _write_md5_store({**stored, disk_key: _MD5_CACHE[key]})
    return _MD5_CACHE[key]


def _md5_store_path() -> Path:
    return processed_cache_dir() / "md5.json"


def _read_md5_store() -> dict[str, str]:
    try:
        data = json.loads(_md5_store_path().read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)} if isinstance(data, dict) else {}


def _write_md5_store(entries: dict[str, str]) -> None:
    """Replace the digest store atomically (a lost concurrent update only costs a re-hash)."""
    _write_cache_file(_md5_store_path(), lambda fh: fh.write(json.dumps(entries, sort_keys=True).encode()))


def _write_cache_file(path: Path, write: Callable[[Any], Any]) -> None:
    """Call `write(binary file)` on a temp file and move it onto `path`; an OSError (read-only or
    full cache) is ignored, as a missing cache entry only costs time next run.

    Not `latentscape.io.atomic_write`: every write there is a numbered fault-injection point of
    a run (LATENTSCAPE_FAULT_AT), and best-effort cache writes, present or not depending on what
    an earlier command cached, must not shift that numbering.
    """
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except OSError:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def verify_md5(path: Path, expected: str | None, hint: str = "") -> None:
    """Raise `DataError` when `path`'s MD5 is not `expected` (no-op for None)."""
    if expected is None:
        return
    actual = cached_md5(path)
    if actual != expected:
        raise DataError(
            f"checksum mismatch for {path}: md5 {actual}, expected {expected}; the file is "
            f"corrupt or a different version: delete it and download it again{hint}"
        )


def _file_key(path: Path) -> tuple[str, int, int]:
    try:
        st = path.stat()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    return (str(path.resolve()), st.st_mtime_ns, st.st_size)


_PARSE_CACHE: dict[tuple[Any, ...], Any] = {}
_PARSE_LOCK = threading.Lock()


def cached_parse(paths: list[Path] | tuple[Path, ...], tag: str, parse: Callable[[], T], persist: bool = True) -> T:
    """Return `parse()`, remembered per process for these files (by path + mtime + size) and `tag`.

    With `persist`, a result that is a tuple of tensors is also stored on disk (see
    `processed_cache_dir`) and reused by later processes while the files are unchanged.
    Callers must treat the result as read-only (it is shared between loads).
    """
    key = (tag, *(_file_key(p) for p in paths))
    with _PARSE_LOCK:
        if key in _PARSE_CACHE:
            return _PARSE_CACHE[key]
    value = _load_decoded(key) if persist else None
    if value is None:
        value = parse()
        if persist:
            _store_decoded(key, value)
    with _PARSE_LOCK:
        _PARSE_CACHE[key] = value
    return value


def _decoded_path(key: tuple[Any, ...]) -> Path:
    digest = hashlib.sha1(json.dumps(key, default=str).encode()).hexdigest()[:20]
    slug = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(key[0]))[:40]
    return processed_cache_dir() / f"decoded-{slug}-{digest}.pt"


def _load_decoded(key: tuple[Any, ...]) -> Any:
    """The stored tuple of tensors for `key`, or None (missing, unreadable or foreign file)."""
    import torch

    path = _decoded_path(key)
    if not path.is_file():
        return None
    try:
        value = load_tensors(path)
    except Exception:  # noqa: BLE001 - any unreadable cache file is rebuilt
        path.unlink(missing_ok=True)
        return None
    if isinstance(value, (tuple, list)) and value and all(isinstance(v, torch.Tensor) for v in value):
        return tuple(value)
    return None


def _store_decoded(key: tuple[Any, ...], value: Any) -> None:
    import torch

    if not (isinstance(value, tuple) and value and all(isinstance(v, torch.Tensor) for v in value)):
        return
    _write_cache_file(_decoded_path(key), lambda fh: torch.save(tuple(v.contiguous() for v in value), fh))


def memo(key: tuple[Any, ...], build: Callable[[], T]) -> T:
    """Process-wide cache for data without files (generated datasets)."""
    with _PARSE_LOCK:
        if key in _PARSE_CACHE:
            return _PARSE_CACHE[key]
    value = build()
    with _PARSE_LOCK:
        _PARSE_CACHE[key] = value
    return value


def processed_cache_dir() -> Path:
    """Where decoded image folders are kept: $LATENTSCAPE_CACHE, else ~/.cache/latentscape/processed."""
    env = os.environ.get("LATENTSCAPE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "latentscape" / "processed"


def disk_cached_array(key: dict[str, Any], build: Callable[[], np.ndarray]) -> np.ndarray:
    """`build()` saved as .npy under `processed_cache_dir()` and reused while `key` is unchanged.

    Decoding an image folder (CelebA: 200k JPEGs) takes minutes; the decoded uint8 array takes
    one read. `key` must describe everything the array depends on (folder, split, size, file
    list digest, mtimes). The file is written atomically; an unreadable cache file is rebuilt.
    """
    digest = hashlib.sha1(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:20]
    path = processed_cache_dir() / f"{key.get('name', 'data')}-{digest}.npy"
    if path.is_file():
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
    array = build()
    _write_cache_file(path, lambda fh: np.save(fh, array, allow_pickle=False))
    return array


def clear_cache() -> None:
    """Forget every cached parse and checksum (tests use this)."""
    with _PARSE_LOCK:
        _PARSE_CACHE.clear()
    _MD5_CACHE.clear()


def human_size(n: int) -> str:
    """1536 -> '1.5 KiB'."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover
