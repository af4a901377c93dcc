"""Building blocks of the HTML report: escaped tables, flattened JSON, base64 data URIs.

All text that reaches the page goes through `html.escape`, so a run named `<script>` is shown,
not executed.
"""

from __future__ import annotations

import base64
import io
import math
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any

from PIL import Image

from latentscape.viz.inside import OutsideFolder, read_inside

MIME_TYPES = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def format_value(value: Any) -> str:
    """Short text of a metric value: 4 significant digits for floats, compact number lists."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
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


def key_value_table(rows: list[tuple[str, Any]]) -> str:
    """A two-column table (key, value), all text escaped."""
    body = "".join(
        f"<tr><th scope='row'>{escape(str(k))}</th><td>{escape(format_value(v))}</td></tr>" for k, v in rows
    )
    return f"<div class='scroll'><table class='kv'><tbody>{body}</tbody></table></div>"


def matrix_table(rows: list[str], columns: list[str], cells: dict[str, dict[str, Any]], corner: str = "") -> str:
    """A table with one row per `rows` entry and one column per `columns` entry;
    cells[column][row] (missing cells shown as an en dash)."""
    head = "".join(f"<th scope='col'>{escape(c)}</th>" for c in columns)
    body = []
    for r in rows:
        tds = "".join(
            f"<td>{escape(format_value(cells[c][r])) if r in cells.get(c, {}) else '&ndash;'}</td>" for c in columns
        )
        body.append(f"<tr><th scope='row'>{escape(r)}</th>{tds}</tr>")
    return (
        f"<div class='scroll'><table><thead><tr><th>{escape(corner)}</th>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def data_uri(path: str | Path, root: str | Path) -> str:
    """`data:<mime>;base64,...` of an image file (the report must not link to anything).

    Only a regular file inside `root` (the folder the page shows) is read: a link leading out of
    it raises viz.inside.OutsideFolder (a page meant to be mailed carries no other file).
    """
    return _data_uri(Path(path), read_inside(root, path))


def _data_uri(path: Path, data: bytes) -> str:
    mime = MIME_TYPES.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _is_small(data: bytes, limit: int = 600) -> bool:
    """Whether a picture is small (an image grid, not a plot), so browsers should enlarge it
    with crisp pixels rather than blur it."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            return max(img.size) < limit
    except (OSError, ValueError, Image.DecompressionBombError):
        return False


def image_html(path: Path, caption: str, root: str | Path, mark_small: bool = True) -> str:
    """`<img>` of `path` embedded as a data URI, or a note when it lies outside `root`.
    `mark_small`: class 'pixel' on small pictures (enlarged with crisp pixels)."""
    try:
        data = read_inside(root, path)
    except OutsideFolder as exc:
        return f"<p class='note'>{escape(caption)}: not embedded ({escape(str(exc))})</p>"
    cls = " class='pixel'" if mark_small and _is_small(data) else ""
    return f"<img{cls} src='{_data_uri(path, data)}' alt='{escape(caption, quote=True)}'>"


def figure_html(path: Path, caption: str, root: str | Path, wide: bool = False) -> str:
    """An embedded image with its caption (`wide`: spans the whole gallery row); only a file
    inside `root` is embedded (see `data_uri`)."""
    fig_cls = " class='wide'" if wide else ""
    return f"<figure{fig_cls}>{image_html(path, caption, root)}<figcaption>{escape(caption)}</figcaption></figure>"


def footer() -> str:
    """Version and creation time of a page."""
    from latentscape import __version__

    created = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"<footer>latentscape {escape(__version__)} &middot; created {escape(created)}</footer>"


def page(title: str, body: str, head: str = "", script: str = "", wide: bool = False) -> str:
    """A complete self-contained HTML page: inline CSS, optional inline script, no links out.

    Args:
        title: plain text of <title> (escaped here).
        body: HTML inside <main> (already escaped by the caller).
        head: extra trusted <head> markup (e.g. a meta refresh).
        script: trusted inline JavaScript run at the end of the body.
        wide: a wider page (tables with many columns).
    """
    js = f"<script>{script}</script>" if script else ""
    main = "<main class='wide'>" if wide else "<main>"
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<meta name='generator' content='latentscape report'>{head}"
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>{main}{body}</main>{js}</body></html>\n"
    )


