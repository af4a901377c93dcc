"""Pretrained weights files: a local path, or a hashed download into the cache.

Each file is described by a `WeightsSpec` (canonical URL + SHA-256 prefix, as torch.hub encodes it
in file names like `alexnet-owt-7be5be79.pth`). `resolve_weights` returns a verified local path:
the one given, else the cached copy, else a fresh download (atomically moved into place after its
hash checks out). Offline, a missing file is a one-line `WeightsError` that says where to put it.
Files are loaded with `torch.load(weights_only=True)`: weights are data, never code.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from latentscape.errors import LatentscapeError
from latentscape.io import load_tensors


class WeightsError(LatentscapeError):
    """Pretrained weights are missing, cannot be downloaded, or fail their hash check."""


@dataclass(frozen=True)
class WeightsSpec:
    """Where a weights file comes from and how to recognise it.

    Attributes:
        name: human name used in messages ("FID Inception-v3").
        url: canonical download URL.
        sha256_prefix: leading hex digits of the file's SHA-256 (torch.hub convention).
        md5: full MD5 hex digest, for files published with one.
        cache_name: file name in the cache (default: the URL's last part).
    """

    name: str
    url: str
    sha256_prefix: str | None = None
    md5: str | None = None
    cache_name: str | None = None

    @property
    def filename(self) -> str:
        return self.cache_name or self.url.rsplit("/", 1)[-1]


def cache_root() -> Path:
    """$LATENTSCAPE_CACHE, else ~/.cache/latentscape."""
    return Path(os.environ.get("LATENTSCAPE_CACHE") or Path.home() / ".cache" / "latentscape")


def weights_dir() -> Path:
    return cache_root() / "weights"


def file_digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_hash(spec: WeightsSpec, path: Path) -> None:
    """Raise `WeightsError` unless `path` has the spec's hashes."""
    if spec.sha256_prefix:
        digest = file_digest(path, "sha256")
        if not digest.startswith(spec.sha256_prefix):
            raise WeightsError(
                f"{path}: SHA-256 {digest[:12]}... does not match {spec.name} ({spec.sha256_prefix}...)"
            )
    if spec.md5:
        digest = file_digest(path, "md5")
        if digest != spec.md5:
            raise WeightsError(f"{path}: MD5 {digest} does not match {spec.name} ({spec.md5})")


def resolve_weights(spec: WeightsSpec, path: str | Path | None = None, download: bool = True) -> Path:
    """A verified local copy of `spec`'s file.

    Args:
        spec: the file's URL and hashes.
        path: a local copy to use instead of the cache (its hash is checked).
        download: fetch into the cache when it is missing.

    Raises:
        WeightsError: missing file, failed download (offline), or hash mismatch.
    """
    if path is not None:
        local = Path(path).expanduser()
        if not local.is_file():
            raise WeightsError(f"{spec.name} weights not found: {local}")
        check_hash(spec, local)
        return local
    cached = weights_dir() / spec.filename
    if cached.is_file():
        check_hash(spec, cached)
        return cached
    if not download:
        raise WeightsError(f"{spec.name} weights are not in the cache ({cached}); download {spec.url} there")
    return _download(spec, cached)


def _download(spec: WeightsSpec, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(spec.url, timeout=30) as response:
            shutil.copyfileobj(response, out)
        check_hash(spec, tmp)
        os.replace(tmp, dest)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise WeightsError(
            f"cannot download {spec.name} weights from {spec.url} ({reason}); offline? fetch the file "
            f"elsewhere and pass its path, or copy it to {dest}"
        ) from None
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def load_state_dict(path: str | Path, what: str = "weights") -> dict[str, Tensor]:
    """A state dict read safely (weights_only=True) from `path`."""
    try:
        state = load_tensors(path)
    except FileNotFoundError:
        raise WeightsError(f"{what} not found: {path}") from None
    except Exception as exc:  # unpickling errors have many types
        raise WeightsError(f"{path}: not a readable weights file ({exc.__class__.__name__})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise WeightsError(f"{path}: expected a state dict of tensors")
    return state


def load_matching_state(module: torch.nn.Module, state: dict, source: object, what: str) -> None:
    """`module.load_state_dict(state)` after checking names and shapes; a mismatch is one
    WeightsError line naming `source`, `what` was expected, and the first offending tensor."""
    own = module.state_dict()
    if set(state) != set(own):
        diff = sorted(set(own) ^ set(state))
        raise WeightsError(f"{source}: not {what} (first mismatch: {diff[0]!r})")
    for k, v in state.items():
        if v.shape != own[k].shape:
            raise WeightsError(f"{source}: {k} has shape {tuple(v.shape)}, expected {tuple(own[k].shape)}")
    module.load_state_dict(state)
