"""The leading sections of the surface, trajectory, hessian, probe and tune pages: the numbers each
analysis is run for, as tables with their protocol, and its pictures in reading order with
captions that say what is drawn.

Inputs are the files the analyses write (surface.json, hessian.json, probe.json, a tune study's
summary.json); each function returns page sections and adds the pictures it shows to `shown` (so
the generic "Images" section does not repeat them). A file of an unexpected shape raises
KeyError/TypeError/ValueError, which analysis_page.analysis_sections turns into a note.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from latentscape.viz.blocks import Block, Gallery, Heading, Note, Protocol, Section, picture, section, table
from latentscape.viz.html_parts import format_value
from latentscape.viz.result_files import read_json

MAX_ROWS = 200  # rows of any table here (a 15,000-trial study must not become a 2 MB page)
MAX_KEYS = 8  # searched keys shown as columns
MAX_CELL = 100  # characters of a shown value (a categorical searched value, an error)
VIEWS = (("filled", "filled contours"), ("contour", "contour lines"), ("3d", "3-D surface"))
METHODS = {"power": "power iteration", "lanczos": "Lanczos"}


def _count(n: Any) -> str:
    """A count as the findings write it (1,000 examples)."""
    if isinstance(n, float) and n == round(n):
        n = int(n)
    return f"{n:,}" if isinstance(n, int) and not isinstance(n, bool) else format_value(n) if isinstance(n, float) else "?"


def _gallery(items: list[tuple[Path, str]], folder: Path, shown: set[Path], style: str = "plots", wide: bool = False) -> list[Block]:
    """The pictures of `items` that exist, with their captions (`wide`: each a whole row)."""
    figures = []
    for path, caption in items:
        if path.is_file():
            figures.append(picture(path, caption, folder, wide=wide))
            shown.add(path)
    return [Gallery(tuple(figures), style)] if figures else []


def _grid_tables(doc: dict[str, Any]) -> list[Block]:
    """Per split and metric: the value at the centre weights, and the grid's min, max and mean."""
    rows = [([split, metric], s) for split, ms in (doc.get("summary") or {}).items() for metric, s in (ms or {}).items()
            if isinstance(s, dict)][:MAX_ROWS]
    return [table(["split", "metric"], ["at w", "min", "max", "mean"], [(lab, [s.get("origin"), s.get("min"), s.get("max"), s.get("mean")]) for lab, s in rows])] if rows else []


def _examples(doc: dict[str, Any]) -> str:
    used, full = doc.get("examples") or {}, doc.get("full_sizes") or {}
    if not isinstance(used, dict):
        return _count(used)
    return ", ".join(f"{_count(n)} of {_count(full[s])} {s}" if s in full and full[s] != n else f"{_count(n)} {s}"
                     for s, n in used.items())


def _surface_pictures(folder: Path, doc: dict[str, Any], shown: set[Path], what: str) -> list[Block]:
    """Each split and metric's views in reading order: filled contours, contour lines, 3-D."""
    images = folder / "images"
    items: list[tuple[Path, str]] = []
    for split, ms in (doc.get("values") or {}).items():
        for metric in ms or {}:
            tag = f"{metric.replace('/', '_')}_{split}"
            if doc.get("dims") == 1:
                items.append((images / f"surface_{metric.replace('/', '_')}.png", f"{metric} along one direction ({what})"))
                continue
            items += [(images / f"surface_{tag}_{view}.png", f"{split} {metric}: {label} ({what})") for view, label in VIEWS]
    return _gallery(items, folder, shown, style="plots" if doc.get("dims") == 1 else "views")


