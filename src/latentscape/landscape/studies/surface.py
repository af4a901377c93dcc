"""Loss surfaces around one weight set (Li et al. 2018): `compute_surface` evaluates a grid of
w + a d1 (+ b d2) for any directions (random filter-normalised ones, or a trajectory's PCA
plane); `write_surface` writes surface.json, surface.npz, surface_<split>.vtk (ParaView),
summary.json, the pictures (filled contours, contour lines, 3-D view; a line for 1-D) and
report.html.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from latentscape.io import atomic_write, write_json
from latentscape.landscape.core.grid import grid_points
from latentscape.landscape.core.params import Params
from latentscape.landscape.core.points import evaluator_for
from latentscape.landscape.core.summaries import higher_is_better
from latentscape.landscape.core.task import Task
from latentscape.landscape.studies.grid_file import run_grid
from latentscape.timing import phase
from latentscape.landscape.studies.outputs import Summary, draw_and_report, fraction_text, write_summary
from latentscape.landscape.studies.vtk import write_structured_grid


@dataclass
class SurfaceResult:
    """Metric values on a grid around w.

    Attributes:
        xs: (nx,) coordinates along d1.
        ys: (ny,) coordinates along d2, or None for a 1-D surface.
        values: split -> metric -> (ny, nx) for 2-D (row i is ys[i]), (nx,) for 1-D.
        strategy: how the evaluator ran ("loop", "vmap", "factorised", ...).
        protocol: directions, BatchNorm handling, source, data sizes (`full_sizes`: split ->
            whole size of the splits cut by --max-examples), ...
        trajectory: for a trajectory's PCA plane: steps, coords (K, 2), residuals, explained
            variance ratio; None for random directions.
    """

    xs: np.ndarray
    ys: np.ndarray | None
    values: dict[str, dict[str, np.ndarray]]
    strategy: str = "loop"
    protocol: dict[str, Any] = field(default_factory=dict)
    trajectory: dict[str, Any] | None = None

    @property
    def dims(self) -> int:
        return 1 if self.ys is None else 2

    @property
    def kind(self) -> str:
        return "surface" if self.trajectory is None else "trajectory"

    def origin_index(self) -> tuple[int, ...] | None:
        """Grid index of (0, 0) when the grid contains it exactly."""
        ix = np.flatnonzero(self.xs == 0.0)
        if ix.size == 0:
            return None
        if self.ys is None:
            return (int(ix[0]),)
        iy = np.flatnonzero(self.ys == 0.0)
        return (int(iy[0]), int(ix[0])) if iy.size else None

    def summary(self) -> dict[str, dict[str, dict[str, float | None]]]:
        """Per split and metric: value at the origin (when on the grid), min, max, mean."""
        out: dict[str, dict[str, dict[str, float | None]]] = {}
        at = self.origin_index()
        for s, ms in self.values.items():
            out[s] = {}
            for m, v in ms.items():
                finite = v[np.isfinite(v)]
                out[s][m] = {
                    "origin": float(v[at]) if at is not None else None,
                    "min": float(finite.min()) if finite.size else None,
                    "max": float(finite.max()) if finite.size else None,
                    "mean": float(finite.mean()) if finite.size else None,
                }
        return out

    def to_json(self) -> dict[str, Any]:
        """surface.json."""
        doc = {
            "dims": self.dims,
            "grid_x": self.xs.tolist(),
            "grid_y": self.ys.tolist() if self.ys is not None else None,
            "values": {s: {m: v.tolist() for m, v in ms.items()} for s, ms in self.values.items()},
            "summary": self.summary(),
            "strategy": self.strategy,
            **self.protocol,
        }
        if self.trajectory is not None:
            doc["trajectory"] = {k: self.trajectory[k] for k in ("steps", "coords", "residuals")}
        return doc

    def arrays(self) -> dict[str, np.ndarray]:
        """Flat name -> array mapping for an .npz file ("<split>/<metric>" for the values)."""
        out = {"grid_x": self.xs}
        if self.ys is not None:
            out["grid_y"] = self.ys
        for s, ms in self.values.items():
            for m, v in ms.items():
                out[f"{s}/{m}"] = v
        return out

    def save(self, folder: str | Path) -> Path:
        """Write the analysis folder (see `write_surface`); returns it."""
        return write_surface(folder, self)


def restrict(direction: Params, names: set[str] | None) -> Params:
    """`direction` with the entries outside `names` zeroed (those parameters stay at w)."""
    if names is None:
        return direction
    return {k: (v if k in names else v * 0) for k, v in direction.items()}


def group_param_names(model: Any, group: str | None) -> set[str] | None:
    """Names of the parameters `model.params_for(group)` trains (None: all parameters)."""
    from latentscape.errors import LatentscapeError

    if group is None:
        return None
    groups = getattr(model, "groups", ("main",))
    if group not in groups or not callable(getattr(model, "params_for", None)):
        raise LatentscapeError(f"--group {group!r}: this model's groups are {', '.join(groups)}")
    ids = {id(p) for p in model.params_for(group)}
    return {n for n, p in model.named_parameters() if id(p) in ids}


def compute_surface(
    model: nn.Module,
    task: Task,
    origin: Params,
    directions: Sequence[Params],
    xs: np.ndarray,
    ys: np.ndarray | None,
    data: dict[str, Any],
    *,
    recompute_bn: bool = True,
    bn_data: Any = None,
    buffers: dict[str, torch.Tensor] | None = None,
    batch_size: int = 1000,
    device: str = "cpu",
    bn_batches: int | None = None,
    use_vmap: bool = True,
    chunk_size: int = 32,
    auto_strategy: bool = True,
    protocol: dict[str, Any] | None = None,
    trajectory: dict[str, Any] | None = None,
    folder: Path | None = None,
    resume: bool = False,
    progress: Any = None,
) -> SurfaceResult:
    """Every metric of `task` at w + a d1 (+ b d2) for a in `xs` (and b in `ys`).

    Args:
        origin: w; `directions`: [d1] (1-D, `ys` None) or [d1, d2].
        recompute_bn: BatchNorm statistics recomputed at every point from `bn_data` (False: the
            model's own, kept fixed, as Li et al. evaluate their surfaces).
        chunk_size: points per vmap call (`PointEvaluator`).
        auto_strategy: on large grids, first time a few points with each evaluation strategy and
            keep the fastest (`core.grid.choose_strategy`; all give the same numbers).
        trajectory: the trajectory drawn over the surface (see `SurfaceResult`).
        folder, resume, progress: as in `studies.path.compute_path`.
        Others: as in `compute_path`.
    """
    ev = evaluator_for(model, task, bn_data=bn_data, batch_size=batch_size, device=device, bn_batches=bn_batches,
                       buffers=buffers, use_vmap=use_vmap, recompute_bn=recompute_bn, chunk_size=chunk_size)
    points = grid_points(origin, directions, xs.tolist(), None if ys is None else ys.tolist())
    values = run_grid(ev, task, points, data, kind="surface", settings={"grid_x": xs.tolist(), "grid_y": None if ys is None else ys.tolist()},
                      folder=folder, resume=resume, choose=auto_strategy, progress=progress)
    shape = (len(xs),) if ys is None else (len(ys), len(xs))
    grids = {s: {m: np.asarray(v, dtype=np.float64).reshape(shape) for m, v in ms.items()} for s, ms in values.values.items()}
    proto = {"task": task.description, "batch_size": batch_size,
             "batchnorm": "recomputed per point" if ev.bn else "fixed (the model's own)", **(protocol or {})}
    return SurfaceResult(xs, ys, grids, values.strategy, proto, trajectory)


def surface_summary(result: SurfaceResult) -> Summary:
    """summary.json: the value at w (saying when it is on a subset), the range, the spread."""
    s = result.summary()
    split = next((sp for sp in ("test", "val", "train") if sp in s), next(iter(s), ""))
    metric = "loss" if "loss" in s.get(split, {}) else next(iter(s.get(split, {})), "")
    stats = s.get(split, {}).get(metric, {})
    sizes, full = result.protocol.get("examples", {}), result.protocol.get("full_sizes", {})
    subset = fraction_text(int(sizes.get(split, 0)), full.get(split), split)
    metrics: dict[str, float] = {}
    for sp, ms in s.items():
        st = ms.get(metric) or {}
        for key in ("origin", "min", "max"):
            if st.get(key) is not None:
                metrics[f"{sp} {metric} {'at w' if key == 'origin' else key}"] = float(st[key])  # type: ignore[arg-type]
    from latentscape.viz.findings import short

    where = short(result.protocol.get("source", "w"))
    if result.trajectory is not None:
        evr = result.trajectory["explained_variance_ratio"]
        metrics["explained variance PC1"], metrics["explained variance PC2"] = evr[0], evr[1]
        title = f"Training trajectory of {where} on its top-2 PCA plane"
        lead = (f"The {len(result.trajectory['steps'])} weight sets of training move mostly in their top-2 PCA plane "
                f"(explained variance {evr[0]:.2f} + {evr[1]:.2f})")
    else:
        d = result.protocol.get("directions", {})
        title = f"{'1-D' if result.dims == 1 else '2-D'} {split} {metric} surface around {where} ({d.get('norm', '')}-normalised random directions)"
        lead = f"Around {where}"
    if stats.get("origin") is not None:
        at = f"the {split} {metric} is {stats['origin']:.4g} at w" + (f" ({subset})" if subset else "")
        finding = f"{lead}{';' if result.trajectory is not None else ','} {at} and ranges from {stats['min']:.4g} to {stats['max']:.4g} on the grid."
    elif stats:
        finding = f"{lead}{';' if result.trajectory is not None else ','} the {split} {metric} ranges from {stats['min']:.4g} to {stats['max']:.4g} on the grid" + (f" ({subset})." if subset else ".")
    else:
        finding = f"{lead}."
    return Summary(result.kind, title, finding, str(result.protocol.get("model", "")), str(result.protocol.get("dataset", "")), metrics)


def write_surface(folder: str | Path, result: SurfaceResult) -> Path:
    """surface.json, surface.npz, surface_<split>.vtk and summary.json first, then (as --plots
    says) the plots of every split and metric and report.html."""
    folder = Path(folder)
    with phase("write_json"):  # the numbers first: a failure while drawing cannot lose them
        for s, ms in result.values.items():
            if ms:
                z_field = "loss" if "loss" in ms else None
                write_structured_grid(folder / f"surface_{s}.vtk", result.xs, result.ys, ms, z_field=z_field, title=f"latentscape surface {s}")

        def save_npz(fh: Any) -> None:
            buf = io.BytesIO()
            np.savez(buf, **result.arrays())
            fh.write(buf.getvalue())

        atomic_write(folder / "surface.npz", save_npz)
        write_json(folder / "surface.json", result.to_json())
        write_summary(folder, surface_summary(result))
    draw_and_report(folder, _draw_surface, folder, result)
    return folder


def _draw_surface(folder: Path, result: SurfaceResult) -> None:
    """1-D curves, or filled contours, contour lines and a 3-D view per split and metric."""
    from latentscape.viz.contour import plot_contour
    from latentscape.viz.plots import plot_curves
    from latentscape.viz.surface3d import plot_contour_lines, plot_surface_3d

    images = folder / "images"
    metrics = sorted({m for ms in result.values.values() for m in ms})
    norm = str((result.protocol.get("directions") or {}).get("norm", ""))
    kind = f"{norm}-normalised random direction" if norm in ("filter", "layer") else "random direction"
    path_xy, points, orthonormal = None, {"w": (0.0, 0.0)} if result.dims == 2 else None, False
    xl, yl = f"d1 ({kind}; 0 = w)", f"d2 ({kind}; 0 = w)"
    x3, y3 = "d1", "d2"  # the 3-D view's labels run along its axes: short ones (the flat views explain them)
    if result.trajectory is not None:
        evr = result.trajectory["explained_variance_ratio"]
        path_xy = np.asarray(result.trajectory["coords"])
        points = {"init": tuple(path_xy[0]), "final": (0.0, 0.0)}
        orthonormal = True
        xl, yl = f"1st PC ({100 * evr[0]:.1f}% of variance)", f"2nd PC ({100 * evr[1]:.1f}% of variance)"  # as Li et al.'s plot_trajectory
        x3, y3 = xl, yl
    for m in metrics:
        tag = m.replace("/", "_")
        if result.ys is None:
            series = {s: (result.xs, ms[m]) for s, ms in result.values.items() if m in ms}
            named = f"{next(iter(series))} {m}" if len(series) == 1 else m  # one series has no legend: the title names its split
            plot_curves(series, images / f"surface_{tag}.png", xlabel=f"step along {xl}", ylabel=m, title=f"{named} along one {kind}", markers=len(result.xs) <= 31)
            continue
        for s, ms in result.values.items():
            if m not in ms:
                continue
            z, hib = ms[m], higher_is_better(m)
            title = f"{s} {m}"
            plot_contour(result.xs, result.ys, z, images / f"surface_{tag}_{s}_filled.png", points=points, curve_xy=path_xy, title=title, cbar_label=m, xlabel=xl, ylabel=yl, log_scale=False if hib else None, clip_percentile=None if hib else 95.0, equal_aspect=orthonormal, curve_markers=path_xy is not None)
            plot_contour_lines(result.xs, result.ys, z, images / f"surface_{tag}_{s}_contour.png", title=title, xlabel=xl, ylabel=yl, path_xy=path_xy, points=points, equal_aspect=orthonormal, clip_percentile=None if hib else 95.0)
            plot_surface_3d(result.xs, result.ys, z, images / f"surface_{tag}_{s}_3d.png", title=title, zlabel=m, xlabel=x3, ylabel=y3, clip_percentile=None if hib else 95.0)
