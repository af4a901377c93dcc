"""The generic trainer. Like minGPT's, it knows nothing about the models it trains.

It walks the model's optimizer groups (`group_for_step`), schedules learning rates, clips
gradients, runs bf16 autocast when asked, stops on a NaN/inf loss keeping the last good
checkpoint, evaluates periodically, logs to metrics.jsonl/TensorBoard, checkpoints atomically
and resumes exactly (same weights as an uninterrupted run), and averages gradients across
`torchrun` processes (gloo on CPU, NCCL on GPU).
"""

from __future__ import annotations

import math
import random
import sys
import time
import zlib
from collections import defaultdict
from collections.abc import Sequence
from contextlib import nullcontext

from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor

from latentscape.config import RunConfig
from latentscape.data.augment import augmentation
from latentscape.data.loader import BatchLoader, iterate_in_order
from latentscape.data.types import ImageDataset
from latentscape.errors import CheckpointError, ConfigError, TrainingDiverged
from latentscape.progress import Progress, ProgressFn, format_duration, remaining_seconds, resolve_style, tracked
from latentscape.rundir.callbacks import Callback, TrainState
from latentscape.rundir.checkpoint import STATE_FORMAT, atomic_save, load_checkpoint, load_state_into, save_weights
from latentscape.rundir.model import LatentModel
from latentscape.rundir.run import Run
from latentscape.train.guard import FiniteGuard
from latentscape.train.optim import build_optimizer, lr_factor, set_lr

__all__ = ["Trainer", "evaluate", "is_finished", "seed_everything"]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@torch.no_grad()
def evaluate(
    model: LatentModel, dataset: ImageDataset, batch_size: int, device: torch.device, seed: int | None = None,
    progress: ProgressFn | None = None,
) -> dict[str, float]:
    """Mean of `model.evaluate_batch` per-example metrics over a whole dataset (eval mode);
    `progress(images done, N)` after each batch (an auto-decoder fits latents there: minutes).

    With `seed`, the sampling noise of stochastic metrics (a VAE's posterior sample) comes from
    the global generators re-seeded with `split_seed(seed, dataset.split)` inside a forked RNG
    state: a split's numbers then do not depend on which other splits were evaluated before it,
    and evaluation does not shift the training RNG stream.
    """
    if seed is None:
        return _evaluate(model, dataset, batch_size, device, progress)
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(split_seed(seed, dataset.split))
        return _evaluate(model, dataset, batch_size, device, progress)


def split_seed(seed: int, split: str) -> int:
    """A seed derived from (run seed, split name), stable across processes (crc32, not hash())."""
    return zlib.crc32(f"{seed}:{split}".encode()) & 0x7FFFFFFF


def _evaluate(model: LatentModel, dataset: ImageDataset, batch_size: int, device: torch.device,
              progress: ProgressFn | None = None) -> dict[str, float]:
    was_training = model.training
    model.eval()
    sums: dict[str, float] = defaultdict(float)
    count = 0
    for batch in iterate_in_order(dataset, batch_size, device):
        for k, v in model.evaluate_batch(batch).items():
            sums[k] += float(v.double().sum())
        count += batch.x.shape[0]
        if progress is not None:
            progress(count, len(dataset))
    model.train(was_training)
    return {k: v / max(count, 1) for k, v in sums.items()}


