"""A run's training trajectory over the loss surface of its top-2 PCA plane (Li et al. 2018,
sec. 7): the weights along training (checkpoints/init.pt, checkpoints/keep/step_*.pt written
with train.keep_every=N, checkpoints/final.pt, or any ordered weight sets), the PCA plane of
w_i - w_final (`core.trajectory`), and the surface on it around w_final (`studies.surface`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn

from latentscape.errors import CheckpointError
from latentscape.landscape.core.params import Params
from latentscape.landscape.core.task import Task
from latentscape.landscape.core.trajectory import pca_plane, trajectory_axes
from latentscape.landscape.studies.surface import SurfaceResult, compute_surface

KEEP_DIR = "keep"
_STEP_FILE = re.compile(r"^step_(\d+)\.pt$")


def kept_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """(step, path) of checkpoints/keep/step_XXXXXX.pt, sorted by step."""
    keep = Path(run_dir) / "checkpoints" / KEEP_DIR
    out = []
    if keep.is_dir():
        for f in keep.iterdir():
            hit = _STEP_FILE.match(f.name)
            if hit and f.is_file():
                out.append((int(hit.group(1)), f))
    return sorted(out)


def trajectory_weights(run_dir: str | Path, reference: Params) -> tuple[list[int], list[Params]]:
    """Steps and parameters of init.pt, the kept checkpoints and final.pt of a run, in order.

    Args:
        run_dir: the run directory.
        reference: the run's parameters (names, shapes, dtypes) that every weight set must fit.

    Raises:
        CheckpointError: a file is unreadable or does not fit `reference`; fewer than 3 weight sets.
    """
    from latentscape.rundir.checkpoint import check_state_fits, read_weights

    ckpts = Path(run_dir) / "checkpoints"
    final_path = ckpts / "final.pt"
    if not final_path.is_file():
        raise CheckpointError(f"{run_dir}: no checkpoints/final.pt (an unfinished run?)")
    files: list[tuple[int, Path]] = []
    if (ckpts / "init.pt").is_file():
        files.append((0, ckpts / "init.pt"))
    final_step = int(read_weights(final_path)[1].get("step", 10**12))
    files += [(s, p) for s, p in kept_checkpoints(run_dir) if 0 < s < final_step]
    files.append((final_step, final_path))
    steps, weights = [], []
    for step, path in files:
        state = read_weights(path)[0]
        check_state_fits(reference, state, str(path), exact=False)  # names, shapes, dtypes, finite
        steps.append(step)
        weights.append({n: state[n].float() if state[n].is_floating_point() else state[n] for n in reference})
    if len(weights) < 4:
        raise CheckpointError(
            f"{run_dir}: {len(weights)} weight sets (init, final and {len(weights) - 2} kept); a trajectory plane needs 4 or more: "
            "train with train.keep_every=N (fewer steps between kept checkpoints)"
        )
    return steps, weights


def compute_trajectory(
    model: nn.Module,
    task: Task,
    weights: Sequence[Params],
    data: dict[str, Any],
    *,
    steps: Sequence[int] | None = None,
    grid: int = 21,
    margin: float = 0.3,
    ignore: str = "none",
    protocol: dict[str, Any] | None = None,
    **surface_options: Any,
) -> SurfaceResult:
    """The trajectory `weights` (in training order; the last is w_final) on its top-2 PCA plane,
    over the metric surface on a `grid` x `grid` grid of that plane covering it with `margin`
    (w_final, (0, 0), is a grid node).

    Args:
        steps: the training step of each weight set (default 0, 1, 2, ...).
        ignore: "biasbn" leaves one-dimensional parameters out of the PCA (as Li et al.).
        **surface_options: as `studies.surface.compute_surface` (bn_data, batch_size, folder, ...).
    """
    plane = pca_plane(list(weights), ignore=ignore)
    xs, ys = trajectory_axes(plane.coords, grid, margin)
    evr = [float(v) for v in plane.explained_variance_ratio]
    traj = {"steps": list(steps) if steps is not None else list(range(len(weights))), "coords": plane.coords.tolist(),
            "residuals": plane.residuals.tolist(), "explained_variance_ratio": evr}
    proto = {"directions": {"kind": "pca", "ignore": ignore, "explained_variance_ratio": evr}, **(protocol or {})}
    return compute_surface(model, task, plane.origin, plane.directions, xs, ys, data, protocol=proto, trajectory=traj, **surface_options)
