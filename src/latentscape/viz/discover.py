"""What a folder holds: runs and analysis outputs recognised by the files they write.

The index page, the compare page and the per-folder report all start here. Recognised, in order:

- `eval/demo.json`              `latentscape demo` (line vs trained curve)         kind "demo"
- `path.json`                   `latentscape path` (metrics along a line / curve)   kind "path"
- `plane.json`                  `latentscape plane` (metric grid on a plane)        kind "plane"
- `config.yaml` + model curve   `latentscape connect` (a trained curve run)         kind "connect"
- `config.yaml`                 a training run (metrics.jsonl, eval/*.json)         kind "run"
- `eval/fge.json` inside a run  `latentscape fge`                                   kind "fge"
- `summary.json` (or result.json, results.json, study.json) anywhere: any other analysis (tune
  study, probe, surfaces, hessian, fge, ...; its `kind` wins over a config.yaml the analysis
  copied from its source run). The convention (docs/ARCHITECTURE.md, "Reports"): a JSON object
  with optional `kind`, `title`, `finding` (one sentence), `model`, `dataset`, `metrics` (flat
  name -> number) and `report` (a page relative to the folder). Top-level numbers are used when
  `metrics` is missing. A new analysis shows up in the index without any code change here.

Nothing here raises on a hostile file: an unreadable JSON or YAML is treated as absent.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from latentscape.viz.findings import as_number, demo_finding, fge_finding, path_finding, pick, plane_finding, plane_range, short
from latentscape.viz.metrics_log import final_metrics, read_metrics

SUMMARY_NAMES = ("summary.json", "result.json", "results.json", "study.json")
SKIP_DIRS = {"images", "checkpoints", "tb", "eval", "__pycache__", ".git", "node_modules"}
WATCHED = ("config.yaml", "metrics.jsonl", "path.json", "plane.json", *SUMMARY_NAMES)
MAX_METRICS = 6


@dataclass
class Entry:
    """One row of the index: a run or an analysis output folder."""

    folder: Path
    kind: str
    name: str
    title: str
    model: str = ""
    dataset: str = ""
    finding: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    page: str = "report.html"  # relative to `folder`; "" when there is nothing to link
    anchor: str = ""
    updated: float = 0.0


def read_json(path: Path) -> Any:
    """Parsed JSON of `path`, or None when missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
        return None


def read_config(folder: Path) -> dict[str, Any] | None:
    """`folder/config.yaml` as a dict, or None."""
    try:
        config = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8", errors="replace"))
    except (OSError, yaml.YAMLError, RecursionError):
        return None
    return config if isinstance(config, dict) else None


def _section(config: dict | None, key: str) -> dict:
    value = (config or {}).get(key)
    return value if isinstance(value, dict) else {}


def model_and_dataset(folder: Path, config: dict | None) -> tuple[str, str]:
    """Model and dataset names; a curve run reports the model of its start run."""
    model = _section(config, "model")
    name = str(model.get("name", ""))
    if name == "curve" and isinstance(model.get("start"), str):
        start = read_config(Path(model["start"].split("@")[0]))
        name = str(_section(start, "model").get("name", "curve")) if start else "curve"
    return name, str(_section(config, "data").get("name", ""))


def run_metrics(folder: Path) -> tuple[dict[str, float], int | None]:
    """Key metrics of a training run (last logged loss per split first, then eval/*.json) and its last step."""
    records = read_metrics(folder)
    finals = final_metrics(records)
    out: dict[str, float] = {}
    splits = [sp for sp in ("test", "val", "train") if sp in finals] + [sp for sp in finals if sp not in ("test", "val", "train")]
    for split in splits:  # the loss of every split first
        if "loss" in finals[split]:
            out[f"{split} loss"] = finals[split]["loss"]
    if splits:  # then the other metrics of the first split, unless they repeat the loss (recon == loss)
        first = finals[splits[0]]
        for name, value in first.items():
            if name != "loss" and value != first.get("loss") and len(out) < MAX_METRICS:
                out[f"{splits[0]} {name}"] = value
    steps = [r["step"] for r in records if isinstance(r.get("step"), int)]
    for path in sorted((folder / "eval").glob("*.json")) if (folder / "eval").is_dir() else []:
        doc = read_json(path)
        if isinstance(doc, dict) and isinstance(doc.get("metrics"), dict):
            split = str(_section(doc, "protocol").get("split", path.stem))
            for name, value in doc["metrics"].items():
                if as_number(value) is not None and len(out) < MAX_METRICS + 2:
                    out[f"{split} {name} (eval)"] = float(value)
    return out, (max(steps) if steps else None)


