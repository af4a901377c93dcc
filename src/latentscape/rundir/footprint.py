"""Will a model fit, and could its run ever finish? Estimated before the model is built.

A config within every declared range can still describe a model that cannot exist here: an MLP
of three 100,000-wide layers holds 2e10 parameters (80 GB before any training state), and an
MLP of two 30,000-wide layers builds on a 24 GiB machine and then swaps it towards the OOM killer
while Adam's state grows. `check_model_fits` builds the model on PyTorch's meta device (shapes,
no storage, milliseconds), runs one forward pass there to measure what autograd would keep for a
batch and how many FLOPs it costs (tens of milliseconds), and refuses in one line, before any
run directory exists, naming the configuration and the estimate:

    training memory = parameters + gradients + optimizer state (Adam: 2 per parameter, SGD with
                      momentum: 1) + checkpoint copies (save_weights clones the weights, and
                      the writer buffers a tensor: 2 per parameter at most) + activations of one
                      batch (the tensors autograd saves for backward)
    loading memory  = parameters + the checkpoint being read (1 per parameter)
    training time   >= 3 x forward FLOPs x steps / the device's peak rate (generous: a lower bound)

Models that cannot be built or run on the meta device (a build that reads files, a forward that
calls .item()) get the part of the estimate that could be made. LATENTSCAPE_NO_LIMITS=1 skips the
refusal (data/memory.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from latentscape.config import RunConfig
from latentscape.data.memory import check_fits, gib
from latentscape.data.types import Batch
from latentscape.errors import ConfigError
from latentscape.ranges import NO_LIMITS_ENV, limits_lifted
from latentscape.registry import MODELS
from latentscape.rundir.model import DataInfo

#: The share of the free memory a run may plan to take (the rest: the process itself, the
#: allocator's slack, other users of a shared machine).
USABLE = 0.9
#: Optimizer state per parameter, by optimizer (SGD: 1 with momentum, 0 without).
OPTIMIZER_SLOTS = {"adam": 2, "adamw": 2}
CHECKPOINT_COPIES = 2
#: Peak rates for the lower bound on training time (FLOP/s): above any current device's fp32/bf16.
PEAK_FLOPS_PER_CPU_CORE = 2e11
PEAK_FLOPS_GPU = 2e15
MAX_TRAIN_DAYS = 30


@dataclass(frozen=True)
class Footprint:
    """What building (and training) a model will hold in memory, in bytes."""

    parameters: int
    parameter_bytes: int
    gradient_bytes: int = 0
    optimizer_bytes: int = 0
    checkpoint_bytes: int = 0
    activation_bytes: int | None = None  # one training batch; None when the forward pass could not run
    forward_flops: int | None = None  # one training batch

    @property
    def total(self) -> int:
        return (self.parameter_bytes + self.gradient_bytes + self.optimizer_bytes + self.checkpoint_bytes
                + (self.activation_bytes or 0))

    def breakdown(self) -> str:
        """"parameters 3.4 GiB, gradients 3.4 GiB, ..." (the parts that are not zero)."""
        parts = [("parameters", self.parameter_bytes), ("gradients", self.gradient_bytes),
                 ("optimizer state", self.optimizer_bytes), ("checkpoint copies", self.checkpoint_bytes),
                 ("activations of one batch", self.activation_bytes or 0)]
        return ", ".join(f"{name} {gib(n)}" for name, n in parts if n)


def describe_model(cfg: RunConfig) -> str:
    """`mlp_classifier(hidden_dims=[30000, 30000])`: the model and its settings that differ from
    the defaults (what a refusal names)."""
    model = cfg.model
    changed = [
        f"{f.name}={_plain(getattr(model, f.name))}" for f in dataclasses.fields(model)
        if f.name != "name" and _differs(model, f)
    ]
    return f"{model.name}({', '.join(changed)})"


def estimate(cfg: RunConfig, info: DataInfo, training: bool = True) -> Footprint | None:
    """The memory footprint of `cfg`'s model (None when it cannot be built on the meta device)."""
    try:  # quietly: a build that loads weights (a curve's ends) warns that meta copies are no-ops
        with torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = MODELS.get(cfg.model.name).build(cfg.model, info)
    except Exception:  # noqa: BLE001 - a build that needs real tensors: no estimate, the real build decides
        return None
    params = list(model.parameters())
    count = sum(p.numel() for p in params)
    pbytes = sum(p.numel() * p.element_size() for p in params)
    if not training:
        return Footprint(count, pbytes, checkpoint_bytes=pbytes)
    trainable = sum(p.numel() * p.element_size() for p in params if p.requires_grad)
    activations, flops = _batch_costs(model, info, cfg.train.batch_size)
    return Footprint(
        count, pbytes, gradient_bytes=trainable, optimizer_bytes=_optimizer_slots(cfg) * trainable,
        checkpoint_bytes=CHECKPOINT_COPIES * pbytes, activation_bytes=activations, forward_flops=flops,
    )


