"""Surfaces around one weight set, the VTK export and trajectory PCA planes."""

import numpy as np
import pytest
import torch

from landscape_nets import bn_convnet, images, mlp, norm_convnet, surface_of
from latentscape.data.types import Batch
from latentscape.errors import CheckpointError, DataError, LatentscapeError
from latentscape.landscape.core.directions import random_directions
from latentscape.landscape.core.params import add, named_params, norm, scale
from latentscape.commands._landscape_args import parse_grid, parse_span
from latentscape.landscape.core.grid import axes
from latentscape.landscape.core.trajectory import axis_through_zero, pca_plane, trajectory_axes
from latentscape.landscape.studies.vtk import read_structured_grid, write_structured_grid


def _own_metrics(model, ds):
    model.eval()
    with torch.no_grad():
        out = model.evaluate_batch(Batch(ds.images.float() / 255, ds.labels, torch.arange(len(ds))))
    return {k: float(v.double().mean()) for k, v in out.items()}


@pytest.mark.parametrize("dims", [1, 2])
def test_surface_at_origin_is_the_models_own_loss_and_moves_away_from_it(dims):
    model, ds = mlp(0), images(48)
    w = named_params(model)
    dirs = random_directions(w, dims, seed=0)
    xs, ys = axes([(-1.0, 1.0)], [5], dims)
    surf = surface_of(model, w, dirs, xs, ys, {"train": ds}, batch_size=16)
    own = _own_metrics(model, ds)
    at = surf.origin_index()
    assert at == ((2,) if dims == 1 else (2, 2))
    for m in ("loss", "accuracy"):
        assert surf.values["train"][m][at] == pytest.approx(own[m], rel=1e-6)
    loss = surf.values["train"]["loss"]
    assert loss.shape == ((5,) if dims == 1 else (5, 5))
    assert np.ptp(loss) > 1e-3  # the directions do move the weights
    # a corner point equals a direct evaluation of w + a d1 (+ b d2)
    a = xs[0]
    p = add(w, dirs[0], a) if dims == 1 else add(add(w, dirs[0], a), dirs[1], ys[-1])
    probe = mlp(0)
    probe.load_state_dict(p)
    corner = loss[0] if dims == 1 else loss[-1, 0]
    assert corner == pytest.approx(_own_metrics(probe, ds)["loss"], rel=1e-5)


def test_batchnorm_fixed_or_recomputed():
    model, ds = bn_convnet(0), images(32)
    w = named_params(model)
    dirs = random_directions(w, 2, seed=1)
    xs, ys = axes([(-0.5, 0.5)], [3], 2)
    fixed = surface_of(model, w, dirs, xs, ys, {"t": ds}, batch_size=16, recompute_bn=False)
    assert fixed.strategy in ("vmap", "factorised")
    recomputed = surface_of(model, w, dirs, xs, ys, {"t": ds}, batch_size=16, bn_data=ds)
    assert recomputed.strategy in ("loop", "vmap-batchnorm")  # statistics recomputed per point either way
    assert fixed.values["t"]["loss"][1, 1] == pytest.approx(_own_metrics(model, ds)["loss"], rel=1e-5)
    assert not np.allclose(fixed.values["t"]["loss"], recomputed.values["t"]["loss"])


def test_vtk_file_parses_back_to_the_grid(tmp_path):
    xs, ys = np.linspace(-1, 1, 4), np.linspace(-2, 2, 3)
    loss = np.arange(12, dtype=float).reshape(3, 4) / 7
    acc = -loss
    acc[1, 2] = np.nan
    path = write_structured_grid(tmp_path / "s.vtk", xs, ys, {"loss": loss, "test accuracy": acc}, z_field="loss")
    dims, pts, fields = read_structured_grid(path)
    assert dims == (4, 3, 1)
    xx, yy = np.meshgrid(xs, ys)  # (3, 4): x fastest in VTK order
    np.testing.assert_array_equal(pts[:, 0], xx.ravel())
    np.testing.assert_array_equal(pts[:, 1], yy.ravel())
    np.testing.assert_array_equal(pts[:, 2], loss.ravel())
    np.testing.assert_array_equal(fields["loss"].reshape(3, 4), loss)
    np.testing.assert_array_equal(fields["test_accuracy"].reshape(3, 4), acc)  # NaN kept
    dims1, pts1, f1 = read_structured_grid(write_structured_grid(tmp_path / "l.vtk", xs, None, {"loss": loss[0]}))
    assert dims1 == (4, 1, 1) and f1["loss"].tolist() == loss[0].tolist()
    (tmp_path / "bad.vtk").write_text("# vtk DataFile Version 3.0\nx\nASCII\nDATASET STRUCTURED_GRID\nDIMENSIONS 2 2 1\nPOINTS 9 double\n1 2\n")
    with pytest.raises(DataError):
        read_structured_grid(tmp_path / "bad.vtk")


