"""Compute-only landscape functions: weights and data in, arrays out, nothing written.

`latentscape path` / `plane` call these and then write files and pictures; a notebook or a
benchmark calls them directly (re-exported by `latentscape.compute`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from torch import nn

from latentscape.data.types import ImageDataset
from latentscape.landscape.core.curves import Curve, line
from latentscape.landscape.core.evaluate import PointEvaluator, linspace
from latentscape.landscape.core.params import Params, check_compatible, named_params
from latentscape.landscape.core.metrics import combined, resolve_metrics
from latentscape.landscape.core.plane import Plane, grid_axes, plane_through


def _params(w: Params | nn.Module) -> Params:
    return named_params(w) if isinstance(w, nn.Module) else dict(w)


def make_evaluator(
    model: nn.Module,
    *,
    metrics: Sequence[str] | None = None,
    batch_size: int = 1000,
    device: str = "cpu",
    bn_data: ImageDataset | None = None,
    bn_batches: int | None = None,
    buffers: Params | None = None,
    use_vmap: bool = True,
) -> PointEvaluator:
    """A `PointEvaluator` with the path metrics that apply to `model` (see `PointEvaluator`)."""
    return PointEvaluator(
        model, combined(resolve_metrics(model, metrics)), batch_size=batch_size, device=device,
        bn_data=bn_data, bn_batches=bn_batches, buffers=buffers, use_vmap=use_vmap,
    )


def evaluate_curve(evaluator: PointEvaluator, curve: Curve, ts: Sequence[float], data: dict[str, ImageDataset]) -> dict[str, Any]:
    """Metrics of `curve` at `ts`: {"ts", "values": split -> metric -> (P,), "length", "strategy"}."""
    from latentscape.landscape.studies.paths import curve_points

    values = evaluator.evaluate(curve_points(curve, ts), data)
    return {"ts": [float(t) for t in ts], "values": values, "length": curve.length(ts), "strategy": evaluator.last_strategy}


def evaluate_path(
    model: nn.Module,
    a: Params | nn.Module,
    b: Params | nn.Module,
    data: dict[str, ImageDataset],
    *,
    points: int = 61,
    t_range: tuple[float, float] = (0.0, 1.0),
    evaluator: PointEvaluator | None = None,
    **evaluator_options: Any,
) -> dict[str, Any]:
    """Metrics at `points` evenly spaced t of the segment (1 - t) a + t b (t in `t_range`).

    Args:
        model: the architecture (its own weights are not used; never modified).
        a, b: the end weight sets (modules or name -> tensor dicts of the same shapes).
        data: split name -> dataset to average the metrics over.
        points: number of positions (>= 2), ends included.
        t_range: first and last t.
        evaluator: a ready `PointEvaluator` (default: `make_evaluator(model, **evaluator_options)`).
        **evaluator_options: metrics, batch_size, device, bn_data (training data, required for
            BatchNorm models), bn_batches, buffers, use_vmap.

    Returns:
        {"ts": [P], "values": split -> metric -> (P,) array, "length": segment length,
        "strategy": how the points were evaluated}.
    """
    pa, pb = _params(a), _params(b)
    check_compatible(pa, pb, what="the two weight sets")
    ev = evaluator or make_evaluator(model, **evaluator_options)
    return evaluate_curve(ev, line(pa, pb), linspace(t_range[0], t_range[1], points), data)


def plane_grid(plane: Plane, cover: Sequence[tuple[float, float]], grid: int, margin: float | Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Grid axes (xs, ys) covering the plane's defining points and `cover`."""
    return grid_axes(list(plane.points.values()) + list(cover), grid, margin)


def evaluate_plane(
    model: nn.Module,
    a: Params | nn.Module | None = None,
    b: Params | nn.Module | None = None,
    c: Params | nn.Module | None = None,
    data: dict[str, ImageDataset] | None = None,
    *,
    grid: int = 21,
    margin: float | Sequence[float] = 0.2,
    plane: Plane | None = None,
    cover: Sequence[tuple[float, float]] = (),
    evaluator: PointEvaluator | None = None,
    **evaluator_options: Any,
) -> dict[str, Any]:
    """Metric grid on the plane through a, b and c (Garipov et al. 2018, fig. 1).

    Args:
        model: the architecture (never modified).
        a, b, c: three weight sets that are not collinear (or pass `plane`).
        data: split name -> dataset.
        grid: points per axis (grid x grid evaluations).
        margin: fraction of the span added on each side (one value or four).
        plane: a ready plane (instead of a, b, c).
        cover: extra plane coordinates the grid must cover (e.g. a curve's).
        evaluator, **evaluator_options: as in `evaluate_path`.

    Returns:
        {"plane": Plane, "xs": (nx,), "ys": (ny,), "values": split -> metric -> (ny, nx) array,
        "strategy"}.
    """
    if plane is None:
        if a is None or b is None or c is None:
            raise ValueError("evaluate_plane: give a, b and c, or plane")
        plane = plane_through(_params(a), _params(b), _params(c))
    xs, ys = plane_grid(plane, cover, grid, margin)
    ev = evaluator or make_evaluator(model, **evaluator_options)
    values = ev.evaluate(plane.grid(xs.tolist(), ys.tolist()), data or {})
    grids = {s: {m: v.reshape(len(ys), len(xs)) for m, v in ms.items()} for s, ms in values.items()}  # (ny, nx)
    return {"plane": plane, "xs": xs, "ys": ys, "values": grids, "strategy": ev.last_strategy}
