"""The metric grid on the plane through three weight sets, and the curve-versus-line comparison
it is drawn for (Garipov et al. 2018, fig. 1; the lab's tasks 2.3-2.4).

Through A, B, C the comparison is the straight line A -> B against the broken line A -> C -> B
(a one-bend PolyChain through C); through a trained curve (`plane --curve`) it is the curve
against the straight line between its ends. Both paths are evaluated exactly (not read off the
grid), so the finding ("the bend lowers the test loss barrier from 0.35 to 0.02") is a measured
fact, and both are drawn over the contours.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from latentscape.io import write_json
from latentscape.landscape.core.curves import Curve, line
from latentscape.landscape.core.evaluate import linspace
from latentscape.landscape.core.plane import Plane, curve_in_plane, grid_axes
from latentscape.landscape.core.points import evaluate_points, evaluator_for
from latentscape.landscape.core.summaries import higher_is_better, summarize
from latentscape.landscape.core.task import Task
from latentscape.landscape.studies.grid_file import run_grid
from latentscape.timing import phase
from latentscape.landscape.studies.outputs import Summary, draw_and_report, write_summary
from latentscape.landscape.studies.path import curve_points


@dataclass
class PlaneResult:
    """A metric grid on a plane and the two paths compared on it.

    Attributes:
        plane: the orthonormal frame (origin, u, v) and the defining points' coordinates.
        xs, ys: (nx,), (ny,) grid coordinates along u and v.
        values: split -> metric -> (ny, nx) (row i at ys[i]).
        curve_xy: (T, 2) plane coordinates of the curve drawn over the contours, or None.
        paths: {"line": {...}, "curve": {...}}: each {"label", "ts", "values": split -> metric
            -> list, "summary": split -> metric -> stats, "xy": (T, 2) list}.
        strategy: how the grid was evaluated.
        protocol: what was measured and how.
    """

    plane: Plane
    xs: np.ndarray
    ys: np.ndarray
    values: dict[str, dict[str, np.ndarray]]
    curve_xy: np.ndarray | None
    paths: dict[str, dict[str, Any]] = field(default_factory=dict)
    strategy: str = "loop"
    protocol: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """plane.json."""
        return {
            "points": {k: list(v) for k, v in self.plane.points.items()},
            "basis": {"origin": list(self.plane.points)[0], "u_hat": "unit vector along B - A", "v_hat": "Gram-Schmidt of C - A against u_hat"},
            "grid_x": self.xs.tolist(),
            "grid_y": self.ys.tolist(),
            "values": {s: {m: g.tolist() for m, g in ms.items()} for s, ms in self.values.items()},
            "curve_xy": self.curve_xy.tolist() if self.curve_xy is not None else None,
            "paths": self.paths,
            "strategy": self.strategy,
            **self.protocol,
        }

    def save(self, folder: str | Path) -> Path:
        """Write the analysis folder (see `write_plane`); returns it."""
        return write_plane(folder, self)


def comparison_paths(plane: Plane, a: Any, b: Any, c: Any, curve: Curve | None) -> dict[str, tuple[str, Curve]]:
    """The two paths a plane is drawn to compare: {"line": (label, Curve), "curve": (label, Curve)}."""
    from latentscape.viz.findings import curve_name, short

    names = [short(n) for n in plane.points]
    if curve is not None:
        label = f"trained {curve_name(curve.kind, curve.num_bends)}"
        return {"line": ("straight line", line(curve.points[0], curve.points[-1])), "curve": (label, curve)}
    return {"line": (f"straight line {names[0]} -> {names[1]}", line(a, b)), "curve": (f"broken line through {names[2]}", Curve([a, c, b], "polychain"))}


def compute_plane(
    model: nn.Module,
    task: Task,
    plane: Plane,
    data: dict[str, Any],
    *,
    compare: dict[str, tuple[str, Curve]] | None = None,
    curve: Curve | None = None,
    grid: int = 21,
    margin: float | list[float] = 0.2,
    compare_points: int = 11,
    bn_data: Any = None,
    buffers: dict[str, torch.Tensor] | None = None,
    batch_size: int = 1000,
    device: str = "cpu",
    bn_batches: int | None = None,
    use_vmap: bool = True,
    protocol: dict[str, Any] | None = None,
    folder: Path | None = None,
    resume: bool = False,
    progress: Any = None,
) -> PlaneResult:
    """Every metric of `task` on a `grid` x `grid` grid of `plane` covering its points (and the
    curve) with `margin`, and along the two `compare` paths at `compare_points` positions.

    Args:
        curve: drawn over the contours (and covered by the grid).
        folder, resume: as in `studies.path.compute_path` (the grid's points).
        progress: `progress(done, total)` points: the grid's after each chunk, then the compared
            paths' (total: grid x grid + the paths' points).
        Others: as in `compute_path`.
    """
    curve_xy = curve_in_plane(plane, curve, linspace(0.0, 1.0, 61)) if curve is not None else None
    cover = [tuple(p) for p in curve_xy] if curve_xy is not None else []
    xs, ys = grid_axes(list(plane.points.values()) + cover, grid, margin)
    ev = evaluator_for(model, task, bn_data=bn_data, batch_size=batch_size, device=device, bn_batches=bn_batches, buffers=buffers, use_vmap=use_vmap)
    points = plane.grid(xs.tolist(), ys.tolist())
    total = len(points) + len(compare or {}) * compare_points

    def report(offset: int) -> Callable[[int, int], None] | None:
        return None if progress is None else (lambda done, _: progress(offset + done, total))

    values = run_grid(ev, task, points, data, kind="plane", settings={"grid_x": xs.tolist(), "grid_y": ys.tolist()}, folder=folder,
                      resume=resume, progress=report(0))
    grids = {s: {m: v.reshape(len(ys), len(xs)) for m, v in ms.items()} for s, ms in values.values.items()}  # (ny, nx)
    paths: dict[str, dict[str, Any]] = {}
    ts = linspace(0.0, 1.0, compare_points)
    for i, (key, (label, path)) in enumerate((compare or {}).items()):
        got = evaluate_points(ev, task, curve_points(path, ts), data, progress=report(len(points) + i * compare_points)).values
        paths[key] = {
            "label": label, "ts": ts,
            "values": {s: {m: v.tolist() for m, v in ms.items()} for s, ms in got.items()},
            "summary": {s: {m: summarize(v, m) for m, v in ms.items()} for s, ms in got.items()},
            "xy": curve_in_plane(plane, path, ts).tolist(),
        }
    proto = {"task": task.description, "batch_size": batch_size, **(protocol or {})}
    return PlaneResult(plane, xs, ys, grids, curve_xy, paths, values.strategy, proto)


def plane_summary(result: PlaneResult) -> Summary:
    """summary.json: the curve-versus-line comparison and the grid's range."""
    from latentscape.viz.findings import plane_finding, plane_range, short

    doc = result.to_json()
    metrics: dict[str, float] = {}
    for key in ("line", "curve"):
        s = (result.paths.get(key) or {}).get("summary") or {}
        split = next((sp for sp in ("test", "val", "train") if sp in s), next(iter(s), None))
        if split and "loss" in s[split]:
            metrics[f"{key} {split} loss barrier"] = s[split]["loss"]["barrier"]
            metrics[f"{key} {split} loss max"] = s[split]["loss"]["max"]
    found = plane_range(doc)
    if found:
        metrics[f"{found[0]} {found[1]} min"], metrics[f"{found[0]} {found[1]} max"] = found[2], found[3]
    names = ", ".join(short(n) for n in result.plane.points)
    return Summary("plane", f"Loss plane through {names}", plane_finding(doc), str(result.protocol.get("model", "")),
                   str(result.protocol.get("dataset", "")), metrics)


