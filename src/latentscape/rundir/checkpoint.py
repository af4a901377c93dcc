"""Atomic checkpoint writes and safe loading (never unpickles code).

Files are written to a temporary file in the same folder, flushed to disk and renamed over the
target, so a crash or SIGKILL leaves either the old file or the new one, never a torn one. Loading
uses `torch.load(weights_only=True)`, which only rebuilds tensors and plain containers.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from latentscape.errors import CheckpointError
from latentscape.io import atomic_write, load_tensors

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
    damage = _damage(path)
    if damage:
        raise CheckpointError(f"{path}: {damage}")
    try:
        obj = load_tensors(path)  # quiet: the error below says it in one line
    except Exception as exc:
        if "weights only load failed" in str(exc).lower():  # the safe unpickler refused something
            raise CheckpointError(f"{path}: {_refusal(exc)}") from None
        reason = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise CheckpointError(f"{path}: not a readable checkpoint (damaged or foreign): {reason}") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("format"), str):
        raise CheckpointError(f"{path}: not a latentscape checkpoint (no 'format' tag)")
    if expected_format is not None and obj["format"] != expected_format:
        raise CheckpointError(f"{path}: holds {obj['format']!r}, expected {expected_format!r}")
    check_contents(obj, path)
    return obj


#: Required fields (name -> allowed types) of each checkpoint format.
FORMAT_FIELDS: dict[str, dict[str, type | tuple[type, ...]]] = {
    WEIGHTS_FORMAT: {"state_dict": dict, "meta": dict},
    STATE_FORMAT: {
        "model": dict, "optimizers": dict, "step": int, "epoch": int, "batch_in_epoch": int,
        "window": dict, "rng_torch": Tensor, "rng_cuda": (list, tuple), "rng_python": (list, tuple),
        "rng_numpy": (list, tuple), "finished": bool,
    },
}


def check_contents(obj: dict[str, Any], path: str | Path) -> None:
    """CheckpointError naming `path` and the first missing or wrongly typed field of a tagged
    checkpoint (the tag alone does not make a file trustworthy)."""
    fields = FORMAT_FIELDS.get(obj.get("format"))  # type: ignore[arg-type]
    if fields is None:  # another module's format: its loader checks the fields it reads
        return
    for name, types in fields.items():
        if name not in obj:
            raise CheckpointError(f"{path}: damaged {obj['format']} checkpoint (no {name!r} field)")
        if not isinstance(obj[name], types) or (types is int and isinstance(obj[name], bool)):
            raise CheckpointError(
                f"{path}: damaged {obj['format']} checkpoint ({name!r} is a {type(obj[name]).__name__})"
            )
    weights = obj.get("state_dict", obj.get("model"))
    bad = next((k for k, v in weights.items() if not isinstance(k, str) or not isinstance(v, Tensor)), None)
    if bad is not None:
        raise CheckpointError(f"{path}: damaged {obj['format']} checkpoint (weight {bad!r} is not a tensor)")
    # Counters: a step that is not a count would reach the schedules (int("abc") deep inside).
    counters = {k: obj[k] for k in ("step", "epoch", "batch_in_epoch") if k in fields}
    if "step" in obj.get("meta", {}):
        counters["meta.step"] = obj["meta"]["step"]
    for name, value in counters.items():
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**62:
            raise CheckpointError(f"{path}: damaged {obj['format']} checkpoint ({name} {value!r} is not a step count)")


def _damage(path: Path) -> str:
    """Why `path` cannot be a complete checkpoint ("" when it looks whole): empty or truncated."""
    size = path.stat().st_size
    if size == 0:
        return "is empty (0 bytes): an interrupted copy or write?"
    with open(path, "rb") as f:
        magic = f.read(4)
    zip_magic = b"PK\x03\x04"  # torch.save writes a zip archive
    if (magic == zip_magic and not zipfile.is_zipfile(path)) or (len(magic) < 4 and zip_magic.startswith(magic)):
        return f"is truncated ({size} bytes, the zip archive has no end): an interrupted copy or write?"
    return ""


def _refusal(exc: Exception) -> str:
    """The unpickler's refusal, naming the blocked global (never suggesting weights_only=False)."""
    text = str(exc)
    if re.search(r"Unsupported operand \d+", text):  # random bytes, or a pickle protocol torch never writes
        return ("refused to load: its bytes are neither a torch.save archive nor a pickle of plain data "
                "(a damaged or foreign file)")
    found = re.search(r"GLOBAL\s+([\w.]+)", text)
    what = f"the Python object {found.group(1)}" if found else "a Python object that is not plain data"
    return (f"refused to load: it asks to rebuild {what}, and checkpoints may hold only tensors and "
            "plain data (this file was not written by latentscape or has been altered)")


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
    check_state_fits(own, state, source)
    module.load_state_dict(state)


def check_state_fits(own: dict[str, Tensor], state: dict[str, Tensor], source: str, exact: bool = True) -> None:
    """CheckpointError naming `source` and the first weight of `state` that does not fit `own`.

    Names (all of `own`; with `exact`, nothing more), shapes, dense layout and dtype kind must
    match, and floating-point weights must be finite: NaN weights would evaluate to NaN numbers
    everywhere downstream (a diverged or altered file; training never saves them).
    """
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own] if exact else []
    if missing or unexpected:
        what = f"missing {missing[0]!r}" if missing else f"unexpected {unexpected[0]!r}"
        raise CheckpointError(f"{source}: weights do not fit the model ({what})")
    for k, v in own.items():
        got = state[k]
        if not isinstance(got, Tensor):
            raise CheckpointError(f"{source}: weights do not fit the model ({k!r} is not a tensor)")
        if got.shape != v.shape:
            raise CheckpointError(
                f"{source}: weights do not fit the model ({k!r} has shape "
                f"{tuple(got.shape)}, the model needs {tuple(v.shape)})"
            )
        if got.layout != torch.strided or got.is_complex() or got.is_floating_point() != v.is_floating_point():
            kind = "a sparse tensor" if got.layout != torch.strided else f"of dtype {got.dtype}"
            raise CheckpointError(f"{source}: weights do not fit the model ({k!r} is {kind}, the model needs {v.dtype})")
        if got.is_floating_point() and not bool(torch.isfinite(got).all()):
            raise CheckpointError(f"{source}: weight {k!r} holds NaN or infinite values (a diverged or damaged checkpoint)")
