"""The analysis part of a report page: finding tables and labelled pictures (demo, path, plane,
fge here; surface, trajectory, hessian, probe and tune in viz/study_pages.py).

`analysis_sections(folder, kinds)` returns the page sections that lead an analysis page, and the
pictures it has shown (so the generic "Images" section does not repeat them). Input is the JSON
the analyses write (eval/demo.json, path.json, plane.json, eval/fge.json); see viz/discover.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from latentscape.viz.blocks import Block, Figure, Gallery, Heading, Links, Note, Section, Strip, Table, picture, section, table
from latentscape.viz.result_files import read_json
from latentscape.viz.html_parts import format_value
from latentscape.viz.study_pages import hessian_sections, probe_sections, surface_sections, trajectory_sections, tune_sections

STRIP_NOTE = (
    "Each row is one fixed test image: the first column is the input, the others are its "
    "reconstruction by the network at that point t of the path (t = 0 is the start network, t = 1 the end)."
)
GIF_NOTE = "Animation: inputs (top row) and reconstructions (bottom row), one frame per point t from 0 to 1."


def stat_table(rows: list[tuple[list[str], dict[str, Any]]], head: list[str], stats: list[str]) -> Table:
    """Label columns `head`, then one numeric column per stat (a missing stat: en dash)."""
    return table(head, stats, [(labels, [values.get(s) for s in stats]) for labels, values in rows])


def labelled_strip(path: Path, ts: list[float], caption: str, root: Path) -> Strip | Note:
    """An image-dynamics strip with a label over every column: the input, then t of each column.

    The strip (landscape/dynamics.py) is a grid of equal cells, one column per label, so an HTML
    grid of the same number of equal columns puts each label over its column at any width.
    """
    labels = ("input", *(f"t = {t:.2g}" for t in ts))
    figure = picture(path, caption, root)
    return Strip(src=figure.src, labels=labels, caption=caption) if isinstance(figure, Figure) else figure


def _dynamics(folder: Path, strip: str, gif: str, ts: list[float], label: str, shown: set[Path]) -> list[Block]:
    parts: list[Block] = []
    strip_path, gif_path = folder / strip, folder / gif
    if strip_path.is_file() and ts:
        parts.append(labelled_strip(strip_path, ts, f"{label}: {STRIP_NOTE}", folder))
        shown.add(strip_path)
    if gif and gif_path.is_file():
        parts.append(picture(gif_path, f"{label}: {GIF_NOTE}", folder, style="gif"))
        shown.add(gif_path)
    return [Heading(label), *parts] if parts else []


def _plots(paths: list[Path], shown: set[Path], folder: Path, caption=None) -> list[Block]:
    figs = []
    for p in paths:
        if p.is_file():
            figs.append(picture(p, caption(p) if caption else p.stem.replace("_", " "), folder))
            shown.add(p)
    return [Gallery(tuple(figs), style="plots")] if figs else []


def demo_sections(folder: Path, shown: set[Path]) -> list[Section]:
    doc = read_json(folder / "eval" / "demo.json") or {}
    rows = [
        ([{"line": "straight line", "curve": "trained curve"}[kind], split], vals)
        for kind in ("line", "curve") for split, vals in (doc.get(kind) or {}).items() if isinstance(vals, dict)
    ]
    note = Note(
        "Loss (MAE) of the networks along each path: at the start network (t = 0), the end network (t = 1), "
        "the largest and mean value along the path, and the barrier = max - max(start, end).", muted=True,
    )
    sections = [
        section("finding", "Straight line vs trained curve", [note, stat_table(rows, ["path", "split"], ["start", "end", "max", "mean", "barrier"])]),
        section("loss", "Loss along the paths", _plots(sorted((folder / "images").glob("line_vs_curve_*.png")), shown, folder)),
    ]
    dyn: list[Block] = []
    for kind, sub, label in (("curve", "curve_path", "Along the trained curve"), ("line", "line", "Along the straight line")):
        info = (doc.get("dynamics") or {}).get(kind) or {}
        ts = info.get("strip_ts") or ((read_json(folder / sub / "path.json") or {}).get("dynamics") or {}).get("strip_ts") or []
        dyn += _dynamics(folder, f"images/{kind}_dynamics.png", f"images/{kind}_dynamics.gif", ts, label, shown)
    sections.append(section("dynamics", "Image dynamics", dyn))
    return sections


def path_sections(folder: Path, shown: set[Path]) -> list[Section]:
    doc = read_json(folder / "path.json") or {}
    rows = [([split, metric], s) for split, ms in (doc.get("summary") or {}).items() for metric, s in ms.items() if isinstance(s, dict)]
    note = Note("start: t = 0, end: t = 1; barrier = max - max(start, end) (for accuracy-like metrics: min(start, end) - min).", muted=True)
    sections = [
        section("finding", "Along the path", [note, stat_table(rows, ["split", "metric"], ["start", "end", "min", "max", "mean", "barrier"])]),
        section("loss", "Metrics along the path", _plots(sorted((folder / "images").glob("path_*.png")), shown, folder,
                                                          lambda p: f"{p.stem.removeprefix('path_')} at each point t of the path, per split")),
    ]
    dyn = doc.get("dynamics") or {}
    if isinstance(dyn, dict) and dyn.get("strip"):
        blocks = _dynamics(folder, str(dyn.get("strip")), str(dyn.get("gif", "")), dyn.get("strip_ts") or [], "Reconstructions along the path", shown)
        sections.append(section("dynamics", "Image dynamics", blocks))
    return sections


def plane_sections(folder: Path, shown: set[Path]) -> list[Section]:
    doc = read_json(folder / "plane.json") or {}
    rows = []
    for split, ms in (doc.get("values") or {}).items():
        for metric, grid in (ms or {}).items():
            flat = [v for row in grid or [] for v in (row or []) if isinstance(v, (int, float))]
            if flat:
                rows.append(([split, metric], {"min": min(flat), "max": max(flat)}))
    named = {k: v for k, v in (doc.get("points") or {}).items() if isinstance(v, list)}
    scale = max((abs(c) for v in named.values() for c in v if isinstance(c, (int, float))), default=0.0)
    points = "; ".join(f"{k}: ({', '.join(coordinate(c, scale) for c in v)})" for k, v in named.items())
    note = Note(f"Plane coordinates of the named points (unit vectors along B - A and the orthogonalised C - A): {points}.", muted=True)
    return [
        section("finding", "On the plane", [stat_table(rows, ["split", "metric"], ["min", "max"]), note]),
        section("contours", "Contours", _plots(sorted((folder / "images").glob("plane_*.png")), shown, folder, plane_caption)),
    ]


def plane_caption(path: Path) -> str:
    """"test loss on the plane (filled contours; the named points and both paths on top)"."""
    metric, _, split = path.stem.removeprefix("plane_").rpartition("_")
    return f"{split} {metric} on the plane (filled contours; the named points and both paths on top)" if metric else path.stem


def coordinate(value: Any, scale: float) -> str:
    """A plane coordinate to 4 significant digits of the largest one (`scale`): the 7.8e-09 that
    Gram-Schmidt leaves where a point lies on the u axis is 0."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return format_value(value)
    return format_value(0.0 if abs(value) < 5e-5 * scale else float(value))


