"""`write_report(run_dir)`: one self-contained HTML page per run.

The page has no external references (images and GIFs are base64 data URIs, CSS is inline), so it
can be mailed or opened offline on a phone. It shows: a title saying what the folder holds, the
finding of an analysis (demo, path, plane, fge: viz/analysis_page.py) with its table and labelled
pictures, a final-metrics table, every JSON result under eval/ with its protocol, the training
curves, every other picture under images/ grouped by file-name prefix, links to the runs inside
the folder, and the resolved config. Sections with nothing to show are left out, so a partial
run (only config.yaml) gets a short page.
"""

from __future__ import annotations

import json
import re
from html import escape
from pathlib import Path
from typing import Any

import yaml

from latentscape.errors import LatentscapeError
from latentscape.io import atomic_write_text
from latentscape.viz.analysis_page import analysis_sections, subfolder_links
from latentscape.viz.discover import SUMMARY_NAMES, describe, discover, model_and_dataset
from latentscape.viz.html_parts import figure_html, flatten, footer, key_value_table, matrix_table, page
from latentscape.viz.inside import OutsideFolder, files_under, read_inside
from latentscape.viz.metrics_log import CURVE_PREFIX, final_metrics, plot_metrics_jsonl, read_metrics

IMAGE_SUFFIXES = (".png", ".gif", ".jpg", ".jpeg")
DEFAULT_MAX_IMAGE_BYTES = 64 * 1024 * 1024  # keep the page openable on a phone
HANDLED_EVAL = {"demo": "demo.json", "fge": "fge.json"}  # eval files shown by their analysis sections