CSS = """
:root { --fg: #1d1f23; --muted: #5c6370; --bg: #fff; --line: #dde1e6; --accent: #2f6fdf; --band: #f5f7fa; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6e6e6; --muted: #a0a6b0; --bg: #16181c; --line: #333840; --accent: #7aa7ff; --band: #1f2227; }
  figure img { background: #fff; }
}
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--fg); background: var(--bg); }
main { max-width: 1100px; margin: 0 auto; padding: 1rem; }
header h1 { font-size: 1.5rem; margin: 0.5rem 0 0.25rem; word-break: break-word; }
.meta { color: var(--muted); margin: 0; }
nav { margin: 0.75rem 0; display: flex; flex-wrap: wrap; gap: 0.4rem 1rem; }
nav a, a { color: var(--accent); }
section { margin-top: 1.75rem; }
h2 { font-size: 1.2rem; border-bottom: 1px solid var(--line); padding-bottom: 0.2rem; }
h3 { font-size: 1rem; margin: 1rem 0 0.4rem; word-break: break-word; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; margin: 0.25rem 0; }
th, td { border: 1px solid var(--line); padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
thead th, tbody th { background: var(--band); font-weight: 600; }
table.kv td { word-break: break-word; }
pre { background: var(--band); padding: 0.75rem; overflow-x: auto; font-size: 0.85rem; }
details summary { cursor: pointer; font-weight: 600; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(280px, 1fr)); gap: 1rem; }
figure { margin: 0; }
figure img { max-width: 100%; height: auto; display: block; border: 1px solid var(--line); }
figure img.pixel { width: 100%; image-rendering: pixelated; }
figcaption { color: var(--muted); font-size: 0.85rem; word-break: break-word; }
.note { color: var(--muted); font-style: italic; }
footer { margin-top: 2.5rem; padding-top: 0.5rem; border-top: 1px solid var(--line); color: var(--muted);
         font-size: 0.85rem; }
figure.wide { grid-column: 1 / -1; }
.gallery.plots, .gallery.curves { grid-template-columns: repeat(auto-fill, minmax(min(100%, 460px), 1fr)); }
.finding { font-size: 1.08rem; background: var(--band); border-left: 4px solid var(--accent); padding: 0.6rem 0.9rem; }
.strip { max-width: 100%; margin: 0.5rem 0 1rem; }
.strip-labels { display: grid; text-align: center; font-size: 0.8rem; color: var(--muted); }
.strip-labels span:first-child { font-weight: 700; color: var(--fg); }
.strip img { width: 100%; image-rendering: pixelated; display: block; border: 1px solid var(--line); }
.gif img { width: min(100%, 420px); image-rendering: pixelated; }
td.num, th.num { text-align: right; }
th.sortable { cursor: pointer; user-select: none; white-space: nowrap; }
th.sortable::after { content: " \\2195"; color: var(--muted); font-size: 0.8em; }
th[aria-sort=ascending]::after { content: " \\25B2"; color: var(--accent); }
th[aria-sort=descending]::after { content: " \\25BC"; color: var(--accent); }
.filters { display: flex; flex-wrap: wrap; gap: 0.5rem 1rem; align-items: center; margin: 0.75rem 0; }
.filters select, .filters input { font: inherit; padding: 0.15rem 0.3rem; }
.side { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 0.75rem; }
main.wide { max-width: 1500px; }
td.find { min-width: 16em; max-width: 30em; }
.kind { font-size: 0.8rem; padding: 0.05rem 0.4rem; border-radius: 0.6rem; background: var(--band); border: 1px solid var(--line); }
@media (max-width: 600px) { body { font-size: 14px; } .gallery { grid-template-columns: 1fr; } }
"""
