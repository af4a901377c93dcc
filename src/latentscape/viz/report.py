"""`write_report(run_dir)`: one self-contained HTML page per run.

The page has no external references (images and GIFs are base64 data URIs, CSS is inline), so it
can be mailed or opened offline on a phone. It shows: a title saying what the folder holds, the
finding of an analysis (demo, path, plane, fge: viz/analysis_page.py) with its table and labelled
pictures, the last logged values per split (with the steps the train value averages over), every
JSON result under eval/ with its protocol, the training curves, every other picture under images/
grouped by file-name prefix, links to the runs inside the folder, and the resolved config. An
analysis folder's summary JSON is shown flattened, at most MAX_SUMMARY_ROWS fields. The page is
built as blocks (viz/blocks.py) and written by templates/report.html. Sections with nothing to
show are left out, so a partial run (only config.yaml) gets a short page.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from latentscape.errors import LatentscapeError
from latentscape.io import atomic_write_text
from latentscape.viz.analysis_page import analysis_sections, has_sections, subfolder_links
from latentscape.viz.blocks import Block, Figure, Gallery, Heading, Note, Protocol, Source, key_values, picture, section, table
from latentscape.viz.discover import SUMMARY_NAMES, describe, discover, model_and_dataset
from latentscape.viz.result_files import UnreadableResult, load_json, read_json
from latentscape.viz.html_parts import flatten, format_value
from latentscape.viz.inside import OutsideFolder, files_under, read_inside
from latentscape.viz.metrics_log import CURVE_PREFIX, WINDOW_NOTE, final_metrics, last_steps, plot_metrics_jsonl, read_metrics, train_window
from latentscape.viz.templating import render

IMAGE_SUFFIXES = (".png", ".gif", ".jpg", ".jpeg")
DEFAULT_MAX_IMAGE_BYTES = 64 * 1024 * 1024  # keep the page openable on a phone
HANDLED_EVAL = {"demo": "demo.json", "fge": "fge.json"}  # eval files shown by their analysis sections
MAX_SUMMARY_ROWS = 200  # a summary JSON's fields shown on its page (a 50 MB summary stays a small page)
MAX_TEXT = 400  # characters of one shown value
ELLIPSIS = "\u2026"


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
    problem: list[Block] = []
    try:
        entries = describe(run_dir)
    except UnreadableResult as exc:
        entries, problem = [], [Note(f"Could not read this folder's results: {exc}")]
    except (AttributeError, KeyError, TypeError, ValueError):  # a result JSON of an unexpected shape
        entries = []
    lead = entries[0] if entries else None
    kinds = [e.kind for e in entries]
    sections, shown = analysis_sections(run_dir, kinds)
    budget = [max_image_bytes]
    sections += [
        section("problem", "Unreadable results", problem),
        section("metrics", "Last logged values", last_logged_table(records)),
        section("eval", "Evaluation", _eval_blocks(run_dir, {HANDLED_EVAL[k] for k in HANDLED_EVAL if k in kinds})),
        section("curves", "Training curves", _curves_blocks(run_dir, budget)),
        section("images", "Images", _images_blocks(run_dir, budget, shown) + ([] if has_config else _top_pictures(run_dir, budget, shown))),
        section("summary", "Summary", _summary_blocks(run_dir) if not has_config and not has_sections(kinds) else []),
        section("inside", "Runs and analyses in this folder", subfolder_links(run_dir, discover(run_dir, max_depth=2).entries)),
        section("config", "Config", _config_blocks(config_text, config) if has_config else []),
    ]
    title = _title(run_dir, config)
    heading = lead.title if lead else f"{title['run']}: {title['model']} on {title['dataset']}"
    html = render(
        "report.html", title=f"{heading} - latentscape report", wide=False, heading=heading,
        kind=lead.kind if lead else "", model=(lead.model if lead else "") or title["model"],
        dataset=(lead.dataset if lead else "") or title["dataset"],
        location=str(run_dir.resolve()), finding=lead.finding if lead else "",
        sections=[s for s in sections if s],  # leave out what has nothing to show
    )
    return atomic_write_text(run_dir / "report.html", html)


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


def _config_blocks(text: str, config: dict[str, Any] | None) -> list[Block]:
    warn = [] if config is not None else [Note("config.yaml could not be parsed; shown as is.")]
    return [*warn, Source("config.yaml", text)]


def last_logged_table(records: list[dict[str, Any]]) -> list[Block]:
    """The last logged value of each metric, one column per split, with the step of each split's
    last row and the steps the train split's value averages over (WINDOW_NOTE says why)."""
    finals = final_metrics(records)
    if not finals:
        return []
    names = list(dict.fromkeys(n for by_name in finals.values() for n in by_name))
    splits = list(finals)
    steps, window = last_steps(records), train_window(records)
    rows = [(["(logged at step)"], [steps.get(sp) for sp in splits])]
    if window and "train" in finals:
        rows.append((["(averaged over steps)"], [window if sp == "train" else None for sp in splits]))
    rows += [([n], [finals[sp].get(n) for sp in splits]) for n in names]
    return [Note(WINDOW_NOTE, muted=True), table(["metric"], splits, rows)]



