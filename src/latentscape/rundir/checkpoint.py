"""Atomic checkpoint writes and safe loading (never unpickles code).

Files are written to a temporary file in the same folder, flushed to disk and renamed over the
target, so a crash or SIGKILL leaves either the old file or the new one, never a torn one. Loading
uses `torch.load(weights_only=True)`, which only rebuilds tensors and plain containers.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from latentscape.errors import CheckpointError
from latentscape.io import atomic_write, atomic_write_text  # noqa: F401  (re-exported)

WEIGHTS_FORMAT = "latentscape.weights/1"
STATE_FORMAT = "latentscape.train_state/1"


def atomic_save(obj: Any, path: str | Path) -> Path:
    """`torch.save` through an atomic write."""
    return atomic_write(path, lambda f: torch.save(obj, f))


def load_checkpoint(path: str | Path, expected_format: str | None = None) -> dict[str, Any]:
    """Load a checkpoint with `weights_only=True`; every failure is a one-line CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or foreign?): {reason}") from None
    except Exception as exc:  # the unpickler refusing a code object lands here
        reason = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise CheckpointError(f"{path}: refused to load (only tensors and plain data are allowed): {reason}") from None
    if not isinstance(obj, dict) or "format" not in obj:
        raise CheckpointError(f"{path}: not a latentscape checkpoint (no 'format' tag)")
    if expected_format is not None and obj["format"] != expected_format:
        raise CheckpointError(f"{path}: holds {obj['format']!r}, expected {expected_format!r}")
    return obj


def save_weights(module_or_state: nn.Module | dict[str, Tensor], path: str | Path, **meta: Any) -> Path:
    """Save a state dict (parameters and buffers) as a format-tagged weights file."""
    state = module_or_state.state_dict() if isinstance(module_or_state, nn.Module) else module_or_state
    state = {k: v.detach().cpu().clone() for k, v in state.items()}
    return atomic_save({"format": WEIGHTS_FORMAT, "state_dict": state, "meta": meta}, path)


def load_weights(path: str | Path) -> dict[str, Tensor]:
    """The state dict stored by `save_weights`."""
    return read_weights(path)[0]


def read_weights(path: str | Path) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """The state dict and the metadata (e.g. `step`) stored by `save_weights`."""
    obj = load_checkpoint(path, WEIGHTS_FORMAT)
    meta = obj.get("meta")
    return obj["state_dict"], dict(meta) if isinstance(meta, dict) else {}


def load_state_into(module: nn.Module, state: dict[str, Tensor], source: str) -> None:
    """`module.load_state_dict(state)` with a one-line error naming the first mismatch."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        what = f"missing {missing[0]!r}" if missing else f"unexpected {unexpected[0]!r}"
        raise CheckpointError(f"{source}: weights do not fit the model ({what})")
    for k, v in own.items():
        if state[k].shape != v.shape:
            raise CheckpointError(
                f"{source}: weights do not fit the model ({k!r} has shape "
                f"{tuple(state[k].shape)}, the model needs {tuple(v.shape)})"
            )
    module.load_state_dict(state)
