"""Input-layer factorisation of `PointEvaluator` (strategy 3 in landscape/evaluate.py).

The first Linear/Conv layer's output is linear in its weights, so at a point sum_k c_k w_k it is
sum_k c_k layer_{w_k}(x): K layer calls per batch instead of one per point.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


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
