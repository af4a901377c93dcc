"""Output folders of the analysis commands (path, plane, fge, demo): run-like and atomic."""

from __future__ import annotations

import os
import time
from pathlib import Path

from latentscape.errors import LatentscapeError
from latentscape.io import atomic_write_text


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
    check_output_dir(path)
    try:
        (path / "images").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LatentscapeError(f"cannot create the output folder {path}: {exc.strerror or exc}") from None
    return path


def check_output_dir(out: str | Path | None) -> None:
    """LatentscapeError when `out` (an --out folder) cannot take an analysis's files: a file, a
    training run's own folder (its report.html would be replaced), or a place not writable.

    The analyses call it before evaluating, so a bad --out costs nothing.
    """
    if out is None:
        return
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise LatentscapeError(f"--out {path}: exists and is not a folder")
    if (path / "checkpoints").is_dir():
        raise LatentscapeError(f"--out {path}: is a training run's folder; choose a new folder for the analysis")
    existing = next(p for p in (path, *path.parents) if p.exists() or p == p.parent)
    if not existing.is_dir():
        raise LatentscapeError(f"--out {path}: {existing} is not a folder")
    if not os.access(existing, os.W_OK):
        raise LatentscapeError(f"--out {path}: {existing} is not writable")


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

