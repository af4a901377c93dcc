"""Landscapes of any PyTorch model (see `latentscape.compute`): path, curve_path, plane, surface,
trajectory (curvature.py: hessian, sharpness). Each normalises what it is given (weights, loss, data) and calls
the analysis in `latentscape.landscape.studies`, the same code the commands run."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:  # importing this module stays cheap: torch comes with the first call
    from torch import Tensor, nn

    from latentscape.landscape.studies.path import PathResult
    from latentscape.landscape.studies.plane import PlaneResult
    from latentscape.landscape.studies.surface import SurfaceResult

#: a weight set: a module of the model's architecture, a state dict, or a weights file.
Weights = Union["nn.Module", Mapping[str, "Tensor"], str, Path]
#: `criterion(outputs, targets) -> loss`, e.g. `nn.CrossEntropyLoss()`.
Criterion = Callable[["Tensor", "Tensor"], "Tensor"]
#: `metric(model, batch) -> {name: per-example (B,) tensor}`; its "loss" is the Hessian's objective.
Metric = Callable[[Any, Any], dict[str, "Tensor"]]
Progress = Callable[[int, int], None]


def _weights(model: Any, weights: Sequence[Any], what: str = "weight set") -> list[tuple[Any, Any]]:
    """[(params, buffers)] of each weight set, checked against the model."""
    from latentscape.landscape.studies.inputs import weight_set

    return [weight_set(model, w, f"{what} {i + 1}") for i, w in enumerate(weights)]


def _setup(model: Any, weights: Sequence[Any], data: Any, criterion: Any, metric: Any, metrics: Sequence[str] | None) -> tuple[Any, list[Any], Any, dict[str, Any]]:
    """(task, [params], buffers of the first weight set, split -> data)."""
    from latentscape.landscape.core.metrics import task_for
    from latentscape.landscape.studies.inputs import as_splits

    task = task_for(model, criterion=criterion, metric=metric, metrics=metrics)
    sets = _weights(model, weights)
    return task, [p for p, _ in sets], sets[0][1], as_splits(data)


def _check_bn(model: Any, bn_data: Any, recompute_bn: bool = True) -> None:
    from latentscape.errors import LatentscapeError
    from latentscape.landscape.core.batchnorm import has_batchnorm

    if recompute_bn and bn_data is None and has_batchnorm(model):
        raise LatentscapeError(
            f"{type(model).__name__} has BatchNorm: pass bn_data= (training data; its statistics are recomputed at every "
            "point), or recompute_bn=False to keep the model's own statistics (as Li et al. 2018)"
        )


def path(
    model: nn.Module,
    a: Weights,
    b: Weights,
    data: Any,
    *,
    criterion: Criterion | None = None,
    metric: Metric | None = None,
    metrics: Sequence[str] | None = None,
    bn_data: Any = None,
    points: int = 61,
    t_range: tuple[float, float] = (0.0, 1.0),
    batch_size: int = 1000,
    device: str = "cpu",
    bn_batches: int | None = None,
    use_vmap: bool = True,
    folder: str | Path | None = None,
    resume: bool = False,
    progress: Progress | None = None,
) -> PathResult:
    """Metrics at `points` evenly spaced t of the segment (1 - t) a + t b, t in `t_range`.

    Args:
        model: the architecture (its own weights are not used; never modified).
        a, b: the end weight sets.
        data: the data to average over (tensors, a tuple (x, y), a Dataset, a DataLoader, an
            ImageDataset), or a dict split -> data.
        criterion, metric: the loss (one of them; neither for latentscape's own models).
        metrics: restrict the per-example metrics to these names; "hessian_top" adds the top
            Hessian eigenvalue at every point.
        bn_data: training data for BatchNorm statistics, recomputed at every point (required
            for models with BatchNorm).
        points, t_range: positions (ends included; `t_range=(0, 1.5)` goes on past b).
        batch_size, device, bn_batches, use_vmap: evaluation (see `core.evaluate.PointEvaluator`).
        folder: write finished points to `folder/grid.npz` as they come; `resume` keeps the
            points already there (same settings), so a killed computation loses at most a chunk.
        progress: `progress(done, total)` points, after each chunk.

    Returns:
        `PathResult`: `ts` (P,), `values[split][metric]` (P,), `summary()` (barrier, ...), `length`.
    """
    from latentscape.landscape.core.curves import line
    from latentscape.landscape.core.evaluate import linspace
    from latentscape.landscape.studies.path import compute_path

    task, (pa, pb), buffers, splits = _setup(model, [a, b], data, criterion, metric, metrics)
    _check_bn(model, bn_data)
    return compute_path(
        model, task, line(pa, pb), linspace(t_range[0], t_range[1], points), splits, bn_data=bn_data, buffers=buffers,
        batch_size=batch_size, device=device, bn_batches=bn_batches, use_vmap=use_vmap, protocol={"description": "line"},
        folder=Path(folder) if folder else None, resume=resume, progress=progress,
    )


def curve_path(
    model: nn.Module,
    control_points: Sequence[Weights],
    data: Any,
    *,
    kind: str = "bezier",
    criterion: Criterion | None = None,
    metric: Metric | None = None,
    metrics: Sequence[str] | None = None,
    bn_data: Any = None,
    points: int = 61,
    batch_size: int = 1000,
    device: str = "cpu",
    bn_batches: int | None = None,
    use_vmap: bool = True,
    folder: str | Path | None = None,
    resume: bool = False,
    progress: Progress | None = None,
) -> PathResult:
    """Metrics along the curve theta(t) = sum_k c_k(t) w_k through `control_points` (start, the
    bends, end), t in [0, 1] (Garipov et al. 2018): `kind` "bezier" or "polychain".

    Args: as `path`; `control_points`: two or more weight sets (a trained curve's: a curve run's
    `loaded.model.control_points()`).
    """
    from latentscape.landscape.core.curves import Curve
    from latentscape.landscape.core.evaluate import linspace
    from latentscape.landscape.studies.path import compute_path
    from latentscape.viz.findings import curve_name

    task, params, buffers, splits = _setup(model, list(control_points), data, criterion, metric, metrics)
    _check_bn(model, bn_data)
    curve = Curve(params, kind)
    return compute_path(
        model, task, curve, linspace(0.0, 1.0, points), splits, bn_data=bn_data, buffers=buffers, batch_size=batch_size,
        device=device, bn_batches=bn_batches, use_vmap=use_vmap, protocol={"description": curve_name(kind, curve.num_bends)},
        folder=Path(folder) if folder else None, resume=resume, progress=progress,
    )


def plane(
    model: nn.Module,
    a: Weights,
    b: Weights,
    c: Weights,
    data: Any,
    *,
    criterion: Criterion | None = None,
    metric: Metric | None = None,
    metrics: Sequence[str] | None = None,
    bn_data: Any = None,
    grid: int = 21,
    margin: float | Sequence[float] = 0.2,
    compare_points: int = 11,
    batch_size: int = 1000,
    device: str = "cpu",
    bn_batches: int | None = None,
    use_vmap: bool = True,
    folder: str | Path | None = None,
    resume: bool = False,
    progress: Progress | None = None,
) -> PlaneResult:
    """The metric grid on the plane through a, b and c (Garipov et al. 2018, fig. 1), and the
    straight line a -> b against the broken line a -> c -> b.

    Args:
        a, b, c: three weight sets that are not collinear.
        grid: points per axis; margin: fraction of the span added on each side (one value or
            left, right, bottom, top).
        compare_points: positions on each compared path.
        Others: as `path`.

    Returns:
        `PlaneResult`: `xs` (nx,), `ys` (ny,), `values[split][metric]` (ny, nx), `plane` (the
        orthonormal frame and the points' coordinates), `paths` (the comparison).
    """
    from latentscape.landscape.core.plane import plane_through
    from latentscape.landscape.studies.plane import comparison_paths, compute_plane

    task, (pa, pb, pc), buffers, splits = _setup(model, [a, b, c], data, criterion, metric, metrics)
    _check_bn(model, bn_data)
    frame = plane_through(pa, pb, pc)
    return compute_plane(
        model, task, frame, splits, compare=comparison_paths(frame, pa, pb, pc, None), grid=grid,
        margin=list(margin) if not isinstance(margin, (int, float)) else margin, compare_points=compare_points, bn_data=bn_data,
        buffers=buffers, batch_size=batch_size, device=device, bn_batches=bn_batches, use_vmap=use_vmap,
        folder=Path(folder) if folder else None, resume=resume, progress=progress,
    )


def surface(
    model: nn.Module,
    weights: Weights,
    data: Any,
    *,
    criterion: Criterion | None = None,
    metric: Metric | None = None,
    metrics: Sequence[str] | None = None,
    bn_data: Any = None,
    recompute_bn: bool = True,
    dims: int = 2,
    span: tuple[float, float] | Sequence[tuple[float, float]] = (-1.0, 1.0),
    grid: int | Sequence[int] = 51,
    norm: str = "filter",
    ignore: str = "biasbn",
    seed: int = 0,
    directions: Sequence[Weights] | None = None,
    batch_size: int = 1000,
    device: str = "cpu",
    bn_batches: int | None = None,
    use_vmap: bool = True,
    folder: str | Path | None = None,
    resume: bool = False,
    progress: Progress | None = None,
) -> SurfaceResult:
    """The 1-D or 2-D surface w + a d1 (+ b d2) around `weights` (Li et al. 2018).

    Args:
        weights: w.
        dims: 1 or 2.
        span: (lo, hi) for every axis, or one per axis; grid: points per axis (one or two).
        norm, ignore, seed: random Gaussian directions normalised per "filter" (Li et al.'s filter
            normalisation), per "layer" or not at all ("none"); ignore="biasbn" keeps biases and
            BatchNorm parameters fixed. The same seed gives the same directions for any weights
            of the architecture.
        directions: your own directions instead (dims weight sets, used as they are).
        recompute_bn: recompute BatchNorm statistics at every point from `bn_data` (False: keep
            the model's own, as Li et al. and loss-landscapes do).
        Others: as `path`.

    Returns:
        `SurfaceResult`: `xs` (nx,), `ys` (ny,) or None, `values[split][metric]` (ny, nx) or (nx,);
        (0, 0) is `weights` itself when the grid contains it.
    """
    import numpy as np

    from latentscape.errors import LatentscapeError
    from latentscape.landscape.core.directions import random_directions
    from latentscape.landscape.core.grid import axes
    from latentscape.landscape.studies.surface import compute_surface

    if dims not in (1, 2):
        raise LatentscapeError(f"dims={dims}: 1 or 2")
    task, (w,), buffers, splits = _setup(model, [weights], data, criterion, metric, metrics)
    _check_bn(model, bn_data, recompute_bn)
    if directions is not None:
        dirs = [_weights(model, [d], "direction")[0][0] for d in directions]
        if len(dirs) != dims:
            raise LatentscapeError(f"directions: give {dims} for dims={dims}")
        direction_info: dict[str, Any] = {"kind": "given"}
    else:
        dirs = random_directions(w, dims, seed=seed, norm=norm, ignore=ignore)  # type: ignore[arg-type]
        direction_info = {"kind": "random", "norm": norm, "ignore": ignore, "seed": seed}
    spans = [tuple(span)] if np.ndim(span) == 1 else [tuple(s) for s in span]  # type: ignore[arg-type]
    counts = [int(grid)] if isinstance(grid, int) else [int(g) for g in grid]
    xs, ys = axes(spans, counts, dims)  # type: ignore[arg-type]
    return compute_surface(
        model, task, w, dirs, xs, ys, splits, recompute_bn=recompute_bn, bn_data=bn_data, buffers=buffers, batch_size=batch_size,
        device=device, bn_batches=bn_batches, use_vmap=use_vmap, protocol={"directions": direction_info},
        folder=Path(folder) if folder else None, resume=resume, progress=progress,
    )


def trajectory(
    model: nn.Module,
    weights: Sequence[Weights],
    data: Any,
    *,
    criterion: Criterion | None = None,
    metric: Metric | None = None,
    metrics: Sequence[str] | None = None,
    bn_data: Any = None,
    recompute_bn: bool = True,
    steps: Sequence[int] | None = None,
    grid: int = 21,
    margin: float = 0.3,
    ignore: str = "none",
    batch_size: int = 1000,
    device: str = "cpu",
    bn_batches: int | None = None,
    use_vmap: bool = True,
    folder: str | Path | None = None,
    resume: bool = False,
    progress: Progress | None = None,
) -> SurfaceResult:
    """A training trajectory on its top-2 PCA plane, over the surface of that plane around the
    final weights (Li et al. 2018, sec. 7).

    Args:
        weights: four or more weight sets in training order; the last is the final weights.
        steps: the training step of each (default 0, 1, 2, ...).
        grid, margin: grid points per axis, and the margin around the trajectory (a fraction of
            its span); the final weights are a grid node.
        ignore: "biasbn" leaves one-dimensional parameters out of the PCA.
        Others: as `surface`.

    Returns:
        `SurfaceResult` with `trajectory` (coords (K, 2), residuals, explained variance ratio).
    """
    from latentscape.landscape.studies.trajectory import compute_trajectory

    task, sets, buffers, splits = _setup(model, list(weights), data, criterion, metric, metrics)
    _check_bn(model, bn_data, recompute_bn)
    return compute_trajectory(
        model, task, sets, splits, steps=steps, grid=grid, margin=margin, ignore=ignore, recompute_bn=recompute_bn,
        bn_data=bn_data, buffers=buffers, batch_size=batch_size, device=device, bn_batches=bn_batches, use_vmap=use_vmap,
        folder=Path(folder) if folder else None, resume=resume, progress=progress,
    )
