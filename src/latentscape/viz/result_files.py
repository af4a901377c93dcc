"""Reading the result files of runs and analyses without trusting them.

`load_json` / `load_config` return None for a file that is absent and raise `UnreadableResult`
(one line naming the file and why) for one that is present but cannot be used: too large, not
UTF-8, not JSON / YAML, nested too deep, not a mapping, or holding an unpaired surrogate escape
(text that cannot be written into a UTF-8 page). `read_json` / `read_config` treat both as absent,
for the places that only want what is readable. Used by viz/discover.py and the pages.

Every file is opened through `viz.inside.open_inside`: a result file that is a link leading out of
its folder (or the run folder named as `root`) is unreadable, so no page shows a file from outside.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from latentscape.errors import LatentscapeError
from latentscape.viz.inside import OutsideFolder, open_inside

MAX_JSON_BYTES = 64 * 1024 * 1024  # a result file larger than this is not read at all
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # a \uD800-\uDFFF escape in JSON text


class UnreadableResult(LatentscapeError):
    """A result file that is present but cannot be read (the message names the file and why)."""


def printable(text: str) -> str:
    """`text` with anything that cannot be written as UTF-8 (a lone surrogate from a file name
    that is not UTF-8) shown as a backslash escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _read_contained(path: Path, root: Path | None, limit: int) -> bytes | None:
    """The bytes of `path` (None when it does not exist) if it is a regular file inside `root`
    (default: its own folder) of at most `limit` bytes."""
    if not path.exists() and not path.is_symlink():
        return None
    try:
        with open_inside(path.parent if root is None else root, path) as (fh, st):
            if st.st_size > limit:
                raise UnreadableResult(
                    f"{path.name}: {st.st_size / 2**20:.0f} MB, larger than the {limit // 2**20} MB read for a result file")
            return fh.read()
    except OutsideFolder as exc:
        raise UnreadableResult(f"{path.name}: {str(exc).split(': ', 1)[-1]}") from None
    except OSError as exc:
        raise UnreadableResult(f"{path.name}: cannot read ({exc.strerror or exc})") from None


def load_json(path: Path, root: Path | None = None) -> Any:
    """Parsed JSON of `path`; None when it does not exist.

    Args:
        root: the folder the file must lie in (default: its own folder); a link out of it is
            unreadable.

    Raises:
        UnreadableResult: the file is present but too large, outside `root`, not UTF-8, not JSON,
            nested too deep, or holds an unpaired surrogate (text that cannot be written into a page).
    """
    data = _read_contained(path, root, MAX_JSON_BYTES)
    if data is None:
        return None
    try:
        text = data.decode("utf-8")
        doc = json.loads(text)
    except UnicodeDecodeError as exc:
        raise UnreadableResult(f"{path.name}: not UTF-8 text (byte {exc.start})") from None
    except ValueError as exc:
        raise UnreadableResult(f"{path.name}: not valid JSON ({exc})") from None
    except RecursionError:
        raise UnreadableResult(f"{path.name}: nested too deeply") from None
    if _SURROGATE_ESCAPE.search(text) and not encodable(doc):
        raise UnreadableResult(f"{path.name}: holds text that is not valid Unicode (an unpaired surrogate escape)")
    return doc


def read_json(path: Path, root: Path | None = None) -> Any:
    """Parsed JSON of `path`, or None when missing or unreadable (see `load_json`)."""
    try:
        return load_json(path, root)
    except UnreadableResult:
        return None


def encodable(obj: Any) -> bool:
    """Whether every string in `obj` (keys included) can be written as UTF-8."""
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError, TypeError, RecursionError):
        return False
    return True


def read_config(folder: Path) -> dict[str, Any] | None:
    """`folder/config.yaml` as a dict, or None (missing or unreadable)."""
    try:
        return load_config(folder)
    except UnreadableResult:
        return None


def load_config(folder: Path) -> dict[str, Any] | None:
    """`folder/config.yaml` as a dict; None when there is none.

    Raises:
        UnreadableResult: it is present but not a YAML mapping (or cannot be read).
    """
    data = _read_contained(folder / "config.yaml", folder, MAX_JSON_BYTES)
    if data is None:
        return None
    try:
        config = yaml.safe_load(data.decode("utf-8", errors="replace"))
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        raise UnreadableResult(f"config.yaml: not valid YAML ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    if not isinstance(config, dict):
        raise UnreadableResult("config.yaml: not a mapping of keys to values")
    return config
