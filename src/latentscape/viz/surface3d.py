"""Line contours and 3-D surfaces of a metric grid (Li et al. 2018, figs. 1 and 5 style).

The filled contour with points and a path drawn on top is `latentscape.viz.contour.plot_contour`;
these are the other two views their `plot_2D` writes. Only arrays in, a PNG out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

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
) -> Path:
    """Labelled iso-lines of `values` (T, S) over (grid_x (S,), grid_y (T,)); optional (M, 2) path."""
    gx, gy, z = _check(grid_x, grid_y, values)
    field, lo, hi = _clipped(z, clip_percentile)
    fig = new_figure(width=6.0, height=5.4)
    ax = fig.add_subplot()
    lv = np.linspace(lo, hi, max(2, levels))
    cs = ax.contour(gx, gy, field, levels=lv, cmap="summer")
    ax.clabel(cs, cs.levels[::5], inline=True, fontsize=7)
    if path_xy is not None:
        xy = as_array(path_xy, "path_xy", 2)
        ax.plot(xy[:, 0], xy[:, 1], "r-o", markersize=3, linewidth=1.2)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.set_aspect("equal", adjustable="datalim")
    return save_figure(fig, path)


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
    """A 3-D surface of `values` (T, S) over (grid_x (S,), grid_y (T,)) (clipped at a percentile)."""
    from mpl_toolkits.mplot3d import Axes3D  # noqa: F401  (registers the "3d" projection)

    gx, gy, z = _check(grid_x, grid_y, values)
    field, lo, hi = _clipped(z, clip_percentile)
    xx, yy = np.meshgrid(gx, gy)  # (T, S) each
    fig = new_figure(width=6.6, height=5.4)
    ax = fig.add_subplot(projection="3d")
    surf = ax.plot_surface(xx, yy, field, cmap="viridis", vmin=lo, vmax=hi, linewidth=0, antialiased=True)
    fig.colorbar(surf, ax=ax, shrink=0.6, label=zlabel)
    ax.set(xlabel=xlabel, ylabel=ylabel, zlabel=zlabel, title=title)
    ax.view_init(elev=elev, azim=azim)
    return save_figure(fig, path)
