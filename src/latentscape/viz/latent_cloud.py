"""2-D latents coloured by class over a grey reference cloud (the decoder-only study's plots).

The study draws the validation latents by class on top of the grey cloud of the training
latents, to show that new images land in the clusters the training images formed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colors, ticker
from matplotlib.patches import Patch

from latentscape.viz.figure import as_array, new_figure, save_figure
from latentscape.viz.plots import _class_colormap


def plot_latents_over_cloud(
    points: Any,
    labels: Any,
    path: str | Path,
    cloud: Any | None = None,
    class_names: Sequence[str] | None = None,
    title: str = "",
    max_points: int = 20000,
) -> Path:
    """Points (N, 2) coloured by class, over an optional grey cloud (M, 2); one PNG.

    Args:
        points: (N, 2) latents to colour.
        labels: (N,) integer classes.
        path: destination PNG.
        cloud: (M, 2) reference latents drawn in grey underneath, or None.
        class_names: legend names by class index.
        title: plot title.
        max_points: an evenly spaced subset of `points` above this many (the cloud is binned whole).

    Returns:
        The path written.
    """
    xy = as_array(points, "points", 2)
    lab = as_array(labels, "labels", 1).astype(np.int64)
    if xy.shape[1] != 2 or lab.shape[0] != xy.shape[0]:
        raise ValueError(f"points must be (N, 2) with N labels, got {xy.shape} and {lab.shape}")
    xy, lab = _thin(xy, max_points), _thin(lab, max_points)
    fig = new_figure(width=8.0, height=5.6)
    ax = fig.add_subplot()
    handles = []
    bg = as_array(cloud, "cloud", 2) if cloud is not None else None
    if bg is not None:
        handles.append(draw_cloud(ax, bg))
    classes = np.unique(lab)
    cmap = _class_colormap(len(classes))
    size = float(np.clip(4000.0 / max(len(xy), 1), 3.0, 25.0))
    for i, k in enumerate(classes):
        sel = lab == k
        name = class_names[k] if class_names is not None and 0 <= k < len(class_names) else str(k)
        ax.scatter(xy[sel, 0], xy[sel, 1], s=size, color=cmap(i), label=str(name), alpha=0.75, linewidths=0, zorder=2)
    ax.set(xlabel="z[0]", ylabel="z[1]", title=title)
    if bg is not None:
        _zoom_on_small_cloud(ax, bg, xy, lab, classes, cmap, size)
    if len(classes) <= 20:  # beside the plot: over it, it would hide points (or the zoom)
        ax.legend(handles=handles + ax.get_legend_handles_labels()[0], markerscale=2.0, fontsize="small",
                  loc="upper left", bbox_to_anchor=(1.02, 1.0), framealpha=0.8)
    return save_figure(fig, path)


SMALL_CLOUD = 0.25  # a cloud spanning less than this part of the view gets a zoomed inset


def _zoom_on_small_cloud(ax, cloud: np.ndarray, xy: np.ndarray, lab: np.ndarray, classes: np.ndarray, cmap, size: float) -> None:
    """When the training latents fill only a small part of the view (fitted latents far outside
    it), add an inset zoomed on them, with the points that fall inside, and mark the zoomed box."""
    finite = cloud[np.isfinite(cloud).all(axis=1)]
    if len(finite) < 2:
        return
    lo, hi = np.percentile(finite, 0.5, axis=0), np.percentile(finite, 99.5, axis=0)  # (2,) each
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    span = np.array([x1 - x0, y1 - y0])
    if np.any(hi - lo <= 0) or np.any((hi - lo) / span >= SMALL_CLOUD):
        return
    pad = 0.15 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    inset = ax.inset_axes((0.6, 0.58, 0.38, 0.38))
    draw_cloud(inset, finite)
    inside = np.all((xy >= lo) & (xy <= hi), axis=1)
    for i, k in enumerate(classes):
        sel = inside & (lab == k)
        inset.scatter(xy[sel, 0], xy[sel, 1], s=size, color=cmap(i), alpha=0.75, linewidths=0, zorder=2)
    inset.set(xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]))
    inset.tick_params(labelsize="x-small")
    inset.xaxis.set_major_locator(ticker.MaxNLocator(3))
    inset.yaxis.set_major_locator(ticker.MaxNLocator(3))
    inset.text(0.03, 0.97, "zoom", transform=inset.transAxes, va="top", fontsize="x-small",
               bbox={"boxstyle": "round,pad=0.15", "fc": "white", "alpha": 0.8, "lw": 0})
    ax.indicate_inset_zoom(inset, edgecolor="0.25")


#: Greys from light to dark: a cell holding one training latent is already visibly grey.
CLOUD_CMAP = colors.LinearSegmentedColormap.from_list("cloud", ["0.78", "0.3"])


def draw_cloud(ax, cloud: np.ndarray) -> Patch:
    """The reference latents (M, 2) as a grey density (hexagonal bins, darker where denser),
    under the coloured points: tiny light-grey dots under thousands of coloured ones were
    invisible, a filled density is not. Returns the legend handle."""
    if cloud.ndim != 2 or cloud.shape[1] != 2:
        raise ValueError(f"cloud must be (M, 2), got {cloud.shape}")
    finite = cloud[np.isfinite(cloud).all(axis=1)]
    if len(finite):
        ax.hexbin(finite[:, 0], finite[:, 1], gridsize=60, mincnt=1, bins="log", cmap=CLOUD_CMAP, linewidths=0, zorder=1)
    return Patch(facecolor="0.55", edgecolor="none", label=f"train latents ({len(cloud)}, density)")


def _thin(a: np.ndarray, limit: int) -> np.ndarray:
    if a.shape[0] <= limit:
        return a
    return a[np.linspace(0, a.shape[0] - 1, limit).astype(np.int64)]
