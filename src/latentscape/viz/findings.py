"""One-sentence findings of the analyses, from the JSON they write (used by the index and pages).

Each function takes the parsed JSON of one analysis (eval/demo.json, path.json, plane.json,
eval/fge.json) and returns plain text (escaped by the page that shows it), or "" when the
document lacks what the sentence needs.
"""

from __future__ import annotations

import math
from typing import Any


def as_number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def short(spec: Any) -> str:
    """Last component of a run path or weight reference (`runs/a@init` -> `a@init`)."""
    text = str(spec or "?").rstrip("/")
    return text.rsplit("/", 1)[-1] or text


def pick(summary: dict, prefer: tuple[str, ...]) -> str | None:
    """The first key of `prefer` present in `summary`, else its first key."""
    for key in prefer:
        if key in summary:
            return key
    return next(iter(summary), None)


CURVE_KINDS = {"bezier": "Bezier", "polychain": "PolyChain"}


def curve_name(kind: Any, bends: Any) -> str:
    """"PolyChain curve (1 bend)", "Bezier curve (3 bends)"; "curve" when the kind is unknown."""
    name = CURVE_KINDS.get(str(kind))
    if name is None:
        return "curve"
    return f"{name} curve ({bends} bend{'s' if bends != 1 else ''})" if isinstance(bends, int) else f"{name} curve"


def pct_above(barrier: float, start: float, end: float) -> str:
    top = max(start, end)
    if top <= 0 or barrier == 0:  # "a barrier of 0 (0%)" says nothing twice
        return ""
    pct = 100.0 * barrier / top
    return f" ({pct:.0f}% above the higher endpoint)" if abs(pct) >= 1 else f" ({pct:.2g}%)"


def demo_finding(summary: dict, curve_label: str = "trained Bezier curve") -> str:
    """One sentence: the line's barrier and what the curve makes of it."""
    line, curve = summary.get("line", {}), summary.get("curve", {})
    split = pick(line, ("test", "val", "train"))
    if split is None or split not in curve:
        return ""
    lv, cv = line[split], curve[split]
    text = (
        f"The straight line between the two autoencoders has a {split} loss barrier of "
        f"{lv['barrier']:.3g}{pct_above(lv['barrier'], lv['start'], lv['end'])}; "
    )
    if cv["barrier"] < lv["barrier"]:
        return text + f"the {curve_label} lowers it to {cv['barrier']:.2g}{pct_above(cv['barrier'], cv['start'], cv['end'])}."
    return text + f"the {curve_label} does not lower it ({cv['barrier']:.3g})."


def path_finding(doc: dict) -> str:
    """One sentence on the worst point of a path (prefers test loss)."""
    summary = doc.get("summary") or {}
    split = pick(summary, ("test", "val", "train"))
    if split is None:
        return ""
    metric = pick(summary[split], ("loss",))
    s = summary[split].get(metric) if metric else None
    if not isinstance(s, dict) or as_number(s.get("barrier")) is None:
        return ""
    what = "straight line" if doc.get("kind") == "line" else str(doc.get("description") or "curve")
    where = f"Along the {what} from {short(doc.get('start'))} to {short(doc.get('end'))}"
    if s["barrier"] <= 0:
        return f"{where}, the {split} {metric} never rises above its endpoints (barrier {s['barrier']:.3g})."
    ts, values = doc.get("ts") or [], (doc.get("metrics") or {}).get(split, {}).get(metric) or []
    at = ""
    if len(ts) == len(values) and values:
        finite = [(v, t) for v, t in zip(values, ts) if as_number(v) is not None]
        at = f" at t = {max(finite)[1]:.2f}" if finite else ""
    return (
        f"{where}, the {split} {metric} rises to {s['max']:.3g}{at}: a barrier of "
        f"{s['barrier']:.3g}{pct_above(s['barrier'], s['start'], s['end'])}."
    )


def plane_range(doc: dict) -> tuple[str, str, float, float] | None:
    """(split, metric, min, max) of the plane grid, preferring test loss."""
    values = doc.get("values") or {}
    split = pick(values, ("test", "val", "train"))
    metric = pick(values.get(split) or {}, ("loss",)) if split else None
    if not metric:
        return None
    flat = [v for row in values[split][metric] for v in (row or []) if as_number(v) is not None]
    return (split, metric, min(flat), max(flat)) if flat else None


def plane_finding(doc: dict) -> str:
    """The curve-versus-line comparison the plane is drawn for (plane.json's "paths"), else the
    grid's range."""
    paths = doc.get("paths") or {}
    line, curve = paths.get("line") or {}, paths.get("curve") or {}
    ls, cs = line.get("summary") or {}, curve.get("summary") or {}
    split = pick(ls, ("test", "val", "train")) if ls else None
    metric = pick(ls.get(split) or {}, ("loss",)) if split else None
    names = ", ".join(short(n) for n in (doc.get("points") or {}))
    if split and metric and isinstance((cs.get(split) or {}).get(metric), dict):
        lv, cv = ls[split][metric], cs[split][metric]
        if as_number(lv.get("barrier")) is not None and as_number(cv.get("barrier")) is not None:
            text = (f"On the plane through {names}, the {split} {metric} barrier of the {line.get('label', 'straight line')} "
                    f"is {lv['barrier']:.3g} (max {lv['max']:.3g}); ")
            if cv["barrier"] < lv["barrier"]:
                return text + f"the {curve.get('label', 'curve')} lowers it to {cv['barrier']:.3g} (max {cv['max']:.3g})."
            return text + f"the {curve.get('label', 'curve')} does not lower it ({cv['barrier']:.3g}, max {cv['max']:.3g})."
    found = plane_range(doc)
    if not found:
        return ""
    split, metric, lo, hi = found
    grid = f"{len(doc.get('grid_x') or [])} x {len(doc.get('grid_y') or [])} grid"
    return f"On the plane through {names} ({grid}), the {split} {metric} ranges from {lo:.3g} to {hi:.3g}."


def fge_finding(doc: dict) -> str:
    """Ensemble against the original model and against its own best snapshot (accuracies as
    fractions, like every other page): an ensemble that a single snapshot beats is said to be."""
    try:
        ens, orig = doc["ensemble"], doc["original"]
        snapshots = [s for s in doc.get("snapshots") or [] if as_number((s or {}).get("accuracy")) is not None]
        text = (
            f"An ensemble of {len(snapshots)} FGE snapshots reaches a test accuracy of {ens['accuracy']:.4f} (NLL "
            f"{ens['nll']:.3g}), against {orig['accuracy']:.4f} (NLL {orig['nll']:.3g}) for the original model"
        )
        best = max(snapshots, key=lambda s: s["accuracy"], default=None)
        if best is not None and best["accuracy"] > ens["accuracy"]:
            k = snapshots.index(best) + 1
            but = ("so the ensemble adds nothing here" if best["nll"] <= ens["nll"]
                   else "though the ensemble's NLL is lower")
            return text + f"; snapshot {k} alone is more accurate ({best['accuracy']:.4f}, NLL {best['nll']:.3g}), {but}."
        return text + "."
    except (KeyError, TypeError, ValueError):
        return ""