def _eval_blocks(run_dir: Path, skip: set[str] = frozenset()) -> list[Block]:
    eval_dir = run_dir / "eval"
    files = files_under(eval_dir, run_dir, (".json",)) if eval_dir.is_dir() else []  # no link out of the run
    blocks: list[Block] = []
    for path in files:
        if path.parent == eval_dir and path.name in skip:
            continue
        name = str(path.relative_to(eval_dir))
        try:
            data = load_json(path, run_dir)
        except UnreadableResult as exc:
            blocks += [Heading(name), Note(f"unreadable JSON: {exc}")]
            continue
        blocks += [Heading(name), *_eval_doc_blocks(data)]
    return blocks


def _embed(paths: list[Path], root: Path, budget: list[int], run_dir: Path) -> tuple[list[Figure | Note], list[str]]:
    """Figures for `paths` while the byte budget lasts; returns (figures, names left out).
    Only files inside `run_dir` are embedded (viz/inside.py)."""
    figures, skipped = [], []
    for path in paths:
        size = path.stat().st_size
        if size > budget[0]:
            skipped.append(str(path.relative_to(root)))
            continue
        budget[0] -= size
        figures.append(picture(path, caption_for(path), run_dir))
    return figures, skipped


def _gallery(figures: list[Figure | Note], skipped: list[str], style: str = "") -> list[Block]:
    blocks: list[Block] = [Gallery(tuple(figures), style)] if figures else []
    if skipped:
        blocks.append(Note(f"Not embedded (report size limit): {', '.join(skipped)}"))
    return blocks


def _curves_blocks(run_dir: Path, budget: list[int]) -> list[Block]:
    images = run_dir / "images"
    paths = sorted(images.glob(f"{CURVE_PREFIX}*.png")) if images.is_dir() else []
    return _gallery(*_embed(paths, images, budget, run_dir), style="curves") if paths else []


def _images_blocks(run_dir: Path, budget: list[int], shown: set[Path] = frozenset()) -> list[Block]:
    images = run_dir / "images"
    outside: list[Path] = []
    paths = [  # links to folders are not followed, links to files outside the run are left out
        p for p in files_under(images, run_dir, IMAGE_SUFFIXES, outside)
        if not (p.parent == images and p.name.startswith(CURVE_PREFIX)) and p not in shown
    ] if images.is_dir() else []
    groups: dict[str, list[Path]] = {}
    for path in paths:
        groups.setdefault(group_for(path.relative_to(images)), []).append(path)
    blocks: list[Block] = []
    for group, members in groups.items():
        blocks += [Heading(group), *_gallery(*_embed(members, images, budget, run_dir))]
    if outside:
        blocks.append(Note("Not embedded (links to files outside this folder): " + ", ".join(str(p.relative_to(images)) for p in outside)))
    return blocks


def _top_pictures(folder: Path, budget: list[int], shown: set[Path] = frozenset()) -> list[Block]:
    """The pictures an analysis folder keeps next to its summary (a tune study's
    objective_vs_params.png and history.png) that its sections did not show, as wide plots."""
    paths = [p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and p not in shown]
    return [Heading(folder.name), *_gallery(*_embed(paths, folder, budget, folder), style="plots")] if paths else []


