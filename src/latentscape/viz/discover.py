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

A folder whose `summary.json` names its `kind` is that analysis, whatever else it holds (an
analysis folder keeps a copy of its run's config.yaml). A file that is present but cannot be read
(not UTF-8, not JSON/YAML, an unexpected shape, text that is not valid Unicode, larger than
`MAX_JSON_BYTES`) makes `discover` skip that folder with a one-line reason (`Skipped`), so one bad
file never stops an index; long text is cut to `MAX_TEXT` characters with a note.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from latentscape.viz.findings import as_number, curve_name, demo_finding, fge_finding, path_finding, pick, plane_finding, plane_range, short
from latentscape.viz.metrics_log import final_metrics, read_metrics
from latentscape.viz.result_files import UnreadableResult, encodable, load_config, load_json, printable, read_config, read_json

SUMMARY_NAMES = ("summary.json", "result.json", "results.json", "study.json")
SKIP_DIRS = {"images", "checkpoints", "tb", "eval", "__pycache__", ".git", "node_modules"}
WATCHED = ("config.yaml", "metrics.jsonl", "path.json", "plane.json", *SUMMARY_NAMES)
MAX_METRICS = 6
MAX_TEXT = {"title": 240, "finding": 600, "name": 120, "model": 80, "dataset": 80, "kind": 40}
MAX_METRIC_NAME = 60
LARGE_SUMMARY_BYTES = 1024 * 1024  # a summary this large is noted as such (its page shows a part)


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
    note: str = ""  # e.g. "long text shortened (summary.json is 53 MB)"


@dataclass(frozen=True)
class Skipped:
    """A folder left out of the index, and why (one line)."""

    folder: Path
    reason: str

    def line(self, root: Path) -> str:
        try:
            where = self.folder.relative_to(root).as_posix() or "."
        except ValueError:
            where = str(self.folder)
        return printable(f"skipped {where}: {self.reason}")


@dataclass
class Discovery:
    """What `discover` found: the entries, and the folders it had to skip."""

    entries: list[Entry]
    skipped: list[Skipped] = field(default_factory=list)


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


WINDOW = " (window mean)"  # a train-split value: the mean of the last logging window, not the final weights


def run_metrics(folder: Path) -> tuple[dict[str, float], int | None]:
    """Key metrics of a training run (last logged loss per split first, then eval/*.json) and its last step."""
    records = read_metrics(folder)
    finals = final_metrics(records)
    out: dict[str, float] = {}
    order = ("test", "val", "train_eval", "train")
    splits = [sp for sp in order if sp in finals] + [sp for sp in finals if sp not in order]
    for split in splits:  # the loss of every split first
        if "loss" in finals[split]:
            out[f"{split} loss{WINDOW if split == 'train' else ''}"] = finals[split]["loss"]
    if splits:  # then the other metrics of the first split, unless they repeat the loss (recon == loss)
        first = finals[splits[0]]
        for name, value in first.items():
            if name != "loss" and value != first.get("loss") and len(out) < MAX_METRICS:
                out[f"{splits[0]} {name}{WINDOW if splits[0] == 'train' else ''}"] = value
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
    """The entries of one folder ([] when it holds nothing recognisable).

    Raises:
        UnreadableResult: a file that decides what the folder is (summary.json, config.yaml,
            path.json, plane.json, eval/demo.json, eval/fge.json) is present but unreadable.
    """
    folder = Path(folder)
    summary = load_json(folder / "summary.json")
    if summary is not None and not isinstance(summary, dict):
        raise UnreadableResult("summary.json: not a JSON object")
    if isinstance(summary, dict) and isinstance(summary.get("kind"), str) and summary["kind"].strip():
        return [bounded(summary_entry(folder, summary, "summary.json"))]  # the analysis says what it is
    config = load_config(folder)
    model, dataset = model_and_dataset(folder, config)
    name = str((config or {}).get("name") or folder.name)
    base = dict(folder=folder, model=model, dataset=dataset, updated=_mtime(folder))
    entries: list[Entry] = []
    demo = load_json(folder / "eval" / "demo.json")
    path_doc, plane_doc = load_json(folder / "path.json"), load_json(folder / "plane.json")
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
        fge = load_json(folder / "eval" / "fge.json")
        if isinstance(fge, dict) and isinstance(fge.get("ensemble"), dict):
            metrics = {f"fge {k} accuracy": float(fge[k]["accuracy"]) for k in ("original", "ensemble") if as_number((fge.get(k) or {}).get("accuracy")) is not None}
            entries.append(Entry(kind="fge", name=f"{name} (fge)", title=f"Fast geometric ensembling from {name}", finding=fge_finding(fge), metrics=metrics, anchor="fge", **base))
    for summary_name in SUMMARY_NAMES:
        if entries:
            break
        doc = summary if summary_name == "summary.json" else load_json(folder / summary_name)
        if isinstance(doc, dict):
            entries.append(summary_entry(folder, doc, summary_name))
    return [bounded(e) for e in entries]


def _analysis_summary(folder: Path) -> dict | None:
    """The summary.json of an analysis folder (one with a "kind", and no checkpoints of its own)."""
    doc = read_json(folder / "summary.json")
    if isinstance(doc, dict) and isinstance(doc.get("kind"), str) and not (folder / "checkpoints").is_dir():
        return doc
    return None


def curve_label(model_section: dict) -> str:
    """"PolyChain curve (1 bend)" from a curve run's model config ("trained curve" when unknown)."""
    name = curve_name(model_section.get("kind"), model_section.get("bends"))
    return "trained curve" if name == "curve" else name


def summary_entry(folder: Path, doc: dict, file_name: str) -> Entry:
    """An Entry from a generic analysis summary JSON (see the module docstring)."""
    metrics_doc = doc.get("metrics") if isinstance(doc.get("metrics"), dict) else doc
    metrics = {str(k): float(v) for k, v in metrics_doc.items() if as_number(v) is not None}
    metrics = dict(list(metrics.items())[: MAX_METRICS + 2])
    kind = str(doc.get("kind") or folder.name.split("-")[0] or "analysis")
    report = doc.get("report")
    inside = isinstance(report, str) and not Path(report).is_absolute() and ".." not in Path(report).parts
    if inside and not (folder / report).resolve().is_relative_to(folder.resolve()):
        inside = False  # a link that leaves the folder
    page = report if inside and (folder / report).is_file() else "report.html"  # never a link out of the folder
    stat = (folder / file_name).stat()
    note = f"{file_name} is {stat.st_size / 2**20:.0f} MB; the index shows its title, finding and metrics." if stat.st_size > LARGE_SUMMARY_BYTES else ""
    return Entry(
        folder=folder, kind=kind, name=folder.name, title=str(doc.get("title") or f"{kind}: {folder.name}"),
        model=str(doc.get("model") or ""), dataset=str(doc.get("dataset") or ""), finding=str(doc.get("finding") or ""),
        metrics=metrics, page=page, updated=stat.st_mtime, note=note,
    )


def discover(root: str | Path, max_depth: int = 6) -> Discovery:
    """Every recognised folder under `root` (itself included), sorted by path, and the folders
    skipped because a result file in them could not be read or written into a page.

    Run internals (images/, checkpoints/, tb/, eval/) and hidden folders are not searched; a folder
    that is a run is still searched below (the demo keeps its runs in sub-folders, an analysis
    of a run lives in RUN/analysis/).
    """
    root = Path(root)
    found = Discovery([])
    for current, dirs, _ in os.walk(root, followlinks=False):
        here = Path(current)
        depth = len(here.relative_to(root).parts)
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")) if depth < max_depth else []
        try:
            entries = describe(here)
            for e in entries:
                check_text(e)
        except UnreadableResult as exc:
            found.skipped.append(Skipped(here, str(exc)))
            continue
        except (AttributeError, KeyError, TypeError, ValueError, IndexError) as exc:  # a JSON of an unexpected shape
            found.skipped.append(Skipped(here, f"a result file of an unexpected shape ({type(exc).__name__}: {exc})"))
            continue
        found.entries.extend(entries)
    return found


def check_text(entry: Entry) -> None:
    """Raise UnreadableResult when some text of `entry` cannot be written as UTF-8 (a lone
    surrogate: from a JSON escape, or a folder name that is not UTF-8)."""
    texts = [str(entry.folder), *(getattr(entry, f.name) for f in fields(entry) if isinstance(getattr(entry, f.name), str))]
    if not encodable([texts, list(entry.metrics)]):
        if not encodable(str(entry.folder)):
            raise UnreadableResult("its folder name is not valid UTF-8")
        raise UnreadableResult("its results hold text that is not valid Unicode (an unpaired surrogate)")


def bounded(entry: Entry) -> Entry:
    """`entry` with its text fields cut to MAX_TEXT characters and at most MAX_METRICS + 2 metrics
    (an index row stays small however large the summary it came from); says so in `note`."""
    cut = []
    for name, limit in MAX_TEXT.items():
        text = getattr(entry, name)
        if len(text) > limit:
            setattr(entry, name, text[: limit - 1] + "\u2026")
            cut.append(name)
    metrics = {(k if len(k) <= MAX_METRIC_NAME else k[: MAX_METRIC_NAME - 1] + "\u2026"): v for k, v in entry.metrics.items()}
    if len(entry.metrics) > MAX_METRICS + 2 or any(len(k) > MAX_METRIC_NAME for k in entry.metrics):
        cut.append("metrics")
    entry.metrics = dict(list(metrics.items())[: MAX_METRICS + 2])
    if cut:
        entry.note = (entry.note + " " if entry.note else "") + f"Shortened for this page: {', '.join(cut)} (see the folder's files)."
    return entry


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
