"""The typed compute API on any nn.Module (issue 20): a user's ResNet with BatchNorm and
nn.CrossEntropyLoss, given as tensors, a Dataset and a DataLoader, through every function,
against a plain state-dict-per-point loop; and latentscape's own models through the same
functions."""

import copy
import os
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "landscape"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "user_models"))

from landscape_nets import images, mlp  # noqa: E402
from resnet import build  # noqa: E402
from latentscape import compute  # noqa: E402
from latentscape.errors import LatentscapeError  # noqa: E402
from latentscape.metrics.fid import fid_from_features  # noqa: E402

BATCH = 16


def _data(n: int, seed: int, classes: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 6, 6, generator=g)  # (N, C, H, W)
    y = torch.randint(0, classes, (n,), generator=g)
    return x, y


def _trained(seed: int) -> nn.Module:
    """The user's ResNet after a few SGD steps (BatchNorm statistics that are not the defaults)."""
    torch.manual_seed(seed)
    net = build(width=4, classes=3)
    x, y = _data(64, seed=10 + seed)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for i in range(0, 64, BATCH):
        opt.zero_grad()
        F.cross_entropy(net(x[i : i + BATCH]), y[i : i + BATCH]).backward()
        opt.step()
    return net.eval()


@pytest.fixture(scope="module")
def setting():
    a, b, c = _trained(0), _trained(1), _trained(2)
    return {"a": a, "b": b, "c": c, "test": _data(32, seed=5), "train": _data(64, seed=6)}


def _plain(state: dict, test, train=None) -> dict[str, float]:
    """The reference: load the point's state dict into a fresh model, recompute BatchNorm
    statistics (a cumulative average over the training batches), evaluate in eval mode."""
    net = build(width=4, classes=3)
    net.load_state_dict(state)
    if train is not None:
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.reset_running_stats()
                m.momentum = None  # cumulative average (all batches of equal size)
        net.train()
        with torch.no_grad():
            for i in range(0, len(train[0]), BATCH):
                net(train[0][i : i + BATCH])
    net.eval()
    with torch.no_grad():
        logits = net(test[0])
    return {"loss": float(F.cross_entropy(logits, test[1])), "accuracy": float((logits.argmax(1) == test[1]).float().mean())}


def _mix(states: list[dict], coeffs: list[float], like: nn.Module) -> dict:
    params = {n for n, _ in like.named_parameters()}
    return {k: (sum(c * s[k] for c, s in zip(coeffs, states)) if k in params else states[0][k]) for k in states[0]}


def _forms(xy):
    """The same data as tensors, a Dataset and a DataLoader."""
    return {"tensors": xy, "dataset": TensorDataset(*xy), "loader": DataLoader(TensorDataset(*xy), batch_size=BATCH)}


