"""The grid file of a resumable analysis: values of the points finished so far.

`grid.npz` holds, for P points, `done` (P,) bool -- the missing-value mark, as Li et al.'s
HDF5 surface files start at -1 -- and one (P,) float64 array per split and metric (NaN where not
done), plus a JSON header: the settings the values depend on (weights, data, metrics, chunks,
...) and the evaluation strategy. It is rewritten atomically after each round of chunks, by
rank 0 only (the other ranks, possibly on other machines, send it their values), and read back
with `allow_pickle=False`. `--resume` checks that the header's settings are those of the
command (naming the first that differs) and computes only the missing points.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentscape.errors import LatentscapeError
from latentscape.io import atomic_write
from latentscape.landscape.core.evaluate import PointEvaluator, PointSet
from latentscape.landscape.core.params import Params
from latentscape.landscape.core.points import PointValues
from latentscape.landscape.core.task import Task

GRID_FILE = "grid.npz"
FORMAT = "latentscape.grid/1"


def weights_digest(weight_sets: list[Params]) -> str:
    """SHA-256 of the weight sets' names, shapes, dtypes and bytes (the grid's identity)."""
    h = hashlib.sha256()
    for w in weight_sets:
        for name in sorted(w):
            t = w[name].detach().cpu().contiguous()
            h.update(f"{name}:{tuple(t.shape)}:{t.dtype};".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


class GridFile:
    """`folder/grid.npz` for one analysis.

    Args:
        folder: the analysis folder.
        settings: JSON-able values the grid depends on; a resume must match them.
    """

    def __init__(self, folder: str | Path, settings: dict[str, Any]) -> None:
        self.path = Path(folder) / GRID_FILE
        self.settings = json.loads(json.dumps(settings))  # plain JSON types, as read back
        self.setting: str | None = None  # the evaluator strategy of a loaded file

    def save(self, values: PointValues, setting: str = "vmap") -> None:
        """Write the values so far (atomically); `setting`: the evaluator strategy used."""
        arrays: dict[str, np.ndarray] = {"done": values.done}
        names = []
        for split, ms in values.values.items():
            for metric, v in ms.items():
                names.append([split, metric])
                arrays[f"v{len(names) - 1}"] = np.asarray(v, dtype=np.float64)
        header = {"format": FORMAT, "settings": self.settings, "strategy": values.strategy, "evaluator": setting, "names": names}
        arrays["header"] = np.array(json.dumps(header))

        def write(fh: Any) -> None:
            buf = io.BytesIO()
            np.savez(buf, **arrays)
            fh.write(buf.getvalue())

        atomic_write(self.path, write)

    def load(self) -> PointValues | None:
        """The values so far, or None when there is no grid file.

        Raises:
            LatentscapeError: an unreadable file, or one made with other settings.
        """
        if not self.path.is_file():
            return None
        try:
            with np.load(self.path, allow_pickle=False) as z:
                header = json.loads(str(z["header"]))
                done = np.asarray(z["done"], dtype=bool)
                names = header["names"]
                arrays = [np.asarray(z[f"v{i}"], dtype=np.float64) for i in range(len(names))]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LatentscapeError(f"{self.path}: not a readable grid file ({type(exc).__name__}); remove it to start again") from None
        if header.get("format") != FORMAT:
            raise LatentscapeError(f"{self.path}: not a latentscape grid file")
        theirs = header.get("settings", {})
        for key in sorted(set(theirs) | set(self.settings)):
            if theirs.get(key) != self.settings.get(key):
                raise LatentscapeError(
                    f"--resume: {self.path} was computed with other settings ({key}: {_short(theirs.get(key))} there, "
                    f"{_short(self.settings.get(key))} now); rerun with the same options, or without --resume to start again"
                )
        if any(a.shape != done.shape for a in arrays):
            raise LatentscapeError(f"{self.path}: damaged grid file (array sizes differ); remove it to start again")
        self.setting = str(header.get("evaluator", "vmap"))
        values: dict[str, dict[str, np.ndarray]] = {}
        for (split, metric), a in zip(names, arrays):
            values.setdefault(split, {})[metric] = a
        return PointValues(values, done, str(header.get("strategy", "loop")))


def points_done(folder: str | Path) -> int:
    """Points already finished in `folder`'s grid file (0 when there is none, or it cannot be
    read: the resume itself then says why): where a resumed run's progress starts."""
    try:
        with np.load(Path(folder) / GRID_FILE, allow_pickle=False) as z:
            return int(np.asarray(z["done"], dtype=bool).sum())
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _broadcast(obj: Any) -> Any:
    """Rank 0's `obj` on every rank (itself with one process)."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return obj
    box = [obj]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


def is_main() -> bool:
    """Rank 0 (or no torchrun): the process that writes files and prints."""
    from latentscape.landscape.core.points import rank_world

    return rank_world()[0] == 0


def run_grid(
    evaluator: PointEvaluator,
    task: Task,
    points: PointSet,
    data: dict[str, Any],
    *,
    kind: str,
    settings: dict[str, Any] | None = None,
    folder: str | Path | None = None,
    resume: bool = False,
    choose: bool = False,
    progress: Any = None,
) -> PointValues:
    """`core.points.evaluate_points` with the grid file `folder/grid.npz` (None: in memory): on
    `resume`, the values already in it (and the evaluation strategy they were computed with) are
    kept and only the missing points computed; rank 0 rewrites the file after every round.

    Args:
        kind: the analysis ("path", "plane", "surface"); `settings`: its own settings the values
            depend on (grid coordinates, ...), besides the points, data, task and evaluation.
        choose: time the evaluation strategies first (`core.grid.choose_strategy`, on rank 0;
            every rank then uses rank 0's choice, so the values do not depend on the ranks).
    """
    from latentscape.landscape.core.grid import choose_strategy
    from latentscape.landscape.core.points import evaluate_points

    grid_file = None
    if folder is not None:
        grid_file = GridFile(folder, {
            "kind": kind, **(settings or {}), "weights": weights_digest(points.basis),
            "splits": {s: len(d) for s, d in data.items()}, "task": task.description,
            "point_metrics": [p.name for p in task.point_metrics], "batch_size": evaluator.batch_size,
            "bn": "recomputed" if evaluator.bn else "fixed", "bn_batches": evaluator.bn_batches,
        })
    main = is_main()
    known = _broadcast(grid_file.load() if grid_file is not None and resume and main else None)
    setting = _broadcast(grid_file.setting if grid_file is not None and known is not None and main else None)
    if setting is None and choose:
        if main:
            choose_strategy(evaluator, points, data)
        setting = _broadcast(evaluator.strategy)
    if setting is not None:
        evaluator.strategy = setting
    chosen = evaluator.strategy

    def save(values: PointValues) -> None:
        if grid_file is not None and main:
            grid_file.save(values, chosen)

    return evaluate_points(evaluator, task, points, data, known=known, on_chunk=save, progress=progress)
