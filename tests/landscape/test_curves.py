import pytest
import torch

from latentscape.landscape.core import params as P
from latentscape.landscape.core.curves import Curve, coefficients, line


def _p(seed):
    g = torch.Generator().manual_seed(seed)
    return {"a": torch.randn(5, 3, generator=g), "b": torch.randn(3, generator=g)}


@pytest.mark.parametrize("kind", ["bezier", "polychain"])
@pytest.mark.parametrize("bends", [0, 1, 3])
def test_coefficients_partition_of_unity_and_one_hot_ends(kind, bends):
    t = torch.linspace(0, 1, 11, dtype=torch.float64)
    c = coefficients(kind, t, bends + 2)
    assert c.shape == (11, bends + 2)
    torch.testing.assert_close(c.sum(1), torch.ones(11, dtype=torch.float64))
    assert torch.equal(c[0], torch.eye(bends + 2, dtype=torch.float64)[0])
    assert torch.equal(c[-1], torch.eye(bends + 2, dtype=torch.float64)[-1])


def test_one_bend_bezier_matches_garipov_formula():
    w1, th, w2 = _p(0), _p(1), _p(2)
    curve = Curve([w1, th, w2], "bezier")
    t = 0.3
    expected = {k: (1 - t) ** 2 * w1[k] + 2 * t * (1 - t) * th[k] + t**2 * w2[k] for k in w1}
    got = curve(t)
    for k in w1:
        torch.testing.assert_close(got[k], expected[k])


def test_polychain_passes_through_bend_at_half():
    w1, th, w2 = _p(0), _p(1), _p(2)
    curve = Curve([w1, th, w2], "polychain")
    assert all(torch.equal(curve(0.5)[k], th[k]) for k in th)
    for k in w1:  # first segment
        torch.testing.assert_close(curve(0.2)[k], 0.6 * w1[k] + 0.4 * th[k])


@pytest.mark.parametrize("kind", ["bezier", "polychain"])
def test_curve_ends_exact_and_bends_start_on_the_line(kind):
    a, b = _p(0), _p(1)
    curve = Curve.through(a, b, bends=3, kind=kind)
    for k in a:
        assert torch.equal(curve(0.0)[k], a[k])
        assert torch.equal(curve(1.0)[k], b[k])
    for t in (0.1, 0.5, 0.77):
        p = curve(t)
        for k in a:
            torch.testing.assert_close(p[k], (1 - t) * a[k] + t * b[k], atol=1e-6, rtol=0)


def test_zero_bend_bezier_is_lerp_and_length_is_distance():
    a, b = _p(0), _p(1)
    seg = line(a, b)
    for t in (0.0, 0.4, 1.0, 1.5):
        for k in a:
            torch.testing.assert_close(seg(t)[k], P.lerp(a, b, t)[k])
    assert seg.length([0, 0.25, 0.5, 1.0]) == pytest.approx(P.distance(a, b), rel=1e-6)


def test_mismatched_endpoints_raise():
    a = _p(0)
    b = {"a": torch.zeros(5, 4), "b": torch.zeros(3)}
    with pytest.raises(P.IncompatibleModelsError, match="'a'"):
        Curve.through(a, b)
