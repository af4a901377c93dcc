"""Several torch optimizers stepped as one (a dense Adam plus a SparseAdam for embedding tables).

The trainer updates one optimizer per model group and step; a group whose parameters need
different optimizer classes (an auto-decoder's decoder weights with dense gradients and its
latent table with sparse ones) gets a `JointOptimizer`, which offers the part of the
`torch.optim.Optimizer` interface the trainer uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch


class JointOptimizer:
    """Steps, zeroes, saves and restores `optimizers` together.

    `param_groups` is the concatenation of theirs (the same dicts, so setting an LR there sets
    it in the owning optimizer).
    """

    def __init__(self, optimizers: Sequence[torch.optim.Optimizer]) -> None:
        self.optimizers = list(optimizers)

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return [g for o in self.optimizers for g in o.param_groups]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for o in self.optimizers:
            o.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for o in self.optimizers:
            o.step()

    def state_dict(self) -> dict[str, Any]:
        return {"joint": [o.state_dict() for o in self.optimizers]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        parts = state.get("joint") if isinstance(state, dict) else None
        if not isinstance(parts, list) or len(parts) != len(self.optimizers):
            raise KeyError("optimizer state is not a joint state of the same optimizers")
        for o, s in zip(self.optimizers, parts):
            o.load_state_dict(s)
