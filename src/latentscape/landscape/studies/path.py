"""Metrics along a straight segment or a trained curve between weight sets.

The lab's four cases are all `path A B` with different references: two minima (RUN1 RUN2), a
minimum and its own initialisation (RUN RUN@init), a minimum and another run's initialisation
(RUN1 RUN2@init), two initialisations (RUN1@init RUN2@init). `compute_path` evaluates any curve
of any model (a `core.task.Task` says how); `write_path` writes path.json, summary.json, the
plots and, for models that reconstruct, the image dynamics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from latentscape.io import write_json
from latentscape.landscape.core.curves import Curve
from latentscape.landscape.core.evaluate import PointSet, Results
from latentscape.landscape.core.points import evaluator_for
from latentscape.landscape.core.summaries import summarize
from latentscape.landscape.core.task import Task
from latentscape.landscape.studies.inputs import EvalOptions, Source
from latentscape.landscape.studies.grid_file import run_grid
from latentscape.timing import phase
from latentscape.landscape.studies.outputs import Summary, draw_and_report, write_summary


@dataclass
class PathResult:
    """Metrics at positions `ts` along a path (a segment or a curve).

    Attributes:
        ts: (P,) positions (0: the start weights, 1: the end weights).
        values: split -> metric -> (P,) means.
        length: Euclidean length of the polyline through the points.
        kind: "line" or "curve".
        strategy: how the points were evaluated.
        protocol: what was measured and how (description, start, end, source, data sizes, ...).
        dynamics: {"x": (N, C, H, W) images, "recons": (T, N, C, H, W), "ts": [T]} for models
            that reconstruct (the image-dynamics strip and GIF), else None.
    """

    ts: list[float]
    values: Results
    length: float
    kind: str
    strategy: str
    protocol: dict[str, Any] = field(default_factory=dict)
    dynamics: dict[str, Any] | None = None

    def summary(self) -> dict[str, dict[str, dict[str, float]]]:
        """split -> metric -> start, end, min, max, mean and barrier (see `core.summaries`)."""
        # the ends are the weight sets at t = 0 and t = 1 when evaluated (e.g. --range 0,1.5)
        i0 = self.ts.index(0.0) if 0.0 in self.ts else 0
        i1 = self.ts.index(1.0) if 1.0 in self.ts else len(self.ts) - 1
        return {s: {m: summarize(v, m, (i0, i1)) for m, v in ms.items()} for s, ms in self.values.items()}

    def to_json(self) -> dict[str, Any]:
        """path.json: ts, metrics per split, summary, length, strategy, the protocol's keys and
        (models that reconstruct) where the image dynamics are and the t of the strip's columns."""
        doc = {
            "kind": self.kind,
            "ts": self.ts,
            "metrics": {s: {m: v.tolist() for m, v in ms.items()} for s, ms in self.values.items()},
            "summary": self.summary(),
            "length": self.length,
            "strategy": self.strategy,
            **self.protocol,
        }
        if self.dynamics is not None:
            from latentscape.landscape.studies.dynamics import strip_positions

            ts = self.dynamics["ts"]
            strip = [float(ts[c]) for c in strip_positions(len(ts))]
            doc["dynamics"] = {"strip": "images/dynamics.png", "gif": "images/dynamics.gif", "strip_ts": strip}
        return doc

    def save(self, folder: str | Path) -> Path:
        """Write the analysis folder (see `write_path`); returns it."""
        return write_path(folder, self)


def curve_points(curve: Curve, ts: Sequence[float]) -> PointSet:
    """The points theta(t) of `curve` at `ts` as a `PointSet` over its control points."""
    return PointSet(curve.points, curve.coefficients(list(ts)))


def compute_path(
    model: nn.Module,
    task: Task,
    curve: Curve,
    ts: Sequence[float],
    data: dict[str, Any],
    *,
    bn_data: Any = None,
    buffers: dict[str, torch.Tensor] | None = None,
    batch_size: int = 1000,
    device: str = "cpu",
    bn_batches: int | None = None,
    use_vmap: bool = True,
    dynamics_images: int = 0,
    protocol: dict[str, Any] | None = None,
    folder: Path | None = None,
    resume: bool = False,
    progress: Any = None,
) -> PathResult:
    """Every metric of `task` at `curve(t)` for t in `ts`, on every split of `data`.

    Args:
        model: the architecture (its weights are not used; never modified).
        task: what is measured (`core.task`).
        curve: a straight line (`core.curves.line`) or any curve over the model's parameters.
        ts: positions on the curve.
        data: split -> data (an ImageDataset, tensors, a Dataset or a DataLoader).
        bn_data: training data for BatchNorm statistics (recomputed at every point).
        buffers: buffers of the points (default: the model's own).
        batch_size, device, bn_batches, use_vmap: how points are evaluated (`PointEvaluator`).
        dynamics_images: reconstruct this many images of the first split at every t in [0, 1]
            (models with `reconstruct`; 0: none).
        protocol: extra protocol entries (names of the ends, source, ...).
        folder: write finished points to `folder/grid.npz` as they come (None: keep them in memory).
        resume: keep the points already in `folder/grid.npz` (computed with the same settings).
        progress: `progress(done, total)` points, after each chunk.
    """
    ts = [float(t) for t in ts]
    ev = evaluator_for(model, task, bn_data=bn_data, batch_size=batch_size, device=device, bn_batches=bn_batches, buffers=buffers, use_vmap=use_vmap)
    points = curve_points(curve, ts)
    values = run_grid(ev, task, points, data, kind="path", settings={"ts": ts, "curve": curve.kind}, folder=folder, resume=resume, progress=progress)
    dyn = None
    shown = data.get("test", next(iter(data.values())))
    if dynamics_images > 0 and callable(getattr(model, "reconstruct", None)) and hasattr(shown, "images"):
        x = shown.images[:dynamics_images].float() / 255.0  # (N, C, H, W) in [0, 1], an ImageDataset's
        dyn_ts = [t for t in ts if 0.0 <= t <= 1.0] or ts
        from latentscape.landscape.studies.dynamics import reconstructions_along

        dyn = {"x": x, "recons": reconstructions_along(ev, curve, dyn_ts, x), "ts": dyn_ts}
    proto = {"task": task.description, "batch_size": batch_size, **(protocol or {})}
    return PathResult(ts, values.values, curve.length(ts), "curve" if curve.num_bends else "line", values.strategy, proto, dyn)


