"""What a study leaves in its folder (all written atomically, rewritten after every trial):

summary.json / summary.md (one row per trial: params, mean, std, per-repeat values, run dirs,
state, error), the best config as best_config.yaml (loadable by `latentscape train`), and the
pictures objective_vs_params.png and history.png (tune/plots.py).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from latentscape.config import config_from_dict, dump_config
from latentscape.io import atomic_write_text, write_json
from latentscape.tune.space import apply_params


def trial_rows(study: optuna.Study) -> list[dict[str, Any]]:
    """One row per trial that ran (duplicates skipped without training and attempts refused by a
    run lock are left out), best first."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        if t.state == TrialState.PRUNED and "skipped" in t.user_attrs:
            continue
        if t.state == TrialState.WAITING or (t.state == TrialState.FAIL and "refused" in t.user_attrs):
            continue  # not run yet, or refused by another writer of its folder (re-queued)
        rows.append(
            {
                "trial": t.number,
                "state": t.state.name,
                "params": dict(t.params),
                "mean": t.value if t.state == TrialState.COMPLETE else None,
                "std": t.user_attrs.get("std"),
                "values": t.user_attrs.get("values", []),
                "seeds": t.user_attrs.get("seeds", []),
                "run_dirs": t.user_attrs.get("run_dirs", []),
                "histories": t.user_attrs.get("histories", []),
                "error": t.user_attrs.get("error"),
                "retry_of": t.system_attrs.get("failed_trial"),
                "worker": t.user_attrs.get("worker"),
            }
        )
    sign = -1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1.0
    return sorted(rows, key=lambda r: (r["mean"] is None, sign * (r["mean"] or 0.0), r["trial"]))


def best_row(study: optuna.Study) -> dict[str, Any] | None:
    done = [r for r in trial_rows(study) if r["mean"] is not None]
    return done[0] if done else None


def markdown_table(rows: list[dict[str, Any]], keys: list[str], objective: str) -> str:
    """A GitHub-markdown table: trial, state, each key, mean +- std, per-repeat values."""
    head = ["trial", "state", *keys, f"{objective} mean", "std", "repeats"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        values = ", ".join(f"{v:.4g}" for v in r["values"])
        cells = [
            str(r["trial"]),
            r["state"] + (f" ({r['error']})" if r["error"] else ""),
            *(_fmt(r["params"].get(k)) for k in keys),
            _fmt(r["mean"]),
            _fmt(r["std"]),
            values,
        ]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def write_summary(study: optuna.Study, spec, storage_shown: str) -> dict[str, Any]:
    """Write summary.json, summary.md and best_config.yaml into the study folder."""
    rows = trial_rows(study)
    keys = [d.key for d in spec.dims]
    best = best_row(study)
    states = [r["state"] for r in rows]
    summary = {
        "study": spec.study_name,
        "storage": storage_shown,
        "objective": spec.objective.name,
        "direction": spec.objective.direction,
        "repeats": spec.repeats,
        "search": [d.describe() for d in spec.dims],
        "counts": summary_counts(states),
        "best": best,
        "trials": rows,
        **index_fields(spec, best, summary_counts(states)),
    }
    out = Path(spec.study_dir)
    write_json(out / "summary.json", summary)  # strict JSON: a NaN in a history becomes null
    md = [
        f"# Study {spec.study_name}: {spec.objective.direction} {spec.objective.name}\n",
        f"Search: {'; '.join(summary['search'])}; {spec.repeats} repeat(s) per trial (seeds base, base+1, ...).\n",
        markdown_table(rows, keys, spec.objective.name),
    ]
    if best is not None:
        md.append(f"\nBest: trial {best['trial']}, {spec.objective.name} = {best['mean']:.6g}; config in best_config.yaml.\n")
        raw = apply_params(spec.base, spec.dims, best["params"])
        atomic_write_text(out / "best_config.yaml", dump_config(config_from_dict(raw)))
    atomic_write_text(out / "summary.md", "".join(md))
    return summary


def summary_counts(states: list[str]) -> dict[str, int]:
    return {s: states.count(s) for s in sorted(set(states))}


def index_fields(spec, best: dict[str, Any] | None, counts: dict[str, int]) -> dict[str, Any]:
    """The fields every analysis summary.json carries for `latentscape report`'s index
    (docs/ARCHITECTURE.md, "Reports"): kind, title, finding, model, dataset and flat metrics."""
    objective, keys = spec.objective.name, [d.key for d in spec.dims]
    base = spec.base if isinstance(spec.base, dict) else {}
    model = str((base.get("model") or {}).get("name", "")) if isinstance(base.get("model"), dict) else ""
    dataset = str((base.get("data") or {}).get("name", "")) if isinstance(base.get("data"), dict) else ""
    done = counts.get("COMPLETE", 0)
    metrics: dict[str, Any] = {}
    if best is not None:
        setting = ", ".join(f"{k} = {_fmt(best['params'].get(k))}" for k in keys)
        finding = (f"Best of {done} completed trial{'s' if done != 1 else ''}: {setting} gives {objective} "
                   f"{_fmt(best['mean'])} (mean of {len(best['values'])} repeat{'s' if len(best['values']) != 1 else ''}).")
        metrics[f"best {objective}"] = best["mean"]
        if best.get("std") is not None:
            metrics["std"] = best["std"]
        for k in keys[:4]:
            value = best["params"].get(k)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                metrics[f"best {k.split('.')[-1]}"] = value
    else:
        finding = f"No trial has completed yet ({sum(counts.values())} recorded)."
    metrics["trials"] = done
    if counts.get("FAIL"):
        metrics["failed"] = counts["FAIL"]
    return {
        "kind": "tune",
        "title": f"{spec.objective.direction.capitalize()} {objective} over {', '.join(keys)}",
        "finding": finding,
        "model": model,
        "dataset": dataset,
        "metrics": metrics,
    }


def terminal_table(summary: dict[str, Any], keys: list[str]) -> str:
    """Aligned plain-text table of the summary (best first)."""
    head = ["trial", "state", *keys, "mean", "std", "values"]
    body = [
        [str(r["trial"]), r["state"], *(_fmt(r["params"].get(k)) for k in keys), _fmt(r["mean"]), _fmt(r["std"]),
         " ".join(f"{v:.4g}" for v in r["values"])]
        for r in summary["trials"]
    ]
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [head, *body])


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else str(v)
    return str(v)


def write_outputs(study: optuna.Study, spec, storage_shown: str) -> str:
    """Write every output of the study folder; return the terminal report (table and paths)."""
    from latentscape.tune.plots import plot_histories, plot_objective_vs_params

    summary = write_summary(study, spec, storage_shown)
    keys = [d.key for d in spec.dims]
    out = Path(spec.study_dir)
    pictures = [
        plot_objective_vs_params(summary["trials"], list(spec.dims), spec.objective.name, out / "objective_vs_params.png"),
        plot_histories(summary["trials"], keys, spec.objective.name, out / "history.png"),
    ]
    lines = [terminal_table(summary, keys), ""]
    if summary["best"] is not None:
        b = summary["best"]
        lines.append(f"best: trial {b['trial']} {spec.objective.name}={b['mean']:.6g} -> {out / 'best_config.yaml'}")
    lines.append(f"summary: {out / 'summary.md'} {out / 'summary.json'}")
    lines += [f"picture: {p}" for p in pictures if p is not None]
    return "\n".join(lines)