def check_model_fits(cfg: RunConfig, info: DataInfo, device: torch.device | str = "cpu", training: bool = True) -> Footprint | None:
    """Refuse (ConfigError, one line) a model whose estimate does not fit the device's free
    memory, or (training) whose run could not finish in MAX_TRAIN_DAYS at the device's peak rate.

    Returns:
        The estimate (None when the model cannot be estimated; then nothing is refused).
    """
    if limits_lifted():
        return None
    fp = estimate(cfg, info, training)
    if fp is None:
        return None
    device = torch.device(device)
    what = ("training " if training else "loading ") + f"{describe_model(cfg)} ({fp.parameters:,} parameters"
    what += f"; {fp.breakdown()})" if training else ")"
    lower = "the model's sizes" + (" or train.batch_size" if training and fp.activation_bytes else "")
    check_fits(fp.total, what, lower, available=_free_memory(device), usable=USABLE, error=ConfigError)
    if training and fp.forward_flops:
        _check_time(cfg, info, fp.forward_flops, device)
    return fp


def _check_time(cfg: RunConfig, info: DataInfo, forward_flops: int, device: torch.device) -> None:
    """Refuse a run that could not finish in MAX_TRAIN_DAYS even at the device's peak rate."""
    steps = cfg.train.epochs * max(1, math.ceil(info.num_train / cfg.train.batch_size))
    if cfg.train.max_steps is not None:
        steps = min(steps, cfg.train.max_steps)
    rate = PEAK_FLOPS_GPU if device.type == "cuda" else PEAK_FLOPS_PER_CPU_CORE * (os.cpu_count() or 1)
    days = 3 * forward_flops * steps / rate / 86400  # backward ~ 2 x forward (Kaplan et al. 2020, sec. 2.1)
    if days > MAX_TRAIN_DAYS:
        raise ConfigError(
            f"training {describe_model(cfg)} for {steps:,} steps of batch {cfg.train.batch_size} needs "
            f"{3 * forward_flops * steps:.3g} FLOPs: at least {days:,.0f} days at this {device.type.upper()}'s peak "
            f"rate (limit {MAX_TRAIN_DAYS} days); lower train.epochs, train.max_steps or the model's sizes "
            f"(or set {NO_LIMITS_ENV}=1 to go beyond it on purpose)"
        )


def _batch_costs(model: nn.Module, info: DataInfo, batch_size: int) -> tuple[int | None, int | None]:
    """(bytes autograd keeps for one batch, forward FLOPs of one batch), from one meta forward
    pass of every optimizer group; None where the forward pass cannot run on the meta device.

    Counted: every tensor saved for backward except the parameters themselves and views of them
    (a linear layer saves its weight's transpose), which the parameter count already holds.
    """
    from torch.utils.flop_counter import FlopCounterMode

    model.train()
    params = {id(p) for p in model.parameters()}
    saved, flops = [], []
    for group in getattr(model, "groups", ("main",)):
        total = [0]

        def pack(t: torch.Tensor) -> torch.Tensor:
            if id(t) not in params and (t._base is None or id(t._base) not in params):
                total[0] += t.numel() * t.element_size()
            return t

        counter = FlopCounterMode(display=False)
        for count_flops in (True, False):  # the FLOP counter cannot follow autograd.grad (WGAN-GP's penalty)
            total[0] = 0
            try:
                with counter if count_flops else contextlib.nullcontext(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                    model(_meta_batch(info, batch_size), group)
                break
            except Exception:  # noqa: BLE001 - data-dependent code (.item(), generators on the CPU)
                if not count_flops:
                    return None, None
        saved.append(total[0])
        flops.append(counter.get_total_flops() if count_flops else None)
    known = [f for f in flops if f is not None]
    return max(saved), (max(known) if len(known) == len(flops) else None)


def _meta_batch(info: DataInfo, batch_size: int) -> Batch:
    c, h, w = info.image_shape
    index = torch.arange(batch_size, device="meta") % max(1, info.num_train)
    x = torch.empty(batch_size, c, h, w, device="meta")  # (B, C, H, W)
    y = torch.zeros(batch_size, dtype=torch.long, device="meta")
    return Batch(x, y, index, index_bound=max(1, info.num_train))


def _optimizer_slots(cfg: RunConfig) -> int:
    names = [cfg.train.optimizer] + list(cfg.train.group_optimizers.values())
    return max(OPTIMIZER_SLOTS.get(o.name, 1 if getattr(o, "momentum", 0) else 0) for o in names)


def _free_memory(device: torch.device) -> int | None:
    """Free bytes on a CUDA device; None on the CPU (check_fits reads MemAvailable)."""
    if device.type == "cuda" and torch.cuda.is_available():
        return torch.cuda.mem_get_info(device)[0]
    return None


def _differs(model: object, f: dataclasses.Field) -> bool:
    if f.default is not dataclasses.MISSING:
        return getattr(model, f.name) != f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return getattr(model, f.name) != f.default_factory()  # type: ignore[misc]
    return True


def _plain(value: object) -> str:
    return str(list(value)) if isinstance(value, tuple) else repr(value) if isinstance(value, str) else str(value)