def check_optimizer_state(optimizer: Any, source: str) -> None:
    """CheckpointError naming `source` when restored optimizer state does not fit its parameters.

    `Optimizer.load_state_dict` checks only the number of parameters; a moment buffer of another
    shape reaches the (fused) update kernel, which reads and writes out of bounds: a segfault,
    or worse, from a crafted last.pt.
    """
    for opt in getattr(optimizer, "optimizers", [optimizer]):  # a JointOptimizer's parts
        for group in opt.param_groups:
            for p in group["params"]:
                for key, value in opt.state.get(p, {}).items():
                    if value is None:  # e.g. SGD's momentum buffer before its first step
                        continue
                    if not isinstance(value, Tensor):
                        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
                        if not ok:
                            raise CheckpointError(f"{source} state {key!r} is {value!r}, not a number")
                        continue
                    if key == "step":
                        if value.numel() != 1 or value.is_complex() or not bool(torch.isfinite(value.float()).all()):
                            raise CheckpointError(f"{source} state 'step' is not a finite count")
                        continue
                    if value.shape != p.shape or value.layout != p.layout or not value.is_floating_point():
                        raise CheckpointError(
                            f"{source} state {key!r} is {value.dtype} {tuple(value.shape)}, its parameter "
                            f"{p.dtype} {tuple(p.shape)}"
                        )
                    if not bool(torch.isfinite(value).all()):
                        raise CheckpointError(f"{source} state {key!r} holds NaN or infinite values")


def check_setup(model: LatentModel, config: RunConfig, world_size: int = 1) -> None:
    """ConfigError for training options that do not fit the model or the process count.

    `train_and_evaluate` calls it before the run directory is created, so a refused option leaves
    no half-made run behind (the Trainer checks again for trainers driven by hand).
    """
    tc = config.train
    unknown = sorted(set(tc.group_optimizers) - set(model.groups))
    if unknown:
        raise ConfigError(
            f"train.group_optimizers.{unknown[0]}: model {config.model.name!r} has no optimizer group "
            f"{unknown[0]!r}; its groups: {', '.join(model.groups)}"
        )
    if tc.batch_size % world_size:
        raise ConfigError(f"train.batch_size={tc.batch_size} must divide evenly over {world_size} processes")
    sparse = any(g.get("sparse") for name in model.groups for g in model.param_groups_for(name))
    if sparse and (tc.grad_clip or world_size > 1):  # clip_grad_norm_ and the all-reduce need dense gradients
        raise ConfigError("sparse gradients (model.sparse=true) do not combine with train.grad_clip or torchrun")


