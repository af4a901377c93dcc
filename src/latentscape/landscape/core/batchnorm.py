"""BatchNorm statistics of a weight-space point, recomputed from training data.

A point on a path has no running statistics of its own: the ones stored with an endpoint belong
to that endpoint only (and are an exponential average over training, not the statistics of the
final weights). Like Garipov et al.'s `update_bn`, we pass over training batches with the point's
parameters and fresh buffers and take the example-weighted cumulative average of the batch
statistics (momentum = b / (n + b) for a batch of b after n examples). Only the BatchNorm
modules run in train mode; dropout stays off, so the statistics are deterministic.

The caller's module is never touched: the pass runs on a private deep copy through
`torch.func.functional_call` with explicit parameters and buffers.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from latentscape.landscape.core.data import batch_size_of
from latentscape.landscape.core.functional import Bound
from latentscape.landscape.core.params import Params

ForwardFn = Callable[[nn.Module, Any], Any]


def batchnorm_modules(module: nn.Module) -> dict[str, _BatchNorm]:
    """BatchNorm layers (1d/2d/3d, SyncBatchNorm) that keep running statistics, by name."""
    return {
        name: m
        for name, m in module.named_modules()
        if isinstance(m, _BatchNorm) and m.track_running_stats
    }


def has_batchnorm(module: nn.Module) -> bool:
    """Whether `module` has BatchNorm layers whose statistics depend on the weights."""
    return bool(batchnorm_modules(module))


def fresh_buffers(module: nn.Module, buffers: Params | None = None) -> Params:
    """`buffers` (default: the module's own) with BatchNorm statistics reset to zero state."""
    buffers = dict(buffers) if buffers is not None else {n: b for n, b in module.named_buffers()}
    out = {name: b.detach().clone() for name, b in buffers.items()}
    for prefix, m in batchnorm_modules(module).items():
        pre = f"{prefix}." if prefix else ""
        out[pre + "running_mean"] = torch.zeros_like(m.running_mean)
        out[pre + "running_var"] = torch.ones_like(m.running_var)
        if m.num_batches_tracked is not None:
            out[pre + "num_batches_tracked"] = torch.zeros_like(m.num_batches_tracked)
    return out


def _default_forward(module: nn.Module, batch: Any) -> Any:
    return module(batch)


class BatchNormRecomputer:
    """Computes the BatchNorm buffers of any weight set of `module` from training batches.

    Args:
        module: the architecture (not modified; a deep copy does the work).
        batches: a callable returning a fresh iterable of batches (same batches every call).
        forward: how to run the module on one batch, `(module, batch) -> anything`.
        buffers: the non-BatchNorm buffers to use (default: the module's own).
    """

    def __init__(
        self,
        module: nn.Module,
        batches: Callable[[], Iterable[Any]],
        forward: ForwardFn = _default_forward,
        buffers: Params | None = None,
    ) -> None:
        self._worker = copy.deepcopy(module)
        self._worker.eval()
        self._bound = Bound(self._worker, forward)
        self._bn = batchnorm_modules(self._worker)
        for m in self._bn.values():
            m.train()
        self._batches = batches
        self._buffers = buffers

    @torch.no_grad()
    def __call__(self, params: Params) -> Params:
        """Buffers (BatchNorm statistics recomputed) for parameters `params`."""
        buffers = fresh_buffers(self._worker, self._buffers)
        if not self._bn:
            return buffers
        state: dict[str, Tensor] = {**params, **buffers}
        self._accumulate(lambda batch: self._bound.call(state, batch))
        return {name: state[name] for name in buffers}

    def _accumulate(self, forward_batch: Callable[[Any], Any]) -> None:
        """Run `forward_batch` on every training batch with the momentum that makes each running
        statistic the example-weighted cumulative average of the batch statistics."""
        seen = 0
        for batch in self._batches():
            b = batch_size_of(batch)
            for m in self._bn.values():
                m.momentum = b / (seen + b)  # a batch of b after `seen` examples
            forward_batch(batch)
            seen += b
        if seen == 0:
            raise ValueError("no training batches to recompute BatchNorm statistics from")
