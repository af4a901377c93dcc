"""Deterministic kernels without the start-up cost of `torch.use_deterministic_algorithms`.

The public call imports `torch._inductor` (1.5-2 s, a third of a short command's start-up) only
to set the compiler's `deterministic` flag. Unless the run compiles its step (then the compiler
is loaded anyway), the same switch of the kernels is made through the setter that the public
call itself uses.
"""

from __future__ import annotations

import os

import torch


def use_deterministic_kernels(enabled: bool = True, *, compiling: bool = False) -> None:
    """Ask PyTorch for deterministic kernels (warning, not failing, where none exists).

    Args:
        enabled: switch them on (True) or off.
        compiling: the run uses `torch.compile`; the compiler's own flag is set too.
    """
    if enabled:
        # cuBLAS needs a fixed workspace to be deterministic; it must be set before cuBLAS starts.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    setter = getattr(torch._C, "_set_deterministic_algorithms", None)
    if compiling or setter is None:
        torch.use_deterministic_algorithms(enabled, warn_only=True)
    else:
        setter(enabled, warn_only=True)
