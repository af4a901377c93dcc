"""latentscape.viz: image grids (PNG), GIFs, matplotlib plots and the HTML run report.

Import from the submodules (`latentscape.viz.grid`, `.gif`, `.plots`, `.report`); this package
re-exports the main entry points for convenience, lazily (PEP 562), so importing one submodule
does not import matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "make_grid": "grid",
    "save_image_grid": "grid",
    "save_labeled_rows": "grid",
    "to_pil": "grid",
    "save_gif": "gif",
    "plot_contour": "plots",
    "plot_curves": "plots",
    "plot_metric_panels": "plots",
    "plot_metrics_jsonl": "plots",
    "plot_scatter_2d": "plots",
    "write_report": "report",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'latentscape.viz' has no attribute {name!r}")
    return getattr(importlib.import_module(f"latentscape.viz.{_EXPORTS[name]}"), name)
