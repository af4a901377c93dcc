"""1-D and 2-D metric surfaces around one weight set along given directions (Li et al. 2018).

The point at grid coordinates (a, b) is theta = w + a d1 + b d2 (eq. 1 of Li et al., "f(alpha,
beta) = L(theta* + alpha delta + beta eta)"). The grid is a `PointSet` over the basis
[w, d1, d2] with coefficient rows (1, a, b), so it is evaluated by the shared `PointEvaluator`
(vmap over points, input-layer factorisation, torchrun sharding, BatchNorm statistics per point
or fixed) and the grid point (0, 0) is w itself, bit for bit.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from latentscape.data.types import ImageDataset
from latentscape.errors import LatentscapeError
from latentscape.landscape.core.evaluate import PointEvaluator, PointSet, linspace
from latentscape.landscape.core.params import Params, check_compatible


def parse_span(text: str, what: str = "--range") -> list[tuple[float, float]]:
    """'-1:1' -> [(-1, 1)]; '-1:1,-0.5:0.5' -> one span per axis."""
    spans = []
    for part in text.split(","):
        try:
            lo, hi = (float(v) for v in part.split(":"))
        except ValueError:
            raise LatentscapeError(f"{what} {text!r}: expected LO:HI (e.g. -1:1) or LO:HI,LO:HI per axis") from None
        if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
            raise LatentscapeError(f"{what} {text!r}: each span needs finite LO < HI")
        spans.append((lo, hi))
    if len(spans) > 2:
        raise LatentscapeError(f"{what} {text!r}: at most two spans (x and y)")
    return spans


def parse_grid(text: str | int) -> list[int]:
    """'51' -> [51]; '51,31' -> one count per axis (each >= 2)."""
    try:
        counts = [int(v) for v in str(text).split(",")]
    except ValueError:
        raise LatentscapeError(f"--grid {text!r}: expected a count like 51 or 51,31") from None
    if not 1 <= len(counts) <= 2 or min(counts) < 2 or max(counts) > 10_000:
        raise LatentscapeError(f"--grid {text!r}: one or two counts in [2, 10000]")
    return counts


def grid_points(origin: Params, directions: Sequence[Params], xs: Sequence[float], ys: Sequence[float] | None = None) -> PointSet:
    """w + a d1 (1-D, P = len(xs)) or w + a d1 + b d2 for b in ys (rows), a in xs (columns)."""
    for i, d in enumerate(directions):
        check_compatible(origin, d, what=f"the weights and direction {i + 1}")
    if ys is None:
        if len(directions) != 1:
            raise ValueError("a 1-D surface takes one direction")
        coeffs = torch.tensor([[1.0, a] for a in xs], dtype=torch.float64)  # (P, 2)
    else:
        if len(directions) != 2:
            raise ValueError("a 2-D surface takes two directions")
        coeffs = torch.tensor([[1.0, a, b] for b in ys for a in xs], dtype=torch.float64)  # (P, 3)
    return PointSet([origin, *directions], coeffs)


@dataclass
class Surface:
    """Metric values on a grid.

    Attributes:
        xs: (nx,) coordinates along d1.
        ys: (ny,) coordinates along d2, or None for a 1-D surface.
        values: split -> metric -> (ny, nx) for 2-D (row i is ys[i]), (nx,) for 1-D.
        strategy: how the evaluator ran ("loop", "vmap", "factorised").
    """

    xs: np.ndarray
    ys: np.ndarray | None
    values: dict[str, dict[str, np.ndarray]]
    strategy: str = "loop"

    @property
    def dims(self) -> int:
        return 1 if self.ys is None else 2

    def origin_index(self) -> tuple[int, ...] | None:
        """Grid index of (0, 0) when the grid contains it exactly."""
        ix = np.flatnonzero(self.xs == 0.0)
        if ix.size == 0:
            return None
        if self.ys is None:
            return (int(ix[0]),)
        iy = np.flatnonzero(self.ys == 0.0)
        return (int(iy[0]), int(ix[0])) if iy.size else None

    def summary(self) -> dict[str, dict[str, dict[str, float | None]]]:
        """Per split and metric: value at the origin (when on the grid), min, max, mean."""
        out: dict[str, dict[str, dict[str, float | None]]] = {}
        at = self.origin_index()
        for s, ms in self.values.items():
            out[s] = {}
            for m, v in ms.items():
                finite = v[np.isfinite(v)]
                out[s][m] = {
                    "origin": float(v[at]) if at is not None else None,
                    "min": float(finite.min()) if finite.size else None,
                    "max": float(finite.max()) if finite.size else None,
                    "mean": float(finite.mean()) if finite.size else None,
                }
        return out

    def to_json(self, **extra: Any) -> dict[str, Any]:
        return {
            "dims": self.dims,
            "grid_x": self.xs.tolist(),
            "grid_y": self.ys.tolist() if self.ys is not None else None,
            "values": {s: {m: v.tolist() for m, v in ms.items()} for s, ms in self.values.items()},
            "summary": self.summary(),
            "strategy": self.strategy,
            **extra,
        }

    def arrays(self) -> dict[str, np.ndarray]:
        """Flat name -> array mapping for an .npz file ("<split>/<metric>" for the values)."""
        out = {"grid_x": self.xs}
        if self.ys is not None:
            out["grid_y"] = self.ys
        for s, ms in self.values.items():
            for m, v in ms.items():
                out[f"{s}/{m}"] = v
        return out


def axes(spans: Sequence[tuple[float, float]], counts: Sequence[int], dims: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Grid coordinates: the x span/count, and for 2-D the y ones (the x ones when one is given)."""
    xs = np.array(linspace(spans[0][0], spans[0][1], counts[0]))
    if dims == 1:
        return xs, None
    sy, cy = spans[-1], counts[-1]
    return xs, np.array(linspace(sy[0], sy[1], cy))