def check_run_dir(run_dir: str | Path) -> Path:
    """Return `run_dir` as a Path, or raise LatentscapeError if it is not a run or analysis folder
    (one with config.yaml, or with a summary JSON such as a tune study's summary.json)."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise LatentscapeError(f"run directory not found: {run_dir}")
    if not run_dir.is_dir():
        raise LatentscapeError(f"not a directory: {run_dir}")
    if not (run_dir / "config.yaml").is_file() and not any((run_dir / n).is_file() for n in SUMMARY_NAMES):
        raise LatentscapeError(f"not a run directory (no config.yaml): {run_dir}")
    return run_dir


def write_report(
    run_dir: str | Path,
    plot_curves: bool = True,
    max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
) -> Path:
    """Write `run_dir/report.html` (atomically) and return its path.

    An analysis folder (demo, path, plane, fge) leads with its finding in one sentence and its
    table, then its labelled pictures; sections with nothing to show are left out.

    Args:
        run_dir: a run folder (config.yaml) or an analysis folder (summary.json, ...).
        plot_curves: (re)draw images/curves_<metric>.png from metrics.jsonl first.
        max_image_bytes: stop embedding pictures beyond this total size (the rest are listed).

    Raises:
        LatentscapeError: `run_dir` is missing or holds neither config.yaml nor a summary JSON.
    """
    run_dir = check_run_dir(run_dir)
    has_config = (run_dir / "config.yaml").is_file()
    config_text = _text_inside(run_dir, run_dir / "config.yaml") if has_config else ""
    config = _parse_config(config_text) if config_text else None
    records = read_metrics(run_dir)
    if plot_curves:
        plot_metrics_jsonl(run_dir)
    try:
        entries = describe(run_dir)
    except (AttributeError, KeyError, TypeError, ValueError):  # a result JSON of an unexpected shape
        entries = []
    lead = entries[0] if entries else None
    kinds = [e.kind for e in entries]
    sections, shown = analysis_sections(run_dir, kinds)
    budget = [max_image_bytes]
    sections += [
        ("metrics", "Final metrics", _metrics_section(records)),
        ("eval", "Evaluation", _eval_section(run_dir, {HANDLED_EVAL[k] for k in HANDLED_EVAL if k in kinds})),
        ("curves", "Training curves", _curves_section(run_dir, budget)),
        ("images", "Images", _images_section(run_dir, budget, shown)),
        ("summary", "Summary", _summary_section(run_dir) if not has_config else ""),
        ("inside", "Runs and analyses in this folder", subfolder_links(run_dir, discover(run_dir, max_depth=2))),
        ("config", "Config", _config_section(config_text, config) if has_config else ""),
    ]
    sections = [s for s in sections if s[2]]  # leave out what has nothing to show
    title = _title(run_dir, config)
    heading = lead.title if lead else f"{title['run']}: {title['model']} on {title['dataset']}"
    finding = f"<p class='finding'>{escape(lead.finding)}</p>" if lead and lead.finding else ""
    kind = f"<span class='kind'>{escape(lead.kind)}</span> " if lead else ""
    nav = "".join(f"<a href='#{sid}'>{escape(name)}</a>" for sid, name, _ in sections)
    body = "".join(f"<section id='{sid}'><h2>{escape(name)}</h2>{html}</section>" for sid, name, html in sections)
    main = (
        f"<header><h1>{escape(heading)}</h1><p class='meta'>{kind}model <b>{escape(title['model'])}</b>"
        f" &middot; dataset <b>{escape(title['dataset'])}</b> &middot; {escape(str(run_dir.resolve()))}</p></header>"
        f"{finding}<nav>{nav}</nav>{body}{_footer()}"
    )
    return atomic_write_text(run_dir / "report.html", page(f"{heading} - latentscape report", main))


def _text_inside(run_dir: Path, path: Path) -> str:
    """The text of `path` if it is a file inside `run_dir` ("" otherwise: a page shows nothing
    that a link brings in from outside the folder)."""
    try:
        return read_inside(run_dir, path).decode("utf-8", errors="replace")
    except OutsideFolder:
        return ""


def _parse_config(text: str) -> dict[str, Any] | None:
    try:
        config = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError):  # RecursionError: nested thousands deep
        return None
    return config if isinstance(config, dict) else None


def _title(run_dir: Path, config: dict[str, Any] | None) -> dict[str, str]:
    model, dataset = model_and_dataset(run_dir, config)
    return {
        "run": str((config or {}).get("name") or run_dir.resolve().name),
        "model": model or "unknown",
        "dataset": dataset or "unknown",
    }


def _config_section(text: str, config: dict[str, Any] | None) -> str:
    warn = "" if config is not None else "<p class='note'>config.yaml could not be parsed; shown as is.</p>"
    return f"{warn}<details><summary>config.yaml</summary><pre>{escape(text)}</pre></details>"


def _metrics_section(records: list[dict[str, Any]]) -> str:
    finals = final_metrics(records)
    if not finals:
        return ""
    names: list[str] = []
    for by_name in finals.values():
        names.extend(n for n in by_name if n not in names)
    for record in records:  # the step at which each split was last logged, as a first row
        split = str(record.get("split", "train"))
        if split in finals and isinstance(record.get("step"), int):
            finals[split]["(step)"] = record["step"]
    note = "<p class='meta'>last logged value of each metric, per split</p>"
    return note + matrix_table(["(step)", *names], list(finals), finals, corner="metric")


def _eval_section(run_dir: Path, skip: set[str] = frozenset()) -> str:
    eval_dir = run_dir / "eval"
    files = files_under(eval_dir, run_dir, (".json",)) if eval_dir.is_dir() else []
    parts = []
    for path in files:
        if path.parent == eval_dir and path.name in skip:
            continue
        name = str(path.relative_to(eval_dir))
        try:
            data = json.loads(_text_inside(run_dir, path))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            parts.append(f"<h3>{escape(name)}</h3><p class='note'>unreadable JSON: {escape(str(exc) or type(exc).__name__)}</p>")
            continue
        parts.append(f"<h3>{escape(name)}</h3>{_eval_html(data)}")
    return "".join(parts)


def _embed(paths: list[Path], root: Path, budget: list[int], run_dir: Path) -> tuple[str, list[str]]:
    """Figures for `paths` while the byte budget lasts; returns (html, names left out).
    Only files inside `run_dir` are embedded (viz/inside.py)."""
    html, skipped = [], []
    for path in paths:
        size = path.stat().st_size
        if size > budget[0]:
            skipped.append(str(path.relative_to(root)))
            continue
        budget[0] -= size
        html.append(figure_html(path, caption_for(path), run_dir))
    return "".join(html), skipped


def _skipped_note(skipped: list[str]) -> str:
    if not skipped:
        return ""
    return f"<p class='note'>Not embedded (report size limit): {escape(', '.join(skipped))}</p>"


def _curves_section(run_dir: Path, budget: list[int]) -> str:
    images = run_dir / "images"
    paths = sorted(images.glob(f"{CURVE_PREFIX}*.png")) if images.is_dir() else []
    if not paths:
        return ""
    html, skipped = _embed(paths, images, budget, run_dir)
    return f"<div class='gallery curves'>{html}</div>{_skipped_note(skipped)}"


def _images_section(run_dir: Path, budget: list[int], shown: set[Path] = frozenset()) -> str:
    images = run_dir / "images"
    outside: list[Path] = []
    paths = [  # links to folders are not followed, links to files outside the run are left out
        p for p in files_under(images, run_dir, IMAGE_SUFFIXES, outside)
        if not (p.parent == images and p.name.startswith(CURVE_PREFIX)) and p not in shown
    ] if images.is_dir() else []
    note = (f"<p class='note'>Not embedded (links to files outside this folder): "
            f"{escape(', '.join(str(p.relative_to(images)) for p in outside))}</p>") if outside else ""
    if not paths:
        return note
    groups: dict[str, list[Path]] = {}
    for path in paths:
        groups.setdefault(group_for(path.relative_to(images)), []).append(path)
    parts = []
    for group, members in groups.items():
        html, skipped = _embed(members, images, budget, run_dir)
        parts.append(f"<h3>{escape(group)}</h3><div class='gallery'>{html}</div>{_skipped_note(skipped)}")
    return "".join(parts) + note


def _eval_html(data: object) -> str:
    """An eval JSON: the protocol behind the numbers on one line, then the metrics."""
    if isinstance(data, dict) and isinstance(data.get("protocol"), dict) and isinstance(data.get("metrics"), dict):
        protocol = " &middot; ".join(f"{escape(str(k))} <b>{escape(str(v))}</b>" for k, v in data["protocol"].items())
        return f"<p class='meta'>protocol: {protocol}</p>{key_value_table(flatten(data['metrics']))}"
    return key_value_table(flatten(data))


def _summary_section(run_dir: Path) -> str:
    """The summary JSON of a generic analysis folder (tune study, probe, ...), flattened."""
    for name in SUMMARY_NAMES:
        try:
            data = json.loads(_text_inside(run_dir, run_dir / name) or "null")
        except (ValueError, RecursionError):
            continue
        if isinstance(data, dict):
            return f"<h3>{escape(name)}</h3>{key_value_table(flatten(data))}"
    return ""


def group_for(relpath: Path) -> str:
    """Group name of an image: its folder plus the file name up to the first '_', '-' or digit
    (samples_step100.png and samples_step200.png -> "samples")."""
    stem = relpath.stem
    prefix = re.split(r"[_\-\s.]|(?=\d)", stem, maxsplit=1)[0] or stem
    return str(relpath.parent / prefix) if str(relpath.parent) != "." else prefix


def caption_for(path: Path) -> str:
    """Readable caption from a file name: interp_step_1000.gif -> "interp step 1000 (gif)"."""
    words = re.sub(r"[_\-]+", " ", path.stem).strip() or path.stem
    return f"{words} ({path.suffix.lstrip('.').lower()})"


_footer = footer