def fge_sections(folder: Path, shown: set[Path]) -> list[Section]:
    name = "fge.json" if (folder / "fge.json").is_file() else "eval/fge.json"  # an fge folder, or a run's older result
    doc = read_json(folder / name) or {}
    n = len(doc.get("snapshots") or [])
    rows = [([label], doc[key]) for label, key in (("original", "original"), ("final snapshot", "final_snapshot"), (f"FGE ensemble ({n})", "ensemble")) if isinstance(doc.get(key), dict)]
    return [section("fge", f"Fast geometric ensembling ({name})", [stat_table(rows, ["model"], ["accuracy", "nll"])])]


SECTIONS = {
    "demo": demo_sections, "path": path_sections, "plane": plane_sections, "fge": fge_sections,
    "surface": surface_sections, "trajectory": trajectory_sections, "hessian": hessian_sections,
    "probe": probe_sections, "tune": tune_sections,
}


def has_sections(kinds: list[str]) -> bool:
    """Whether a folder of these kinds gets its own sections (then its summary JSON is not dumped)."""
    return any(k in SECTIONS for k in kinds)


def analysis_sections(folder: Path, kinds: list[str]) -> tuple[list[Section], set[Path]]:
    """Sections for every analysis kind of `folder` (empty ones left out), and the pictures they show."""
    shown: set[Path] = set()
    sections: list[Section] = []
    for kind in kinds:
        if kind in SECTIONS:
            try:
                sections.extend(s for s in SECTIONS[kind](Path(folder), shown) if s)
            except (AttributeError, KeyError, TypeError, ValueError) as exc:  # a result JSON of an unexpected shape
                sections.append(section(kind, f"{kind} results", [Note(f"could not read the {kind} results: {exc}")]))
    return sections, shown


def subfolder_links(folder: Path, entries: list[Any]) -> list[Block]:
    """Links to the pages of the runs and analyses inside `folder` (e.g. the demo's runs)."""
    items = []
    for e in entries:
        if e.folder == folder or not e.page or not (e.folder / e.page).is_file():
            continue
        rel = (e.folder / e.page).relative_to(folder).as_posix()
        items.append((quote(rel), e.folder.relative_to(folder).as_posix(), e.title))
    return [Links(tuple(items))] if items else []
