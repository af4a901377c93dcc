"""Matplotlib figures without pyplot's global state, saved as PNG atomically.

`new_figure` builds a `matplotlib.figure.Figure` on the non-interactive Agg canvas, so plotting
works on headless machines and in threads, and nothing accumulates in pyplot's figure registry;
`save_figure` writes it through a temp file and drops the figure's artists.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from latentscape.io import atomic_write


def new_figure(width: float = 6.4, height: float = 4.4) -> Figure:
    """A blank figure of `width` x `height` inches on an Agg canvas."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str | Path, dpi: int = 120, trim: bool = False) -> Path:
    """Render `fig` to a PNG at `path` (parents created, atomic), then clear the figure.

    Args:
        trim: cut the blank margin around the drawing (a picture whose axes keep a fixed aspect
            ratio, e.g. a plane drawn to scale, cannot fill a figure of any other shape).
    """
    extra = {"bbox_inches": "tight", "pad_inches": 0.08} if trim else {}
    try:
        return atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=dpi, **extra))
    finally:
        fig.clear()


def as_array(values: Any, name: str, ndim: int | None = None) -> np.ndarray:
    """Convert lists, NumPy arrays or (CPU/GPU, grad-tracking) tensors to a float64 array."""
    if hasattr(values, "detach"):
        values = values.detach().float().cpu().numpy()
    array = np.asarray(values, dtype=np.float64)
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dimension(s), got shape {array.shape}")
    return array


def finite_pairs(xs: Any, ys: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Two equal-length 1-D arrays with the non-finite y values (NaN from a diverged run) dropped."""
    x = as_array(xs, f"{name} x", 1)
    y = as_array(ys, f"{name} y", 1)
    if x.shape != y.shape:
        raise ValueError(f"{name}: {x.size} x values but {y.size} y values")
    keep = np.isfinite(y) & np.isfinite(x)
    return x[keep], y[keep]


def wants_log(values: Sequence[np.ndarray]) -> bool:
    """True when all values are positive and span more than two decades (e.g. a loss curve
    that starts at 200 and ends at 0.5 is unreadable on a linear axis)."""
    flat = np.concatenate([v.ravel() for v in values]) if values else np.zeros(0)
    flat = flat[np.isfinite(flat)]
    if flat.size == 0 or flat.min() <= 0:
        return False
    return bool(flat.max() / flat.min() > 1e2)


#: Marker shape of each split, so single logged values stay apart when lines cannot show.
SPLIT_MARKERS = {"train": "o", "test": "s", "val": "^", "train_eval": "D"}
FEW_POINTS = 30  # series with at most this many points are drawn with markers


def draw_series(ax, xs: Sequence[float], ys: Sequence[float], *, label: str, split: str = "train",
                colour: str | None = None, linestyle: str = "-", rank: int = 0) -> None:
    """One logged series: a line, and hollow markers when it has few points.

    A run that logged once is a single point, which a line alone draws as nothing: the marker
    makes it visible. Markers are hollow and shrink with `rank` (the series' run index), so two
    runs with the same value at the same step show as nested rings instead of one hiding the
    other; their shape says the split (SPLIT_MARKERS).
    """
    few = len(xs) <= FEW_POINTS
    ax.plot(
        xs, ys, color=colour, linestyle=linestyle, label=label, linewidth=1.4,
        marker=SPLIT_MARKERS.get(split, "v") if few else None, markersize=max(4.0, 10.0 - 2.5 * rank),
        markerfacecolor="none", markeredgewidth=1.6,
    )


def few_steps_ticks(ax, xs: Sequence[float], limit: int = 5) -> None:
    """When everything was logged at a handful of steps, tick exactly those steps (a single step
    otherwise gets a meaningless axis such as 172.5 ... 187.5)."""
    steps = sorted(set(float(x) for x in xs))
    if 0 < len(steps) <= limit:
        ax.set_xticks(steps, [f"{s:g}" for s in steps])
        if len(steps) == 1:
            ax.set_xlim(steps[0] - 1, steps[0] + 1)
