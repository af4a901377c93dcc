"""The plane through three weight sets and a metric grid on it (Garipov et al. 2018, fig. 1; lab
task 2.3-2.4).

With u = w_b - w_a and v = w_c - w_a, Gram-Schmidt gives an orthonormal pair (u_hat, v_hat)
spanning the same plane; the point at plane coordinates (x, y) is w_a + x u_hat + y v_hat, so
distances in the contour plot are true Euclidean distances in weight space.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from latentscape.errors import LatentscapeError
from latentscape.landscape.core.curves import Curve
from latentscape.landscape.core.evaluate import PointSet
from latentscape.landscape.core.params import Params, check_compatible, gram_schmidt, inner, norm, sub


@dataclass
class Plane:
    """An orthonormal frame of the plane through three weight sets.

    Attributes:
        origin: w_a (plane coordinates (0, 0)).
        u, v: orthonormal directions (|u| = |v| = 1, <u, v> = 0).
        points: name -> plane coordinates of the three defining weight sets.
    """

    origin: Params
    u: Params
    v: Params
    points: dict[str, tuple[float, float]]

    def coords(self, p: Params) -> tuple[float, float]:
        """Plane coordinates of the orthogonal projection of `p`."""
        d = sub(p, self.origin)
        return inner(d, self.u), inner(d, self.v)

    def residual(self, p: Params) -> float:
        """Distance from `p` to the plane (0 for points in it)."""
        x, y = self.coords(p)
        d = sub(p, self.origin)
        return max(norm(d) ** 2 - x * x - y * y, 0.0) ** 0.5

    def grid(self, xs: Sequence[float], ys: Sequence[float]) -> PointSet:
        """Points w_a + x u + y v for y in ys (rows) and x in xs (columns): P = len(ys) * len(xs)."""
        coeffs = torch.tensor([[1.0, x, y] for y in ys for x in xs], dtype=torch.float64)  # (P, 3)
        return PointSet([self.origin, self.u, self.v], coeffs)


def plane_through(a: Params, b: Params, c: Params, names: Sequence[str] = ("A", "B", "C")) -> Plane:
    """The plane through a, b and c (they must not be collinear)."""
    check_compatible(a, b, what="weight sets A and B")
    check_compatible(a, c, what="weight sets A and C")
    try:
        u, v = gram_schmidt([sub(b, a), sub(c, a)])
    except ValueError:
        raise LatentscapeError("the three weight sets are (nearly) collinear: they span no plane") from None
    plane = Plane(a, u, v, {})
    plane.points = {names[0]: (0.0, 0.0), names[1]: plane.coords(b), names[2]: plane.coords(c)}
    return plane


def plane_for_curve(curve: Curve, ends: Sequence[str] = ("start", "end")) -> tuple[Plane, list[str]]:
    """The plane through a curve's start, end and middle control point (the bend of a 1-bend
    curve, whose whole curve then lies in the plane); `ends` names the start and end points."""
    if curve.num_bends < 1:
        raise LatentscapeError("a 0-bend curve is a line: it does not define a plane (use `plane A B C`)")
    mid = len(curve.points) // 2
    names = [*ends, "bend" if curve.num_bends == 1 else f"bend {mid}"]
    return plane_through(curve.points[0], curve.points[-1], curve.points[mid], names), names


def grid_axes(
    points: Sequence[tuple[float, float]], n: int = 21, margin: float | Sequence[float] = 0.2
) -> tuple[np.ndarray, np.ndarray]:
    """Grid coordinates covering `points` plus margins (fractions of the span on each side).

    Args:
        points: plane coordinates to cover.
        n: points per axis (or (nx, ny) via a 2-sequence of margins is not supported; square).
        margin: one fraction for all sides or (left, right, bottom, top), as in Garipov's plane.py.
    """
    m = [float(margin)] * 4 if isinstance(margin, (int, float)) else [float(v) for v in margin]
    if len(m) != 4:
        raise LatentscapeError("margin: give one value or four (left, right, bottom, top)")
    xy = np.asarray(points, dtype=np.float64)  # (K, 2)
    (x0, y0), (x1, y1) = xy.min(0), xy.max(0)
    dx, dy = max(x1 - x0, 1e-12), max(y1 - y0, 1e-12)
    xs = np.linspace(x0 - m[0] * dx, x1 + m[1] * dx, n)
    ys = np.linspace(y0 - m[2] * dy, y1 + m[3] * dy, n)
    return xs, ys


def curve_in_plane(plane: Plane, curve: Curve, ts: Sequence[float]) -> np.ndarray:
    """(T, 2) plane coordinates of theta(ts) (projected when the curve leaves the plane)."""
    return np.array([plane.coords(curve(float(t))) for t in ts])