def write_plane(folder: str | Path, result: PlaneResult) -> Path:
    """plane.json and summary.json (the numbers first), then images/plane_<metric>_<split>.png
    (contours with the points and both paths) and report.html as --plots says."""
    folder = Path(folder)
    with phase("write_json"):  # the numbers first: a failure while drawing cannot lose them
        write_json(folder / "plane.json", result.to_json())
        write_summary(folder, plane_summary(result))
    draw_and_report(folder, _draw_plane, result, folder)
    return folder


def _draw_plane(result: PlaneResult, folder: Path) -> None:
    from latentscape.viz.contour import plot_contour

    curve, line = result.paths.get("curve"), result.paths.get("line")
    curve_xy = result.curve_xy if result.curve_xy is not None else (np.asarray(curve["xy"]) if curve else None)
    line_xy = np.asarray(line["xy"]) if line else None
    labels = (curve["label"], line["label"]) if curve and line else None
    for s, ms in result.values.items():
        for m, g in ms.items():
            hib = higher_is_better(m)
            plot_contour(result.xs, result.ys, np.asarray(g), folder / "images" / f"plane_{m.replace('/', '_')}_{s}.png", points=result.plane.points,
                         curve_xy=curve_xy, line_xy=line_xy, labels=labels, title=f"{s} {m}", cbar_label=m,
                         log_scale=False if hib else None, clip_percentile=None if hib else 95.0)
