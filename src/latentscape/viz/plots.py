"""Line plots, metric panels, 2-D latent scatter plots and loss-plane contours (matplotlib, Agg).

Every function takes plain data (lists, NumPy arrays or tensors), writes one PNG atomically and
returns its path; no figure is left open.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from latentscape.viz.contour import plot_contour, wrap_label
from latentscape.viz.figure import as_array, finite_pairs, new_figure, save_figure
from latentscape.viz.metrics_log import plot_metrics_jsonl

__all__ = [
    "plot_contour",
    "plot_curves",
    "plot_density",
    "plot_metric_panels",
    "plot_metrics_jsonl",
    "plot_scatter_2d",
]


def _marker_for(markers: str | bool | Mapping[str, str] | None, name: str) -> str | None:
    if markers is None or markers is False:
        return None
    if markers is True:
        return "o"
    if isinstance(markers, str):
        return markers
    return markers.get(name)


def plot_curves(
    series: Mapping[str, tuple[Any, Any]],
    path: str | Path,
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    logy: bool = False,
    markers: str | bool | Mapping[str, str] | None = None,
) -> Path:
    """Several named (xs, ys) series on one axis, e.g. train/test loss along a path t in [0, 1].

    Args:
        series: name -> (xs (M,), ys (M,)); non-finite ys are skipped.
        path: destination PNG.
        xlabel, ylabel, title: axis labels and title.
        logy: logarithmic y axis (needs positive values; non-positive ones are not drawn).
        markers: a matplotlib marker for every series ("o"), True for "o", or name -> marker;
            useful when the x values are few evaluation points (t = 0, 0.1, ..., 1).

    Returns:
        The path written.
    """
    if not series:
        raise ValueError("plot_curves needs at least one series")
    fig = new_figure()
    ax = fig.add_subplot()
    for name, (xs, ys) in series.items():
        x, y = finite_pairs(xs, ys, name)
        if logy:
            x, y = x[y > 0], y[y > 0]
        ax.plot(x, y, label=str(name), marker=_marker_for(markers, name), markersize=4)
    if logy:
        ax.set_yscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.set_title(wrap_label(title, fig.get_figwidth() - 1.0, fontsize=12))  # a long title wraps, not cut at the edge
    ax.grid(True, alpha=0.3)
    if len(series) > 1:
        ax.legend()
    return save_figure(fig, path)


DENSITY_FLOOR = 1e-12  # an eigenvalue density drawn on a log axis: zero is drawn here


def plot_density(
    grid: Any,
    density: Any,
    path: str | Path,
    marks: Sequence[float] = (),
    marks_label: str = "",
    title: str = "",
    xlabel: str = "eigenvalue",
) -> Path:
    """A spectral density (Ghorbani et al. 2019, as PyHessian draws it) on a log axis, with the
    zero stretches drawn on a labelled floor and eigenvalues computed directly (the top ones by
    power iteration) marked as vertical ticks at the top, so the two estimates can be compared.

    Args:
        grid: (G,) eigenvalues at which the density is given.
        density: (G,) the broadened density (>= 0).
        path: destination PNG.
        marks: eigenvalues to mark; `marks_label` names them in the legend.
        title, xlabel: text of the plot.
    """
    x, y = finite_pairs(grid, density, "density")
    fig = new_figure(7.0, 4.4)
    ax = fig.add_subplot()
    ax.plot(x, np.maximum(y, DENSITY_FLOOR), color="C0", label="density (SLQ)")
    ax.set_yscale("log")
    ax.axhline(DENSITY_FLOOR, color="0.6", linewidth=0.8, linestyle=":")
    marks = [float(m) for m in marks if np.isfinite(m)]
    if marks:
        ax.vlines(marks, 0.93, 1.0, transform=ax.get_xaxis_transform(), colors="C3", linewidth=1.6,
                  label=marks_label or "eigenvalues")
    ax.set(xlabel=xlabel, ylabel=f"density (log scale; {DENSITY_FLOOR:.0e} = none)", title=title)
    ax.grid(True, alpha=0.3)
    fig.legend(loc="outside lower center", fontsize=8, ncol=2, frameon=False)  # the marks are at the top
    return save_figure(fig, path)


def plot_metric_panels(
    x: Any,
    panels: Mapping[str, Mapping[str, Any]],
    path: str | Path,
    xlabel: str = "",
    title: str = "",
    logy: Sequence[str] = (),
    markers: str | bool | None = None,
) -> Path:
    """Side-by-side panels sharing one x axis, e.g. loss and accuracy, each with train and test.

    Args:
        x: (M,) shared x values (path parameter t, epoch, ...).
        panels: panel title (the metric) -> series name (split) -> ys (M,).
        path: destination PNG.
        xlabel: label of every x axis.
        title: title over all panels.
        logy: names of panels drawn with a logarithmic y axis.
        markers: marker for every series ("o"), True for "o".

    Returns:
        The path written.
    """
    if not panels:
        raise ValueError("plot_metric_panels needs at least one panel")
    fig = new_figure(width=4.2 * len(panels) + 0.6, height=3.8)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (metric, by_series) in zip(axes, panels.items()):
        for name, ys in by_series.items():
            xs, y = finite_pairs(x, ys, f"{metric}/{name}")
            if metric in logy:
                xs, y = xs[y > 0], y[y > 0]
            ax.plot(xs, y, label=str(name), marker=_marker_for(markers, name), markersize=4)
        if metric in logy:
            ax.set_yscale("log")
        ax.set(xlabel=xlabel, title=str(metric))
        ax.grid(True, alpha=0.3)
        if len(by_series) > 1:
            ax.legend()
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def plot_scatter_2d(
    points: Any,
    labels: Any,
    path: str | Path,
    class_names: Sequence[str] | None = None,
    title: str = "",
    xlabel: str = "z[0]",
    ylabel: str = "z[1]",
    max_points: int = 20000,
) -> Path:
    """2-D embedding (latent means, PCA, UMAP) coloured by class.

    Args:
        points: (N, 2) coordinates.
        labels: (N,) integer class of each point.
        path: destination PNG.
        class_names: name of class k at index k (legend); default: the integers.
        title, xlabel, ylabel: text of the plot.
        max_points: draw an evenly spaced subset above this many points (keeps files small).

    Returns:
        The path written.
    """
    xy = as_array(points, "points", 2)
    if xy.shape[1] != 2:
        raise ValueError(f"points: expected shape (N, 2), got {xy.shape}")
    lab = as_array(labels, "labels", 1).astype(np.int64)
    if lab.shape[0] != xy.shape[0]:
        raise ValueError(f"{xy.shape[0]} points but {lab.shape[0]} labels")
    if xy.shape[0] > max_points:
        keep = np.linspace(0, xy.shape[0] - 1, max_points).astype(np.int64)
        xy, lab = xy[keep], lab[keep]
    classes = np.unique(lab)
    fig = new_figure(width=6.4, height=5.4)
    ax = fig.add_subplot()
    cmap = _class_colormap(len(classes))
    size = float(np.clip(4000.0 / max(len(xy), 1), 4.0, 25.0))
    for i, k in enumerate(classes):
        sel = lab == k
        name = class_names[k] if class_names is not None and 0 <= k < len(class_names) else str(k)
        ax.scatter(xy[sel, 0], xy[sel, 1], s=size, color=cmap(i), label=str(name), alpha=0.75, linewidths=0)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if len(classes) <= 20:  # beside the plot: inside it, "best" still covers points of a dense cloud
        ax.legend(markerscale=max(1.0, 12.0 / size) ** 0.5, fontsize="small", loc="upper left",
                  bbox_to_anchor=(1.02, 1.0), framealpha=0.8)
    return save_figure(fig, path)


def _class_colormap(n: int):
    """tab10 for up to 10 classes, tab20 up to 20, else a continuous map."""
    from matplotlib import colormaps

    if n <= 10:
        return colormaps["tab10"]
    if n <= 20:
        return colormaps["tab20"]
    base = colormaps["turbo"]
    return lambda i: base(i / max(n - 1, 1))
