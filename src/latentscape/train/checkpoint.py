"""Checkpoint I/O, re-exported from its home `latentscape.rundir.checkpoint` (old import path)."""

from latentscape.rundir.checkpoint import (
    STATE_FORMAT,
    WEIGHTS_FORMAT,
    atomic_save,
    atomic_write,
    atomic_write_text,
    load_checkpoint,
    load_state_into,
    load_weights,
    read_weights,
    save_weights,
)

__all__ = [
    "STATE_FORMAT", "WEIGHTS_FORMAT", "atomic_save", "atomic_write", "atomic_write_text", "load_checkpoint",
    "load_state_into", "load_weights", "read_weights", "save_weights",
]
