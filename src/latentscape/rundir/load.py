"""Rebuild a model from a run directory: `load_run(spec)` -> `LoadedRun`.

A run directory holds config.yaml, data_info.json and checkpoints/{init,final,last}.pt (see
docs/ARCHITECTURE.md). The model class comes from the registry by `model.name` (imported on
demand), so this module imports no model family and everything above `rundir` may use it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from latentscape.config import RunConfig
from latentscape.data.types import ImageDataset
from latentscape.errors import CheckpointError, LatentscapeError
from latentscape.registry import MODELS
from latentscape.rundir.checkpoint import STATE_FORMAT, load_checkpoint, load_state_into, read_weights
from latentscape.rundir.footprint import check_model_fits
from latentscape.rundir.model import DataInfo, LatentModel
from latentscape.rundir.run import Run

INFO_FILE = "data_info.json"
#: Largest sizes a data_info.json may declare (data.image_size allows 4096 a side).
MAX_CHANNELS, MAX_SIDE, MAX_CLASSES, MAX_TRAIN = 4, 4096, 1_000_000, 100_000_000


@dataclass
class LoadedRun:
    """A model rebuilt from a run directory with one of its weight sets."""

    run: Run
    config: RunConfig
    model: LatentModel
    info: DataInfo
    weights: str  # "final", "init", "last" or a file path


def data_info_of(data: dict[str, ImageDataset]) -> DataInfo:
    train = data["train"]
    num_classes = max(len(train.classes), int(train.labels.max().item()) + 1 if len(train) else 0)
    return DataInfo(image_shape=train.image_shape, num_classes=num_classes, num_train=len(train))


def build_model(cfg: RunConfig, info: DataInfo) -> LatentModel:
    """Build the model named by cfg.model.name (seeded by cfg.seed)."""
    entry = MODELS.get(cfg.model.name)
    torch.manual_seed(cfg.seed)
    return entry.build(cfg.model, info)


def parse_weight_spec(spec: str | Path) -> tuple[Path, str]:
    """'RUN_DIR' -> (RUN_DIR, 'final'); 'RUN_DIR@init' -> (RUN_DIR, 'init'); a .pt file inside
    RUN_DIR/checkpoints -> (RUN_DIR, path)."""
    text = str(spec)
    if "@" in text:
        path, which = text.rsplit("@", 1)
        if which not in ("final", "init", "last"):
            raise LatentscapeError(f"{spec}: unknown weight set {which!r}; allowed: final, init, last")
        return Path(path), which
    p = Path(text)
    if p.is_file() and p.suffix == ".pt":
        run_dir = p.parent.parent if p.parent.name == "checkpoints" else p.parent
        return run_dir, str(p)
    return p, "final"


def load_run(spec: str | Path, device: str | torch.device = "cpu") -> LoadedRun:
    """Rebuild a run's model from its config and load the requested weights (eval mode)."""
    run_dir, which = parse_weight_spec(spec)
    run = Run.open(run_dir)
    cfg = run.config()
    info_path = run.path / INFO_FILE
    if not info_path.is_file():
        raise LatentscapeError(f"{run.path}: missing {INFO_FILE}; was this run made by latentscape?")
    info = read_data_info(info_path)
    check_model_fits(cfg, info, training=False)  # a config.yaml asking for terabytes: one line, not the OOM killer
    model = build_model(cfg, info)
    if which == "last":
        ckpt = load_checkpoint(run.checkpoints / "last.pt", STATE_FORMAT)
        state, step = ckpt["model"], int(ckpt.get("step", 0))
        source = str(run.checkpoints / "last.pt")
    else:
        path = run.checkpoints / f"{which}.pt" if which in ("final", "init") else Path(which)
        if which == "final" and not path.exists():
            raise CheckpointError(f"{run.path} has no final weights yet (unfinished run? use {run.path}@last)")
        state, meta = read_weights(path)
        step = _trained_step(run, which, meta)
        source = str(path)
    load_state_into(model, state, source)
    model.set_step(step)
    model.to(device).eval()
    return LoadedRun(run=run, config=cfg, model=model, info=info, weights=which)


def read_data_info(path: Path) -> DataInfo:
    """Parse a run's data_info.json; a damaged file is a one-line LatentscapeError naming it."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        shape = tuple(int(v) for v in raw["image_shape"])
        info = DataInfo(shape, int(raw["num_classes"]), int(raw["num_train"]))  # type: ignore[arg-type]
    except json.JSONDecodeError as exc:
        raise LatentscapeError(f"{path}: damaged (not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except (KeyError, TypeError, ValueError, UnicodeDecodeError, RecursionError) as exc:
        what = f"no {exc.args[0]!r} field" if isinstance(exc, KeyError) else (str(exc).splitlines() or [type(exc).__name__])[0]
        raise LatentscapeError(f"{path}: damaged ({what}); it needs image_shape [C, H, W], num_classes, num_train") from None
    if len(shape) != 3 or min(shape) < 1:
        raise LatentscapeError(f"{path}: damaged (image_shape {list(shape)} is not [C, H, W] with positive sizes)")
    for name, value in (("num_classes", info.num_classes), ("num_train", info.num_train)):
        if value < 0:
            raise LatentscapeError(f"{path}: damaged ({name} {value} is negative; it counts classes / training images)")
    # Sizes no dataset has: a model built from them would ask for terabytes before the weights
    # could say they do not fit.
    if shape[0] > MAX_CHANNELS or max(shape[1:]) > MAX_SIDE or info.num_classes > MAX_CLASSES or info.num_train > MAX_TRAIN:
        raise LatentscapeError(
            f"{path}: damaged (image_shape {list(shape)}, {info.num_classes} classes, {info.num_train} training "
            f"images: beyond {MAX_CHANNELS} channels, {MAX_SIDE} pixels a side, {MAX_CLASSES} classes or {MAX_TRAIN} images)"
        )
    return info


def _trained_step(run: Run, which: str, meta: dict) -> int:
    """The global step a weights file was trained to.

    Newer weights files store it (`meta["step"]`); for older runs, init weights are at step 0 and
    final weights at the step recorded in eval/final.json (or the last metrics.jsonl line).
    """
    if "step" in meta:
        return int(meta["step"])
    if which == "init":
        return 0
    final = run.path / "eval" / "final.json"
    try:
        return int(json.loads(final.read_text())["steps"])
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        pass
    try:
        return max((int(r["step"]) for r in run.read_metrics() if isinstance(r.get("step"), int)), default=0)
    except LatentscapeError:
        return 0
