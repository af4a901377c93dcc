"""`write_report(run_dir)`: one self-contained HTML page per run.

The page has no external references (images and GIFs are base64 data URIs, CSS is inline), so it
can be mailed or opened offline on a phone. It shows: title (run, model, dataset), the resolved
config, a final-metrics table, every JSON result under eval/, the training curves, and every
picture under images/ grouped by file-name prefix. It works on partial runs (only config.yaml).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any

import yaml

from latentscape.errors import LatentscapeError
from latentscape.io import atomic_write_text
from latentscape.viz.html_parts import CSS, figure_html, flatten, key_value_table, matrix_table
from latentscape.viz.metrics_log import CURVE_PREFIX, final_metrics, plot_metrics_jsonl, read_metrics

IMAGE_SUFFIXES = (".png", ".gif", ".jpg", ".jpeg")
DEFAULT_MAX_IMAGE_BYTES = 64 * 1024 * 1024  # keep the page openable on a phone


def check_run_dir(run_dir: str | Path) -> Path:
    """Return `run_dir` as a Path, or raise LatentscapeError if it is not a run folder."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise LatentscapeError(f"run directory not found: {run_dir}")
    if not run_dir.is_dir():
        raise LatentscapeError(f"not a directory: {run_dir}")
    if not (run_dir / "config.yaml").is_file():
        raise LatentscapeError(f"not a run directory (no config.yaml): {run_dir}")
    return run_dir


def write_report(
    run_dir: str | Path,
    plot_curves: bool = True,
    max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
) -> Path:
    """Write `run_dir/report.html` (atomically) and return its path.

    Args:
        run_dir: a run folder (must hold config.yaml).
        plot_curves: (re)draw images/curves_<metric>.png from metrics.jsonl first.
        max_image_bytes: stop embedding pictures beyond this total size (the rest are listed).

    Raises:
        LatentscapeError: `run_dir` is missing or has no config.yaml.
    """
    run_dir = check_run_dir(run_dir)
    config_text = (run_dir / "config.yaml").read_text(encoding="utf-8", errors="replace")
    config = _parse_config(config_text)
    records = read_metrics(run_dir)
    if plot_curves:
        plot_metrics_jsonl(run_dir)
    budget = [max_image_bytes]
    sections = [
        ("config", "Config", _config_section(config_text, config)),
        ("metrics", "Final metrics", _metrics_section(records)),
        ("eval", "Evaluation", _eval_section(run_dir)),
        ("curves", "Training curves", _curves_section(run_dir, budget)),
        ("images", "Images", _images_section(run_dir, budget)),
    ]
    title = _title(run_dir, config)
    nav = "".join(f"<a href='#{sid}'>{escape(name)}</a>" for sid, name, _ in sections)
    body = "".join(f"<section id='{sid}'><h2>{escape(name)}</h2>{html}</section>" for sid, name, html in sections)
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title['run'])} - latentscape report</title><style>{CSS}</style></head><body><main>"
        f"<header><h1>{escape(title['run'])}</h1><p class='meta'>model <b>{escape(title['model'])}</b>"
        f" &middot; dataset <b>{escape(title['dataset'])}</b> &middot; {escape(str(run_dir.resolve()))}</p></header>"
        f"<nav>{nav}</nav>{body}{_footer()}</main></body></html>\n"
    )
    return atomic_write_text(run_dir / "report.html", page)


def _parse_config(text: str) -> dict[str, Any] | None:
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return config if isinstance(config, dict) else None


def _title(run_dir: Path, config: dict[str, Any] | None) -> dict[str, str]:
    config = config or {}
    model = config.get("model") if isinstance(config.get("model"), dict) else {}
    data = config.get("data") if isinstance(config.get("data"), dict) else {}
    return {
        "run": str(config.get("name") or run_dir.resolve().name),
        "model": str(model.get("name", "unknown")),
        "dataset": str(data.get("name", "unknown")),
    }


def _config_section(text: str, config: dict[str, Any] | None) -> str:
    warn = "" if config is not None else "<p class='note'>config.yaml could not be parsed; shown as is.</p>"
    return f"{warn}<details><summary>config.yaml</summary><pre>{escape(text)}</pre></details>"


def _metrics_section(records: list[dict[str, Any]]) -> str:
    finals = final_metrics(records)
    if not finals:
        return "<p class='note'>No metrics logged yet.</p>"
    names: list[str] = []
    for by_name in finals.values():
        names.extend(n for n in by_name if n not in names)
    for record in records:  # the step at which each split was last logged, as a first row
        split = str(record.get("split", "train"))
        if split in finals and isinstance(record.get("step"), int):
            finals[split]["(step)"] = record["step"]
    note = "<p class='meta'>last logged value of each metric, per split</p>"
    return note + matrix_table(["(step)", *names], list(finals), finals, corner="metric")


def _eval_section(run_dir: Path) -> str:
    eval_dir = run_dir / "eval"
    files = sorted(eval_dir.rglob("*.json")) if eval_dir.is_dir() else []
    if not files:
        return "<p class='note'>No evaluation results (eval/*.json) yet.</p>"
    parts = []
    for path in files:
        name = str(path.relative_to(eval_dir))
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            parts.append(f"<h3>{escape(name)}</h3><p class='note'>unreadable JSON: {escape(str(exc))}</p>")
            continue
        parts.append(f"<h3>{escape(name)}</h3>{key_value_table(flatten(data))}")
    return "".join(parts)


def _embed(paths: list[Path], root: Path, budget: list[int]) -> tuple[str, list[str]]:
    """Figures for `paths` while the byte budget lasts; returns (html, names left out)."""
    html, skipped = [], []
    for path in paths:
        size = path.stat().st_size
        if size > budget[0]:
            skipped.append(str(path.relative_to(root)))
            continue
        budget[0] -= size
        html.append(figure_html(path, caption_for(path)))
    return "".join(html), skipped


def _skipped_note(skipped: list[str]) -> str:
    if not skipped:
        return ""
    return f"<p class='note'>Not embedded (report size limit): {escape(', '.join(skipped))}</p>"


def _curves_section(run_dir: Path, budget: list[int]) -> str:
    images = run_dir / "images"
    paths = sorted(images.glob(f"{CURVE_PREFIX}*.png")) if images.is_dir() else []
    if not paths:
        return "<p class='note'>No curves yet (metrics.jsonl is empty or missing).</p>"
    html, skipped = _embed(paths, images, budget)
    return f"<div class='gallery curves'>{html}</div>{_skipped_note(skipped)}"


def _images_section(run_dir: Path, budget: list[int]) -> str:
    images = run_dir / "images"
    paths = [
        p for p in sorted(images.rglob("*")) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        and not (p.parent == images and p.name.startswith(CURVE_PREFIX))
    ] if images.is_dir() else []
    if not paths:
        return "<p class='note'>No images yet.</p>"
    groups: dict[str, list[Path]] = {}
    for path in paths:
        groups.setdefault(group_for(path.relative_to(images)), []).append(path)
    parts = []
    for group, members in groups.items():
        html, skipped = _embed(members, images, budget)
        parts.append(f"<h3>{escape(group)}</h3><div class='gallery'>{html}</div>{_skipped_note(skipped)}")
    return "".join(parts)


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


def _footer() -> str:
    from latentscape import __version__

    created = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"<footer>latentscape {escape(__version__)} &middot; created {escape(created)}</footer>"
