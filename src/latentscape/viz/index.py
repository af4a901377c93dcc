"""`write_index(root)`: one page listing every run and analysis under a folder, kind by kind.

Each kind of entry (viz/discover.py: run, connect, path, plane, surface, trajectory, hessian,
probe, fge, tune, demo, and any other kind a summary.json names) gets its own section and table:
its name (a link to the folder's report page), model and data, the one-sentence finding, and the
metrics that at least half of that kind's entries have as numeric columns (the others of a row are
listed under its finding), so no column is mostly empty and the page fits a laptop screen.
Tables sort on a header click; one filter row (kind / model / dataset / text) narrows all of them,
in a few lines of inline JavaScript (templates/index.js: no network, no library). Missing or stale
report pages are (re)written first, so the links work. Folders that cannot be read are listed as
one-line warnings at the top (and returned to the caller, which prints them).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from latentscape.errors import LatentscapeError
from latentscape.io import atomic_write_text
from latentscape.viz.discover import Entry, discover
from latentscape.viz.html_parts import format_value
from latentscape.viz.result_files import printable
from latentscape.viz.templating import GENERATOR, render

MAX_METRIC_COLUMNS = 5
GENERATOR_MARK = f"<meta name='generator' content='{GENERATOR}'>".encode()


@dataclass(frozen=True)
class KindInfo:
    """How the index introduces a kind of entry."""

    heading: str
    about: str
    one: str = ""  # "training run": what the page's count line calls one entry
    many: str = ""  # "training runs"

    def count(self, n: int, kind: str) -> str:
        """"1 training run", "7 training runs" (an unknown kind: "2 kind")."""
        return f"{n} {(self.one if n == 1 else self.many) or kind}"


KINDS: dict[str, KindInfo] = {
    "demo": KindInfo("Demos", "latentscape demo: the straight line and a trained curve between two autoencoders; barrier = max - max(start, end).",
                     "demo", "demos"),
    "run": KindInfo("Training runs", "latentscape train: the last logged values. test, val, train_eval: the weights at the last logged step; "
                    "train (window mean): the mean of the last logging window while the weights still changed.", "training run", "training runs"),
    "connect": KindInfo("Trained curves", "latentscape connect: low-loss curves between two weight sets, trained as runs (their training metrics).",
                        "trained curve", "trained curves"),
    "path": KindInfo("Paths", "latentscape path: metrics along a straight line or a trained curve; barrier = max - max(start, end).", "path", "paths"),
    "plane": KindInfo("Planes", "latentscape plane: a metric grid on the plane through three weight sets (or a curve's ends and bend).",
                      "plane", "planes"),
    "surface": KindInfo("Loss surfaces", "latentscape surface: metrics along random filter-normalised directions around a run's weights (Li et al. 2018).",
                        "loss surface", "loss surfaces"),
    "trajectory": KindInfo("Training trajectories", "latentscape trajectory: a run's checkpoints on their top-2 PCA plane, over the loss surface.",
                           "training trajectory", "training trajectories"),
    "hessian": KindInfo("Hessian spectra", "latentscape hessian: top eigenvalues, trace and eigenvalue density of the Hessian of a run's objective.",
                        "Hessian spectrum", "Hessian spectra"),
    "fge": KindInfo("Fast geometric ensembles", "latentscape fge: cyclic-learning-rate snapshots of a run; the ensemble against the single model.",
                    "FGE ensemble", "FGE ensembles"),
    "probe": KindInfo("Probes of learned codes", "latentscape probe: classification accuracy of the runs' codes against PCA, UMAP and pixels.",
                      "probe", "probes"),
    "tune": KindInfo("Hyperparameter searches", "latentscape tune: a grid or TPE search; the best trial's objective.",
                     "hyperparameter search", "hyperparameter searches"),
}


@dataclass(frozen=True)
class Row:
    """One entry as its table shows it."""

    entry: Entry
    href: str  # "" when the folder has no page to link
    where: str  # the folder, relative to the index
    title: str  # "" when it would only repeat the name
    values: tuple[float | None, ...]
    also: str  # the entry's metrics that have no column
    error: str  # why its report page could not be written
    updated: str


@dataclass(frozen=True)
class KindTable:
    """One kind's section: heading, what the kind is, its metric columns and rows."""

    kind: str
    anchor: str
    heading: str
    about: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    count: str = ""  # "7 training runs"


