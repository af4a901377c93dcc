"""The importable entry points: `train_and_evaluate`, `resume`, `load_run` (Flax-examples style).

The CLI only parses flags and calls these.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from latentscape.config import RunConfig
from latentscape.data.types import ImageDataset
from latentscape.errors import CheckpointError, LatentscapeError
from latentscape.models.base import DataInfo, LatentModel
from latentscape.registry import MODELS
from latentscape.train.checkpoint import load_state_into, load_weights, save_weights
from latentscape.train.run import Run, default_run_dir
from latentscape.train.trainer import Callback, Trainer, is_finished, seed_everything

INFO_FILE = "data_info.json"


@dataclass
class LoadedRun:
    """A model rebuilt from a run directory with one of its weight sets."""

    run: Run
    config: RunConfig
    model: LatentModel
    info: DataInfo
    weights: str  # "final", "init", "last" or a file path


def resolve_device(name: str) -> torch.device:
    """'auto' -> cuda (local rank under torchrun) if available, else cpu."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        return torch.device("cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise LatentscapeError(f"train.device: unknown device {name!r} (auto, cpu, cuda, cuda:N)") from None


def data_info_of(data: dict[str, ImageDataset]) -> DataInfo:
    train = data["train"]
    num_classes = max(len(train.classes), int(train.labels.max().item()) + 1 if len(train) else 0)
    return DataInfo(image_shape=train.image_shape, num_classes=num_classes, num_train=len(train))


def build_model(cfg: RunConfig, info: DataInfo) -> LatentModel:
    """Build the model named by cfg.model.name (seeded by cfg.seed)."""
    entry = MODELS.get(cfg.model.name)
    torch.manual_seed(cfg.seed)
    return entry.build(cfg.model, info)


def default_callbacks(cfg: RunConfig) -> list[Callback]:
    entry = MODELS.get(cfg.model.name)
    return list(entry.callbacks(cfg)) if entry.callbacks else []


def load_data(cfg: RunConfig) -> dict[str, ImageDataset]:
    from latentscape.data.registry import load_splits

    return load_splits(cfg.data)


