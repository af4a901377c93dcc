"""The one output pipeline of the analyses: a checked folder, the source run's config, the
numbers, `summary.json`, then pictures and report.html.

Every analysis folder (path, plane, surface, trajectory, hessian, fge, probe) is written the same
way: `open_folder` checks and creates it before any evaluation (a bad --out costs nothing; a
resumable grid is written into it as points finish) and copies the source run's config.yaml
(the HTML report of a run-like folder needs it); `write_summary` writes the index contract of
docs/ARCHITECTURE.md ("Reports"); `draw_and_report` draws (as --plots / LATENTSCAPE_PLOTS says)
after the numbers are on disk, so a failure while drawing cannot lose them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from latentscape.errors import LatentscapeError
from latentscape.io import atomic_write_text, remove_dead_temporaries, write_json
from latentscape.rundir.lock import lock_enclosing_run

SUMMARY_FILE = "summary.json"


@dataclass
class Summary:
    """The index contract of an analysis folder (docs/ARCHITECTURE.md, "Reports").

    Attributes:
        kind: "path", "plane", "surface", "trajectory", "hessian", "probe", "fge", ...
        title: what was analysed, one line.
        finding: one sentence: what the numbers say.
        model, dataset: names.
        metrics: at most ~8 flat name -> number entries.
        report: a page the analysis wrote itself, relative to the folder (optional).
        extra: other keys (allowed by the contract).
    """

    kind: str
    title: str
    finding: str
    model: str = ""
    dataset: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    report: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        doc = {"kind": self.kind, "title": self.title, "finding": self.finding, "model": self.model,
               "dataset": self.dataset, "metrics": dict(list(self.metrics.items())[:8])}
        if self.report:
            doc["report"] = self.report
        return {**doc, **self.extra}


def check_output_dir(out: str | Path | None) -> None:
    """LatentscapeError when `out` (an --out folder) cannot take an analysis's files: a file, a
    training run's own folder (its report.html would be replaced), or a place not writable."""
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


def default_root(kind: str, run_dir: Path | None) -> str:
    """Where `kind` folders go without --out: runs/ for path and plane (they may join several
    runs), RUN/analysis/ for the analyses of one run, runs/ for --model."""
    if run_dir is None or kind in ("path", "plane"):
        return "runs"
    return str(Path(run_dir) / "analysis")


def latest_folder(kind: str, root: str) -> Path | None:
    """The newest `root/<kind>-<time>` folder, if any (what `--resume` without --out continues)."""
    found = sorted(Path(root).glob(f"{kind}-*")) if Path(root).is_dir() else []
    found = [p for p in found if p.is_dir()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def new_output_dir(kind: str, out: str | None, root: str = "runs") -> Path:
    """`out` (created) or a fresh root/<kind>-<time> folder; images/ is created inside.

    A folder inside a run directory (RUN/analysis/surface-...) holds the run's write lock until
    the command ends; temporaries of killed earlier writers in the folder are removed.
    """
    if out:
        path = Path(out)
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path, i = Path(root) / f"{kind}-{stamp}", 1
        while path.exists():
            i += 1
            path = Path(root) / f"{kind}-{stamp}-{i}"
    check_output_dir(path)
    lock_enclosing_run(path)  # RUN/analysis/...: one writer per run (rundir/lock.py); refused while RUN trains
    try:
        (path / "images").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LatentscapeError(f"cannot create the output folder {path}: {exc.strerror or exc}") from None
    remove_dead_temporaries(path)  # e.g. a picture a killed earlier run into this --out was writing
    return path


def open_folder(kind: str, out: str | None, run_dir: Path | None, resume: bool = False, create: bool = True) -> Path:
    """The analysis folder: `out`, or a new one under `default_root`; with `resume` and no `out`,
    the newest folder of this kind there (an error when there is none). The source run's
    config.yaml is copied in. `create=False` (ranks other than 0) only names it."""
    check_output_dir(out)
    root = default_root(kind, run_dir)
    if resume and not out:
        found = latest_folder(kind, root)
        if found is None:
            raise LatentscapeError(f"--resume: no {kind} folder under {root} to continue; give its --out")
        out = str(found)
    if not create:
        return Path(out) if out else Path(root)
    path = new_output_dir(kind, out, root)
    if run_dir is not None:
        adopt_config(path, run_dir)
    return path


def adopt_config(out_dir: Path, run_dir: Path) -> None:
    """Copy the source run's config.yaml so the folder is run-like (the HTML report needs it)."""
    src = Path(run_dir) / "config.yaml"
    if src.is_file() and not (out_dir / "config.yaml").exists():
        atomic_write_text(out_dir / "config.yaml", src.read_text())


def write_summary(out_dir: Path, summary: Summary) -> Path:
    """`out_dir/summary.json`, atomically."""
    return write_json(Path(out_dir) / SUMMARY_FILE, summary.to_json())


def write_report(out_dir: Path) -> Path | None:
    """`latentscape.viz.report.write_report(out_dir)` for a run-like folder; None otherwise."""
    try:
        from latentscape.viz.report import write_report as report
    except ImportError:  # pragma: no cover
        return None
    if not (out_dir / "config.yaml").is_file():
        return None
    return report(out_dir, plot_curves=False)


def draw_and_report(out_dir: Path, draw_pictures: Callable[..., Any], *args: Any) -> None:
    """`draw_pictures(*args)` then report.html, as --plots / LATENTSCAPE_PLOTS says (in this
    process, a background process after the numbers are written, or not at all)."""
    from latentscape.timing import phase
    from latentscape.viz.deferred import draw

    with phase("plots"):
        draw(_draw_then_report, out_dir, draw_pictures, *args)


def _draw_then_report(out_dir: Path, draw_pictures: Callable[..., Any], *args: Any) -> None:
    draw_pictures(*args)
    write_report(out_dir)


def fraction_text(n: int, full: int | None, split: str) -> str:
    """"on 2,000 of 10,000 test examples" when a split was cut to its first n examples, else ""."""
    return f"on {n:,} of {full:,} {split} examples" if full is not None and full > n else ""