def _eval_doc_blocks(data: object) -> list[Block]:
    """An eval JSON: the protocol behind the numbers on one line, then the metrics."""
    if isinstance(data, dict) and isinstance(data.get("protocol"), dict) and isinstance(data.get("metrics"), dict):
        protocol = Protocol(tuple((_short(str(k)), _short(str(v))) for k, v in list(data["protocol"].items())[:MAX_SUMMARY_ROWS]))
        return [protocol, *bounded_key_values(flatten(data["metrics"]))]
    return bounded_key_values(flatten(data))


def _summary_blocks(run_dir: Path) -> list[Block]:
    """The summary JSON of a generic analysis folder (tune study, probe, ...), flattened."""
    for name in SUMMARY_NAMES:
        data = read_json(run_dir / name)
        if isinstance(data, dict):
            return [Heading(name), *bounded_key_values(flatten(data), name)]
    return []


def bounded_key_values(rows: list[tuple[str, Any]], name: str = "the file") -> list[Block]:
    """A key/value table of at most MAX_SUMMARY_ROWS rows of at most MAX_TEXT characters each,
    with a note when something was left out (a 50 MB summary must not become a 50 MB page)."""
    shown = [(_short(k), _short(format_value(v))) for k, v in rows[:MAX_SUMMARY_ROWS]]
    cut = len(rows) > MAX_SUMMARY_ROWS or any(s.endswith(ELLIPSIS) for pair in shown for s in pair)
    note = [Note(f"{name} holds {len(rows)} fields: the first {len(shown)} are shown, long values cut at "
                 f"{MAX_TEXT} characters; the file itself has them all.")] if cut else []
    return [*note, key_values(shown)]


def _short(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + ELLIPSIS


def group_for(relpath: Path) -> str:
    """Group name of an image: its folder plus the file name up to the first '_', '-' or digit
    (samples_step100.png and samples_step200.png -> "samples")."""
    stem = relpath.stem
    prefix = re.split(r"[_\-\s.]|(?=\d)", stem, maxsplit=1)[0] or stem
    return str(relpath.parent / prefix) if str(relpath.parent) != "." else prefix


#: What the pictures that the model families write show (models/*_pictures.py), by file stem
#: (and suffix, where a GIF shows it differently): a caption says what is drawn, not only its file.
PICTURE_MEANINGS = (
    (r"reconstructions", "", "pairs of rows: test images above their reconstructions"),
    (r"samples", "", "decodes of codes drawn from the prior"),
    (r"samples_step(\d+)", "", "the same fixed batch of codes decoded at iteration {0}"),
    (r"interpolation", ".gif", "decodes along the straight line between two codes, one frame per step"),
    (r"interpolation", "", "decodes along the straight line between two codes, left to right"),
    (r"traversal_range([\d.]+)", "", "latent dimensions 1 (down) and 2 (across) swept over [-{0}, {0}] around one code, the others fixed"),
    (r"sweep_range([\d.]+)", "", "latent dimensions 1 (down) and 2 (across) swept over [-{0}, {0}], the others fixed"),
    (r"traversal_dims", "", "one row per latent dimension, swept across around one code, the others fixed"),
    (r"latent_scatter", "", "the codes of one split in 2-D, coloured by class"),
    (r"latents_train", "", "the learned training latents, coloured by class"),
    (r"latents_val", "", "latents fitted to the evaluation images (coloured by class) over the training latents (grey)"),
    (r"fid_vs_iteration", "", "FID of generated samples against generator iterations"),
)


def caption_for(path: Path) -> str:
    """Readable caption from a file name, with what the picture shows when it is one the model
    families write: interp_step_1000.gif -> "interp step 1000 (gif)", reconstructions.png ->
    "reconstructions (png): pairs of rows: test images above their reconstructions"."""
    words = re.sub(r"[_\-]+", " ", path.stem).strip() or path.stem
    caption = f"{words} ({path.suffix.lstrip('.').lower()})"
    for pattern, suffix, meaning in PICTURE_MEANINGS:
        found = re.fullmatch(pattern, path.stem)
        if found and suffix in ("", path.suffix.lower()):
            return f"{caption}: {meaning.format(*found.groups())}"
    return caption

