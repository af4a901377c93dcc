"""End-to-end analyses behind `latentscape path` and `latentscape plane` (importable, testable).

Each takes weight references of runs, evaluates, and writes a run-like output folder:
path.json / plane.json, images/*.png (+ the image-dynamics strip and GIF for autoencoders) and
report.html.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from latentscape.errors import LatentscapeError
from latentscape.landscape.studies import api as A
from latentscape.landscape.studies import paths as P
from latentscape.landscape.core.curves import Curve
from latentscape.landscape.core.evaluate import linspace
from latentscape.landscape.core.params import check_compatible
from latentscape.landscape.core.sharding import shard
from latentscape.landscape.core.summaries import higher_is_better
from latentscape.io import write_json
from latentscape.landscape.studies.inputs import endpoint_data_config, load_curve_run, load_eval_data, load_weights_ref, params_of
from latentscape.landscape.studies.path_plots import plot_path
from latentscape.landscape.studies.outputs import adopt_config, check_output_dir, new_output_dir, write_report
from latentscape.landscape.core.plane import curve_in_plane, plane_for_curve, plane_through
from latentscape.timing import phase
from latentscape.viz.deferred import draw, plots_mode


@dataclass
class EvalOptions:
    """How points are evaluated (shared by path and plane)."""

    splits: Sequence[str] = ("train", "test")
    metrics: Sequence[str] | None = None
    batch_size: int = 1000
    max_examples: int | None = None
    bn_batches: int | None = None
    device: str = "cpu"
    data_dir: str | None = None
    use_vmap: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.splits:
            raise LatentscapeError("--splits: give at least one split (train, val, test)")
        if self.metrics is not None and not self.metrics:
            raise LatentscapeError("--metrics: give at least one metric name, or leave it out for all that apply")
        for option, value in (("--batch-size", self.batch_size), ("--max-examples", self.max_examples),
                              ("--bn-batches", self.bn_batches)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise LatentscapeError(f"{option} {value}: must be a positive integer")


@dataclass
class Source:
    """What the weights come from: a model (architecture + buffers), its run and data config."""

    model: Any
    buffers: dict
    run_dir: Path
    data_cfg: Any
    curve: Curve | None = None
    labels: dict[str, str] = field(default_factory=dict)


def from_refs(refs: Sequence[str], data_dir: str | None) -> tuple[Source, list[dict]]:
    """Load runs by weight reference; all must share the architecture of the first."""
    with phase("load_runs"):
        loaded = [load_weights_ref(r) for r in refs]
    params = [params_of(ld) for ld in loaded]
    for r, p in zip(refs[1:], params[1:]):
        check_compatible(params[0], p, what=f"{refs[0]} and {r}")
    first = loaded[0]
    src = Source(first.model, dict(first.model.named_buffers()), first.run.path, endpoint_data_config(first, data_dir))
    return src, params


def from_curve(ref: str, data_dir: str | None) -> Source:
    with phase("load_runs"):
        loaded, curve = load_curve_run(ref)
    cm = loaded.model
    return Source(cm.base_model(), cm.base_buffers(), loaded.run.path, endpoint_data_config(loaded, data_dir), curve)


def _data(src: Source, opts: EvalOptions) -> tuple[dict, Any]:
    """The evaluated splits, and the training split only when BatchNorm statistics need it (so a
    test-only dataset can be evaluated with `--splits test`, and nobody pays for 60k unused
    training images)."""
    from latentscape.landscape.core.batchnorm import has_batchnorm

    data = load_eval_data(src.data_cfg, opts.splits, opts.max_examples)
    train = data.get("train")
    if train is None and has_batchnorm(src.model):
        train = load_eval_data(src.data_cfg, ["train"], opts.max_examples)["train"]
    return data, train


def _is_main() -> bool:
    return shard([0])[1] == 0


def analyse_path(
    refs: Sequence[str] = (),
    curve_ref: str | None = None,
    *,
    points: int = 61,
    t_range: tuple[float, float] = (0.0, 1.0),
    out: str | None = None,
    opts: EvalOptions | None = None,
    dynamics_images: int = 4,
    quiet: bool = False,
) -> tuple[Path, dict]:
    """Metrics along the segment between `refs[0]` and `refs[1]` or along the curve `curve_ref`."""
    check_output_dir(out)  # before any evaluation: a bad --out costs nothing
    opts = opts or EvalOptions()
    if curve_ref:
        if refs:
            raise LatentscapeError("give either two weight references or --curve, not both")
        src = from_curve(curve_ref, opts.data_dir)
        curve, kind = src.curve, f"{src.curve.kind} curve ({src.curve.num_bends} bends)"
        ts = linspace(0.0, 1.0, points)
        names = {"start": "start", "end": "end"}
    else:
        if len(refs) != 2:
            raise LatentscapeError("path needs two weight references A B (or --curve CURVE_RUN)")
        src, (pa, pb) = from_refs(refs, opts.data_dir)
        curve, kind = P.segment(pa, pb), "line"
        ts = linspace(t_range[0], t_range[1], points)
        names = {"start": refs[0], "end": refs[1]}
    if points < 2:
        raise LatentscapeError("--points must be at least 2")
    from latentscape.landscape.core.sharpness import hessian_top_along, split_metric_names

    per_example, per_point = split_metric_names(opts.metrics)
    with phase("data"):
        data, train = _data(src, opts)
    with phase("evaluate"):
        ev = A.make_evaluator(src.model, metrics=per_example, batch_size=opts.batch_size, device=opts.device, bn_data=train, bn_batches=opts.bn_batches, buffers=src.buffers, use_vmap=opts.use_vmap)
        r = A.evaluate_curve(ev, curve, ts, data)
    result = P.PathResult(r["ts"], r["values"], r["length"], "curve" if curve_ref else "line", r["strategy"])
    if "hessian_top" in per_point:  # sharpness per point (loop; BatchNorm in eval mode)
        with phase("hessian"):
            for s, ms in hessian_top_along(ev, src.model, P.curve_points(curve, ts), data, **opts.extra.get("hessian", {})).items():
                result.values[s].update(ms)
    doc = result.to_json(description=kind, start=names["start"], end=names["end"], source=str(src.run_dir))
    if not _is_main():
        return Path(out or "."), doc
    out_dir = new_output_dir("path", out)
    adopt_config(out_dir, src.run_dir)
    with phase("write_json"):  # the numbers first: a failure while drawing cannot lose them
        write_json(out_dir / "path.json", doc)
    with phase("plots"):
        if callable(getattr(src.model, "reconstruct", None)) and dynamics_images > 0 and plots_mode() != "none":
            from latentscape.landscape.studies.dynamics import fixed_images, reconstructions_along, save_dynamics

            shown = data.get("test", next(iter(data.values())))
            x = fixed_images(shown, dynamics_images)
            dyn_ts = [t for t in ts if 0.0 <= t <= 1.0] or ts
            recons = reconstructions_along(ev, curve, dyn_ts, x)
            saved = save_dynamics(x, recons, dyn_ts, out_dir / "images")
            doc["dynamics"] = {"strip": "images/dynamics.png", "gif": "images/dynamics.gif", "strip_ts": saved["strip_ts"]}
            write_json(out_dir / "path.json", doc)
        draw(_draw_path, result, out_dir, kind)
    if not quiet:
        print(format_summary(doc))
        print(f"path results: {out_dir}")
    return out_dir, doc


def _draw_path(result: P.PathResult, out_dir: Path, kind: str) -> None:
    plot_path(result, out_dir / "images", kind)
    write_report(out_dir)


def _draw_plane(grids: dict, xs: np.ndarray, ys: np.ndarray, points: dict, curve_xy: Any, out_dir: Path) -> None:
    from latentscape.viz.contour import plot_contour

    for s, ms in grids.items():
        for m, g in ms.items():
            hib = higher_is_better(m)
            plot_contour(xs, ys, np.asarray(g), out_dir / "images" / f"plane_{m.replace('/', '_')}_{s}.png", points=points, curve_xy=curve_xy, title=f"{s} {m}", cbar_label=m, log_scale=False if hib else None, clip_percentile=None if hib else 95.0)
    write_report(out_dir)


def format_summary(doc: dict) -> str:
    """A readable table of path.json's summary."""
    lines = [f"{doc.get('description', doc['kind'])}: {len(doc['ts'])} points, length {doc['length']:.4g}"]
    lines.append(f"{'split':<7}{'metric':<16}{'start':>10}{'end':>10}{'min':>10}{'max':>10}{'mean':>10}{'barrier':>10}")
    for split, ms in doc["summary"].items():
        for m, s in ms.items():
            lines.append(f"{split:<7}{m:<16}" + "".join(f"{s[k]:>10.4g}" for k in ("start", "end", "min", "max", "mean", "barrier")))
    return "\n".join(lines)


