"""latentscape.viz: image grids (PNG), GIFs, matplotlib plots and the HTML run report.

Import from the submodules (`latentscape.viz.grid`, `.gif`, `.plots`, `.report`); this package
re-exports the main entry points for convenience.
"""

from latentscape.viz.gif import save_gif
from latentscape.viz.grid import make_grid, save_image_grid, save_labeled_rows, to_pil
from latentscape.viz.plots import (
    plot_contour,
    plot_curves,
    plot_metric_panels,
    plot_metrics_jsonl,
    plot_scatter_2d,
)
from latentscape.viz.report import write_report

__all__ = [
    "make_grid",
    "plot_contour",
    "plot_curves",
    "plot_metric_panels",
    "plot_metrics_jsonl",
    "plot_scatter_2d",
    "save_gif",
    "save_image_grid",
    "save_labeled_rows",
    "to_pil",
    "write_report",
]
