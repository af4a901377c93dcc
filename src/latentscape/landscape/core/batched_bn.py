"""BatchNorm statistics of many weight-space points at once, inside one vmap call per batch.

`batchnorm.BatchNormRecomputer` recomputes the statistics of one point by a pass over training
batches with the BatchNorm layers in train mode. Here the same pass runs for a whole chunk of P
points: parameters and buffers are stacked along a leading point axis and the forward is
`torch.func.vmap`-ed over that axis, so each point's BatchNorm layers normalise with that
point's batch moments and update that point's slice of the stacked running statistics in place.
The momentum b / (n + b) (a batch of b after n examples) is the same for every point, so the
stacked buffers end as the example-weighted cumulative average of the batch statistics: the
numbers of the per-point loop, to float rounding, at the cost of one batched forward per batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor
from torch.func import functional_call, vmap

from latentscape.landscape.core.batchnorm import BatchNormRecomputer, fresh_buffers
from latentscape.landscape.core.functional import Bound, prefixed


class BatchedBatchNorm(BatchNormRecomputer):
    """Computes stacked BatchNorm buffers for stacked parameters of P points.

    The set-up and the pass over the training batches are `BatchNormRecomputer`'s; only the
    forward differs: one vmap call over the P points per batch.
    """

    @torch.no_grad()
    def __call__(self, stacked: dict[str, Tensor]) -> dict[str, Tensor]:  # type: ignore[override]
        """Buffers name -> (P, *shape) for parameters name -> (P, *shape)."""
        p = next(iter(stacked.values())).shape[0]
        fresh = fresh_buffers(self._worker, self._buffers)
        # a private contiguous copy per point: BatchNorm updates its slice in place
        bufs = {n: b.unsqueeze(0).repeat(p, *([1] * b.dim())) for n, b in fresh.items()}  # (P, *shape)

        def one(params: dict[str, Tensor], buffers: dict[str, Tensor], batch: Any) -> Tensor:
            functional_call(self._bound, {**prefixed(params), **prefixed(buffers)}, (batch,), strict=False)
            return torch.zeros(())  # the result is the in-place update of `buffers`

        # "different": a stochastic forward (a VAE's objective samples z) draws its own noise per point
        run = vmap(one, in_dims=(0, 0, None), out_dims=None, randomness="different")
        self._accumulate(lambda batch: run(stacked, bufs, batch))
        return bufs


def chunk_means_bn(
    bound: Bound,
    batched_bn: BatchedBatchNorm,
    stacked_basis: dict[str, Tensor],
    coeffs: Tensor,
    data: dict[str, Any],
    batches: Callable[[Any], Iterable[Any]],
    chunk_size: int,
) -> dict[str, dict[str, Tensor]]:
    """Per-point means of every metric on every split, BatchNorm statistics recomputed per point.

    Args:
        bound: the metric bound to the model in eval mode (`Bound(model, metric)`).
        batched_bn: computes the stacked BatchNorm buffers of a chunk of points.
        stacked_basis: name -> (K, *shape) basis weight sets.
        coeffs: (P, K) coefficients of the points, on the basis' device.
        data: split -> dataset.
        batches: dataset -> its evaluation batches in order.
        chunk_size: points per vmap call (memory bound).

    Returns:
        split -> metric -> (P,) float64 means, on CPU. The statistics of a chunk are computed
        once and used for every split.
    """

    def one(params: dict[str, Tensor], buffers: dict[str, Tensor], batch: Any) -> dict[str, Tensor]:
        return functional_call(bound, {**prefixed(params), **prefixed(buffers)}, (batch,), strict=False)

    run = vmap(one, in_dims=(0, 0, None), randomness="different")  # stochastic metrics (a VAE samples z): own noise per point
    parts: dict[str, dict[str, list[Tensor]]] = {s: {} for s in data}
    for start in range(0, coeffs.shape[0], chunk_size):
        c = coeffs[start : start + chunk_size].to(torch.float32)  # (p, K)
        params = {n: torch.einsum("pk,k...->p...", c, v) for n, v in stacked_basis.items()}  # (p, *shape)
        buffers = batched_bn(params)  # (p, *shape)
        for split, ds in data.items():
            sums: dict[str, Tensor] = {}
            for batch in batches(ds):
                for name, v in run(params, buffers, batch).items():  # name -> (p, B)
                    sums[name] = sums.get(name, 0) + v.sum(1, dtype=torch.float64)
            for name, s in sums.items():
                parts[split].setdefault(name, []).append(s.cpu() / len(ds))
    return {split: {n: torch.cat(v) for n, v in ms.items()} for split, ms in parts.items()}
