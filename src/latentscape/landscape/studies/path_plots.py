"""Pictures of path results (one plot per metric; several paths on one axis)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a type only: paths.py imports this module
    from latentscape.landscape.studies.paths import PathResult

# The x label of every path plot: a bare "t" leaves a reader guessing what 0 and 1 are.
T_LABEL = "t (position on the path: 0 = start weights, 1 = end weights)"


# How a picture names a metric whose key is not a phrase.
METRIC_NAMES = {"hessian_top": "top Hessian eigenvalue"}


def metric_name(metric: str) -> str:
    return METRIC_NAMES.get(metric, metric)


def plot_path(result: PathResult, images_dir: Path, label: str = "") -> list[Path]:
    """images/path_<metric>.png: one plot per metric, one series per split; the title names the
    path and its ends (`label` or the result's own description)."""
    from latentscape.viz.findings import short
    from latentscape.viz.plots import plot_curves  # matplotlib: only when a picture is drawn

    what = label or ("straight line" if result.kind == "line" else str(result.protocol.get("description") or "curve"))
    start, end = result.protocol.get("start"), result.protocol.get("end")
    ends = f" from {short(start)} to {short(end)}" if start and end and (start, end) != ("start", "end") else ""
    out = []
    metrics = sorted({m for ms in result.values.values() for m in ms})
    for m in metrics:
        series = {s: (result.ts, ms[m]) for s, ms in result.values.items() if m in ms}
        name = m.replace("/", "_")
        named = f"{next(iter(series))} {metric_name(m)}" if len(series) == 1 else metric_name(m)  # no legend: name the split
        out.append(plot_curves(series, images_dir / f"path_{name}.png", xlabel=T_LABEL, ylabel=metric_name(m),
                               title=f"{named} along the {what}{ends}", markers=len(result.ts) <= 31))
    return out


def plot_compare(results: dict[str, PathResult], split: str, metric: str, path: Path) -> Path:
    """Several paths (e.g. line vs curve) for one split and metric on one axis."""
    from latentscape.viz.plots import plot_curves

    series = {name: (r.ts, r.values[split][metric]) for name, r in results.items() if metric in r.values.get(split, {})}
    return plot_curves(series, path, xlabel=T_LABEL, ylabel=f"{split} {metric}", title=f"{split} {metric}: " + " vs ".join(series))
