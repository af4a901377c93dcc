"""The importable entry points: `train_and_evaluate`, `resume` (Flax-examples style); a run is
loaded back with `latentscape.rundir.load.load_run`.

The CLI only parses flags and calls these.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.distributed as dist

from latentscape.config import RunConfig, TrainConfig
from latentscape.data.types import ImageDataset
from latentscape.errors import LatentscapeError
from latentscape.models.data_init import initialize_from_data
from latentscape.registry import MODELS
from latentscape.rundir.callbacks import Callback
from latentscape.rundir.checkpoint import load_state_into, load_weights, save_weights
from latentscape.rundir.footprint import check_model_fits
from latentscape.rundir.model import DataInfo, LatentModel
from latentscape.rundir.load import INFO_FILE, build_model, data_info_of
from latentscape.rundir.run import Run, default_run_dir
from latentscape.timing import phase
from latentscape.train.determinism import use_deterministic_kernels
from latentscape.train.trainer import Trainer, check_setup, is_finished, seed_everything

__all__ = ["default_callbacks", "load_data", "resolve_device", "resume", "train_and_evaluate"]



def resolve_device(name: str, key: str = "train.device") -> torch.device:
    """'auto' -> cuda if available, else cpu. Under torchrun, 'auto' and 'cuda' name the local
    rank's GPU (cuda:LOCAL_RANK): one GPU per process, as NCCL requires.

    A device this machine does not have is a LatentscapeError naming `key` (the config key or
    the command's option), raised before any file is written.
    """
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise LatentscapeError(f"{key}: unknown device {name!r} (auto, cpu, cuda, cuda:N)") from None
    if device.type not in ("cpu", "cuda"):
        raise LatentscapeError(f"{key}: unsupported device {name!r} (auto, cpu, cuda, cuda:N)")
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise LatentscapeError(f"{key}={name}: no CUDA device is available on this machine (use auto or cpu)")
        if device.index is None and "LOCAL_RANK" in os.environ:
            device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        if device.index is not None and device.index >= count:
            raise LatentscapeError(f"{key}={name}: this machine has {count} CUDA device(s), cuda:0..cuda:{count - 1}")
    return device


def default_callbacks(cfg: RunConfig) -> list[Callback]:
    entry = MODELS.get(cfg.model.name)
    return list(entry.callbacks(cfg)) if entry.callbacks else []


def load_data(cfg: RunConfig) -> dict[str, ImageDataset]:
    from latentscape.data.registry import load_splits

    return load_splits(cfg.data)


def init_distributed(device: torch.device | None = None) -> bool:
    """Join the torchrun process group if launched by torchrun; True when distributed.

    The backend follows the training device: NCCL for CUDA, gloo otherwise, so a CPU run
    (train.device=cpu) on a GPU machine still uses gloo. LATENTSCAPE_DIST_BACKEND overrides it.
    """
    launched_by_torchrun = "RANK" in os.environ and "WORLD_SIZE" in os.environ and "MASTER_ADDR" in os.environ
    if not launched_by_torchrun or dist.is_initialized():
        return dist.is_initialized()
    on_cuda = device.type == "cuda" if device is not None else torch.cuda.is_available()
    backend = os.environ.get("LATENTSCAPE_DIST_BACKEND") or ("nccl" if on_cuda else "gloo")
    if on_cuda:  # NCCL collectives (barrier, broadcast_object_list) run on the current GPU
        index = device.index if device is not None else None
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)) if index is None else index)
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
    device = resolve_device(cfg.train.device)
    distributed = init_distributed(device)
    rank = dist.get_rank() if distributed else 0
    _apply_torch_settings(cfg, device)
    run_dir = _agreed_run_dir(cfg, run_dir, distributed)
    with phase("data"):
        data = data if data is not None else load_data(cfg)
    info = data_info_of(data)
    check_model_fits(cfg, info, device)  # before the model or the run directory exists: one line, exit 2
    seed_everything(cfg.seed)
    model = build_model(cfg, info)
    check_setup(model, cfg, dist.get_world_size() if distributed else 1)  # before anything is written
    cbs = default_callbacks(cfg) if callbacks is None else list(callbacks)
    for cb in cbs:  # e.g. FID during training without a feature net: refused before the run folder exists
        cb.before_run(cfg, data, device)
    if not resume:  # a data-dependent start (the auto-decoder's PCA table) belongs in init.pt
        initialize_from_data(model, data)
    run = _open_run(cfg, run_dir, resume, model, info) if rank == 0 else None  # holds the run's write lock
    try:
        if distributed:  # the others wait until rank 0 has published the run directory
            dist.barrier()
        trainer = Trainer(model, cfg, data, run, device, cbs, quiet=quiet)
        if resume:
            _restore(trainer, run, run_dir)
        start = time.time()
        if rank == 0 and not quiet:
            print(f"run dir: {run_dir}", flush=True)
        with phase("train"):
            trainer.fit()
        with phase("final_eval"):
            results = trainer.final_evaluation(cfg.train.final_eval_splits)
        trainer.save_final_weights(mark_finished=False)
        if run is not None:
            _finish_run(run, trainer, results, time.time() - start, quiet)
    finally:
        if run is not None:
            run.close()  # flushes TensorBoard and releases the lock, also when training failed
    return Run(run_dir)


def _apply_torch_settings(cfg: RunConfig, device: torch.device) -> None:
    """The process-wide settings of a run: CPU threads, deterministic kernels, cuDNN autotuning.

    cuDNN's autotuner (`cudnn.benchmark`) times the convolution algorithms of each new input shape
    once and keeps the fastest; the winner can change from run to run, so it is on only for CUDA
    runs with train.deterministic=false, and switched off otherwise (also undoing an earlier run
    of the same process).
    """
    if cfg.train.num_threads:
        torch.set_num_threads(cfg.train.num_threads)
    if cfg.train.deterministic:
        use_deterministic_kernels(compiling=cfg.train.compile != "none")
    torch.backends.cudnn.benchmark = device.type == "cuda" and not cfg.train.deterministic


def _agreed_run_dir(cfg: RunConfig, run_dir: str | Path | None, distributed: bool) -> Path:
    """`run_dir` or a fresh default; under torchrun every rank takes the folder rank 0 chose."""
    if run_dir is None:
        run_dir = default_run_dir(cfg)
    if distributed:
        holder = [str(run_dir)]
        dist.broadcast_object_list(holder, src=0)
        run_dir = holder[0]
    return Path(run_dir)


def _open_run(cfg: RunConfig, run_dir: Path, resume: bool, model: torch.nn.Module, info: DataInfo) -> Run:
    """Reopen a run to resume it, or create one (config, data_info.json, init weights at step 0)."""
    if resume:
        run = Run.open_for_writing(run_dir)  # a second writer of the run is refused here
        run.remove_stale_temporaries()
        # Runs made before creation became atomic may lack these; the seed rebuilds them.
        _write_creation_files(run, model, info, only_missing=True)
        return run
    if (run_dir / "config.yaml").exists():
        raise LatentscapeError(
            f"{run_dir} already holds a run; use `latentscape train --resume {run_dir}` or another --run-dir"
        )
    # Created complete or not at all (a hidden staging folder renamed into place).
    return Run.create(cfg, run_dir, lambda r: _write_creation_files(r, model, info))


def _finish_run(run: Run, trainer: Trainer, results: dict[str, dict[str, float]], seconds: float, quiet: bool) -> None:
    """eval/final.json (steps, epochs, time, per-split metrics), the HTML report, final prints."""
    summary = {"steps": trainer.state.step, "epochs": trainer.state.epoch, "train_seconds": seconds, **results}
    protocol = trainer.model.evaluation_protocol()  # e.g. a curve's t and its BatchNorm statistics
    if protocol:
        summary["protocol"] = protocol
    run.write_json("eval/final.json", summary)
    from latentscape.viz.deferred import draw

    with phase("report"):
        draw(_write_report, run)  # LATENTSCAPE_PLOTS: sync (default), background or none
    # The finished mark is the last write: a run killed before it resumes and redoes the end.
    trainer.save_checkpoint(finished=True)
    run.close()
    if not quiet:
        for split, m in results.items():
            print(f"final {split}: " + "  ".join(f"{k}={v:.4g}" for k, v in m.items()), flush=True)


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
    """Continue an interrupted run from checkpoints/last.pt with its saved config, or a finished
    one when `overrides` raise train.epochs or train.max_steps (it trains on from its last state,
    then evaluates and writes final.pt again).

    `overrides` (`key=value`) may change the keys in `resume_overrides.RESUMABLE_KEYS` (learning
    rates, schedule, clipping, epochs / max_steps); each change is recorded in
    config_history.jsonl and config.yaml is rewritten.
    """
    from latentscape.train.resume_overrides import is_main_process, resume_config

    # the lock first: resume_config rewrites config.yaml (train_and_evaluate takes it again, re-entrantly)
    run = Run.open_for_writing(run_dir) if is_main_process() else Run.open(run_dir)
    try:
        last = run.checkpoints / "last.pt"
        if last.exists() and is_finished(last):
            if not trains_longer(run.config().train, resume_config(run, list(overrides), write=False).train):
                raise LatentscapeError(
                    f"{run_dir} has already finished (checkpoints/final.pt exists); to train it longer, "
                    "resume with a larger train.epochs or train.max_steps"
                )
        cfg = resume_config(run, list(overrides), write=is_main_process())
        return train_and_evaluate(cfg, run_dir, resume=True, **kwargs)
    finally:
        run.close()


def trains_longer(before: TrainConfig, after: TrainConfig) -> bool:
    """Whether the train config `after` allows more training than `before` (a larger epoch count,
    or a larger or removed step limit): the condition to continue a finished run."""
    more_epochs = after.epochs > before.epochs
    more_steps = before.max_steps is not None and (after.max_steps is None or after.max_steps > before.max_steps)
    return more_epochs or more_steps


def _write_report(run: Run) -> None:
    try:
        from latentscape.viz.report import write_report
    except ImportError:  # pragma: no cover - the viz package is part of latentscape
        return
    write_report(run.path)