def refresh_pages(entries: list[Entry]) -> dict[Path, str]:
    """Write report.html for every folder whose page is missing or older than its files.

    A page that some other tool wrote (no latentscape generator mark) is never overwritten.

    Returns:
        folder -> error text for folders whose page could not be written.
    """
    from latentscape.viz.report import write_report

    errors: dict[Path, str] = {}
    for folder in dict.fromkeys(e.folder for e in entries if e.page == "report.html"):
        target = folder / "report.html"
        newest = max(e.updated for e in entries if e.folder == folder)
        try:
            if target.is_file():
                if target.stat().st_mtime >= newest:
                    continue
                with open(target, "rb") as fh:
                    if GENERATOR_MARK not in fh.read(2048):
                        continue
            write_report(folder)
        except (LatentscapeError, OSError, ValueError, TypeError, KeyError, AttributeError) as exc:  # one bad folder must not hide the others
            errors[folder] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return errors


def metric_columns(entries: list[Entry], limit: int = MAX_METRIC_COLUMNS) -> list[str]:
    """The metrics that at least half of `entries` have, most common first (then first seen)."""
    counts = Counter(name for e in entries for name in e.metrics)
    order = {name: i for i, name in enumerate(dict.fromkeys(n for e in entries for n in e.metrics))}
    common = [n for n in counts if 2 * counts[n] >= len(entries)]
    return sorted(common, key=lambda n: (-counts[n], order[n]))[:limit]


def _row(root: Path, e: Entry, columns: list[str], error: str | None) -> Row:
    target = e.folder / e.page if e.page else None
    href = ""
    if target is not None and target.is_file():
        href = quote(target.relative_to(root).as_posix()) + (f"#{quote(e.anchor)}" if e.anchor else "")
    also = ", ".join(f"{name} {format_value(v)}" for name, v in e.metrics.items() if name not in columns)
    return Row(
        entry=e, href=href, where=e.folder.relative_to(root).as_posix() if e.folder != root else ".",
        title="" if e.kind == "run" or e.title == e.name or e.finding.startswith(e.title) else e.title,
        values=tuple(e.metrics.get(c) for c in columns), also=also, error=error or "",
        updated=time.strftime("%Y-%m-%d %H:%M", time.localtime(e.updated)) if e.updated else "",
    )


def kind_tables(root: Path, entries: list[Entry], errors: dict[Path, str]) -> list[KindTable]:
    """One table per kind: the known kinds in KINDS order, then the others alphabetically."""
    by_kind: dict[str, list[Entry]] = {}
    for e in entries:
        by_kind.setdefault(e.kind, []).append(e)
    order = [k for k in KINDS if k in by_kind] + sorted(k for k in by_kind if k not in KINDS)
    tables = []
    for i, kind in enumerate(order):
        members = by_kind[kind]
        columns = metric_columns(members)
        info = KINDS.get(kind, KindInfo(kind, f"Analyses whose summary.json says kind \"{kind}\"."))
        rows = tuple(_row(root, e, columns, errors.get(e.folder)) for e in members)
        tables.append(KindTable(kind, f"kind-{i}", info.heading, info.about, tuple(columns), rows, info.count(len(rows), kind)))
    return tables


def index_html(root: Path, entries: list[Entry], errors: dict[Path, str] | None = None,
               refresh_seconds: int | None = None, warnings: list[str] | None = None) -> str:
    """The index page of `entries` (found under `root`), with `warnings` (skipped folders) on top."""
    tables = kind_tables(root, entries, errors or {})
    name = root.resolve().name or str(root.resolve())
    return render(
        "index.html", title=f"{name} - latentscape index", wide=True, name=name, location=str(root.resolve()),
        tables=tables, total=len(entries), warnings=warnings or [], refresh_seconds=refresh_seconds or 0,
        filters={f: sorted({getattr(e, f) for e in entries if getattr(e, f)}) for f in ("kind", "model", "dataset")},
    )


def write_index(root: str | Path, refresh_seconds: int | None = None, pages: bool = True,
                warn: Callable[[str], None] | None = None) -> Path:
    """Write `root/index.html` listing everything under `root` and return its path.

    Args:
        root: a folder of runs (searched recursively, run internals skipped).
        refresh_seconds: add a meta refresh (used by `--serve`).
        pages: first (re)write missing or stale report.html pages of the entries.
        warn: called with one line per folder that was skipped (also listed on the page).

    Raises:
        LatentscapeError: `root` is missing or not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise LatentscapeError(f"not a folder: {root}")
    found = discover(root)
    errors = refresh_pages(found.entries) if pages else {}
    warnings = [s.line(root) for s in found.skipped]
    for line in warnings:
        if warn is not None:
            warn(line)
    html = index_html(root, found.entries, errors, refresh_seconds, warnings)
    return atomic_write_text(root / "index.html", html)


def error_html(root: Path, message: str, refresh_seconds: int) -> str:
    """The page `--serve` answers instead of a stale index when rebuilding it failed."""
    return render("error.html", title="index rebuild failed - latentscape", wide=False, location=printable(str(root.resolve())),
                  message=printable(message), refresh_seconds=refresh_seconds)