def surface_sections(folder: Path, shown: set[Path]) -> list[Section]:
    doc = read_json(folder / "surface.json") or {}
    if "trajectory" in doc:
        return []  # a trajectory folder: trajectory_sections
    d = doc.get("directions") or {}
    gx, gy = doc.get("grid_x") or [], doc.get("grid_y") or []
    grid = f"{len(gx)} x {len(gy)}" if doc.get("dims") != 1 else f"{len(gx)} points"
    span = f"[{format_value(min(gx))}, {format_value(max(gx))}]" if gx else "?"
    protocol = Protocol((
        ("directions", f"{d.get('kind', '?')}, {d.get('norm', '?')}-normalised, seed {d.get('seed', '?')}"),
        ("ignored", str(d.get("ignore", "?"))), ("grid", f"{grid} over {span}"), ("examples", _examples(doc)),
        ("BatchNorm", str(doc.get("batchnorm", "?"))),
    ))
    note = Note("at w: the run's own weights (the origin of the grid); the grid's coordinates are steps along the "
                "directions, each scaled to the norm of the weights it perturbs (Li et al. 2018).", muted=True)
    return [
        section("surface", "On the grid", [protocol, note, *_grid_tables(doc)]),
        section("pictures", "Pictures", _surface_pictures(folder, doc, shown, "w at the origin")),
    ]


def trajectory_sections(folder: Path, shown: set[Path]) -> list[Section]:
    doc = read_json(folder / "surface.json") or {}
    traj, d = doc.get("trajectory") or {}, doc.get("directions") or {}
    ratios = d.get("explained_variance_ratio") or []
    steps = traj.get("steps") or []
    rows = [([f"PC{i + 1}"], [r]) for i, r in enumerate(ratios)]
    blocks: list[Block] = [
        Protocol((("weight sets", f"{len(steps)} (steps {_count(steps[0])} to {_count(steps[-1])})" if steps else "?"),
                  ("examples", _examples(doc)), ("BatchNorm", str(doc.get("batchnorm", "?"))))),
        Note("The plane of the two principal components of w_i - w_final over the kept checkpoints w_i; the final "
             "weights are the origin. Explained variance near 1 means the path lies in this plane.", muted=True),
    ]
    if rows:
        blocks.append(table(["component"], ["explained variance ratio"], rows))
    return [
        section("trajectory", "The training path", blocks),
        section("grid", "On the grid", _grid_tables(doc)),
        section("pictures", "Pictures", _surface_pictures(folder, doc, shown, "the training path from init to final")),
    ]


def hessian_sections(folder: Path, shown: set[Path]) -> list[Section]:
    doc = read_json(folder / "hessian.json") or {}
    rows: list[tuple[list[str], list[Any]]] = []
    top = doc.get("top_eigenvalues") or {}
    for i, value in enumerate((top.get("values") or [])[:MAX_ROWS]):
        rows.append(([f"eigenvalue {i + 1}", METHODS.get(str(top.get("method")), str(top.get("method", "?")))], [value, None]))
    trace = doc.get("trace") or {}
    if trace:
        rows.append((["trace", f"{trace.get('method', '?')}, {_count(trace.get('samples'))} samples"], [trace.get("estimate"), trace.get("std_error")]))
    density = doc.get("density") or {}
    if density:
        rows.append((["trace", f"SLQ, {_count(density.get('runs'))} run(s) of {_count(density.get('steps'))} steps"], [density.get("trace_estimate"), None]))
    settings = doc.get("settings") or {}
    protocol = Protocol((
        ("weights of", str(doc.get("source", "?"))), ("objective", str(doc.get("objective", "?"))),
        ("examples", f"{_count(doc.get('examples'))} {doc.get('split', '')} ({_count(settings.get('batches'))} batches of {_count(settings.get('batch_size'))})"),
        ("parameters", _count(doc.get("parameters"))), ("Hessian-vector products", _count(doc.get("hessian_vector_products"))),
        ("complete", {True: "yes", False: "no (a stage is still missing)"}.get(doc.get("complete"), "?")),
    ))
    blocks: list[Block] = [protocol]
    if rows:
        blocks.append(table(["quantity", "how"], ["value", "std. error"], rows))
    picture_note = Note("The density is broadened by a Gaussian (Ghorbani et al. 2019); the red ticks at the top are the "
                        "top eigenvalues found directly, which the density's rightmost bumps should match.", muted=True)
    pictures = _gallery([(folder / "images" / "hessian_density.png", "eigenvalue density (log scale)")], folder, shown, wide=True)
    return [section("hessian", "Spectrum", blocks), section("density", "Eigenvalue density", [picture_note, *pictures] if pictures else [])]