def _mtime(folder: Path) -> float:
    files = [folder / n for n in WATCHED] + (sorted((folder / "eval").glob("*.json")) if (folder / "eval").is_dir() else [])
    times = []
    for path in files:
        try:
            times.append(path.stat().st_mtime)
        except OSError:  # absent, or removed while we look
            continue
    return max(times, default=0.0)


def describe(folder: Path) -> list[Entry]:
    """The entries of one folder ([] when it holds nothing recognisable)."""
    folder = Path(folder)
    config = read_config(folder) if (folder / "config.yaml").is_file() else None
    model, dataset = model_and_dataset(folder, config)
    name = str((config or {}).get("name") or folder.name)
    base = dict(folder=folder, model=model, dataset=dataset, updated=_mtime(folder))
    entries: list[Entry] = []
    demo = read_json(folder / "eval" / "demo.json")
    path_doc, plane_doc = read_json(folder / "path.json"), read_json(folder / "plane.json")
    curve = _section(config, "model")
    if isinstance(path_doc, dict) and path_doc.get("start") == "start" and curve.get("name") == "curve":
        path_doc.update(start=curve.get("start"), end=curve.get("end"))  # a curve path: name the curve's ends
    if isinstance(demo, dict) and isinstance(demo.get("line"), dict):
        line, crv = demo.get("line", {}), demo.get("curve", {})
        metrics = {}
        for k, d in (("line", line), ("curve", crv)):
            for sp in ("test", "train"):
                if as_number((d.get(sp) or {}).get("barrier")) is not None:
                    metrics[f"{k} {sp} barrier"] = float(d[sp]["barrier"])
        title = f"Mode connectivity demo: straight line vs trained {curve_label(curve)} between two autoencoders ({model or '?'}) on {dataset or '?'}"
        entries.append(Entry(kind="demo", name=folder.name, title=title, finding=demo_finding(demo, curve_label(curve)), metrics=metrics, **base))
    elif isinstance(path_doc, dict) and isinstance(path_doc.get("summary"), dict):
        kind = "straight line" if path_doc.get("kind") == "line" else str(path_doc.get("description") or "curve")
        title = f"Loss along the {kind} from {short(path_doc.get('start'))} to {short(path_doc.get('end'))}"
        metrics = {}
        for sp, ms in path_doc["summary"].items():
            m = pick(ms, ("loss",)) if isinstance(ms, dict) else None
            if m and isinstance(ms[m], dict) and as_number(ms[m].get("barrier")) is not None:
                metrics[f"{sp} {m} barrier"] = float(ms[m]["barrier"])
        entries.append(Entry(kind="path", name=folder.name, title=title, finding=path_finding(path_doc), metrics=metrics, **base))
    elif isinstance(plane_doc, dict) and isinstance(plane_doc.get("values"), dict):
        names = ", ".join(short(n) for n in (plane_doc.get("points") or {}))
        found = plane_range(plane_doc)
        metrics = {f"{found[0]} {found[1]} min": found[2], f"{found[0]} {found[1]} max": found[3]} if found else {}
        entries.append(Entry(kind="plane", name=folder.name, title=f"Loss plane through {names}", finding=plane_finding(plane_doc), metrics=metrics, **base))
    elif config is not None and _analysis_summary(folder) is not None:  # an analysis folder with its source run's config
        entries.append(summary_entry(folder, _analysis_summary(folder), "summary.json"))
    elif config is not None:
        metrics, step = run_metrics(folder)
        if curve.get("name") == "curve":
            title = f"Trained {curve_label(curve)} between {short(curve.get('start'))} and {short(curve.get('end'))}"
            finding = f"{title}. Measure its barrier with `latentscape path --curve {folder}`."
            entries.append(Entry(kind="connect", name=name, title=title, finding=finding, metrics=metrics, **base))
        else:
            steps = f" for {step} steps" if step is not None else ""
            title = f"{name}: {model or 'model'} on {dataset or 'data'}"
            lead = next(iter(metrics.items()), None)
            finding = f"Trained{steps}" + (f"; last {lead[0]} {lead[1]:.4g}." if lead else "; no metrics logged yet.")
            entries.append(Entry(kind="run", name=name, title=title, finding=finding, metrics=metrics, **base))
        fge = read_json(folder / "eval" / "fge.json")
        if isinstance(fge, dict) and isinstance(fge.get("ensemble"), dict):
            metrics = {f"fge {k} accuracy": float(fge[k]["accuracy"]) for k in ("original", "ensemble") if as_number((fge.get(k) or {}).get("accuracy")) is not None}
            entries.append(Entry(kind="fge", name=f"{name} (fge)", title=f"Fast geometric ensembling from {name}", finding=fge_finding(fge), metrics=metrics, anchor="fge", **base))
    for summary_name in SUMMARY_NAMES:
        doc = read_json(folder / summary_name)
        if isinstance(doc, dict) and not entries:
            entries.append(summary_entry(folder, doc, summary_name))
            break
    return entries


