"""Values for the pages: short number formats, flattened JSON, pictures as base64 data URIs.

No HTML here: the templates (viz/templates/, rendered by viz/templating.py with autoescaping)
write the markup. `data_uri` is the one function that reads a picture file into a page.
"""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path
from typing import Any

from PIL import Image

from latentscape.viz.inside import read_inside

MIME_TYPES = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


#: From here on whole numbers get thousands separators (50,890 parameters, not 5.089e+04).
GROUPED_FROM = 10_000


def format_value(value: Any) -> str:
    """Short text of a metric value: 4 significant digits for floats, counts written out
    (12,000 rather than 1.2e+04, also when a JSON reader made them floats), compact number lists."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= GROUPED_FROM else str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if GROUPED_FROM <= abs(value) < 1e15 and value == round(value):
            return f"{value:,.0f}"
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return format_list(list(value))
    return str(value)


def format_list(values: list[Any], head: int = 6) -> str:
    """`[1, 2, 3]`, or for long numeric lists `[a, b, c, ... z] (n values, min m, max M)`."""
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    if len(values) <= head + 2 or not numeric:
        shown = values if len(values) <= 50 else values[:50]
        text = ", ".join(format_value(v) for v in shown)
        return f"[{text}{', ...' if len(values) > 50 else ''}]"
    finite = [float(v) for v in values if math.isfinite(float(v))]
    summary = f"{len(values)} values"
    if finite:
        summary += f", min {min(finite):.4g}, max {max(finite):.4g}"
    shown = ", ".join(format_value(v) for v in values[:head])
    return f"[{shown}, ... {format_value(values[-1])}] ({summary})"


def flatten(obj: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Flatten nested dicts to (dotted.key, value) rows; lists of dicts get `[i]` keys,
    other lists stay whole (shown compactly by `format_value`)."""
    if isinstance(obj, dict):
        if not obj:
            return [(prefix or "(empty)", "{}")]
        rows: list[tuple[str, Any]] = []
        for key, value in obj.items():
            rows.extend(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return rows
    if isinstance(obj, list) and obj and all(isinstance(v, (dict, list)) for v in obj):
        rows = []
        for i, value in enumerate(obj):
            rows.extend(flatten(value, f"{prefix}[{i}]"))
        return rows
    return [(prefix or "value", obj)]


def data_uri(path: str | Path, root: str | Path) -> tuple[str, bool]:
    """`(data:<mime>;base64,..., small)` of an image file (the page must not link to anything);
    `small`: an image grid rather than a plot (browsers should enlarge it with crisp pixels).

    Only a regular file inside `root` (the folder the page shows) is read: a link leading out of
    it raises viz.inside.OutsideFolder (a page meant to be mailed carries no other file).
    """
    data = read_inside(root, path)
    mime = MIME_TYPES.get(Path(path).suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}", _is_small(data)


def _is_small(data: bytes, limit: int = 600) -> bool:
    """Whether a picture is under `limit` pixels on its longer side."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            return max(img.size) < limit
    except (OSError, ValueError, Image.DecompressionBombError):
        return False
