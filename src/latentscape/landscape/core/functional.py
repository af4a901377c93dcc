"""Run any method of a module at given parameters, without touching the module.

`torch.func.functional_call` swaps a module's tensors only around its `forward`; `Bound` wraps a
module and a function `(module, *args) -> out` so that the function (e.g. `evaluate_batch`,
`reconstruct`) runs with the swapped tensors, and the swap composes with `torch.func.vmap`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor, nn
from torch.func import functional_call


class Bound(nn.Module):
    """`fn(module, *args)` as a module whose tensors are `inner.<name>`."""

    def __init__(self, module: nn.Module, fn: Callable[..., Any]) -> None:
        super().__init__()
        self.inner = module
        self.fn = fn

    def forward(self, *args: Any) -> Any:
        return self.fn(self.inner, *args)

    def call(self, state: dict[str, Tensor], *args: Any) -> Any:
        """`fn(module, *args)` with the module's parameters/buffers taken from `state`."""
        return functional_call(self, prefixed(state), args, strict=False)


def prefixed(state: dict[str, Tensor], prefix: str = "inner.") -> dict[str, Tensor]:
    """`state` with every name prefixed (the names `Bound` expects)."""
    return {prefix + k: v for k, v in state.items()}