def _analysis_summary(folder: Path) -> dict | None:
    """The summary.json of an analysis folder (one with a "kind", and no checkpoints of its own)."""
    doc = read_json(folder / "summary.json")
    if isinstance(doc, dict) and isinstance(doc.get("kind"), str) and not (folder / "checkpoints").is_dir():
        return doc
    return None


def curve_label(model_section: dict) -> str:
    """"trained Bezier curve (1 bend)" from a curve run's model config."""
    kind = {"bezier": "Bezier", "polychain": "PolyChain"}.get(str(model_section.get("kind", "")), "")
    bends = model_section.get("bends")
    if not kind:
        return "trained curve"
    return f"{kind} curve ({bends} bend{'s' if bends != 1 else ''})" if isinstance(bends, int) else f"{kind} curve"


def summary_entry(folder: Path, doc: dict, file_name: str) -> Entry:
    """An Entry from a generic analysis summary JSON (see the module docstring)."""
    metrics_doc = doc.get("metrics") if isinstance(doc.get("metrics"), dict) else doc
    metrics = {str(k): float(v) for k, v in metrics_doc.items() if as_number(v) is not None}
    metrics = dict(list(metrics.items())[: MAX_METRICS + 2])
    kind = str(doc.get("kind") or folder.name.split("-")[0] or "analysis")
    report = doc.get("report")
    inside = isinstance(report, str) and not Path(report).is_absolute() and ".." not in Path(report).parts
    page = report if inside and (folder / report).is_file() else "report.html"  # never a link out of the folder
    return Entry(
        folder=folder, kind=kind, name=folder.name, title=str(doc.get("title") or f"{kind}: {folder.name}"),
        model=str(doc.get("model") or ""), dataset=str(doc.get("dataset") or ""), finding=str(doc.get("finding") or ""),
        metrics=metrics, page=page, updated=(folder / file_name).stat().st_mtime,
    )


def discover(root: str | Path, max_depth: int = 6) -> list[Entry]:
    """Every recognised folder under `root` (itself included), sorted by path.

    Run internals (images/, checkpoints/, tb/, eval/) and hidden folders are not searched; a folder
    that is a run is still searched below (the demo keeps its runs in sub-folders).
    """
    root = Path(root)
    found: list[Entry] = []
    for current, dirs, _ in os.walk(root, followlinks=False):
        here = Path(current)
        depth = len(here.relative_to(root).parts)
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")) if depth < max_depth else []
        try:
            found.extend(describe(here))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:  # a JSON of an unexpected shape
            page = "report.html" if (here / "config.yaml").is_file() else ""
            found.append(Entry(folder=here, kind="unreadable", name=here.name, title=here.name, page=page, finding=f"could not read this folder's results: {exc}"))
    return found


def fingerprint(root: str | Path) -> tuple:
    """A cheap signature of everything the index shows (changes when a run logs or finishes)."""
    sig = []
    for current, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in ("images", "checkpoints", "tb") and not d.startswith(".")]
        for name in files:
            if name in WATCHED or (Path(current).name == "eval" and name.endswith(".json")):
                try:
                    st = os.stat(os.path.join(current, name))
                except OSError:
                    continue
                sig.append((current, name, st.st_mtime_ns, st.st_size))
    return tuple(sorted(sig))