@pytest.mark.parametrize("form", ["tensors", "dataset", "loader"])
def test_path_of_a_users_resnet_matches_a_state_dict_loop(setting, form, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a, b = setting["a"], setting["b"]
    test, train = setting["test"], setting["train"]
    r = compute.path(build(width=4, classes=3), a, b.state_dict(), {"test": _forms(test)[form]}, criterion=nn.CrossEntropyLoss(),
                     bn_data=_forms(train)[form], points=5, batch_size=BATCH)
    assert r.ts == [0.0, 0.25, 0.5, 0.75, 1.0] and r.values["test"]["loss"].shape == (5,)
    for i, t in enumerate(r.ts):
        ref = _plain(_mix([a.state_dict(), b.state_dict()], [1 - t, t], a), test, train)
        assert r.values["test"]["loss"][i] == pytest.approx(ref["loss"], rel=1e-5)
        assert r.values["test"]["accuracy"][i] == pytest.approx(ref["accuracy"], abs=1e-6)
    assert list(tmp_path.iterdir()) == []  # nothing written
    assert r.summary()["test"]["loss"]["barrier"] == pytest.approx(r.values["test"]["loss"].max() - max(r.values["test"]["loss"][[0, -1]]))


def test_plane_surface_trajectory_of_a_users_resnet_match_the_loop(setting, tmp_path):
    a, b, c = setting["a"], setting["b"], setting["c"]
    test, train = setting["test"], setting["train"]
    net, ce = build(width=4, classes=3), nn.CrossEntropyLoss()
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    torch.save(sb, tmp_path / "b.pt")
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in sc.items()}, str(tmp_path / "c.safetensors"))
    pl = compute.plane(net, a, tmp_path / "b.pt", str(tmp_path / "c.safetensors"), test, criterion=ce, bn_data=train, grid=3,
                       compare_points=3, batch_size=BATCH)
    assert pl.values["data"]["loss"].shape == (3, 3)
    origin, u, v = pl.plane.origin, pl.plane.u, pl.plane.v
    for i, y in enumerate(pl.ys):
        for j, x in enumerate(pl.xs):
            state = {**sa, **{k: origin[k] + x * u[k] + y * v[k] for k in origin}}
            assert pl.values["data"]["loss"][i, j] == pytest.approx(_plain(state, test, train)["loss"], rel=1e-5)
    line = pl.paths["line"]["values"]["data"]["loss"]
    assert line[0] == pytest.approx(_plain(sa, test, train)["loss"], rel=1e-5)
    assert line[-1] == pytest.approx(_plain(sb, test, train)["loss"], rel=1e-5)
    # a surface along given directions, BatchNorm recomputed or the model's own kept (Li et al.)
    g = torch.Generator().manual_seed(3)
    d1, d2 = ({k: 0.05 * torch.randn(p.shape, generator=g) for k, p in a.named_parameters()} for _ in range(2))
    for recompute in (True, False):
        s = compute.surface(net, a, test, criterion=ce, bn_data=train if recompute else None, recompute_bn=recompute,
                            directions=[d1, d2], span=(-1.0, 1.0), grid=3, batch_size=BATCH)
        for i, y in enumerate(s.ys):
            for j, x in enumerate(s.xs):
                state = {**sa, **{k: sa[k] + x * d1[k] + y * d2[k] for k in d1}}
                assert s.values["data"]["loss"][i, j] == pytest.approx(_plain(state, test, train if recompute else None)["loss"], rel=1e-5)
    mid = _mix([sb, sc], [0.3, 0.7], a)
    t = compute.trajectory(net, [c, b, mid, a], test, criterion=ce, bn_data=train, grid=3, batch_size=BATCH)
    at = t.origin_index()
    assert at is not None and t.values["data"]["loss"][at] == pytest.approx(_plain(sa, test, train)["loss"], rel=1e-5)
    assert len(t.trajectory["coords"]) == 4 and t.trajectory["coords"][-1] == [0.0, 0.0]


def test_hessian_and_sharpness_of_a_users_resnet_match_a_pyhessian_loop(setting):
    a, test, train = setting["a"], setting["test"], setting["train"]
    net, ce = build(width=4, classes=3), nn.CrossEntropyLoss()
    h = compute.hessian(net, a, DataLoader(TensorDataset(*test), batch_size=BATCH), criterion=ce, top_k=1, trace=True, density=True,
                        slq_steps=8, trace_samples=5, tol=1e-6, max_iter=300)
    # PyHessian's eigenvalues(top_n=1): double backward on the criterion, power iteration from the same start
    ref = copy.deepcopy(a).eval()
    params = list(ref.parameters())
    loss = ce(ref(test[0][:BATCH]), test[1][:BATCH])
    grads = torch.autograd.grad(loss, params, create_graph=True)
    n = sum(p.numel() for p in params)
    v = torch.randn(n, generator=torch.Generator().manual_seed(0), dtype=torch.float64).float()
    v, eig = v / v.norm(), None
    for _ in range(300):
        hv = torch.autograd.grad(grads, params, [t.view_as(p) for t, p in zip(torch.split(v, [p.numel() for p in params]), params)], retain_graph=True)
        hv = torch.cat([x.reshape(-1) for x in hv])
        new = float(hv @ v)
        v = hv / hv.norm()
        if eig is not None and abs(new - eig) <= 1e-6 * abs(eig):
            eig = new
            break
        eig = new
    assert h.top_eigenvalues["values"][0] == pytest.approx(eig, rel=1e-4)
    assert h.trace["samples"] == 5 and len(h.density["nodes"][0]) <= 8 and h.complete
    # sharpness is the "hessian_top" point metric of a path, at one point: the same number
    top = compute.sharpness(net, a, test, criterion=ce, bn_data=train)
    along = compute.path(net, a, setting["b"], test, criterion=ce, bn_data=train, points=2, metrics=["loss", "hessian_top"])
    assert along.values["data"]["hessian_top"][0] == top and top > 0


