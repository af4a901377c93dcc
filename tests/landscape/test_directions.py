"""Random directions: filter normalisation, ignored entries, determinism by name."""

import pytest
import torch
from torch import nn

from landscape_nets import bn_convnet, mlp
from latentscape.errors import LatentscapeError
from latentscape.landscape.core.directions import filter_norms, gaussian_like, random_directions
from latentscape.landscape.core.params import named_params


def test_filter_normalisation_preserves_each_filters_norm():
    w = named_params(bn_convnet(0))
    (d,) = random_directions(w, 1, seed=3, norm="filter", ignore="biasbn")
    wn, dn = filter_norms(w), filter_norms(d)
    assert wn  # conv, transposed conv and linear weights
    for name in wn:
        torch.testing.assert_close(dn[name], wn[name], rtol=1e-5, atol=1e-6)


def test_layer_normalisation_matches_each_layer_norm():
    w = named_params(mlp(0))
    (d,) = random_directions(w, 1, seed=1, norm="layer", ignore="biasbn")
    for name, t in w.items():
        if t.dim() > 1:
            assert float(d[name].norm()) == pytest.approx(float(t.norm()), rel=1e-5)


def test_bias_and_batchnorm_entries_are_zero_with_ignore_biasbn():
    model = bn_convnet(0)
    w = named_params(model)
    d1, d2 = random_directions(w, 2, seed=0, ignore="biasbn")
    one_d = [n for n, t in w.items() if t.dim() <= 1]
    assert any("bias" in n for n in one_d) and len(one_d) > 4  # biases, BN and norm affine params
    for n in one_d:
        assert torch.count_nonzero(d1[n]) == 0 and torch.count_nonzero(d2[n]) == 0
    for n in (n for n, t in w.items() if t.dim() > 1):
        assert torch.count_nonzero(d1[n]) == d1[n].numel()
    kept = random_directions(w, 1, seed=0, ignore="none")[0]
    for n in one_d:  # Li et al.: included 1-D entries copy the weights
        torch.testing.assert_close(kept[n], w[n])


def test_same_seed_same_directions_for_two_models_of_one_architecture():
    wa, wb = named_params(mlp(0)), named_params(mlp(7))
    da = gaussian_like(wa, seed=5, index=1)
    db = gaussian_like(dict(reversed(list(wb.items()))), seed=5, index=1)  # order does not matter
    for n in da:
        assert torch.equal(da[n], db[n])
    other = gaussian_like(wa, seed=6, index=1)
    assert not torch.equal(da["net.1.weight"], other["net.1.weight"])
    d1, d2 = gaussian_like(wa, seed=5, index=0), gaussian_like(wa, seed=5, index=1)
    assert not torch.equal(d1["net.1.weight"], d2["net.1.weight"])
    # normalised directions differ only through the weights' filter norms
    na = random_directions(wa, 1, seed=5)[0]
    nb = random_directions(wb, 1, seed=5)[0]
    ra = na["net.1.weight"] / filter_norms(wa)["net.1.weight"][:, None]
    rb = nb["net.1.weight"] / filter_norms(wb)["net.1.weight"][:, None]
    torch.testing.assert_close(ra, rb)


def test_unknown_normalisation_is_a_clear_error():
    w = named_params(nn.Linear(3, 2))
    with pytest.raises(LatentscapeError, match="normalisation"):
        random_directions(w, 1, norm="weird")  # type: ignore[arg-type]