class Trainer:
    """Trains `model` on `data["train"]` as `config.train` says, writing into `run`."""

    def __init__(
        self,
        model: LatentModel,
        config: RunConfig,
        data: dict[str, ImageDataset],
        run: Run | None,
        device: torch.device,
        callbacks: Sequence[Callback] = (),
        quiet: bool = False,
    ) -> None:
        self.cfg = config
        self.quiet = quiet  # no progress bar / evaluation progress (the step lines are the log)
        self.tc = config.train
        self.model = model.to(device)
        if config.train.channels_last:  # NHWC kernels: faster convolutions on tensor cores
            self.model = self.model.to(memory_format=torch.channels_last)
        self.run = run
        self.device = device
        self.callbacks = list(callbacks)
        self.world_size = dist.get_world_size() if dist.is_initialized() else 1
        self.rank = dist.get_rank() if dist.is_initialized() else 0
        check_setup(model, config, self.world_size)
        self.loader = BatchLoader(
            data["train"],
            self.tc.batch_size // self.world_size,
            shuffle=True,
            seed=config.seed,
            device=device,
            rank=self.rank,
            world_size=self.world_size,
            augment=augmentation(config.data),
        )
        if callable(getattr(model, "use_training_data", None)):  # evaluation reads the training split (a curve's BatchNorm)
            model.use_training_data(data["train"], self.tc.eval_batch_size)
        self.optimizers = {g: build_optimizer(model.param_groups_for(g), self._opt_cfg(g)) for g in model.groups}
        steps_per_epoch = len(self.loader)
        total = self.tc.epochs * steps_per_epoch
        self.total_steps = min(total, self.tc.max_steps) if self.tc.max_steps else total
        self.state = TrainState(
            model, run if self.rank == 0 else None, config, data, device,
            is_main=self.rank == 0, world_size=self.world_size,
        )
        # Running sums of the logged scalars since the last flush: 0-d float64 tensors on the
        # training device, so a step never waits for the GPU (the flush every `log_every`
        # steps is the one host sync of the loop).
        self._window: dict[str, list[Any]] = defaultdict(lambda: [0.0, 0])
        # On accelerators the NaN/inf check of the loss is also deferred to the flush: an
        # `if` on a device tensor each step would stall the launch queue. On the CPU it is free.
        self._guard = FiniteGuard(device, self._diverged)
        self._step_fn = self._compiled_forward()
        self._evaluated: dict[tuple[str, int], dict[str, float]] = {}  # (split, step) -> metrics
        self.restored_metrics_rows: int | None = None  # from a resumed checkpoint
        self._start_time = time.time()

    def _nan_advice(self) -> str:
        """How to continue after a NaN stop (resuming with a lower LR is allowed)."""
        where = str(self.run.path) if self.run is not None else "RUN_DIR"
        lr = self.tc.optimizer.lr
        return (f"lower the learning rate, e.g. `latentscape train --resume {where} "
                f"train.optimizer.lr={lr / 10:g}`, or add train.grad_clip=1.0")

    def _opt_cfg(self, group: str):
        return self.tc.group_optimizers.get(group, self.tc.optimizer)

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        s = self.state
        return {
            "format": STATE_FORMAT,
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            # on the CPU like the weights: the file loads on any machine, whatever trained it
            "optimizers": {g: _on_cpu(o.state_dict()) for g, o in self.optimizers.items()},
            "step": s.step,
            "epoch": s.epoch,
            "batch_in_epoch": s.batch_in_epoch,
            "window": {k: [float(v[0]), int(v[1])] for k, v in self._window.items()},
            "rng_torch": torch.get_rng_state(),
            "rng_cuda": cuda_rng_states(self.device),
            "rng_python": list(random.getstate()[1]),
            "rng_numpy": _numpy_rng_state(),
            "finished": False,
        }

    def save_checkpoint(self, finished: bool = False) -> None:
        self._raise_if_diverged()
        if not all(torch.isfinite(p).all() for p in self.model.parameters()):
            raise TrainingDiverged(
                f"weights became NaN/inf by step {self.state.step}; stopped without overwriting the "
                f"last good checkpoint: {self._nan_advice()}"
            )
        if not self.state.is_main or self.run is None:
            return
        sd = self.state_dict()
        sd["finished"] = finished
        sd["metrics_rows"] = self.run.metrics_rows()  # a resume cuts metrics.jsonl back to this
        atomic_save(sd, self.run.checkpoints / "last.pt")

    def load_state(self, path) -> None:
        ckpt = load_checkpoint(path, STATE_FORMAT)
        load_state_into(self.model, ckpt["model"], str(path))  # names, shapes, dtypes, finite values
        try:
            for g, o in self.optimizers.items():
                o.load_state_dict(ckpt["optimizers"][g])
        except (RuntimeError, KeyError, ValueError, TypeError, AttributeError, IndexError) as exc:
            raise CheckpointError(f"{path}: does not fit this model ({str(exc).splitlines()[0]})") from None
        for g, o in self.optimizers.items():
            check_optimizer_state(o, f"{path}: optimizer {g!r}")
        rows = ckpt.get("metrics_rows")
        if rows is not None and (not isinstance(rows, int) or isinstance(rows, bool) or rows < 0):
            raise CheckpointError(f"{path}: damaged train state (metrics_rows {rows!r} is not a row count)")
        s = self.state
        s.step, s.epoch, s.batch_in_epoch = ckpt["step"], ckpt["epoch"], ckpt["batch_in_epoch"]
        self.model.set_step(s.step)
        self.restored_metrics_rows = ckpt.get("metrics_rows")
        try:
            self._window = defaultdict(lambda: [0.0, 0], {str(k): [float(v[0]), int(v[1])] for k, v in ckpt["window"].items()})
            torch.set_rng_state(ckpt["rng_torch"])
            restore_cuda_rng(ckpt["rng_cuda"], self.device)
            random.setstate((3, tuple(int(v) for v in ckpt["rng_python"]), None))
            keys, pos, has_gauss, cached = ckpt["rng_numpy"]
            np.random.set_state(("MT19937", keys.numpy().astype(np.uint32), pos, has_gauss, cached))
        except Exception as exc:  # a tagged file with damaged random-generator states
            raise CheckpointError(f"{path}: damaged train state ({exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None

    # ------------------------------------------------------------------ training
    def fit(self) -> TrainState:
        s = self.state
        for cb in self.callbacks:
            cb.on_train_start(s)
        autocast = (
            torch.autocast(self.device.type, dtype=torch.bfloat16)
            if self.tc.precision == "bf16"
            else nullcontext()
        )
        progress = self._live = self._progress()  # evaluation lines are printed around the bar
        self._fit_start = (time.perf_counter(), s.step)  # the time left counts this process's steps
        while s.step < self.total_steps and s.epoch < self.tc.epochs:
            self.loader.set_epoch(s.epoch)
            for batch in self.loader.batches(start_batch=s.batch_in_epoch):
                if s.step >= self.total_steps:
                    break
                logs = self._train_step(batch, autocast)
                s.step += 1
                s.batch_in_epoch += 1
                self._accumulate(logs)
                if progress is not None:
                    progress.update(s.step)
                if s.step % self.tc.log_every == 0:
                    self._flush_window(progress)
                for cb in self.callbacks:
                    cb.on_step_end(s, logs)
                if self.tc.checkpoint_every_steps and s.step % self.tc.checkpoint_every_steps == 0:
                    self.save_checkpoint()
                if self.tc.keep_every and s.step % self.tc.keep_every == 0 and s.is_main and self.run is not None:
                    # weights only, for trajectories (latentscape.landscape.core.trajectory)
                    save_weights(self.model, self.run.checkpoints / "keep" / f"step_{s.step:06d}.pt", step=s.step)
            if s.batch_in_epoch >= len(self.loader):
                s.epoch += 1
                s.batch_in_epoch = 0
                # the last epoch's scheduled evaluation runs too (it used to be skipped when
                # s.step reached total_steps, leaving eval_every's schedule without its last
                # point whenever eval_split is not among final_eval_splits); final_evaluation
                # reuses it instead of evaluating the same weights twice
                if self.tc.eval_every and s.epoch % self.tc.eval_every == 0:
                    self._periodic_eval()
                self.save_checkpoint()
        if progress is not None:
            progress.close()
        self._live = None
        self._flush_window(None)
        return s

    def _train_step(self, batch, autocast) -> dict[str, Tensor | float]:
        """One optimizer step of the group whose turn it is; returns 0-d device tensors (+ lr)."""
        s = self.state
        group = self.model.group_for_step(s.step)
        opt = self.optimizers[group]
        factor = lr_factor(self.tc.schedule, s.step, self.total_steps, len(self.loader))
        lr = set_lr(opt, self._opt_cfg(group).lr, factor)
        self.model.set_step(s.step)
        self.model.train()
        opt.zero_grad(set_to_none=True)
        if self.tc.channels_last and batch.x.dim() == 4:
            batch = batch._replace(x=batch.x.contiguous(memory_format=torch.channels_last))
        with autocast:
            out = self._step_fn(batch, group)
        loss = out.loss
        self._guard_finite(loss.detach(), group)
        loss.backward()
        params = [p for p in self.model.params_for(group) if p.grad is not None]
        if self.world_size > 1:
            _average_gradients(params, self.world_size)
        if self.tc.grad_clip:
            torch.nn.utils.clip_grad_norm_(params, self.tc.grad_clip)
        opt.step()
        logs = {f"{group}/loss" if len(self.model.groups) > 1 else "loss": loss.detach()}
        logs.update({k: v.detach() if isinstance(v, Tensor) else v for k, v in out.logs.items()})
        # A model may log CPU scalars (e.g. the curve's t) while training on CUDA: bring every
        # value to the loss's device before stacking (stacking mixed devices fails on CUDA).
        values = torch.stack([torch.as_tensor(v).to(loss.device, torch.float32).reshape(()) for v in logs.values()])
        if self.world_size > 1:
            dist.all_reduce(values)
            values /= self.world_size
        result: dict[str, Tensor | float] = dict(zip(logs.keys(), values.unbind()))
        result[f"lr/{group}" if len(self.model.groups) > 1 else "lr"] = lr
        return result

    def _guard_finite(self, loss: Tensor, group: str) -> None:
        """Stop on a NaN/inf loss: at once on the CPU, at the next flush on accelerators."""
        self._guard.check(loss, self.state.step)

    def _raise_if_diverged(self) -> None:
        self._guard.raise_if_seen()

    def _diverged(self, value: float, step: int) -> TrainingDiverged:
        return TrainingDiverged(
            f"loss became {value} at step {step} (group {self.model.group_for_step(step)!r}); stopped, and the "
            f"last good checkpoint is kept: {self._nan_advice()}"
        )

    def _compiled_forward(self):
        """The model's objective, optionally through `torch.compile` (train.compile).

        "reduce-overhead" captures CUDA graphs, which removes the per-kernel launch cost that
        dominates small batches on a GPU. The module itself stays uncompiled, so state dicts and
        checkpoints keep their names.
        """
        if self.tc.compile == "none":
            return self.model
        return torch.compile(self.model, mode=None if self.tc.compile == "default" else self.tc.compile)

    def _accumulate(self, logs: dict[str, Tensor | float]) -> None:
        for k, v in logs.items():
            acc = self._window[k]
            acc[0] = acc[0] + (v.double() if isinstance(v, Tensor) else v)  # stays on the device
            acc[1] += 1

    def _flush_window(self, progress) -> None:
        self._raise_if_diverged()
        if not self._window:
            return
        means = {k: float(v[0]) / v[1] for k, v in self._window.items() if v[1]}
        self._window.clear()
        s = self.state
        if s.is_main and self.run is not None:
            self.run.log(means, step=s.step, split="train", epoch=s.epoch)
            if progress is not None:
                progress.postfix({k: f"{v:.4g}" for k, v in list(means.items())[:3]})
            else:
                shown = "  ".join(f"{k}={v:.4g}" for k, v in means.items())
                print(f"step {s.step}/{self.total_steps} epoch {s.epoch}  {shown}{self._time_left()}", flush=True)

    def _time_left(self) -> str:
        """`  (about 3 min 10 s left)` from the rate of this process's steps so far."""
        start, first = getattr(self, "_fit_start", (time.perf_counter(), self.state.step))
        left = remaining_seconds(self.state.step - first, self.total_steps - first, time.perf_counter() - start)
        return f"  (about {format_duration(left)} left)" if left is not None and left >= 1 else ""

    def _evaluation_progress(self, split: str, when: str):
        """Progress of evaluating a split (silent unless it takes a while: an auto-decoder fits
        latents for every image there)."""
        return tracked(f"{when} evaluation of the {split} split", unit="image", lazy=True,
                       quiet=self.quiet or not self.state.is_main)

    def _periodic_eval(self) -> dict[str, float]:
        split = self.tc.eval_split
        metrics: dict[str, float] = {}
        self.model.set_step(self.state.step)  # evaluate at the step the weights are at
        if self.state.is_main and split in self.state.data:
            with self._evaluation_progress(split, f"epoch {self.state.epoch}") as progress:
                metrics = evaluate(self.model, self.state.data[split], self.tc.eval_batch_size, self.device,
                                   self.cfg.seed, progress)
            self._evaluated[(split, self.state.step)] = metrics
            if self.run is not None:
                self.run.log(metrics, step=self.state.step, split=split, epoch=self.state.epoch)
            line = f"eval {split} epoch {self.state.epoch}: " + "  ".join(f"{k}={v:.4g}" for k, v in metrics.items())
            live = getattr(self, "_live", None)
            live.write(line) if live is not None else print(line, flush=True)
        for cb in self.callbacks:
            cb.on_eval_end(self.state, metrics)
        if self.world_size > 1:
            dist.barrier()
        return metrics

    def final_evaluation(self, splits: Sequence[str]) -> dict[str, dict[str, float]]:
        """Evaluate on each split (main process), log it, run on_eval_end and on_train_end."""
        results: dict[str, dict[str, float]] = {}
        self.model.set_step(self.state.step)  # the step `load_run` rebuilds final weights at
        step = self.state.step
        scheduled_here = (self.tc.eval_split, step) in self._evaluated  # callbacks already saw it
        if self.state.is_main:
            for split in splits:
                if (split, step) in self._evaluated:  # the last scheduled evaluation: same weights
                    results[split] = self._evaluated[(split, step)]
                elif split in self.state.data:
                    with self._evaluation_progress(split, "final") as progress:
                        results[split] = evaluate(self.model, self.state.data[split], self.tc.eval_batch_size,
                                                  self.device, self.cfg.seed, progress)
                    if self.run is not None:  # "train" names the running training logs
                        name = "train_eval" if split == "train" else split
                        self.run.log(results[split], step=step, split=name, epoch=self.state.epoch)
        for cb in self.callbacks:
            if not scheduled_here:
                cb.on_eval_end(self.state, results.get(self.tc.eval_split, {}))
            cb.on_train_end(self.state)
        if self.world_size > 1:
            dist.barrier()
        return results

    def _progress(self) -> Progress | None:
        """A bar on a terminal (LATENTSCAPE_PROGRESS and quiet respected); None: step lines."""
        if not self.state.is_main or resolve_style("auto", sys.stderr, self.quiet) != "bar":
            return None
        return Progress("train", self.total_steps, unit="step", style="bar", initial=self.state.step)

    def save_final_weights(self, mark_finished: bool = True) -> None:
        """Write final.pt, then (if `mark_finished`) a last.pt marked finished."""
        if self.state.is_main and self.run is not None:
            save_weights(self.model, self.run.checkpoints / "final.pt", step=self.state.step)
            if mark_finished:
                self.save_checkpoint(finished=True)


def _average_gradients(params: list[torch.nn.Parameter], world_size: int) -> None:
    """All-reduce gradients (one flat buffer) and divide by the number of processes."""
    if not params:
        return
    flat = torch.cat([p.grad.reshape(-1) for p in params])  # (P,)
    dist.all_reduce(flat)
    flat /= world_size
    offset = 0
    for p in params:
        n = p.grad.numel()
        p.grad.copy_(flat[offset : offset + n].view_as(p.grad))
        offset += n


def _on_cpu(obj: Any) -> Any:
    """`obj` (nested dicts, lists, tuples) with every tensor copied to the CPU."""
    if isinstance(obj, Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _on_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_on_cpu(v) for v in obj)
    return obj


def cuda_rng_states(device: torch.device) -> list[Tensor]:
    """[the training GPU's generator state] for a checkpoint; [] when training elsewhere.

    Only the training device's: a run on the CPU never starts CUDA to save states it does not
    use, and a checkpoint does not depend on how many GPUs the machine that wrote it had.
    """
    return [torch.cuda.get_rng_state(device)] if device.type == "cuda" else []


def restore_cuda_rng(states: Sequence[Tensor], device: torch.device) -> None:
    """Put a checkpoint's CUDA generator state back on the training GPU (nothing off CUDA).

    Older checkpoints hold one state per visible GPU; the first (cuda:0's) is the one a
    single-process run trained with.
    """
    if states and device.type == "cuda":
        torch.cuda.set_rng_state(states[0], device)


def _numpy_rng_state() -> list:
    _, keys, pos, has_gauss, cached = np.random.get_state()
    return [torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)]


def is_finished(ckpt_path) -> bool:
    """Whether a last.pt marks a finished run."""
    try:
        return bool(load_checkpoint(ckpt_path, STATE_FORMAT)["finished"])
    except CheckpointError:
        return False