def analyse_plane(
    refs: Sequence[str] = (),
    curve_ref: str | None = None,
    *,
    grid: int = 21,
    margin: float | Sequence[float] = 0.2,
    out: str | None = None,
    opts: EvalOptions | None = None,
    quiet: bool = False,
) -> tuple[Path, dict]:
    """Metric grid on the plane through three weight sets (or a curve's ends and middle bend)."""
    check_output_dir(out)  # before any evaluation: a bad --out costs nothing
    opts = opts or EvalOptions()
    curve = None
    if curve_ref:
        if refs:
            raise LatentscapeError("give either three weight references or --curve, not both")
        src = from_curve(curve_ref, opts.data_dir)
        curve = src.curve
        plane, _ = plane_for_curve(curve)
    else:
        if len(refs) != 3:
            raise LatentscapeError("plane needs three weight references A B C (or --curve CURVE_RUN)")
        src, (pa, pb, pc) = from_refs(refs, opts.data_dir)
        plane = plane_through(pa, pb, pc, names=[str(r) for r in refs])
    curve_xy = curve_in_plane(plane, curve, linspace(0.0, 1.0, 61)) if curve is not None else None
    cover = [tuple(p) for p in curve_xy] if curve_xy is not None else []
    with phase("data"):
        data, train = _data(src, opts)
    with phase("evaluate"):
        ev = A.make_evaluator(src.model, metrics=opts.metrics, batch_size=opts.batch_size, device=opts.device, bn_data=train, bn_batches=opts.bn_batches, buffers=src.buffers, use_vmap=opts.use_vmap)
        r = A.evaluate_plane(src.model, plane=plane, cover=cover, data=data, grid=grid, margin=margin, evaluator=ev)
    xs, ys, grids = r["xs"], r["ys"], r["values"]  # grids: split -> metric -> (ny, nx)
    doc = {
        "points": {k: list(v) for k, v in plane.points.items()},
        "basis": {"origin": list(plane.points)[0], "u_hat": "unit vector along B - A", "v_hat": "Gram-Schmidt of C - A against u_hat"},
        "grid_x": xs.tolist(),
        "grid_y": ys.tolist(),
        "values": {s: {m: g.tolist() for m, g in ms.items()} for s, ms in grids.items()},
        "curve_xy": curve_xy.tolist() if curve_xy is not None else None,
        "strategy": ev.last_strategy,
        "source": str(src.run_dir),
    }
    if not _is_main():
        return Path(out or "."), doc
    out_dir = new_output_dir("plane", out)
    adopt_config(out_dir, src.run_dir)
    with phase("write_json"):  # the numbers first: a failure while drawing cannot lose them
        write_json(out_dir / "plane.json", doc)
    with phase("plots"):
        draw(_draw_plane, grids, xs, ys, plane.points, curve_xy, out_dir)
    if not quiet:
        for s, ms in grids.items():
            for m, g in ms.items():
                print(f"{s} {m}: min {np.nanmin(g):.4g}  max {np.nanmax(g):.4g}")
        print(f"plane results: {out_dir}")
    return out_dir, doc
