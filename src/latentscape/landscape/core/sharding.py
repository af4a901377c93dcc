"""Points sharded across torchrun ranks (point j of the list on rank j mod world_size)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch


def shard(indices: Sequence[int]) -> tuple[list[int], int, int]:
    """This rank's share of `indices` and (rank, world_size) (1 process: everything)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
    else:
        rank, world = 0, 1
    return [i for j, i in enumerate(indices) if j % world == rank], rank, world


def _gather(local: dict[int, dict[str, dict[str, float]]], world: int) -> dict[int, Any]:
    if world == 1:
        return local
    parts: list[Any] = [None] * world
    torch.distributed.all_gather_object(parts, local)
    merged: dict[int, Any] = {}
    for p in parts:
        merged.update(p)
    return merged