def test_latentscape_models_go_through_the_same_functions(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a, b, c = mlp(0), mlp(1), mlp(2)
    data = {"test": images(30, seed=4)}
    r = compute.path(a, a, b, data, points=5, batch_size=16)  # the contract supplies the metric
    assert set(r.values["test"]) == {"loss", "accuracy"}
    for i, t in enumerate(r.ts):
        probe = copy.deepcopy(a)
        probe.load_state_dict(_mix([a.state_dict(), b.state_dict()], [1 - t, t], a))
        x = data["test"].images.float() / 255
        with torch.no_grad():
            ref = F.cross_entropy(probe.net(x), data["test"].labels)
        assert r.values["test"]["loss"][i] == pytest.approx(float(ref), rel=1e-5)
    p = compute.plane(a, a, b, c, data, grid=3, compare_points=3, batch_size=16)
    assert p.values["test"]["loss"].shape == (3, 3) and p.xs.shape == (3,)
    assert set(p.paths) == {"line", "curve"}
    cp = compute.curve_path(a, [a, c, b], data, kind="polychain", points=3, batch_size=16)  # the broken line through c
    np.testing.assert_allclose(cp.values["test"]["loss"], p.paths["curve"]["values"]["test"]["loss"], rtol=1e-6)
    np.testing.assert_allclose(r.values["test"]["loss"][[0, 2, 4]], p.paths["line"]["values"]["test"]["loss"], rtol=1e-6)
    assert list(tmp_path.iterdir()) == []  # nothing written
    monkeypatch.setenv("LATENTSCAPE_PLOTS", "none")
    out = r.save(tmp_path / "saved")
    assert (out / "path.json").is_file() and (out / "summary.json").is_file()


def test_bad_inputs_are_one_clear_error(setting, tmp_path):
    net, test = build(width=4, classes=3), setting["test"]
    with pytest.raises(LatentscapeError, match="bn_data"):
        compute.path(net, setting["a"], setting["b"], test, criterion=nn.CrossEntropyLoss())
    with pytest.raises(LatentscapeError, match="criterion"):
        compute.path(net, setting["a"], setting["b"], test, bn_data=test)  # no evaluate_batch, no loss given
    wrong = build(width=6, classes=3)
    with pytest.raises(LatentscapeError, match="stem.0.weight"):
        compute.surface(net, wrong, test, criterion=nn.CrossEntropyLoss(), recompute_bn=False)


def test_fid_and_kid_functions():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(200, 8, generator=g), torch.randn(150, 8, generator=g) + 0.5
    assert compute.fid(x, y) == pytest.approx(fid_from_features(x, y), rel=1e-12)
    assert compute.fid(x, x) == pytest.approx(0.0, abs=1e-9)
    m32, _ = compute.kid(x, y, subset_size=50, n_subsets=10)
    m64, _ = compute.kid(x, y, subset_size=50, n_subsets=10, dtype="float64")
    assert m64 > 0.05 and m32 == pytest.approx(m64, rel=1e-4)


def test_progress_is_called_after_each_chunk(setting):
    calls = []
    compute.surface(build(width=4, classes=3), setting["a"], setting["test"], criterion=nn.CrossEntropyLoss(), recompute_bn=False,
                    grid=9, progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (0, 81) and calls[-1] == (81, 81) and len(calls) == 4 and [d for d, _ in calls] == sorted(d for d, _ in calls)
    products = []
    h = compute.hessian(mlp(0), mlp(0), images(16), top_k=1, max_iter=50, trace=True, trace_samples=3, progress=lambda d, t: products.append((d, t)))
    assert products[0] == (0, 53) and products[-1] == (h.hessian_vector_products,) * 2  # at most 50 + 3, then what it took
    assert [d for d, _ in products] == sorted(d for d, _ in products) and [t for _, t in products] == sorted((t for _, t in products), reverse=True)