def init_distributed() -> bool:
    """Join the torchrun process group if launched by torchrun; True when distributed."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return dist.is_initialized()
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend)
    return True


def train_and_evaluate(
    cfg: RunConfig,
    run_dir: str | Path | None = None,
    *,
    resume: bool = False,
    callbacks: Sequence[Callback] | None = None,
    data: dict[str, ImageDataset] | None = None,
    quiet: bool = False,
) -> Run:
    """Train `cfg` into `run_dir` (created; or continued when `resume`), then evaluate.

    Returns the Run. Under torchrun every process calls this; rank 0 owns the files.
    """
    distributed = init_distributed()
    rank = dist.get_rank() if distributed else 0
    if cfg.train.num_threads:
        torch.set_num_threads(cfg.train.num_threads)
    if cfg.train.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    device = resolve_device(cfg.train.device)
    if run_dir is None:
        run_dir = default_run_dir(cfg)
    if distributed:  # every rank must agree on the folder rank 0 chose
        holder = [str(run_dir)]
        dist.broadcast_object_list(holder, src=0)
        run_dir = holder[0]
    run_dir = Path(run_dir)
    data = data if data is not None else load_data(cfg)
    info = data_info_of(data)
    seed_everything(cfg.seed)
    model = build_model(cfg, info)

    run = None
    if rank == 0:
        if resume:
            run = Run.open(run_dir)
            run.remove_stale_temporaries()
            # Runs made before creation became atomic may lack these; the seed rebuilds them.
            _write_creation_files(run, model, info, only_missing=True)
        else:
            if (run_dir / "config.yaml").exists():
                raise LatentscapeError(
                    f"{run_dir} already holds a run; use `latentscape train --resume {run_dir}` or another --run-dir"
                )
            run = Run.create(cfg, run_dir, lambda r: _write_creation_files(r, model, info))
    if distributed:  # the others wait until rank 0 has published the run directory
        dist.barrier()
    cbs = default_callbacks(cfg) if callbacks is None else list(callbacks)
    trainer = Trainer(model, cfg, data, run, device, cbs)
    if resume:
        _restore(trainer, run, run_dir)
    start = time.time()
    if rank == 0 and not quiet:
        print(f"run dir: {run_dir}", flush=True)
    trainer.fit()
    results = trainer.final_evaluation(cfg.train.final_eval_splits)
    trainer.save_final_weights(mark_finished=False)
    if run is not None:
        summary = {"steps": trainer.state.step, "epochs": trainer.state.epoch, "train_seconds": time.time() - start, **{f"{s}": m for s, m in results.items()}}
        run.write_json("eval/final.json", summary)
        _write_report(run)
        # The finished mark is the last write: a run killed before it resumes and redoes the end.
        trainer.save_checkpoint(finished=True)
        run.close()
        if not quiet:
            for split, m in results.items():
                print(f"final {split}: " + "  ".join(f"{k}={v:.4g}" for k, v in m.items()), flush=True)
    return Run(run_dir)


def _write_creation_files(run: Run, model: LatentModel, info: DataInfo, only_missing: bool = False) -> None:
    """data_info.json and checkpoints/init.pt (`model` must be the freshly seeded one), written
    inside the staging folder of Run.create, or on resume where missing (`only_missing`)."""
    if not (only_missing and (run.path / INFO_FILE).exists()):
        run.write_json(INFO_FILE, {"image_shape": list(info.image_shape), "num_classes": info.num_classes, "num_train": info.num_train})
    if not (only_missing and (run.checkpoints / "init.pt").exists()):
        save_weights(model, run.checkpoints / "init.pt", step=0)


def _restore(trainer: Trainer, run: Run | None, run_dir: Path) -> None:
    """Put a resumed trainer (and metrics.jsonl) back where checkpoints/last.pt left them.

    Without a last.pt (killed before the first checkpoint) training restarts from init.pt and an
    empty metrics log, exactly as the uninterrupted run started.
    """
    last = run_dir / "checkpoints" / "last.pt"
    if last.exists():
        trainer.load_state(last)
        rows = trainer.restored_metrics_rows
    else:
        init = run_dir / "checkpoints" / "init.pt"
        load_state_into(trainer.model, load_weights(init), str(init))
        rows = 0
    if run is not None:
        run.repair_metrics(rows=rows, after_step=trainer.state.step)


def resume(run_dir: str | Path, overrides: Sequence[str] = (), **kwargs) -> Run:
    """Continue an interrupted run from checkpoints/last.pt with its saved config.

    `overrides` (`key=value`) may change the keys in `resume_overrides.RESUMABLE_KEYS` (learning
    rates, schedule, clipping, epochs / max_steps); each change is recorded in
    config_history.jsonl and config.yaml is rewritten.
    """
    from latentscape.train.resume_overrides import is_main_process, resume_config

    run = Run.open(run_dir)
    last = run.checkpoints / "last.pt"
    if last.exists() and is_finished(last):
        raise LatentscapeError(f"{run_dir} has already finished (checkpoints/final.pt exists)")
    cfg = resume_config(run, list(overrides), write=is_main_process())
    return train_and_evaluate(cfg, run_dir, resume=True, **kwargs)


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
    model = build_model(cfg, info)
    if which == "last":
        from latentscape.train.checkpoint import load_checkpoint
        from latentscape.train.checkpoint import STATE_FORMAT

        state = load_checkpoint(run.checkpoints / "last.pt", STATE_FORMAT)["model"]
        source = str(run.checkpoints / "last.pt")
    else:
        path = run.checkpoints / f"{which}.pt" if which in ("final", "init") else Path(which)
        if which == "final" and not path.exists():
            raise CheckpointError(f"{run.path} has no final weights yet (unfinished run? use {run.path}@last)")
        state = load_weights(path)
        source = str(path)
    load_state_into(model, state, source)
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
    except (KeyError, TypeError, ValueError, UnicodeDecodeError) as exc:
        what = f"no {exc.args[0]!r} field" if isinstance(exc, KeyError) else str(exc).splitlines()[0]
        raise LatentscapeError(f"{path}: damaged ({what}); it needs image_shape [C, H, W], num_classes, num_train") from None
    if len(shape) != 3 or min(shape) < 1 or info.num_classes < 0 or info.num_train < 0:
        raise LatentscapeError(f"{path}: damaged (image_shape {list(shape)} is not [C, H, W] with positive sizes)")
    return info


def _write_report(run: Run) -> None:
    try:
        from latentscape.viz.report import write_report
    except ImportError:  # pragma: no cover - the viz package is part of latentscape
        return
    write_report(run.path)
