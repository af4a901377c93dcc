"""Reading `run_dir/metrics.jsonl` and plotting one curve picture per metric.

Each line is a JSON object {"step": int, "epoch": int, "split": str, <name>: number, ...}.
A crash can leave a torn last line, and a diverged run can log NaN: both are skipped, not fatal.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from latentscape.viz.figure import draw_series, few_steps_ticks, new_figure, save_figure, wants_log

RESERVED_KEYS = ("step", "epoch", "split")
CURVE_PREFIX = "curves_"


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """Records of a metrics.jsonl file (or of `path/metrics.jsonl` for a run folder).

    Lines that are empty, not JSON, or not JSON objects are skipped. A missing file gives [].
    """
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.jsonl"
    if not path.is_file():
        return []
    records = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, RecursionError):
                continue
            if isinstance(record, dict):
                records.append(record)
    return records


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def metric_series(records: list[dict[str, Any]]) -> dict[str, dict[str, tuple[list[float], list[float]]]]:
    """Group records as metric -> split -> (xs, ys), x being `step` (else `epoch`, else line number).

    Non-numeric and non-finite values are left out. Metrics and splits keep first-seen order.
    """
    out: dict[str, dict[str, tuple[list[float], list[float]]]] = defaultdict(dict)
    for i, record in enumerate(records):
        split = str(record.get("split", "train"))
        x = record.get("step", record.get("epoch", i))
        if not _is_number(x):
            x = i
        for name, value in record.items():
            if name in RESERVED_KEYS or not _is_number(value) or not math.isfinite(value):
                continue
            xs, ys = out[name].setdefault(split, ([], []))
            xs.append(float(x))
            ys.append(float(value))
    for by_split in out.values():  # a resumed run may log steps out of order: sort by x
        for split, (xs, ys) in list(by_split.items()):
            order = sorted(range(len(xs)), key=xs.__getitem__)
            by_split[split] = ([xs[i] for i in order], [ys[i] for i in order])
    return dict(out)


def final_metrics(records: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """The last logged value of every metric, per split: split -> metric -> value.

    NaN/inf are kept here (a diverged run's last loss is worth showing).
    """
    out: dict[str, dict[str, float]] = {}
    for record in records:
        split = str(record.get("split", "train"))
        for name, value in record.items():
            if name not in RESERVED_KEYS and _is_number(value):
                out.setdefault(split, {})[name] = float(value)
    return out


WINDOW_NOTE = (
    "Last logged row of each split. train: the mean over the training batches of the last logging "
    "window (the steps in the 'averaged over steps' row), measured while the weights were still "
    "changing: not the loss of the final weights. Every other split (test, val, train_eval): the "
    "weights at that step evaluated on the split."
)


def last_steps(records: list[dict[str, Any]]) -> dict[str, int]:
    """The step at which each split was last logged: split -> step."""
    out: dict[str, int] = {}
    for record in records:
        step = record.get("step")
        if isinstance(step, int) and not isinstance(step, bool):
            out[str(record.get("split", "train"))] = step
    return out


def train_window(records: list[dict[str, Any]]) -> str | None:
    """The steps the last `train` row averages over, as "first-last" (the trainer logs the mean
    of the batches since its previous train row), or None without train rows."""
    steps = [r["step"] for r in records if str(r.get("split", "train")) == "train" and isinstance(r.get("step"), int)]
    if not steps:
        return None
    before = [s for s in steps if s < steps[-1]]
    first = (max(before) if before else 0) + 1
    return f"{first}-{steps[-1]}" if first < steps[-1] else str(steps[-1])


def curve_file_name(metric: str) -> str:
    """`curves_<metric>.png` with characters unsafe in file names replaced by '_'."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", metric).strip("._") or "metric"
    return f"{CURVE_PREFIX}{safe}.png"


def plot_metrics_jsonl(run_dir: str | Path) -> list[Path]:
    """Write `run_dir/images/curves_<metric>.png` for each metric in metrics.jsonl.

    Each picture has one series per split (train, val, test) against the step; the y axis is
    logarithmic when the values are positive and span more than two decades. A picture newer
    than metrics.jsonl is kept as it is (the end of a run and its report both ask for them).

    Args:
        run_dir: a run folder.

    Returns:
        The paths written, in first-logged order of the metrics ([] when nothing is logged yet).
    """
    run_dir = Path(run_dir)
    series = metric_series(read_metrics(run_dir))
    log = run_dir / "metrics.jsonl"
    logged_at = log.stat().st_mtime_ns if log.is_file() else 0
    written = []
    for metric, by_split in series.items():
        target = run_dir / "images" / curve_file_name(metric)
        if target.is_file() and target.stat().st_mtime_ns > logged_at:
            written.append(target)
            continue
        fig = new_figure(width=6.0, height=3.8)
        ax = fig.add_subplot()
        arrays = [np.asarray(ys) for _, ys in by_split.values()]
        for split, (xs, ys) in by_split.items():
            draw_series(ax, xs, ys, label=split, split=split)
        few_steps_ticks(ax, [x for xs, _ in by_split.values() for x in xs])
        if wants_log(arrays):
            ax.set_yscale("log")
        ax.set(xlabel="training step", ylabel=metric, title=f"{metric} per split")
        ax.grid(True, alpha=0.3)
        ax.legend()
        written.append(save_figure(fig, run_dir / "images" / curve_file_name(metric)))
    return written
