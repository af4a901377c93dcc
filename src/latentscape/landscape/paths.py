"""Metrics along a straight segment or a trained curve between weight sets of runs.

The lab's four cases are all `path A B` with different references: two minima (RUN1 RUN2), a
minimum and its own initialisation (RUN RUN@init), a minimum and another run's initialisation
(RUN1 RUN2@init), two initialisations (RUN1@init RUN2@init).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentscape.data.types import ImageDataset
from latentscape.errors import LatentscapeError
from latentscape.landscape.curves import Curve, line
from latentscape.landscape.evaluate import PointEvaluator, PointSet, Results
from latentscape.landscape.params import Params, check_compatible, named_params
from latentscape.landscape.path_metrics import combined, resolve_metrics

#: metrics where larger is better (the barrier is then a drop below the worse end).
HIGHER_IS_BETTER = ("accuracy", "acc", "ssim", "psnr")


def higher_is_better(metric: str) -> bool:
    return any(metric == h or metric.endswith("_" + h) or metric.endswith("/" + h) for h in HIGHER_IS_BETTER)


def load_weights_ref(spec: str, device: str = "cpu") -> Any:
    """`load_run(spec)`; a curve run is rejected with a hint (use --curve)."""
    from latentscape.train.api import load_run

    loaded = load_run(spec, device=device)
    if loaded.config.model.name == "curve":
        raise LatentscapeError(f"{spec} is a curve run; pass it with --curve")
    return loaded


def load_curve_run(spec: str) -> tuple[Any, Curve]:
    """A trained curve run -> (LoadedRun, Curve over its base model's parameters)."""
    from latentscape.train.api import load_run

    loaded = load_run(spec)
    if loaded.config.model.name != "curve":
        raise LatentscapeError(f"{spec} is not a curve run (model.name={loaded.config.model.name!r}); make one with `latentscape connect`")
    return loaded, loaded.model.to_curve()


def endpoint_data_config(loaded: Any, data_dir: str | None) -> Any:
    """The data config of a run (a curve run: the same), with `data_dir` overridden."""
    cfg = loaded.config.data
    return dataclasses.replace(cfg, data_dir=data_dir) if data_dir else cfg


def load_eval_data(
    data_cfg: Any, splits: Sequence[str], max_examples: int | None = None
) -> dict[str, ImageDataset]:
    """The requested splits (the first `max_examples` of each when given)."""
    from latentscape.data.registry import load_split

    out = {}
    for s in splits:
        ds = load_split(data_cfg, s)
        if max_examples is not None and len(ds) > max_examples:
            ds = ds.subset(torch.arange(max_examples))
        out[s] = ds
    return out


@dataclass
class PathResult:
    """Metrics at positions `ts` along a path (a segment or a curve)."""

    ts: list[float]
    values: Results  # split -> metric -> (P,)
    length: float
    kind: str
    strategy: str

    def summary(self) -> dict[str, dict[str, dict[str, float]]]:
        # the ends are the weight sets at t = 0 and t = 1 when evaluated (e.g. --range 0,1.5)
        i0 = self.ts.index(0.0) if 0.0 in self.ts else 0
        i1 = self.ts.index(1.0) if 1.0 in self.ts else len(self.ts) - 1
        return {s: {m: summarize(v, m, (i0, i1)) for m, v in ms.items()} for s, ms in self.values.items()}

    def to_json(self, **extra: Any) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "ts": self.ts,
            "metrics": {s: {m: v.tolist() for m, v in ms.items()} for s, ms in self.values.items()},
            "summary": self.summary(),
            "length": self.length,
            "strategy": self.strategy,
            **extra,
        }


def summarize(values: np.ndarray, metric: str, ends: tuple[int, int] = (0, -1)) -> dict[str, float]:
    """start, end, min, max, mean and barrier height of one metric along a path.

    `ends` are the indices of the two endpoints (t = 0 and t = 1). The barrier is
    max(path) - max(ends) for losses and min(ends) - min(path) for metrics where
    higher is better (so a positive barrier always means "worse somewhere inside").
    """
    v = np.asarray(values, dtype=np.float64)
    a, b = v[ends[0]], v[ends[1]]
    barrier = min(a, b) - v.min() if higher_is_better(metric) else v.max() - max(a, b)
    return {
        "start": float(a),
        "end": float(b),
        "min": float(v.min()),
        "max": float(v.max()),
        "mean": float(v.mean()),
        "barrier": float(barrier),
    }


def curve_points(curve: Curve, ts: Sequence[float]) -> PointSet:
    return PointSet(curve.points, curve.coefficients(list(ts)))


def make_evaluator(
    model: torch.nn.Module,
    train_data: ImageDataset | None,
    *,
    metrics: Sequence[str] | None = None,
    batch_size: int = 1000,
    device: str = "cpu",
    bn_batches: int | None = None,
    buffers: Params | None = None,
    use_vmap: bool = True,
) -> PointEvaluator:
    """A `PointEvaluator` with the path metrics that apply to `model`."""
    fns = resolve_metrics(model, metrics)
    return PointEvaluator(
        model,
        combined(fns),
        batch_size=batch_size,
        device=device,
        bn_data=train_data,
        bn_batches=bn_batches,
        buffers=buffers,
        use_vmap=use_vmap,
    )


def evaluate_path(
    evaluator: PointEvaluator, curve: Curve, ts: Sequence[float], data: dict[str, ImageDataset], kind: str
) -> PathResult:
    """Evaluate `curve` at `ts` on every split of `data`."""
    values = evaluator.evaluate(curve_points(curve, ts), data)
    return PathResult(list(map(float, ts)), values, curve.length(ts), kind, evaluator.last_strategy)


def segment(a: Params, b: Params) -> Curve:
    """The straight segment a -> b (names and shapes must match)."""
    check_compatible(a, b, what="the two weight sets")
    return line(a, b)


def params_of(loaded: Any) -> Params:
    return named_params(loaded.model)


def parse_range(text: str) -> tuple[float, float]:
    """'0,1.5' -> (0.0, 1.5)."""
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise LatentscapeError(f"--range {text!r}: expected two numbers like 0,1.5") from None
    if not hi > lo:
        raise LatentscapeError(f"--range {text!r}: the end must be larger than the start")
    return lo, hi


T_LABEL = "t (position on the path: 0 = start weights, 1 = end weights)"


def plot_path(result: PathResult, images_dir: Path, label: str = "") -> list[Path]:
    """images/path_<metric>.png: one plot per metric, one series per split."""
    from latentscape.viz.plots import plot_curves

    out = []
    metrics = sorted({m for ms in result.values.values() for m in ms})
    for m in metrics:
        series = {s: (result.ts, ms[m]) for s, ms in result.values.items() if m in ms}
        name = m.replace("/", "_")
        out.append(
            plot_curves(series, images_dir / f"path_{name}.png", xlabel=T_LABEL, ylabel=m, title=f"{m} along the {label or result.kind}", markers=len(result.ts) <= 31)
        )
    return out


def plot_compare(results: dict[str, PathResult], split: str, metric: str, path: Path) -> Path:
    """Several paths (e.g. line vs curve) for one split and metric on one axis."""
    from latentscape.viz.plots import plot_curves

    series = {name: (r.ts, r.values[split][metric]) for name, r in results.items() if metric in r.values.get(split, {})}
    return plot_curves(series, path, xlabel=T_LABEL, ylabel=f"{split} {metric}", title=f"{split} {metric}: " + " vs ".join(series))
