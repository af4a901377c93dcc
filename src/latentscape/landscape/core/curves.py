"""Parametric curves in weight space (Garipov et al. 2018, arXiv:1802.10026, sec. 3).

A curve with control points w_0 (start), w_1..w_n-1 (bends) and w_n (end) is
theta(t) = sum_k c_k(t) w_k over the parameters of *any* module: one set of coefficients per t,
shared by every parameter tensor, so no layer needs a "curve twin".

- Bezier (eq. for one bend: phi(t) = (1-t)^2 w1 + 2t(1-t) theta + t^2 w2), in general the
  Bernstein form c_k(t) = C(n, k) t^k (1-t)^(n-k).
- PolyChain: the broken line through the control points, w_k reached at t = k/n.

Zero bends gives the straight segment for both kinds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from latentscape.landscape.core.params import Params, check_compatible, combine, distance, lerp
from latentscape.registry import CURVE_KINDS

#: curve kind -> coefficient function (t (T,) float64, num_points) -> (T, num_points); the names
#: are declared in latentscape.registry (the CLI lists them without importing torch).


def bezier_coefficients(t: Tensor, num_points: int) -> Tensor:
    """Bernstein coefficients c_k(t) = C(n, k) t^k (1-t)^(n-k), n = num_points - 1.

    Args:
        t: curve positions (T,), usually in [0, 1] (any real value extrapolates).
        num_points: control points including both ends (bends + 2).

    Returns:
        (T, num_points); rows sum to 1 and are exactly one-hot at t = 0 and t = 1.
    """
    n = num_points - 1
    k = torch.arange(num_points, dtype=t.dtype, device=t.device)  # (K,)
    binom = torch.tensor([math.comb(n, int(i)) for i in k], dtype=t.dtype, device=t.device)
    t = t.reshape(-1, 1)  # (T, 1)
    return binom * t.pow(k) * (1 - t).pow(n - k)  # (T, K); 0**0 == 1 in torch


def polychain_coefficients(t: Tensor, num_points: int) -> Tensor:
    """Piecewise-linear coefficients: w_k at t = k/n, linear in between (extrapolates the ends).

    Returns:
        (T, num_points) with at most two non-zero entries per row.
    """
    n = num_points - 1
    t = t.reshape(-1)  # (T,)
    out = torch.zeros(t.numel(), num_points, dtype=t.dtype, device=t.device)
    if n == 0:
        out[:, 0] = 1.0
        return out
    seg = torch.clamp(torch.floor(t * n), 0, n - 1).long()  # (T,) segment index
    local = t * n - seg.to(t.dtype)  # (T,) position inside the segment
    rows = torch.arange(t.numel(), device=t.device)
    out[rows, seg] = 1 - local
    out[rows, seg + 1] += local
    # make the knots exactly one-hot (avoid 1 - 1.0000000001 style residue)
    knot = (t * n == torch.round(t * n)) & (t >= 0) & (t <= 1)
    if knot.any():
        idx = torch.round(t[knot] * n).long()
        out[knot] = 0.0
        out[knot.nonzero().flatten(), idx] = 1.0
    return out




def coefficients(kind: str, t: Tensor | Sequence[float] | float, num_points: int) -> Tensor:
    """Coefficients (T, num_points) of curve `kind` at positions `t` (float64)."""
    fn = CURVE_KINDS.get(kind)
    return fn(torch.as_tensor(t, dtype=torch.float64).reshape(-1), num_points)


@dataclass
class Curve:
    """theta(t) = sum_k c_k(t) points[k] (points[0] = start, points[-1] = end).

    Attributes:
        points: control points as weight sets, all with the same names and shapes.
        kind: "bezier" or "polychain".
    """

    points: list[Params]
    kind: str = "bezier"

    def __post_init__(self) -> None:
        if len(self.points) < 2:
            raise ValueError("a curve needs at least its two endpoints")
        CURVE_KINDS.get(self.kind)  # validates the name
        for i, p in enumerate(self.points[1:], 1):
            check_compatible(self.points[0], p, what=f"control points 0 and {i}")

    @classmethod
    def through(cls, start: Params, end: Params, bends: int = 1, kind: str = "bezier") -> Curve:
        """A curve whose bends are initialised on the segment: theta(t) is the straight line.

        Bends are placed at k/(n) along start -> end; for both kinds evenly spaced collinear
        control points trace the segment linearly in t.
        """
        check_compatible(start, end, what="endpoints")
        n = bends + 1
        mids = [lerp(start, end, k / n) for k in range(1, n)]
        return cls([start, *mids, end], kind)

    @property
    def num_bends(self) -> int:
        return len(self.points) - 2

    def coefficients(self, t: Tensor | Sequence[float] | float) -> Tensor:
        """(T, num_points) coefficients at positions `t`."""
        return coefficients(self.kind, t, len(self.points))

    def __call__(self, t: float) -> Params:
        """theta(t) as a new weight set (exactly the start / end at t = 0 / 1)."""
        return combine(self.coefficients(t)[0], self.points)

    def length(self, ts: Sequence[float]) -> float:
        """Length of the polyline through theta(ts): sum |theta(t_i+1) - theta(t_i)|."""
        total, prev = 0.0, None
        for t in ts:
            cur = self(float(t))
            if prev is not None:
                total += distance(prev, cur)
            prev = cur
        return total


def line(start: Params, end: Params) -> Curve:
    """The straight segment start -> end as a 0-bend curve."""
    return Curve.through(start, end, bends=0, kind="bezier")
