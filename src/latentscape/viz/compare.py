"""`write_compare(run_dirs, out)`: several runs on one page.

- loss curves overlaid: one plot per metric, one colour per run, one line style and marker per
  split (markers keep a run that logged once visible, and nested rings keep coincident points of
  two runs apart);
- the config keys that differ between the runs;
- the last logged values side by side (with the step of each split's last row, and the steps the
  train split's window mean covers: it is not the loss of the final weights);
- every eval/*.json side by side with the protocol (split, n, seed, weights, ...) behind each
  number, so two numbers measured differently are not compared blindly;
- image grids next to each other: the last picture of every image group, one column per run.

Plots are drawn into a temporary folder and embedded as data URIs, so the page stands alone.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from latentscape.errors import LatentscapeError
from latentscape.io import atomic_write_text
from latentscape.viz.blocks import Block, Gallery, Heading, Note, Table, picture, section, table
from latentscape.viz.result_files import read_config, read_json
from latentscape.viz.figure import draw_series, few_steps_ticks, new_figure, save_figure, wants_log
from latentscape.viz.html_parts import flatten, format_value
from latentscape.viz.inside import files_under
from latentscape.viz.metrics_log import CURVE_PREFIX, WINDOW_NOTE, final_metrics, last_steps, metric_series, read_metrics, train_window
from latentscape.viz.report import IMAGE_SUFFIXES, caption_for, check_run_dir, group_for
from latentscape.viz.templating import render

SPLIT_STYLES = {"train": "-", "test": "--", "val": ":"}


def run_labels(run_dirs: list[Path]) -> list[str]:
    """A short unique label per run: its config name, else its folder name (made unique)."""
    labels = []
    for run in run_dirs:
        name = str((read_config(run) or {}).get("name") or run.resolve().name)
        labels.append(name)
    names = list(labels)  # count on the names as they were, not as they are being renamed
    for i, name in enumerate(names):
        if names.count(name) > 1:
            labels[i] = f"{name} ({run_dirs[i].resolve().name if run_dirs[i].resolve().name != name else i + 1})"
    if len(set(labels)) < len(labels):
        labels = [f"{name} #{i + 1}" for i, name in enumerate(labels)]
    return labels


def overlay_plots(run_dirs: list[Path], labels: list[str], tmp: Path) -> list[tuple[str, Path]]:
    """One PNG per metric with every run's series (colour = run, line style and marker = split)."""
    series = [metric_series(read_metrics(run)) for run in run_dirs]
    metrics = list(dict.fromkeys(m for s in series for m in s))
    written = []
    for k, metric in enumerate(metrics):
        fig = new_figure(width=6.4, height=4.0)
        ax = fig.add_subplot()
        arrays, steps = [], []
        for i, (label, by_metric) in enumerate(zip(labels, series)):
            for split, (xs, ys) in by_metric.get(metric, {}).items():
                draw_series(ax, xs, ys, label=f"{label} / {split}", split=split, colour=f"C{i % 10}",
                            linestyle=SPLIT_STYLES.get(split, "-."), rank=i)
                arrays.append(np.asarray(ys))
                steps += xs
        few_steps_ticks(ax, steps)
        if wants_log(arrays):
            ax.set_yscale("log")
        ax.set(xlabel="training step", ylabel=metric, title=f"{metric} (colour: run; line and marker: split)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
        written.append((metric, save_figure(fig, tmp / f"{CURVE_PREFIX}{k}.png")))
    return written


def _flat_config(run: Path) -> dict[str, str]:
    return {k: format_value(v) for k, v in flatten(read_config(run) or {})}


def side_by_side(rows: list[tuple[str, list[Any]]], labels: list[str], first: str) -> Table:
    """A table: one row per (name, value per run), one column per run."""
    return table([first], labels, [([name], values) for name, values in rows])


def config_diff(run_dirs: list[Path], labels: list[str]) -> list[Block]:
    configs = [_flat_config(r) for r in run_dirs]
    keys = list(dict.fromkeys(k for c in configs for k in c))
    differ = [k for k in keys if len({c.get(k) for c in configs}) > 1]
    return [side_by_side([(k, [c.get(k) for c in configs]) for k in differ], labels, "config key")] if differ else []


def metrics_table(run_dirs: list[Path], labels: list[str]) -> list[Block]:
    """The last logged value of each split's metrics per run, with the step each split was last
    logged at and the steps the train value averages over (WINDOW_NOTE)."""
    records = [read_metrics(r) for r in run_dirs]
    finals = [final_metrics(r) for r in records]
    names = list(dict.fromkeys(f"{sp} {m}" for f in finals for sp, ms in f.items() for m in ms))
    if not names:
        return []
    splits = list(dict.fromkeys(sp for f in finals for sp in f))
    steps = [last_steps(r) for r in records]
    rows = [(f"{sp}: logged at step", [s.get(sp) for s in steps]) for sp in splits]
    if any(train_window(r) for r in records):
        rows.append(("train: averaged over steps", [train_window(r) for r in records]))
    rows += [(n, [f.get(n.split(" ", 1)[0], {}).get(n.split(" ", 1)[1]) for f in finals]) for n in names]
    return [Note(WINDOW_NOTE, muted=True), side_by_side(rows, labels, "split metric (last logged)")]


def eval_tables(run_dirs: list[Path], labels: list[str]) -> list[Block]:
    """Each eval/<name>.json side by side; its protocol fields first, so every number has its protocol."""
    docs = [{p.name: read_json(p) for p in sorted((r / "eval").glob("*.json"))} if (r / "eval").is_dir() else {} for r in run_dirs]
    blocks: list[Block] = []
    for name in dict.fromkeys(n for d in docs for n in d):
        per_run = [d.get(name) if isinstance(d.get(name), dict) else {} for d in docs]
        protocol_rows, metric_rows = [], []
        if any(isinstance(doc.get("protocol"), dict) for doc in per_run):
            keys = list(dict.fromkeys(k for doc in per_run for k in (doc.get("protocol") or {})))
            protocol_rows = [(f"protocol: {k}", [(doc.get("protocol") or {}).get(k) for doc in per_run]) for k in keys]
            flat = [dict(flatten(doc.get("metrics") or {})) for doc in per_run]
        else:
            flat = [dict(flatten(doc)) for doc in per_run]
        for key in dict.fromkeys(k for f in flat for k in f):
            metric_rows.append((key, [f.get(key) for f in flat]))
        mismatch = any(len({format_value(v) for v in vals if v is not None}) > 1 for _, vals in protocol_rows)
        warn = [Note("The protocols differ: these numbers were not measured the same way.")] if mismatch else []
        blocks += [Heading(f"eval/{name}"), *warn, side_by_side(protocol_rows + metric_rows, labels, "field")]
    return blocks


def image_rows(run_dirs: list[Path], labels: list[str]) -> list[Block]:
    """For every image group, the last picture of each run next to each other."""
    groups: dict[str, dict[int, Path]] = {}
    for i, run in enumerate(run_dirs):
        images = run / "images"
        if not images.is_dir():
            continue
        for p in files_under(images, run, IMAGE_SUFFIXES):  # nothing through a link out of the run
            if not p.name.startswith(CURVE_PREFIX):
                groups.setdefault(group_for(p.relative_to(images)), {})[i] = p  # sorted: the last one wins
    blocks: list[Block] = []
    for group, by_run in groups.items():
        figs = tuple(
            picture(by_run[i], f"{labels[i]}: {caption_for(by_run[i])}", run_dirs[i]) if i in by_run else Note(f"{labels[i]}: none")
            for i in range(len(run_dirs))
        )
        blocks += [Heading(group), Gallery(figs, style="side")]
    return blocks


def write_compare(run_dirs: list[str | Path], out: str | Path) -> Path:
    """Write the comparison page of `run_dirs` to `out` (atomically) and return its path.

    Raises:
        LatentscapeError: fewer than two runs, or one of them is not a run folder.
    """
    if len(run_dirs) < 2:
        raise LatentscapeError("--compare needs at least two run directories")
    runs = [check_run_dir(r) for r in run_dirs]
    labels = run_labels(runs)
    with tempfile.TemporaryDirectory() as tmp:
        curves = tuple(picture(p, f"{m}: every run", tmp) for m, p in overlay_plots(runs, labels, Path(tmp)))
    sections = [
        section("curves", "Training curves, overlaid", [Gallery(curves, style="plots")] if curves else []),
        section("metrics", "Last logged values", metrics_table(runs, labels)),
        section("eval", "Evaluation results and their protocols", eval_tables(runs, labels)),
        section("images", "Pictures side by side", image_rows(runs, labels)),
        section("config", "Config differences", config_diff(runs, labels)),
    ]
    title = f"Comparison of {len(runs)} runs: " + ", ".join(labels)
    html = render(
        "compare.html", title=title, wide=len(runs) > 3, runs=[(lab, str(r.resolve())) for lab, r in zip(labels, runs)],
        sections=[s for s in sections if s],
    )
    return atomic_write_text(Path(out), html)