def path_summary(result: PathResult) -> Summary:
    """summary.json of a path: its barrier (per split, of the loss) and the finding sentence."""
    from latentscape.viz.findings import path_finding, short

    doc = result.to_json()
    what = "straight line" if result.kind == "line" else str(result.protocol.get("description") or "curve")
    metrics: dict[str, float] = {}
    for split, ms in doc["summary"].items():
        if "loss" in ms:
            metrics[f"{split} loss barrier"] = ms["loss"]["barrier"]
            metrics[f"{split} loss max"] = ms["loss"]["max"]
    metrics["length"] = result.length
    return Summary(
        "path", f"Loss along the {what} from {short(doc.get('start'))} to {short(doc.get('end'))}", path_finding(doc),
        str(result.protocol.get("model", "")), str(result.protocol.get("dataset", "")), metrics,
    )


def write_path(folder: str | Path, result: PathResult) -> Path:
    """path.json and summary.json (the numbers first), then images/path_<metric>.png, the image
    dynamics (images/dynamics.png and .gif) and report.html as --plots says."""
    folder = Path(folder)
    doc = result.to_json()
    with phase("write_json"):  # the numbers first: a failure while drawing cannot lose them
        write_json(folder / "path.json", doc)
        write_summary(folder, path_summary(result))
    draw_and_report(folder, _draw_path, result, folder)
    return folder


def _draw_path(result: PathResult, folder: Path) -> None:
    from latentscape.landscape.studies.path_plots import plot_path

    plot_path(result, folder / "images")
    if result.dynamics is not None:
        from latentscape.landscape.studies.dynamics import save_dynamics

        d = result.dynamics
        save_dynamics(d["x"], d["recons"], d["ts"], folder / "images")


def path_study(
    src: Source,
    opts: EvalOptions,
    *,
    points: int = 61,
    t_range: tuple[float, float] = (0.0, 1.0),
    dynamics_images: int = 4,
    folder: Path | None = None,
    resume: bool = False,
    progress: Any = None,
    loaded: tuple[dict[str, Any], Any, dict[str, int]] | None = None,
) -> PathResult:
    """The path of a `Source` (`path A B`, `path --curve`, or your model's two weights files):
    its data loaded as `opts` says (or `loaded`: the data, BatchNorm data and full split sizes
    `studies.inputs.load_data` gave), evaluated by `compute_path`."""
    from latentscape.landscape.core.curves import line
    from latentscape.landscape.core.evaluate import linspace
    from latentscape.landscape.studies.inputs import load_data
    from latentscape.timing import phase
    from latentscape.viz.findings import curve_name

    if src.curve is not None:
        curve, ts = src.curve, linspace(0.0, 1.0, points)
        start, end = src.refs[0], src.refs[-1]  # the weight sets the curve run connects
        protocol: dict[str, Any] = {"description": f"trained {curve_name(curve.kind, curve.num_bends)}", "start": start, "end": end}
    else:
        curve, ts = line(*src.weights), linspace(t_range[0], t_range[1], points)
        protocol = {"description": "line", "start": src.refs[0], "end": src.refs[1]}
    if loaded is None:
        full: dict[str, int] = {}
        data, train = load_data(src, opts, full=full)
    else:
        data, train, full = loaded
    protocol.update(source=str(src.run_dir or src.refs[0]), **src.protocol(data, full))
    with phase("evaluate"):
        return compute_path(
            src.model, src.task(opts.metrics), curve, ts, data, bn_data=train, buffers=src.buffers, batch_size=opts.batch_size,
            device=opts.device, bn_batches=opts.bn_batches, use_vmap=opts.use_vmap, dynamics_images=dynamics_images,
            protocol=protocol, folder=folder, resume=resume, progress=progress,
        )