PROBE_COLUMNS = (("logreg_acc", "logistic regression accuracy"), ("knn_acc", "kNN accuracy"), ("fit_s", "embedding fit (s)"),
                 ("logreg_fit_s", "logistic regression fit (s)"))


def probe_sections(folder: Path, shown: set[Path]) -> list[Section]:
    doc = read_json(folder / "probe.json") or {}
    rows = [r for r in doc.get("rows") or [] if isinstance(r, dict)][:MAX_ROWS]
    p = doc.get("protocol") or {}
    columns = [(key, name) for key, name in PROBE_COLUMNS if any(key in r for r in rows)]
    blocks: list[Block] = [Protocol((
        ("dataset", str(p.get("dataset", "?"))), ("train codes", _count(p.get("train_size"))),
        ("test codes", _count(p.get("test_size"))), ("per class", _count(p.get("per_class")) if p.get("per_class") else "all"),
        ("kNN k", _count(p.get("knn_k"))), ("baselines fitted on", str(p.get("baselines_fitted_on", "?"))),
        ("seed", _count(p.get("seed"))),
    ))]
    if rows:
        blocks.append(table(["embedding", "dim"], [name for _, name in columns],
                            [([_cut(str(r.get("embedding"))), format_value(r.get("dim"))], [_value(r.get(k)) for k, _ in columns]) for r in rows]))
    maps = _gallery([(folder / "maps.png", "every embedding of the test codes in 2-D (UMAP where it has more than 2 "
                                          "dimensions), coloured by class")], folder, shown, wide=True)
    return [section("probe", "Accuracy of a classifier on each embedding (test split)", blocks),
            section("maps", "Maps", maps)]


def _cut(text: str) -> str:
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "\u2026"


def _value(value: Any) -> Any:
    """A cell of the trials table: numbers as they are, anything else as short text."""
    return value if value is None or isinstance(value, (int, float)) else _cut(str(value))


def tune_sections(folder: Path, shown: set[Path]) -> list[Section]:
    doc = read_json(folder / "summary.json") or {}
    trials = [t for t in doc.get("trials") or [] if isinstance(t, dict)]
    keys = [_cut(k) for k in dict.fromkeys(k for t in trials[:MAX_ROWS] for k in (t.get("params") or {}))][:MAX_KEYS]
    objective = _cut(str(doc.get("objective", "objective")))
    blocks: list[Block] = [Protocol((
        ("objective", f"{_cut(str(doc.get('direction', '?')))} {objective}"),
        ("search", _cut("; ".join(map(str, doc.get("search") or [])))), ("repeats per trial", _count(doc.get("repeats"))),
        ("trials", _cut(", ".join(f"{n} {s}" for s, n in (doc.get("counts") or {}).items()))),
    ))]
    if trials:
        head = [*keys, f"{objective} (mean)", "std", "repeats"]
        rows = [([_cut(f"#{t.get('trial')}"), _cut(str(t.get("state")) + (f": {t['error']}" if t.get("error") else ""))],
                 [*(_value((t.get("params") or {}).get(k)) for k in keys), _value(t.get("mean")), _value(t.get("std")),
                  len(t.get("values") or [])])
                for t in trials[:MAX_ROWS]]
        cut = f"the best {MAX_ROWS} of {len(trials):,} trials (summary.json has them all); " if len(trials) > MAX_ROWS else ""
        blocks += [Note(f"Best first; {cut}the mean and standard deviation over the repeats (seeds base, base + 1, ...).", muted=True),
                   table(["trial", "state"], head, rows)]
    pictures = _gallery([(folder / "objective_vs_params.png", f"{objective} of each trial against the searched values"),
                         (folder / "history.png", f"{objective} over training steps, every repeat of every trial")], folder, shown)
    return [section("trials", "Trials", blocks), section("pictures", "Pictures", pictures)]
