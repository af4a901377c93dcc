"""The study's pictures: objective against each searched key, and every run's objective history.

objective_vs_params.png: one panel per key; the trial means with the repeats' standard deviation
as error bars (log x for log-scaled keys; categories are evenly spaced and labelled).
history.png: the objective over training steps for every repeat of every completed trial, one
colour per trial (the study's "history" plot of all executions).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

from latentscape.tune.space import Dimension
from latentscape.viz.figure import few_steps_ticks, new_figure, save_figure, wants_log


def plot_objective_vs_params(rows: list[dict[str, Any]], dims: list[Dimension], objective: str, path: Path) -> Path | None:
    done = [r for r in rows if r["mean"] is not None]
    if not done:
        return None
    fig = new_figure(max(6.0, 4.2 * len(dims)), 4.0)
    axes = fig.subplots(1, len(dims), squeeze=False)[0]
    for ax, d in zip(axes, dims):
        xs = [r["params"].get(d.key) for r in done]
        numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs)
        if numeric:
            pos = np.asarray(xs, dtype=float)
        else:
            labels = sorted({str(x) for x in xs})
            pos = np.asarray([labels.index(str(x)) for x in xs], dtype=float)
            ax.set_xticks(range(len(labels)), labels)
        ys = np.asarray([r["mean"] for r in done], dtype=float)
        err = np.asarray([r["std"] or 0.0 for r in done], dtype=float)
        order = np.argsort(pos)
        ax.errorbar(pos[order], ys[order], yerr=err[order], fmt="o", capsize=4,
                    linestyle="-" if (numeric and len(dims) == 1) else "none")
        if numeric and (d.log_scale or spans_decades(pos)):
            ax.set_xscale("log")  # e.g. a grid of learning rates 1e-3, 3e-3, 1e-2
        if numeric and d.kind == "grid" and len(set(xs)) <= 8:  # tick the searched values, written short
            ticks = sorted(set(float(x) for x in xs))
            ax.set_xticks(ticks, [short_value(t) for t in ticks])
            ax.minorticks_off()
        ax.set(xlabel=d.key, ylabel=f"{objective} (mean \u00b1 std)")
        ax.grid(True, alpha=0.3)
    return save_figure(fig, path)


def spans_decades(values: np.ndarray) -> bool:
    """Searched values that are all positive and span a factor of 10 or more: drawn on a log axis
    (evenly spaced on it, as such grids are chosen), not bunched at one end of a linear one."""
    return bool(values.size > 1 and values.min() > 0 and values.max() / values.min() >= 10)


def plot_histories(rows: list[dict[str, Any]], keys: list[str], objective: str, path: Path) -> Path | None:
    done = [r for r in rows if r["mean"] is not None]
    histories = [h for r in done for h in (r.get("histories") or [])]
    if not any(histories):
        return None
    fig = new_figure(7.0, 4.6)
    ax = fig.add_subplot()
    cmap = matplotlib.colormaps["viridis"]
    for i, r in enumerate(sorted(done, key=lambda r: _order(r, keys))):  # colours follow the values
        colour = cmap(0.85 * i / max(1, len(done) - 1))  # viridis without its pale yellow end, unreadable on white
        label = f"#{r['trial']} " + " ".join(f"{k.split('.')[-1]}={short_value(r['params'].get(k))}" for k in keys)
        for j, h in enumerate(r.get("histories") or []):
            if h:
                steps, vals = zip(*h)
                # markers: a trial evaluated once is one point, which a line alone does not draw
                ax.plot(steps, vals, color=colour, alpha=0.85, label=label if j == 0 else None,
                        marker="o" if len(steps) <= 30 else None, markersize=6, markerfacecolor="none", markeredgewidth=1.5)
    few_steps_ticks(ax, [s for h in histories for s, _ in h])
    if wants_log([np.asarray([v for h in histories for _, v in h], dtype=float)]):
        ax.set_yscale("log")
    ax.set(xlabel="training step", ylabel=objective, title=f"{objective} of every trial (all repeats)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, path)


def short_value(value: Any) -> str:
    """A searched value as a legend shows it: 3 significant digits in the shorter of plain and
    scientific notation (0.00030000000000000003 -> "3e-4", 0.01 -> "0.01", 128 -> "128")."""
    if not isinstance(value, float) or not math.isfinite(value):
        return str(value)
    plain = f"{value:.3g}"
    mantissa, exp = f"{value:.2e}".split("e")
    scientific = f"{mantissa.rstrip('0').rstrip('.')}e{int(exp)}"
    return scientific if len(scientific) < len(plain) else plain


def _order(row: dict[str, Any], keys: list[str]) -> list[tuple[int, Any]]:
    values = [row["params"].get(k) for k in keys]
    return [(0, v) if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, str(v)) for v in values]
