"""Contour plots of a metric on a 2-D slice of weight space (the plane through three points).

Loss on such a plane is tiny in a narrow valley and explodes (1e3 ... inf) away from it, so
evenly spaced levels from min to max paint the whole valley one colour. `plot_contour` therefore
clips the colour range at a percentile of the finite values, can use logarithmically spaced levels,
and treats NaN/inf (overflowed losses) as "above the top level" rather than as holes.
Garipov et al. 2018, "Loss Surfaces, Mode Connectivity, and Fast Ensembling of DNNs", Fig. 1,
draws the same picture: the plane through w1, w2 and the bend theta, with the curve on it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colors, ticker

from latentscape.viz.figure import as_array, new_figure, save_figure


def contour_levels(
    values: np.ndarray,
    levels: int | Sequence[float] = 30,
    log_scale: bool | None = None,
    clip_percentile: float | None = 95.0,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Choose contour levels and the clipped field they colour.

    Args:
        values: (T, S) field; NaN and +-inf allowed.
        levels: number of levels, or explicit increasing level values.
        log_scale: geometric levels; None decides: log when all finite values are positive and
            span more than two decades.
        clip_percentile: the top level is this percentile of the finite values (None: the max).

    Returns:
        (levels (L,), field (T, S) clipped into [levels[0], levels[-1]] with non-finite values
        set to the top level, whether the levels are logarithmic).
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise ValueError("contour values contain no finite number")
    if log_scale is None:
        log_scale = bool(finite.min() > 0 and finite.max() / finite.min() > 100.0)
    if isinstance(levels, (int, np.integer)):
        if levels < 2:
            raise ValueError(f"need at least 2 contour levels, got {levels}")
        positive = finite[finite > 0]
        if log_scale and positive.size == 0:
            log_scale = False  # nothing to take a logarithm of (e.g. all-zero error)
        pool = positive if log_scale else finite
        low = float(pool.min())
        high = float(np.percentile(pool, clip_percentile)) if clip_percentile is not None else float(pool.max())
        if high <= low:  # constant (or nearly) field: open up a visible range
            high = low * 10.0 if log_scale else low + max(abs(low), 1.0) * 1e-3
        lv = np.geomspace(low, high, int(levels)) if log_scale else np.linspace(low, high, int(levels))
    else:
        lv = np.asarray(levels, dtype=np.float64)
        if lv.ndim != 1 or lv.size < 2 or np.any(np.diff(lv) <= 0):
            raise ValueError("explicit contour levels must be an increasing sequence of >= 2 values")
        if log_scale and lv[0] <= 0:
            raise ValueError("logarithmic contour levels must be positive")
        log_scale = bool(log_scale)
    field = np.where(np.isfinite(values), values, lv[-1])  # overflowed loss = "very high"
    field = np.clip(field, lv[0], lv[-1])
    return lv, field, log_scale


def plot_contour(
    grid_x: Any,
    grid_y: Any,
    values: Any,
    path: str | Path,
    points: Mapping[str, tuple[float, float]] | None = None,
    curve_xy: Any | None = None,
    levels: int | Sequence[float] = 30,
    log_scale: bool | None = None,
    clip_percentile: float | None = 95.0,
    title: str = "",
    cbar_label: str = "loss",
    xlabel: str = "u (weight-space distance along B - A)",
    ylabel: str = "v (orthogonal to u)",
    cmap: str = "viridis",
    equal_aspect: bool = True,
    line_xy: Any | None = None,
    labels: tuple[str, str] | None = None,
    curve_markers: bool = False,
) -> Path:
    """Filled contour plot of `values` on a grid, with named points and a curve drawn on top.

    Args:
        grid_x: (S,) coordinates along the first basis vector (u-hat).
        grid_y: (T,) coordinates along the second basis vector (v-hat).
        values: (T, S) metric at (grid_x[j], grid_y[i]) in row i, column j; NaN/inf allowed.
        path: destination PNG.
        points: name -> (x, y), e.g. {"w1": (0, 0), "w2": (|u|, 0), "bend": (a, b)}.
        curve_xy: (M, 2) points of a curve in plane coordinates (a Bezier or polychain path).
        levels: number of levels or explicit increasing levels.
        log_scale: logarithmic levels; None: automatic (see `contour_levels`).
        clip_percentile: colour range top at this percentile of the finite values; None: the max.
        title, cbar_label, xlabel, ylabel: text of the plot.
        cmap: matplotlib colormap name.
        equal_aspect: same scale on both axes (the basis is orthonormal, so distances are true).
        line_xy: (M, 2) a second path, dashed (the straight line the curve is compared with).
        labels: legend entries of (curve, line) when both are drawn.
        curve_markers: a dot at every point of the curve (a training trajectory's checkpoints).

    Returns:
        The path written.
    """
    gx = as_array(grid_x, "grid_x", 1)
    gy = as_array(grid_y, "grid_y", 1)
    z = as_array(values, "values", 2)  # (T, S)
    if z.shape != (gy.size, gx.size):
        raise ValueError(f"values must have shape (len(grid_y), len(grid_x)) = {(gy.size, gx.size)}, got {z.shape}")
    lv, field, is_log = contour_levels(z, levels, log_scale, clip_percentile)
    norm = colors.LogNorm(vmin=lv[0], vmax=lv[-1]) if is_log else colors.Normalize(vmin=lv[0], vmax=lv[-1])

    fig, ax = plane_axes(gx, gy, equal_aspect, xlabel, ylabel, title)
    _draw_field(fig, ax, gx, gy, z, field, lv, norm, is_log, cmap, cbar_label)
    if curve_xy is not None:
        _draw_curve(ax, as_array(curve_xy, "curve_xy", 2), curve_markers)
    if line_xy is not None:
        line = as_array(line_xy, "line_xy", 2)
        ax.plot(line[:, 0], line[:, 1], color="white", linewidth=2.4)
        ax.plot(line[:, 0], line[:, 1], color="black", linewidth=1.2, linestyle="--", label="line")
    if labels is not None and curve_xy is not None and line_xy is not None:
        handles = [h for h in ax.get_lines() if h.get_label() in ("curve", "line")]
        # below the picture: a legend inside the axes hides part of the field it explains
        fig.legend(handles, list(labels), loc="outside lower center", ncol=2, fontsize=8, frameon=False)
    draw_points(ax, points or {})
    return save_figure(fig, path, trim=True)


AXES_WIDTH = 4.6  # inches of the plotting area of a plane picture
MIN_AXES_HEIGHT, MAX_AXES_HEIGHT = 1.2, 5.2
AROUND = (1.9, 1.1)  # inches around the axes: tick labels, labels and colour bar; title and x label
#: Height / width ratios of the grid drawn to scale; outside them a picture at equal scale is a
#: strip too thin (or too narrow) to read, so one axis is stretched and its label says by how much.
TO_SCALE = (0.4, 2.5)
STRETCHED_HEIGHT = 0.55 * AXES_WIDTH  # inches of a flat plane's stretched axes


def plane_axes(gx: np.ndarray, gy: np.ndarray, equal_aspect: bool, xlabel: str, ylabel: str, title: str):
    """A figure sized to the grid and one axes whose limits are the grid's (S,) x (T,) extent.

    With `equal_aspect` the plane is drawn to scale: the figure takes the grid's own aspect ratio,
    so a wide, flat plane is drawn wide and flat instead of a strip in a square figure of mostly
    blank margin. A grid flatter (or taller) than TO_SCALE would become an unreadable strip: it is
    drawn at a readable height instead, and the stretched axis's label says "not to scale" and by
    what factor, so distances are never misread. The v-axis label is wrapped to the height of its
    axis so it stays beside it.
    """
    (x0, x1), (y0, y1) = (float(gx.min()), float(gx.max())), (float(gy.min()), float(gy.max()))
    ratio = (y1 - y0) / (x1 - x0) if x1 > x0 and y1 > y0 else 0.8
    to_scale = equal_aspect and TO_SCALE[0] <= ratio <= TO_SCALE[1]
    if to_scale or not equal_aspect:
        width, height = AXES_WIDTH, float(np.clip(AXES_WIDTH * ratio if equal_aspect else AXES_WIDTH * 0.8, MIN_AXES_HEIGHT, MAX_AXES_HEIGHT))
    elif ratio < TO_SCALE[0]:  # flat: v stretched
        width, height = AXES_WIDTH, STRETCHED_HEIGHT
        ylabel = f"{ylabel}; not to scale: v drawn {stretch_factor(ratio, height / width)} larger than u"
    else:  # tall: u stretched
        width, height = MAX_AXES_HEIGHT / TO_SCALE[1], MAX_AXES_HEIGHT
        xlabel = f"{xlabel}; not to scale: u drawn {stretch_factor(1 / ratio, width / height)} larger than v"
    fig = new_figure(width=max(width, 3.0) + AROUND[0], height=height + AROUND[1])
    ax = fig.add_subplot()
    ax.set(title=title, xlim=(x0, x1), ylim=(y0, y1))
    ax.set_xlabel(wrap_label(xlabel, width))
    ax.set_ylabel(wrap_label(ylabel, height))
    if to_scale:
        ax.set_aspect("equal", adjustable="box")
    elif equal_aspect:
        ax.set_box_aspect(height / width)
    return fig, ax


def stretch_factor(ratio: float, shown: float) -> str:
    """How much larger one axis is drawn than the other: "12x" (a grid of height/width `ratio`
    drawn at height/width `shown`)."""
    return f"{shown / ratio:.2g}x"


def wrap_label(text: str, length_inches: float, fontsize: float = 10.0) -> str:
    """`text` broken into lines no longer than `length_inches` (an axis label that is longer
    than its axis would otherwise stick out past both ends of it)."""
    per_line = max(12, int(length_inches * 72 / (0.55 * fontsize)))
    return "\n".join(textwrap.wrap(text, per_line)) or text


def _draw_field(fig, ax, gx, gy, z, field, lv, norm, is_log: bool, cmap: str, cbar_label: str) -> None:
    """Filled contours, thin contour lines at every ~10th level, and a colour bar that says
    where the colour range was clipped."""
    filled = ax.contourf(gx, gy, field, levels=lv, norm=norm, cmap=cmap)
    line_levels = lv[:: max(1, len(lv) // 10)]
    ax.contour(gx, gy, field, levels=line_levels, norm=norm, colors="k", linewidths=0.3, alpha=0.5)
    # an inset colour bar follows the axes box, so it keeps the plot's height under an equal aspect
    cbar = fig.colorbar(filled, cax=ax.inset_axes((1.03, 0.0, 0.04, 1.0)))
    clipped = np.isfinite(z).sum() < z.size or np.nanmax(np.where(np.isfinite(z), z, -np.inf)) > lv[-1]
    height = ax.get_position().height * fig.get_figheight()  # inches: a flat plane gets fewer ticks
    label = f"{cbar_label} (clipped at {lv[-1]:.3g})" if clipped else cbar_label
    cbar.set_label(wrap_label(label, height, fontsize=9), fontsize=9)
    if is_log:
        cbar.ax.set_yscale("log")
    else:
        cbar.ax.yaxis.set_major_locator(ticker.MaxNLocator(nbins=max(3, int(2.5 * height))))


def _draw_curve(ax, curve: np.ndarray, markers: bool = False) -> None:
    """A curve (M, 2) in plane coordinates: red on a white halo, readable on any colour."""
    if curve.shape[1] != 2:
        raise ValueError(f"curve_xy: expected shape (M, 2), got {curve.shape}")
    ax.plot(curve[:, 0], curve[:, 1], color="white", linewidth=2.4)
    ax.plot(curve[:, 0], curve[:, 1], color="tab:red", linewidth=1.2, label="curve",
            marker="o" if markers else None, markersize=3, markeredgecolor="white", markeredgewidth=0.5)


def draw_points(ax, points: Mapping[str, tuple[float, float]]) -> None:
    """Named points (endpoints, bends) as white dots with labels on a dark box, each label on
    the side of its dot that faces the middle of the axes (a dot at the top edge gets its label
    below it, not over the title)."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    for name, (px, py) in points.items():
        ax.scatter([px], [py], s=60, marker="o", color="white", edgecolors="black", zorder=5, clip_on=False)
        right = px < x0 + 0.8 * (x1 - x0)
        above = py < y0 + 0.8 * (y1 - y0)
        ax.annotate(
            str(name), (px, py), xytext=(6 if right else -6, 6 if above else -6), textcoords="offset points",
            ha="left" if right else "right", va="bottom" if above else "top", fontsize=10,
            color="white", fontweight="bold", zorder=6,
            bbox={"boxstyle": "round,pad=0.15", "fc": "black", "alpha": 0.5, "lw": 0},
        )
