"""End-to-end `latentscape surface` and `latentscape trajectory` (importable, testable).

Each loads a run, builds directions (random and normalised, or a trajectory's PCA plane),
evaluates the grid with the shared `PointEvaluator`, and writes a run-like folder under
RUN/analysis/: surface.json, surface.npz, surface_<split>.vtk, images/*.png and report.html.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentscape.errors import LatentscapeError
from latentscape.io import write_json
from latentscape.landscape.studies.analysis import EvalOptions, _data, _is_main, from_refs
from latentscape.landscape.core.directions import random_directions
from latentscape.landscape.studies.outputs import adopt_config, check_output_dir, new_output_dir, write_report
from latentscape.landscape.core.params import Params
from latentscape.landscape.core.summaries import higher_is_better
from latentscape.landscape.core.surface import Surface, axes, evaluate_surface
from latentscape.landscape.core.trajectory import pca_plane, trajectory_axes, trajectory_weights
from latentscape.landscape.studies.vtk import write_structured_grid


def group_param_names(model: Any, group: str | None) -> set[str] | None:
    """Names of the parameters `model.params_for(group)` trains (None: all parameters)."""
    if group is None:
        return None
    groups = getattr(model, "groups", ("main",))
    if group not in groups:
        raise LatentscapeError(f"--group {group!r}: this model's groups are {', '.join(groups)}")
    ids = {id(p) for p in model.params_for(group)}
    return {n for n, p in model.named_parameters() if id(p) in ids}


def restrict(direction: Params, names: set[str] | None) -> Params:
    """`direction` with the entries outside `names` zeroed (those parameters stay at w)."""
    if names is None:
        return direction
    return {k: (v if k in names else v * 0) for k, v in direction.items()}


def bn_forward(module: Any, batch: Any) -> Any:
    """The training objective as the BatchNorm-statistics pass; with autograd on, because some
    objectives differentiate inside (WGAN-GP's gradient penalty)."""
    with torch.enable_grad():
        return module(batch)


def make_evaluator(src: Any, train: Any, opts: EvalOptions, recompute_bn: bool) -> Any:
    """The shared `PointEvaluator` with the path metrics that apply to the model."""
    from latentscape.landscape.core.evaluate import PointEvaluator
    from latentscape.landscape.core.metrics import combined, resolve_metrics

    return PointEvaluator(
        src.model, combined(resolve_metrics(src.model, opts.metrics)), batch_size=opts.batch_size,
        device=opts.device, bn_data=train, bn_batches=opts.bn_batches, bn_forward=bn_forward,
        buffers=src.buffers, use_vmap=opts.use_vmap, recompute_bn=recompute_bn,
    )


def write_surface_outputs(
    out_dir: Path,
    surface: Surface,
    doc: dict,
    path_xy: np.ndarray | None = None,
    points: dict | None = None,
    orthonormal: bool = False,
    axis_labels: tuple[str, str] = ("d1", "d2"),
) -> None:
    """surface.json, surface.npz and surface_<split>.vtk first, then (as LATENTSCAPE_PLOTS says)
    the plots of every split and metric, with `axis_labels` on the two axes, and report.html."""
    from latentscape.io import atomic_write
    from latentscape.viz.deferred import draw

    for s, ms in surface.values.items():
        if ms:
            z_field = "loss" if "loss" in ms else None
            write_structured_grid(out_dir / f"surface_{s}.vtk", surface.xs, surface.ys, ms, z_field=z_field, title=f"latentscape surface {s}")

    def save_npz(fh: Any) -> None:
        buf = io.BytesIO()
        np.savez(buf, **surface.arrays())
        fh.write(buf.getvalue())

    atomic_write(out_dir / "surface.npz", save_npz)
    write_json(out_dir / "surface.json", doc)
    draw(_draw_surface, out_dir, surface, path_xy, points, orthonormal, axis_labels)


def _draw_surface(
    out_dir: Path, surface: Surface, path_xy: np.ndarray | None, points: dict | None, orthonormal: bool, axis_labels: tuple[str, str]
) -> None:
    """1-D curves, or filled contours, contour lines and a 3-D view per split and metric; report.html."""
    from latentscape.viz.contour import plot_contour
    from latentscape.viz.plots import plot_curves
    from latentscape.viz.surface3d import plot_contour_lines, plot_surface_3d

    images = out_dir / "images"
    metrics = sorted({m for ms in surface.values.values() for m in ms})
    xl, yl = axis_labels
    for m in metrics:
        tag = m.replace("/", "_")
        if surface.ys is None:
            series = {s: (surface.xs, ms[m]) for s, ms in surface.values.items() if m in ms}
            plot_curves(series, images / f"surface_{tag}.png", xlabel=f"alpha ({xl})", ylabel=m, title=f"{m} along d1", markers=len(surface.xs) <= 31)
            continue
        for s, ms in surface.values.items():
            if m not in ms:
                continue
            z, hib = ms[m], higher_is_better(m)
            title = f"{s} {m}"
            plot_contour(surface.xs, surface.ys, z, images / f"surface_{tag}_{s}_filled.png", points=points, curve_xy=path_xy, title=title, cbar_label=m, xlabel=xl, ylabel=yl, log_scale=False if hib else None, clip_percentile=None if hib else 95.0, equal_aspect=orthonormal)
            plot_contour_lines(surface.xs, surface.ys, z, images / f"surface_{tag}_{s}_contour.png", title=title, xlabel=xl, ylabel=yl, path_xy=path_xy, clip_percentile=None if hib else 95.0)
            plot_surface_3d(surface.xs, surface.ys, z, images / f"surface_{tag}_{s}_3d.png", title=title, zlabel=m, xlabel=xl, ylabel=yl, clip_percentile=None if hib else 95.0)
    write_report(out_dir)


def analyse_surface(
    ref: str,
    *,
    dims: int = 2,
    spans: Sequence[tuple[float, float]] = ((-1.0, 1.0),),
    counts: Sequence[int] = (51,),
    norm: str = "filter",
    ignore: str = "biasbn",
    seed: int = 0,
    group: str | None = None,
    recompute_bn: bool = True,
    out: str | None = None,
    opts: EvalOptions | None = None,
    quiet: bool = False,
) -> tuple[Path, dict]:
    """Metrics on w + a d1 (+ b d2) for random normalised directions around the weights `ref`."""
    check_output_dir(out)  # before any evaluation: a bad --out costs nothing
    opts = opts or EvalOptions()
    if dims not in (1, 2):
        raise LatentscapeError(f"--dims {dims}: 1 or 2")
    src, (w,) = from_refs([ref], opts.data_dir)
    names = group_param_names(src.model, group)
    dirs = [restrict(d, names) for d in random_directions(w, dims, seed=seed, norm=norm, ignore=ignore)]  # type: ignore[arg-type]
    xs, ys = axes(spans, counts, dims)
    data, train = _data(src, opts)
    ev = make_evaluator(src, train, opts, recompute_bn)
    surface = evaluate_surface(ev, w, dirs, xs, ys, data)
    doc = surface.to_json(
        source=str(ref), directions={"kind": "random", "norm": norm, "ignore": ignore, "seed": seed, "group": group},
        batchnorm="recomputed per point" if (recompute_bn and ev.recompute is not None) else "fixed (the model's own)",
    )
    if not _is_main():
        return Path(out or "."), doc
    out_dir = new_output_dir("surface", out, root=str(Path(src.run_dir) / "analysis"))
    adopt_config(out_dir, src.run_dir)
    write_surface_outputs(out_dir, surface, doc, points={"w": (0.0, 0.0)} if dims == 2 else None)
    if not quiet:
        _print_summary(doc)
        print(f"surface results: {out_dir}")
    return out_dir, doc


def analyse_trajectory(
    run: str,
    *,
    grid: int = 21,
    margin: float = 0.3,
    ignore: str = "none",
    recompute_bn: bool = True,
    out: str | None = None,
    opts: EvalOptions | None = None,
    quiet: bool = False,
) -> tuple[Path, dict]:
    """The kept checkpoints of `run` on their top-2 PCA plane, drawn over the metric surface."""
    check_output_dir(out)  # before any evaluation: a bad --out costs nothing
    opts = opts or EvalOptions()
    src, (w,) = from_refs([run], opts.data_dir)
    steps, weights = trajectory_weights(src.run_dir, w)
    plane = pca_plane(weights, ignore=ignore)
    xs, ys = trajectory_axes(plane.coords, grid, margin)  # (0, 0), the final weights, is a node
    data, train = _data(src, opts)
    ev = make_evaluator(src, train, opts, recompute_bn)
    surface = evaluate_surface(ev, plane.origin, plane.directions, xs, ys, data)
    evr = [float(v) for v in plane.explained_variance_ratio]
    doc = surface.to_json(
        source=str(run), directions={"kind": "pca", "ignore": ignore, "explained_variance_ratio": evr},
        trajectory={"steps": steps, "coords": plane.coords.tolist(), "residuals": plane.residuals.tolist()},
    )
    if not _is_main():
        return Path(out or "."), doc
    out_dir = new_output_dir("trajectory", out, root=str(Path(src.run_dir) / "analysis"))
    adopt_config(out_dir, src.run_dir)
    labels = (f"1st PC ({100 * evr[0]:.1f}% of variance)", f"2nd PC ({100 * evr[1]:.1f}% of variance)")  # as Li et al.'s plot_trajectory
    write_surface_outputs(
        out_dir, surface, doc, path_xy=plane.coords, points={"init": tuple(plane.coords[0]), "final": (0.0, 0.0)}, orthonormal=True, axis_labels=labels
    )
    if not quiet:
        print(f"{len(steps)} weight sets (steps {steps[0]}..{steps[-1]}); explained variance ratio: "
              f"PC1 {evr[0]:.4f}, PC2 {evr[1]:.4f} (sum {sum(evr):.4f})")
        _print_summary(doc)
        print(f"trajectory results: {out_dir}")
    return out_dir, doc


def _print_summary(doc: dict) -> None:
    for s, ms in doc["summary"].items():
        for m, v in ms.items():
            at = "n/a" if v["origin"] is None else f"{v['origin']:.4g}"
            print(f"{s} {m}: at w {at}  min {v['min']:.4g}  max {v['max']:.4g}")