def choose_strategy(evaluator: PointEvaluator, points: PointSet, data: dict[str, ImageDataset], probe: int | None = None) -> str:
    """Time 2 x `probe` points with each strategy that applies and keep the fastest.

    The candidates: vmap over points (with the input-layer factorisation when the model has one),
    the factorisation followed by one forward pass per point through the rest of the network, and
    the plain loop. vmap pays off for dense layers, but batched convolutions after the input layer
    can be slower than one forward pass per point on a CPU. All give the same numbers. Skipped
    (vmap kept) for grids smaller than four probes and for recomputed BatchNorm statistics.
    Returns the strategy kept (the evaluator's `last_strategy` names it after the next call).
    """
    probe = probe or evaluator.chunk_size
    if not evaluator.use_vmap or evaluator.bn or len(points) < 4 * probe:
        return "vmap" if evaluator.use_vmap and not evaluator.bn else "loop"
    rows = [i for i in range(len(points)) if not points.is_basis_element(i)][: 2 * probe]
    sample = PointSet(points.basis, points.coeffs[rows])
    first = {s: ds for s, ds in list(data.items())[:1]}
    timings: dict[tuple[bool, bool], float] = {}
    names: dict[tuple[bool, bool], str] = {}

    def time_it(use_vmap: bool, batch_rest: bool) -> None:
        evaluator.use_vmap, evaluator.batch_rest = use_vmap, batch_rest
        t0 = time.perf_counter()
        evaluator.evaluate(sample, first)
        timings[(use_vmap, batch_rest)] = time.perf_counter() - t0
        names[(use_vmap, batch_rest)] = evaluator.last_strategy

    evaluator.evaluate(PointSet(points.basis, points.coeffs[rows[:2]]), first)  # the first vmap call's one-off set-up
    time_it(True, True)
    if evaluator.last_strategy == "factorised" and _convolutions_after_input(evaluator):
        time_it(True, False)  # vmap makes them grouped convolutions: also time them point by point
    time_it(False, True)
    best = min(timings, key=timings.__getitem__)
    evaluator.use_vmap, evaluator.batch_rest = best
    return names[best]


def _convolutions_after_input(evaluator: PointEvaluator) -> bool:
    """True on a CPU when the network has a convolution besides its input layer (the only case
    where running the rest point by point can beat vmap)."""
    if evaluator.device.type != "cpu":
        return False
    convs = [n for n, m in evaluator.model.named_modules() if isinstance(m, nn.modules.conv._ConvNd)]
    return any(n != evaluator._input_layer for n in convs)


def evaluate_surface(
    evaluator: PointEvaluator,
    origin: Params,
    directions: Sequence[Params],
    xs: np.ndarray,
    ys: np.ndarray | None,
    data: dict[str, ImageDataset],
    auto_strategy: bool = True,
) -> Surface:
    """Every metric of `evaluator` on every split of `data` over the grid.

    With `auto_strategy`, large grids first time a few points batched and looped
    (`choose_strategy`); both give the same numbers.
    """
    points = grid_points(origin, directions, xs.tolist(), None if ys is None else ys.tolist())
    if auto_strategy:
        choose_strategy(evaluator, points, data)
    flat = evaluator.evaluate(points, data)  # split -> metric -> (P,)
    shape = (len(xs),) if ys is None else (len(ys), len(xs))
    values = {s: {m: np.asarray(v, dtype=np.float64).reshape(shape) for m, v in ms.items()} for s, ms in flat.items()}
    return Surface(xs, ys, values, evaluator.last_strategy)
