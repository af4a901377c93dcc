"""Output folders of the analysis commands (path, plane, fge, demo): run-like and atomic."""

from __future__ import annotations

import time
from pathlib import Path

from latentscape.io import atomic_write_text, write_json  # noqa: F401  (write_json re-exported)


def new_output_dir(kind: str, out: str | None, root: str = "runs") -> Path:
    """`out` (created) or a fresh runs/<kind>-<time> folder; images/ is created inside."""
    if out:
        path = Path(out)
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path, i = Path(root) / f"{kind}-{stamp}", 1
        while path.exists():
            i += 1
            path = Path(root) / f"{kind}-{stamp}-{i}"
    (path / "images").mkdir(parents=True, exist_ok=True)
    return path


def adopt_config(out_dir: Path, run_dir: Path) -> None:
    """Copy the source run's config.yaml so the folder is run-like (the HTML report needs it)."""
    src = Path(run_dir) / "config.yaml"
    if src.is_file() and not (out_dir / "config.yaml").exists():
        atomic_write_text(out_dir / "config.yaml", src.read_text())


def write_report(out_dir: Path) -> Path | None:
    """`latentscape.viz.report.write_report(out_dir)` when available; None otherwise."""
    try:
        from latentscape.viz.report import write_report as report
    except ImportError:  # pragma: no cover
        return None
    if not (out_dir / "config.yaml").is_file():
        return None
    return report(out_dir, plot_curves=False)

