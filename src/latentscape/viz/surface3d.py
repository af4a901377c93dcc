"""Line contours and 3-D surfaces of a metric grid (Li et al. 2018, figs. 1 and 5 style).

The filled contour with points and a path drawn on top is `latentscape.viz.contour.plot_contour`;
these are the other two views their `plot_2D` writes. Only arrays in, a PNG out.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from latentscape.viz.contour import draw_points, plane_axes
from latentscape.viz.figure import as_array, new_figure, save_figure


def _clipped(z: np.ndarray, clip_percentile: float | None) -> tuple[np.ndarray, float, float]:
    """`z` with NaN/inf shown as the top of the colour range, clipped at a percentile."""
    finite = z[np.isfinite(z)]
    if finite.size == 0:
        return np.zeros_like(z), 0.0, 1.0
    lo = float(finite.min())
    hi = float(np.percentile(finite, clip_percentile)) if clip_percentile is not None else float(finite.max())
    hi = hi if hi > lo else lo + 1e-12 + abs(lo) * 1e-6
    return np.clip(np.where(np.isfinite(z), z, hi), lo, hi), lo, hi


def _check(grid_x: Any, grid_y: Any, values: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    gx, gy, z = as_array(grid_x, "grid_x", 1), as_array(grid_y, "grid_y", 1), as_array(values, "values", 2)
    if z.shape != (gy.size, gx.size):
        raise ValueError(f"values must have shape (len(grid_y), len(grid_x)) = {(gy.size, gx.size)}, got {z.shape}")
    return gx, gy, z


def plot_contour_lines(
    grid_x: Any,
    grid_y: Any,
    values: Any,
    path: str | Path,
    levels: int = 30,
    clip_percentile: float | None = 95.0,
    title: str = "",
    xlabel: str = "x",
    ylabel: str = "y",
    path_xy: Any | None = None,
    points: Mapping[str, tuple[float, float]] | None = None,
    equal_aspect: bool = True,
) -> Path:
    """Labelled iso-lines of `values` (T, S) over (grid_x (S,), grid_y (T,)).

    The axes span exactly the grid (the lines are drawn nowhere else), at equal scale when
    `equal_aspect`; an optional (M, 2) path is drawn in red and named `points` (e.g. init and
    final of a trajectory) as labelled dots, as on the filled contour.
    """
    gx, gy, z = _check(grid_x, grid_y, values)
    field, lo, hi = _clipped(z, clip_percentile)
    fig, ax = plane_axes(gx, gy, equal_aspect, xlabel, ylabel, title)
    lv = np.linspace(lo, hi, max(2, levels))
    cs = ax.contour(gx, gy, field, levels=lv, cmap="viridis", linewidths=1.0)
    ax.clabel(cs, cs.levels[::5], inline=True, fontsize=7, fmt="%.3g")
    if path_xy is not None:
        xy = as_array(path_xy, "path_xy", 2)
        ax.plot(xy[:, 0], xy[:, 1], "r-o", markersize=3, linewidth=1.2)
    draw_points(ax, points or {})
    ax.set(xlim=(gx.min(), gx.max()), ylim=(gy.min(), gy.max()))  # drawing must not widen them
    return save_figure(fig, path, trim=True)


def surface_heights(values: np.ndarray) -> tuple[np.ndarray, bool, float]:
    """Heights for a 3-D view of `values` (T, S), never clipped into a flat plateau.

    Losses that are all positive and span more than two decades are drawn as log10 (a bowl of
    0.01 ... 1e3 stays a bowl instead of a spike over a floor); the rest as they are. Non-finite
    values (an overflowed loss) are drawn at the top of the finite range.

    Returns:
        (heights (T, S), whether they are log10 of the values, the top finite value).
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.zeros_like(values), False, 0.0
    top = float(finite.max())
    log = bool(finite.min() > 0 and top / finite.min() > 100.0)
    heights = np.where(np.isfinite(values), values, top)
    return (np.log10(heights) if log else heights), log, top


def plot_surface_3d(
    grid_x: Any,
    grid_y: Any,
    values: Any,
    path: str | Path,
    clip_percentile: float | None = 95.0,
    title: str = "",
    zlabel: str = "loss",
    xlabel: str = "x",
    ylabel: str = "y",
    elev: float = 35.0,
    azim: float = -60.0,
) -> Path:
    """A 3-D surface of `values` (T, S) over (grid_x (S,), grid_y (T,)).

    The heights are the values themselves (or their log10, see `surface_heights`), at full grid
    resolution, so nothing is cut into a flat plateau with jagged edges; `clip_percentile` only
    sets where the colour scale saturates. The z label sits beside its tick labels, not on them.
    """
    fig = surface_figure(grid_x, grid_y, values, clip_percentile, title, zlabel, xlabel, ylabel, elev, azim)
    return save_figure(fig, path, trim=True)


def surface_figure(grid_x: Any, grid_y: Any, values: Any, clip_percentile: float | None = 95.0, title: str = "",
                   zlabel: str = "loss", xlabel: str = "x", ylabel: str = "y", elev: float = 35.0, azim: float = -60.0):
    """The figure `plot_surface_3d` saves (see there)."""
    from mpl_toolkits.mplot3d import Axes3D  # noqa: F401  (registers the "3d" projection)

    gx, gy, z = _check(grid_x, grid_y, values)
    heights, log, _ = surface_heights(z)
    _, lo, hi = _clipped(heights, clip_percentile)
    xx, yy = np.meshgrid(gx, gy)  # (T, S) each
    fig = new_figure(width=7.2, height=5.6)
    ax = fig.add_subplot(projection="3d")
    surf = ax.plot_surface(xx, yy, heights, cmap="viridis", vmin=lo, vmax=hi, rcount=len(gy), ccount=len(gx),
                           linewidth=0, antialiased=True)
    label = f"log10 {zlabel}" if log else zlabel
    saturated = bool(np.nanmax(heights) > hi)
    fig.colorbar(surf, ax=ax, shrink=0.6, pad=0.12, extend="max" if saturated else "neither",
                 label=f"{label} (colour saturates at {hi:.3g})" if saturated else label)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.set_zlabel(label, labelpad=12)
    ax.set_box_aspect(None, zoom=0.88)  # room for the z label inside the figure
    ax.view_init(elev=elev, azim=azim)
    return fig