def test_trajectory_in_a_plane_is_recovered_with_explained_variance_one():
    final = named_params(mlp(0))
    u, v = random_directions(final, 2, seed=4, ignore="none", norm="none")
    rng = np.random.default_rng(0)
    ab = rng.normal(size=(7, 2)) * [3.0, 1.0]
    weights = [add(add(final, u, float(a)), v, float(b)) for a, b in ab] + [final]
    plane = pca_plane(weights)
    assert plane.explained_variance_ratio.sum() == pytest.approx(1.0, abs=1e-6)
    assert plane.explained_variance_ratio[0] > plane.explained_variance_ratio[1]
    assert np.abs(plane.residuals).max() < 1e-4 * np.linalg.norm(plane.coords, axis=1).max()
    assert plane.coords[-1].tolist() == [0.0, 0.0]
    # the projection preserves pairwise distances within the plane
    true = [norm(add(scale(u, float(a)), v, float(b))) for a, b in ab]  # |w_i - w_final|
    np.testing.assert_allclose(np.linalg.norm(plane.coords[:-1], axis=1), true, rtol=1e-4)
    off = [add(w, named_params(mlp(1)), 0.1) for w in weights[:-1]] + [final]
    assert pca_plane(off).explained_variance_ratio.sum() < 1.0
    with pytest.raises(CheckpointError):
        pca_plane(weights[:2])


@pytest.mark.parametrize("lo,hi,n", [(-18.3, 4.2, 9), (-1.0, 1.0, 4), (-0.01, 7.0, 21), (-5.0, 0.0, 11), (0.0, 3.0, 5), (-2.0, 2.0, 51)])
def test_trajectory_axes_cover_the_path_with_the_final_weights_on_a_node(lo, hi, n):
    xs = axis_through_zero(lo, hi, n)
    assert xs.shape == (n,) and 0.0 in xs.tolist()  # exactly: the value at the final weights is on the grid
    assert xs[0] <= lo + 1e-12 and xs[-1] >= hi - 1e-12
    np.testing.assert_allclose(np.diff(xs), np.full(n - 1, xs[1] - xs[0]))
    assert xs[1] - xs[0] <= (hi - lo) / (n - 1) * 2  # not much coarser than a plain linspace
    coords = np.array([[-14.1, 3.2], [-5.5, -4.7], [-1.1, -1.9], [0.0, 0.0]])
    gx, gy = trajectory_axes(coords, 9, margin=0.3)
    assert 0.0 in gx.tolist() and 0.0 in gy.tolist()
    assert gx[0] < -14.1 and gx[-1] > 0 and gy[0] < -4.7 and gy[-1] > 3.2


def test_span_and_grid_parsing():
    assert parse_span("-1:1") == [(-1.0, 1.0)]
    assert parse_span("-1:1,-0.5:0.5") == [(-1.0, 1.0), (-0.5, 0.5)]
    assert parse_grid("51,31") == [51, 31]
    for bad in ("1:-1", "a:b", "0:1,0:1,0:1", "nan:1"):
        with pytest.raises(LatentscapeError):
            parse_span(bad)
    for bad in ("1", "x", "0,3"):
        with pytest.raises(LatentscapeError):
            parse_grid(bad)


@pytest.mark.parametrize("make", [mlp, norm_convnet])
def test_strategy_choice_keeps_the_numbers(make):
    model, ds = make(0), images(24)
    w = named_params(model)
    dirs = random_directions(w, 2, seed=2)
    xs, ys = axes([(-1.0, 1.0)], [4], 2)
    got = surface_of(model, w, dirs, xs, ys, {"t": ds}, batch_size=8, chunk_size=2)
    assert got.strategy in ("factorised", "factorised-loop", "loop")
    ref = surface_of(model, w, dirs, xs, ys, {"t": ds}, batch_size=8, use_vmap=False, auto_strategy=False)
    np.testing.assert_allclose(got.values["t"]["loss"], ref.values["t"]["loss"], rtol=1e-5)
