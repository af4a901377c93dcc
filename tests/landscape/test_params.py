import pytest
import torch

from latentscape.errors import LatentscapeError
from latentscape.landscape.core import params as P


def _p(seed, shapes=((3, 2), (4,))):
    g = torch.Generator().manual_seed(seed)
    return {f"w{i}": torch.randn(s, generator=g) for i, s in enumerate(shapes)}


def test_flatten_unflatten_roundtrip():
    a = _p(0)
    vec = P.flatten(a)
    assert vec.shape == (10,)
    back = P.unflatten(vec, a)
    assert all(torch.equal(back[k], a[k]) for k in a)
    with pytest.raises(ValueError):
        P.unflatten(torch.zeros(11), a)


def test_lerp_is_exact_at_ends_and_linear_in_between():
    a, b = _p(0), _p(1)
    for k in a:
        assert torch.equal(P.lerp(a, b, 0.0)[k], a[k])
        assert torch.equal(P.lerp(a, b, 1.0)[k], b[k])
        torch.testing.assert_close(P.lerp(a, b, 0.25)[k], 0.75 * a[k] + 0.25 * b[k])


def test_inner_norm_distance():
    a, b = _p(0), _p(1)
    assert P.inner(a, b) == pytest.approx(float(P.flatten(a) @ P.flatten(b)), rel=1e-6)
    assert P.norm(a) == pytest.approx(float(P.flatten(a).norm()), rel=1e-6)
    assert P.distance(a, b) == pytest.approx(float((P.flatten(a) - P.flatten(b)).norm()), rel=1e-6)


def test_gram_schmidt_orthonormal_and_same_span():
    u, v = _p(0), _p(1)
    q1, q2 = P.gram_schmidt([u, v])
    assert P.norm(q1) == pytest.approx(1.0, abs=1e-6)
    assert P.norm(q2) == pytest.approx(1.0, abs=1e-6)
    assert abs(P.inner(q1, q2)) < 1e-6
    # v is reproduced from its coordinates in the new basis
    rec = P.add(P.scale(q1, P.inner(v, q1)), q2, P.inner(v, q2))
    assert P.distance(rec, v) < 1e-5
    with pytest.raises(ValueError):
        P.gram_schmidt([u, P.scale(u, 2.0)])


def test_incompatible_names_the_first_mismatch():
    a = _p(0)
    b = _p(1, shapes=((3, 2), (5,)))
    with pytest.raises(LatentscapeError, match="'w1'.*\\(4,\\) vs \\(5,\\)"):
        P.check_compatible(a, b)
    c = {"w0": a["w0"]}
    with pytest.raises(LatentscapeError, match="'w1' is missing from the second"):
        P.check_compatible(a, c)


def test_params_do_not_alias_module():
    m = torch.nn.Linear(2, 2)
    p = P.named_params(m)
    p["weight"].add_(1.0)
    assert not torch.equal(p["weight"], m.weight)
