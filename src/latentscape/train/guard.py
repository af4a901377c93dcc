"""The NaN/inf guard of every training loop (the trainer's, FGE's): stop at a non-finite loss,
naming the step, without stalling an accelerator.

On the CPU each loss is checked at once (free there). On accelerators an `if` on a device tensor
would stall every step, so the first bad step and its value are kept on the device and read
where the loop waits for the device anyway (a log flush, a checkpoint, a snapshot, the end):
`raise_if_seen` then raises the same error as the immediate check would have.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


class FiniteGuard:
    """Remembers the first non-finite loss; raises `diverged(value, step)` for it.

    Args:
        device: the training device (the CPU checks at once).
        diverged: builds the exception for a bad loss `value` at `step`.
    """

    def __init__(self, device: torch.device | str, diverged: Callable[[float, int], BaseException]) -> None:
        self.at_once = torch.device(device).type == "cpu"
        self.diverged = diverged
        self.step: Tensor | None = None  # () int64: first bad step, -1 while none (deferred mode)
        self.value: Tensor | None = None  # () the loss at that step

    def check(self, loss: Tensor, step: int) -> None:
        """Record (or, on the CPU, raise for) a non-finite `loss` at `step`."""
        loss = loss.detach()
        if self.at_once:
            if not bool(torch.isfinite(loss).all()):
                raise self.diverged(float(loss.float().sum().item()), step)
            return
        if self.step is None:
            self.step = torch.full((), -1, dtype=torch.long, device=loss.device)
            self.value = torch.zeros((), dtype=loss.dtype, device=loss.device)
        bad = ~torch.isfinite(loss).all()
        first = bad & (self.step < 0)
        self.step = torch.where(first, step, self.step)
        self.value = torch.where(first, loss.sum() if loss.dim() else loss, self.value)

    def raise_if_seen(self) -> None:
        """Raise for the first non-finite loss recorded (deferred mode); nothing otherwise."""
        if self.step is not None and int(self.step) >= 0:
            raise self.diverged(float(self.value.item()), int(self.step))  # type: ignore[union-attr]
