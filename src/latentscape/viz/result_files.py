"""Reading the result files of runs and analyses without trusting them.

`load_json` / `load_config` return None for a file that is absent and raise `UnreadableResult`
(one line naming the file and why) for one that is present but cannot be used: too large, not
UTF-8, not JSON / YAML, nested too deep, not a mapping, or holding an unpaired surrogate escape
(text that cannot be written into a UTF-8 page). `read_json` / `read_config` treat both as absent,
for the places that only want what is readable. Used by viz/discover.py and the pages.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from latentscape.errors import LatentscapeError

MAX_JSON_BYTES = 64 * 1024 * 1024  # a result file larger than this is not read at all
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # a \uD800-\uDFFF escape in JSON text


class UnreadableResult(LatentscapeError):
    """A result file that is present but cannot be read (the message names the file and why)."""


def printable(text: str) -> str:
    """`text` with anything that cannot be written as UTF-8 (a lone surrogate from a file name
    that is not UTF-8) shown as a backslash escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def load_json(path: Path) -> Any:
    """Parsed JSON of `path`; None when it does not exist.

    Raises:
        UnreadableResult: the file is present but too large, not UTF-8, not JSON, nested too
            deep, or holds an unpaired surrogate (text that cannot be written into a page).
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UnreadableResult(f"{path.name}: cannot read ({exc.strerror or exc})") from None
    if size > MAX_JSON_BYTES:
        raise UnreadableResult(f"{path.name}: {size / 2**20:.0f} MB, larger than the {MAX_JSON_BYTES // 2**20} MB read for a result file")
    try:
        text = path.read_bytes().decode("utf-8")
        doc = json.loads(text)
    except UnicodeDecodeError as exc:
        raise UnreadableResult(f"{path.name}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise UnreadableResult(f"{path.name}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise UnreadableResult(f"{path.name}: not valid JSON ({exc})") from None
    except RecursionError:
        raise UnreadableResult(f"{path.name}: nested too deeply") from None
    if _SURROGATE_ESCAPE.search(text) and not encodable(doc):
        raise UnreadableResult(f"{path.name}: holds text that is not valid Unicode (an unpaired surrogate escape)")
    return doc


def read_json(path: Path) -> Any:
    """Parsed JSON of `path`, or None when missing or unreadable (see `load_json`)."""
    try:
        return load_json(path)
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
    path = folder / "config.yaml"
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8", errors="replace"))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UnreadableResult(f"config.yaml: cannot read ({exc.strerror or exc})") from None
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        raise UnreadableResult(f"config.yaml: not valid YAML ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    if not isinstance(config, dict):
        raise UnreadableResult("config.yaml: not a mapping of keys to values")
    return config
