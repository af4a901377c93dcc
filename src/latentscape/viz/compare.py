"""`write_compare(run_dirs, out)`: several runs on one page.

- loss curves overlaid: one plot per metric, one colour per run, one line style per split;
- the config keys that differ between the runs;
- final metrics side by side, and every eval/*.json side by side with the protocol (split, n,
  seed, weights, ...) behind each number, so two numbers measured differently are not compared
  blindly;
- image grids next to each other: the last picture of every image group, one column per run.

Plots are drawn into a temporary folder and embedded as data URIs, so the page stands alone.
"""

from __future__ import annotations

import tempfile
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from latentscape.errors import LatentscapeError
from latentscape.io import atomic_write_text
from latentscape.viz.discover import read_config, read_json
from latentscape.viz.figure import new_figure, save_figure, wants_log
from latentscape.viz.html_parts import figure_html, flatten, footer, format_value, page
from latentscape.viz.inside import files_under
from latentscape.viz.metrics_log import CURVE_PREFIX, final_metrics, metric_series, read_metrics
from latentscape.viz.report import IMAGE_SUFFIXES, caption_for, check_run_dir, group_for

SPLIT_STYLES = {"train": "-", "test": "--", "val": ":"}


def run_labels(run_dirs: list[Path]) -> list[str]:
    """A short unique label per run: its config name, else its folder name (made unique)."""
    labels = []
    for run in run_dirs:
        name = str((read_config(run) or {}).get("name") or run.resolve().name)
        labels.append(name)
    for i, name in enumerate(labels):
        if labels.count(name) > 1:
            labels[i] = f"{name} ({run_dirs[i].resolve().name if run_dirs[i].resolve().name != name else i + 1})"
    if len(set(labels)) < len(labels):
        labels = [f"{name} #{i + 1}" for i, name in enumerate(labels)]
    return labels


def overlay_plots(run_dirs: list[Path], labels: list[str], tmp: Path) -> list[tuple[str, Path]]:
    """One PNG per metric with every run's series (colour = run, line style = split)."""
    series = [metric_series(read_metrics(run)) for run in run_dirs]
    metrics = list(dict.fromkeys(m for s in series for m in s))
    written = []
    for k, metric in enumerate(metrics):
        fig = new_figure(width=6.4, height=4.0)
        ax = fig.add_subplot()
        arrays = []
        for i, (label, by_metric) in enumerate(zip(labels, series)):
            for split, (xs, ys) in by_metric.get(metric, {}).items():
                ax.plot(xs, ys, color=f"C{i % 10}", linestyle=SPLIT_STYLES.get(split, "-."), label=f"{label} / {split}",
                        marker="o" if len(xs) <= 30 else None, markersize=3)
                arrays.append(np.asarray(ys))
        if wants_log(arrays):
            ax.set_yscale("log")
        ax.set(xlabel="training step", ylabel=metric, title=f"{metric} (colour: run, line style: split)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
        written.append((metric, save_figure(fig, tmp / f"{CURVE_PREFIX}{k}.png")))
    return written


def _flat_config(run: Path) -> dict[str, str]:
    return {k: format_value(v) for k, v in flatten(read_config(run) or {})}


def side_by_side(rows: list[tuple[str, list[Any]]], labels: list[str], first: str) -> str:
    """A table: one row per (name, value per run), one column per run."""
    head = f"<th>{escape(first)}</th>" + "".join(f"<th scope='col' class='num'>{escape(lab)}</th>" for lab in labels)
    body = []
    for name, values in rows:
        tds = "".join(f"<td class='num'>{escape(format_value(v)) if v is not None else '&ndash;'}</td>" for v in values)
        body.append(f"<tr><th scope='row'>{escape(name)}</th>{tds}</tr>")
    return f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"


def config_diff(run_dirs: list[Path], labels: list[str]) -> str:
    configs = [_flat_config(r) for r in run_dirs]
    keys = list(dict.fromkeys(k for c in configs for k in c))
    differ = [k for k in keys if len({c.get(k) for c in configs}) > 1]
    return side_by_side([(k, [c.get(k) for c in configs]) for k in differ], labels, "config key") if differ else ""


def metrics_table(run_dirs: list[Path], labels: list[str]) -> str:
    finals = [final_metrics(read_metrics(r)) for r in run_dirs]
    names = list(dict.fromkeys(f"{sp} {m}" for f in finals for sp, ms in f.items() for m in ms))
    rows = [(n, [f.get(n.split(" ", 1)[0], {}).get(n.split(" ", 1)[1]) for f in finals]) for n in names]
    return side_by_side(rows, labels, "split metric (last logged)") if rows else ""


def eval_tables(run_dirs: list[Path], labels: list[str]) -> str:
    """Each eval/<name>.json side by side; its protocol fields first, so every number has its protocol."""
    docs = [{p.name: read_json(p) for p in sorted((r / "eval").glob("*.json"))} if (r / "eval").is_dir() else {} for r in run_dirs]
    parts = []
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
        warn = "<p class='note'>The protocols differ: these numbers were not measured the same way.</p>" if mismatch else ""
        parts.append(f"<h3>eval/{escape(name)}</h3>{warn}{side_by_side(protocol_rows + metric_rows, labels, 'field')}")
    return "".join(parts)


def image_rows(run_dirs: list[Path], labels: list[str]) -> str:
    """For every image group, the last picture of each run next to each other."""
    groups: dict[str, dict[int, Path]] = {}
    for i, run in enumerate(run_dirs):
        images = run / "images"
        if not images.is_dir():
            continue
        for p in files_under(images, run, IMAGE_SUFFIXES):  # nothing through a link out of the run
            if not p.name.startswith(CURVE_PREFIX):
                groups.setdefault(group_for(p.relative_to(images)), {})[i] = p  # sorted: the last one wins
    parts = []
    for group, by_run in groups.items():
        figs = "".join(
            figure_html(by_run[i], f"{labels[i]}: {caption_for(by_run[i])}", run_dirs[i]) if i in by_run
            else f"<figure><p class='note'>{escape(labels[i])}: none</p></figure>"
            for i in range(len(run_dirs))
        )
        parts.append(f"<h3>{escape(group)}</h3><div class='side'>{figs}</div>")
    return "".join(parts)


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
        plots = overlay_plots(runs, labels, Path(tmp))
        curves = "".join(figure_html(p, f"{m}: every run", tmp) for m, p in plots)
    sections = [
        ("curves", "Training curves, overlaid", f"<div class='gallery plots'>{curves}</div>" if curves else ""),
        ("metrics", "Final metrics", metrics_table(runs, labels)),
        ("eval", "Evaluation results and their protocols", eval_tables(runs, labels)),
        ("images", "Pictures side by side", image_rows(runs, labels)),
        ("config", "Config differences", config_diff(runs, labels)),
    ]
    sections = [s for s in sections if s[2]]
    listing = "".join(f"<li><b>{escape(lab)}</b>: {escape(str(r.resolve()))}</li>" for lab, r in zip(labels, runs))
    nav = "".join(f"<a href='#{sid}'>{escape(name)}</a>" for sid, name, _ in sections)
    body = "".join(f"<section id='{sid}'><h2>{escape(name)}</h2>{html}</section>" for sid, name, html in sections)
    title = f"Comparison of {len(runs)} runs: " + ", ".join(labels)
    main = f"<header><h1>{escape(title)}</h1><ul class='meta'>{listing}</ul></header><nav>{nav}</nav>{body}{footer()}"
    return atomic_write_text(Path(out), page(title, main, wide=len(runs) > 3))
