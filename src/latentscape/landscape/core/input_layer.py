"""Input-layer factorisation of `PointEvaluator` (strategy 3 in landscape/core/evaluate.py).

The first Linear/Conv layer's output is linear in its weights, so at a point sum_k c_k w_k it is
sum_k c_k layer_{w_k}(x): K layer calls per batch instead of one per point. The K basis outputs
of a batch are kept across calls (`BasisOutputs`, within a memory budget), so evaluating a grid
chunk by chunk (to write finished points as they come) costs the input layer once, not once per
chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, vmap

from latentscape.landscape.core.data import EvalData, batch_inputs
from latentscape.landscape.core.functional import Bound, prefixed


class _Captured(Exception):
    """Raised by `_MixedInputLayer` in capture mode to hand back its input and stop the forward."""

    def __init__(self, inp: Tensor) -> None:
        super().__init__()
        self.inp = inp


class _MixedInputLayer(nn.Module):
    """Stands in for the input layer: returns the mixed output `out` of the current point.

    The mixed outputs of a whole chunk of points are computed outside vmap (`mix`) and passed to
    `functional_call` as the batched buffer `out` (P, B, ...), so under vmap each point sees its
    own (B, ...) slice and the layer costs nothing per point.
    """

    def __init__(self, layer: nn.Module, basis: list[tuple[Tensor, Tensor | None]]) -> None:
        super().__init__()
        self.layer = layer
        self.basis = basis  # K (weight, bias) pairs
        self.register_buffer("out", torch.empty(0), persistent=False)
        self.capture = False  # True: `forward` raises _Captured(inp) instead of returning `out`
        self._mix_buf: Tensor | None = None  # storage reused by `mix`

    def basis_outputs(self, inp: Tensor) -> Tensor:
        """layer_{w_k}(inp) for the K basis weight sets: (K, B, ...)."""
        if isinstance(self.layer, nn.Linear):
            outs = [F.linear(inp, w, b) for w, b in self.basis]
        else:
            outs = [self.layer._conv_forward(inp, w, b) for w, b in self.basis]  # type: ignore[operator]
        return torch.stack(outs)

    def mix(self, coeffs: Tensor, basis_out: Tensor) -> Tensor:
        """sum_k coeffs[p, k] basis_out[k] as one matmul: (p, K) @ (K, B*...) -> (p, B, ...).

        The result is written into a buffer kept across calls (grown when needed): the chunks'
        outputs are large and short-lived, and re-allocating them every call costs page faults.
        """
        k, n = basis_out.shape[0], basis_out[0].numel()
        need = coeffs.shape[0] * n
        if self._mix_buf is None or self._mix_buf.numel() < need or self._mix_buf.dtype != basis_out.dtype:
            self._mix_buf = torch.empty(need, dtype=basis_out.dtype, device=basis_out.device)
        out = self._mix_buf[:need].view(coeffs.shape[0], n)
        torch.mm(coeffs.to(basis_out.dtype), basis_out.reshape(k, n), out=out)
        return out.view(-1, *basis_out.shape[1:])

    def forward(self, inp: Tensor) -> Tensor:
        if self.capture:
            raise _Captured(inp)
        if self.out.numel() == 0 or self.out.shape[0] != inp.shape[0]:
            raise RuntimeError("mixed input layer called without its precomputed output")
        return self.out  # (B, ...) under vmap


def find_input_layer(model: nn.Module, bound: Bound, state: dict[str, Tensor], batch: Any) -> str | None:
    """Name of the Linear/Conv layer of `model` fed directly by the batch's inputs (a view of
    them, e.g. after a Flatten), if exactly one is and it is called once; else None."""
    x = batch_inputs(batch)
    hits: list[tuple[str, bool]] = []
    hooks = []
    for name, m in model.named_modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):

            def hook(mod: nn.Module, args: tuple, name: str = name) -> None:
                inp = args[0]
                same = isinstance(inp, Tensor) and inp.untyped_storage().data_ptr() == x.untyped_storage().data_ptr()
                hits.append((name, same))

            hooks.append(m.register_forward_pre_hook(hook))
    try:
        bound.call(state, batch)
    finally:
        for h in hooks:
            h.remove()
    direct = [n for n, same in hits if same]
    if len(direct) == 1 and sum(1 for n, _ in hits if n == direct[0]) == 1:
        return direct[0]
    return None


class BasisOutputs:
    """The K basis outputs of the input layer per (split, batch), kept while the basis is the same.

    Args:
        budget_bytes: keep outputs while their total size stays under this (larger splits are
            recomputed per call, as before the cache existed: only time changes, not numbers).
    """

    def __init__(self, budget_bytes: int = 256 << 20) -> None:
        self.budget = budget_bytes
        self.token: tuple[int, ...] | None = None
        self.held: dict[tuple[int, int], Tensor] = {}
        self.bytes = 0

    def get(self, token: tuple[int, ...], key: tuple[int, int], compute: Callable[[], Tensor]) -> Tensor:
        if token != self.token:  # another basis: forget everything
            self.token, self.held, self.bytes = token, {}, 0
        out = self.held.get(key)
        if out is None:
            out = compute()
            size = out.numel() * out.element_size()
            if self.bytes + size <= self.budget:
                self.held[key] = out
                self.bytes += size
        return out


def factorised_sums(
    bound: Bound,
    mixed: _MixedInputLayer,
    layer_name: str,
    ds: EvalData,
    batches: Callable[[EvalData], Any],
    idx: list[int],
    chunk_params: Callable[[list[int]], dict[str, Tensor]],
    coeffs: Callable[[list[int]], Tensor],
    buffers: dict[str, Tensor],
    at: dict[int, int],
    own: dict[int, dict[str, Tensor]],
    *,
    batch_rest: bool,
    chunk_size: int,
    mixed_elements: int,
    cache: BasisOutputs,
    token: tuple[int, ...],
) -> tuple[dict[str, Tensor], dict[int, dict[str, float]]]:
    """Strategy 3: sums over `ds` of every metric at the points `idx` (name -> (p,) float64),
    and the means of the basis points `at` (point -> basis index; `own`: their other weights).

    Data outer, chunks inner: per batch, the input layer's input is captured (the forward is
    stopped there), its K basis outputs are computed once (or taken from `cache`), and each chunk
    of points gets its mixed outputs from one matmul before the rest of the network runs under
    vmap (or, `batch_rest=False`, one point at a time). A basis point k reuses basis output k --
    the very op its own forward runs (`F.linear` / conv on the same tensors) -- and runs the
    rest of the network without vmap, summing as the loop does, so it reproduces the loop (and
    the run's own evaluation) bit for bit on the CPU without computing its input layer twice.
    """
    out_name = f"{layer_name}.out"
    bufs = prefixed(buffers)

    def one(p: dict[str, Tensor], batch: Any) -> dict[str, Tensor]:
        return functional_call(bound, {**prefixed(p), **bufs}, (batch,), strict=False)

    def basis_outputs(batch: Any) -> Tensor:
        mixed.capture = True
        try:
            functional_call(bound, {**first, **bufs}, (batch,), strict=False)
            raise RuntimeError("the input layer was not called")
        except _Captured as c:
            return mixed.basis_outputs(c.inp)  # (K, B, ...)
        finally:
            mixed.capture = False

    esums: dict[int, dict[str, float]] = {i: {} for i in at}
    # the layers before the input layer have no parameters: any point's will do to reach it
    first = {k: v[0] for k, v in prefixed(chunk_params(idx[:1])).items()}
    run = vmap(one, in_dims=(0, None), randomness="different")
    chunks: list[list[int]] = []
    params: list[dict[str, Tensor]] = []
    mix_coeffs: list[Tensor] = []
    sums: list[dict[str, Tensor]] = []
    for b, batch in enumerate(batches(ds)):
        basis_out = cache.get(token, (id(ds), b), lambda batch=batch: basis_outputs(batch))  # (K, B, ...)
        if not chunks and idx:  # chunk_size points, at most mixed_elements mixed outputs per chunk
            size = max(1, min(chunk_size, mixed_elements // max(1, basis_out[0].numel())))
            chunks = [idx[i : i + size] for i in range(0, len(idx), size)]
            params = [chunk_params(ch) for ch in chunks]  # small: the input layer is not stacked
            mix_coeffs = [coeffs(ch) for ch in chunks]  # (p, K)
            sums = [{} for _ in chunks]
        for k, (p, c) in enumerate(zip(params, mix_coeffs)):
            out = mixed.mix(c, basis_out)  # (p, B, ...)
            if batch_rest:
                values = run({**p, out_name: out}, batch)  # name -> (p, B)
            else:  # the rest of the network one point at a time (convolutions on a CPU)
                rows = [one({**{n: t[j] for n, t in p.items()}, out_name: out[j]}, batch) for j in range(out.shape[0])]
                values = {name: torch.stack([r[name] for r in rows]) for name in rows[0]}
            for name, v in values.items():
                sums[k][name] = sums[k].get(name, 0) + v.sum(1, dtype=torch.float64)
        for i, k in at.items():
            for name, v in one({**own[i], out_name: basis_out[k]}, batch).items():  # name -> (B,)
                esums[i][name] = esums[i].get(name, 0.0) + float(v.double().sum())
    total = {name: torch.cat([s[name] for s in sums]) for name in sums[0]} if sums else {}
    return total, {i: {name: v / len(ds) for name, v in e.items()} for i, e in esums.items()}
