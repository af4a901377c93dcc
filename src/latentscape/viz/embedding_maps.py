"""Side-by-side 2-D maps of several embeddings, points coloured by class (as study 001's
compare.png). Draws arrays only; the 2-D reduction happens in the caller."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from latentscape.viz.figure import new_figure, save_figure


def draw_embedding_maps(
    maps: Sequence[tuple[str, np.ndarray]],
    labels: np.ndarray,
    path: str | Path,
    class_names: Sequence[str] = (),
    columns: int = 3,
    title: str = "",
) -> Path:
    """One scatter panel per embedding, in a grid, with a shared class legend.

    Args:
        maps: (title, points (N, 2)) per panel.
        labels: int class of each point (N,).
        path: PNG to write (atomically).
        class_names: legend names by class index (default: the indices).
        columns: at most this many panels per row (rows are filled evenly: 4 panels are 2 x 2).
        title: what the points are, over all panels.
    """
    if not maps:
        raise ValueError("no embedding to draw")
    labels = np.asarray(labels)
    rows = math.ceil(len(maps) / max(1, columns))
    cols = math.ceil(len(maps) / rows)  # even rows: no row of one panel under a row of three
    fig = new_figure(4.0 * cols + 1.2, 3.8 * rows)
    classes = np.unique(labels)
    import matplotlib

    palette = matplotlib.colormaps["tab10" if len(classes) <= 10 else "tab20"]
    handles = []
    for i, (name, points) in enumerate(maps):
        points = np.asarray(points, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] != labels.shape[0]:
            raise ValueError(f"{name}: points must be (N, 2) with N={labels.shape[0]}, got {points.shape}")
        ax = fig.add_subplot(rows, cols, i + 1)
        for j, c in enumerate(classes):
            mask = labels == c
            h = ax.scatter(points[mask, 0], points[mask, 1], s=2, alpha=0.6, color=palette(j % palette.N),
                           label=class_names[int(c)] if int(c) < len(class_names) else str(int(c)),
                           rasterized=True)
            if i == 0:
                handles.append(h)
        ax.set_title(name, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.legend(handles=handles, loc="outside right center", markerscale=5, fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=11)
    return save_figure(fig, path)
