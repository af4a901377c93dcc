import numpy as np
import pytest
import torch

from latentscape.errors import LatentscapeError
from latentscape.landscape.core import params as P
from latentscape.landscape.core.curves import Curve
from latentscape.landscape.core.plane import curve_in_plane, grid_axes, plane_for_curve, plane_through


def _p(seed):
    g = torch.Generator().manual_seed(seed)
    return {"w": torch.randn(4, 3, generator=g, dtype=torch.float64), "b": torch.randn(4, generator=g, dtype=torch.float64)}


def test_plane_coordinates_are_exact_and_orthonormal():
    a, b, c = _p(0), _p(1), _p(2)
    pl = plane_through(a, b, c)
    assert P.norm(pl.u) == pytest.approx(1.0) and P.norm(pl.v) == pytest.approx(1.0)
    assert abs(P.inner(pl.u, pl.v)) < 1e-12
    assert pl.points["B"] == pytest.approx((P.distance(a, b), 0.0), abs=1e-9)
    # grid points map back to their coordinates, and C is reproduced from its coordinates
    pts = pl.grid([0.0, 1.5], [-0.5])
    assert len(pts) == 2
    assert pl.coords(pts.point(1)) == pytest.approx((1.5, -0.5))
    cx, cy = pl.points["C"]
    rec = P.add(P.add(a, pl.u, cx), pl.v, cy)
    assert P.distance(rec, c) < 1e-9 and pl.residual(c) < 1e-6


def test_collinear_points_are_an_error():
    a, b = _p(0), _p(1)
    with pytest.raises(LatentscapeError, match="collinear"):
        plane_through(a, b, P.lerp(a, b, 0.3))


def test_one_bend_curve_lies_in_its_plane():
    a, th, b = _p(0), _p(1), _p(2)
    curve = Curve([a, th, b], "bezier")
    pl, names = plane_for_curve(curve)
    assert names == ["start", "end", "bend"]
    xy = curve_in_plane(pl, curve, np.linspace(0, 1, 7))
    assert xy.shape == (7, 2)
    assert xy[0] == pytest.approx((0, 0), abs=1e-9) and xy[-1] == pytest.approx(pl.points["end"], abs=1e-9)
    assert max(pl.residual(curve(t)) for t in (0.2, 0.5, 0.9)) < 1e-6


def test_grid_axes_cover_points_with_margins():
    xs, ys = grid_axes([(0, 0), (10, 0), (4, 5)], n=11, margin=(0.1, 0.2, 0.3, 0.4))
    assert xs[0] == pytest.approx(-1.0) and xs[-1] == pytest.approx(12.0)
    assert ys[0] == pytest.approx(-1.5) and ys[-1] == pytest.approx(7.0)
    assert len(xs) == len(ys) == 11
