"""The analysis part of a report page (demo, path, plane, fge): finding tables and labelled pictures.

`analysis_sections(folder, kind)` returns the page sections that lead an analysis page, and the
pictures it has shown (so the generic "Images" section does not repeat them). Input is the JSON
the analyses write (eval/demo.json, path.json, plane.json, eval/fge.json); see viz/discover.py.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from latentscape.viz.discover import read_json
from latentscape.viz.html_parts import data_uri, figure_html, format_value

Section = tuple[str, str, str]  # (id, heading, html)


def stat_table(rows: list[tuple[list[str], dict[str, Any]]], head: list[str], stats: list[str]) -> str:
    """A table with label columns `head` then one numeric column per stat (all text escaped)."""
    th = "".join(f"<th scope='col'>{escape(h)}</th>" for h in head)
    th += "".join(f"<th scope='col' class='num'>{escape(s)}</th>" for s in stats)
    body = []
    for labels, values in rows:
        tds = "".join(f"<th scope='row'>{escape(lab)}</th>" for lab in labels)
        tds += "".join(
            f"<td class='num'>{escape(format_value(values[s])) if s in values else '&ndash;'}</td>" for s in stats
        )
        body.append(f"<tr>{tds}</tr>")
    return f"<div class='scroll'><table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"


def labelled_strip(path: Path, ts: list[float], caption: str) -> str:
    """An image-dynamics strip with a label over every column: the input, then t of each column.

    The strip (landscape/dynamics.py) is a grid of equal cells, one column per label, so an HTML
    grid of the same number of equal columns puts each label over its column at any width.
    """
    labels = ["input"] + [f"t = {t:.2g}" for t in ts]
    spans = "".join(f"<span>{escape(lab)}</span>" for lab in labels)
    return (
        f"<figure class='strip'><div class='strip-labels' style='grid-template-columns: repeat({len(labels)}, 1fr)'>"
        f"{spans}</div><img src='{data_uri(path)}' alt='{escape(caption, quote=True)}'>"
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def gif_figure(path: Path, caption: str) -> str:
    return (
        f"<figure class='gif'><img src='{data_uri(path)}' alt='{escape(caption, quote=True)}'>"
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


STRIP_NOTE = (
    "Each row is one fixed test image: the first column is the input, the others are its "
    "reconstruction by the network at that point t of the path (t = 0 is the start network, t = 1 the end)."
)
GIF_NOTE = "Animation: inputs (top row) and reconstructions (bottom row), one frame per point t from 0 to 1."


def _dynamics(folder: Path, strip: str, gif: str, ts: list[float], label: str, shown: set[Path]) -> str:
    parts = []
    strip_path, gif_path = folder / strip, folder / gif
    if strip_path.is_file() and ts:
        parts.append(labelled_strip(strip_path, ts, f"{label}: {STRIP_NOTE}"))
        shown.add(strip_path)
    if gif_path.is_file():
        parts.append(gif_figure(gif_path, f"{label}: {GIF_NOTE}"))
        shown.add(gif_path)
    return f"<h3>{escape(label)}</h3>{''.join(parts)}" if parts else ""


def _plots(paths: list[Path], shown: set[Path], captions: dict[str, str] | None = None) -> str:
    figs = []
    for p in paths:
        if p.is_file():
            figs.append(figure_html(p, (captions or {}).get(p.name, p.stem.replace("_", " "))))
            shown.add(p)
    return f"<div class='gallery plots'>{''.join(figs)}</div>" if figs else ""


def demo_sections(folder: Path, shown: set[Path]) -> list[Section]:
    doc = read_json(folder / "eval" / "demo.json") or {}
    rows = [
        ([{"line": "straight line", "curve": "trained curve"}[kind], split], vals)
        for kind in ("line", "curve") for split, vals in (doc.get(kind) or {}).items() if isinstance(vals, dict)
    ]
    table = stat_table(rows, ["path", "split"], ["start", "end", "max", "mean", "barrier"])
    note = (
        "<p class='meta'>Loss (MAE) of the networks along each path: at the start network (t = 0), the end "
        "network (t = 1), the largest and mean value along the path, and the barrier = max - max(start, end).</p>"
    )
    images = folder / "images"
    plots = _plots(sorted(images.glob("line_vs_curve_*.png")), shown)
    sections: list[Section] = [("finding", "Straight line vs trained curve", note + table)]
    if plots:
        sections.append(("loss", "Loss along the paths", plots))
    dyn = []
    for kind, sub, label in (("curve", "curve_path", "Along the trained curve"), ("line", "line", "Along the straight line")):
        info = (doc.get("dynamics") or {}).get(kind) or {}
        ts = info.get("strip_ts") or ((read_json(folder / sub / "path.json") or {}).get("dynamics") or {}).get("strip_ts") or []
        dyn.append(_dynamics(folder, f"images/{kind}_dynamics.png", f"images/{kind}_dynamics.gif", ts, label, shown))
    if any(dyn):
        sections.append(("dynamics", "Image dynamics", "".join(dyn)))
    return sections


def path_sections(folder: Path, shown: set[Path]) -> list[Section]:
    doc = read_json(folder / "path.json") or {}
    rows = [([split, metric], s) for split, ms in (doc.get("summary") or {}).items() for metric, s in ms.items() if isinstance(s, dict)]
    note = "<p class='meta'>start: t = 0, end: t = 1; barrier = max - max(start, end) (for accuracy-like metrics: min(start, end) - min).</p>"
    sections: list[Section] = [("finding", "Along the path", note + stat_table(rows, ["split", "metric"], ["start", "end", "min", "max", "mean", "barrier"]))]
    plots = _plots(sorted((folder / "images").glob("path_*.png")), shown)
    if plots:
        sections.append(("loss", "Metrics along the path", plots))
    dyn = doc.get("dynamics") or {}
    if isinstance(dyn, dict) and dyn.get("strip"):
        html = _dynamics(folder, str(dyn.get("strip")), str(dyn.get("gif", "")), dyn.get("strip_ts") or [], "Reconstructions along the path", shown)
        if html:
            sections.append(("dynamics", "Image dynamics", html))
    return sections


def plane_sections(folder: Path, shown: set[Path]) -> list[Section]:
    doc = read_json(folder / "plane.json") or {}
    rows = []
    for split, ms in (doc.get("values") or {}).items():
        for metric, grid in (ms or {}).items():
            flat = [v for row in grid or [] for v in (row or []) if isinstance(v, (int, float))]
            if flat:
                rows.append(([split, metric], {"min": min(flat), "max": max(flat)}))
    points = "".join(f"<li>{escape(str(k))}: ({', '.join(format_value(c) for c in v)})</li>" for k, v in (doc.get("points") or {}).items())
    note = f"<p class='meta'>Plane coordinates of the named points (unit vectors along B - A and the orthogonalised C - A):</p><ul>{points}</ul>"
    sections: list[Section] = [("finding", "On the plane", stat_table(rows, ["split", "metric"], ["min", "max"]) + note)]
    plots = _plots(sorted((folder / "images").glob("plane_*.png")), shown)
    if plots:
        sections.append(("contours", "Contours", plots))
    return sections


def fge_sections(folder: Path, shown: set[Path]) -> list[Section]:
    name = "fge.json" if (folder / "fge.json").is_file() else "eval/fge.json"  # an fge folder, or a run's older result
    doc = read_json(folder / name) or {}
    n = len(doc.get("snapshots") or [])
    rows = [([name], doc[key]) for name, key in (("original", "original"), ("final snapshot", "final_snapshot"), (f"FGE ensemble ({n})", "ensemble")) if isinstance(doc.get(key), dict)]
    return [("fge", f"Fast geometric ensembling ({name})", stat_table(rows, ["model"], ["accuracy", "nll"]))]


SECTIONS = {"demo": demo_sections, "path": path_sections, "plane": plane_sections, "fge": fge_sections}


def analysis_sections(folder: Path, kinds: list[str]) -> tuple[list[Section], set[Path]]:
    """Sections for every analysis kind of `folder`, and the pictures they show."""
    shown: set[Path] = set()
    sections: list[Section] = []
    for kind in kinds:
        if kind in SECTIONS:
            try:
                sections.extend(SECTIONS[kind](Path(folder), shown))
            except (AttributeError, KeyError, TypeError, ValueError) as exc:  # a result JSON of an unexpected shape
                sections.append((kind, f"{kind} results", f"<p class='note'>could not read the {escape(kind)} results: {escape(str(exc))}</p>"))
    return sections, shown


def subfolder_links(folder: Path, entries: list[Any]) -> str:
    """Links to the pages of the runs and analyses inside `folder` (e.g. the demo's runs)."""
    items = []
    for e in entries:
        if e.folder == folder or not (e.folder / e.page).is_file():
            continue
        rel = (e.folder / e.page).relative_to(folder).as_posix()
        items.append(f"<li><a href='{escape(rel, quote=True)}'>{escape(e.folder.relative_to(folder).as_posix())}</a> &middot; {escape(e.title)}</li>")
    return f"<ul>{''.join(items)}</ul>" if items else ""
