import pytest
import torch

from latentscape.data.loader import iterate_in_order
from latentscape.data.types import ImageDataset
from latentscape.landscape.core.params import named_params
from latentscape.rundir.model import DataInfo
from latentscape.models.classifier import MLPClassifierConfig, build_mlp
from latentscape.landscape.methods.curve_model import CurveModel


def _data(n=32):
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(n, 1, 6, 6, generator=g) * 255).to(torch.uint8)
    y = (x.float().mean((1, 2, 3)) > 127).long()
    return ImageDataset(images=x, labels=y)


def _mlp(seed):
    torch.manual_seed(seed)
    return build_mlp(MLPClassifierConfig(hidden_dims=(8,)), DataInfo((1, 6, 6), 2, 32))


def test_gradient_reaches_only_the_bends_when_ends_are_fixed():
    a, b = _mlp(0), _mlp(1)
    curve = CurveModel(a, named_params(a), named_params(b), bends=2, l2=1e-3)
    free = [n for n, p in curve.named_parameters() if p.requires_grad]
    assert sorted(free) == ["point_1", "point_2"]
    assert [n for n, _ in curve.named_buffers() if n.startswith("point_")] == ["point_0", "point_3"]
    batch = next(iterate_in_order(_data(), 16))
    out = curve(batch)
    out.loss.backward()
    assert curve.point_1.grad is not None and curve.point_1.grad.abs().sum() > 0
    assert all(p.grad is None for p in curve.base.parameters())
    assert list(curve.params_for("main")) == [curve.point_1, curve.point_2]
    assert 0.0 <= float(out.logs["t"]) <= 1.0 and "l2" in out.logs


def test_free_endpoints_are_trainable_and_theta_is_exact_at_ends():
    a, b = _mlp(0), _mlp(1)
    curve = CurveModel(a, named_params(a), named_params(b), bends=1, fix_start=False, fix_end=True)
    assert sorted(n for n, p in curve.named_parameters() if p.requires_grad) == ["point_0", "point_1"]
    pa, pb = named_params(a), named_params(b)
    th0, th1 = curve.theta(0.0), curve.theta(1.0)
    assert all(torch.equal(th0[k], pa[k]) for k in pa)
    assert all(torch.equal(th1[k], pb[k]) for k in pb)
    c = curve.to_curve()
    mid = c(0.5)
    for k in pa:  # bend initialised on the segment
        torch.testing.assert_close(mid[k], 0.5 * (pa[k] + pb[k]))


def test_training_step_moves_bends_and_does_not_touch_caller_models():
    a, b = _mlp(0), _mlp(1)
    before = named_params(a)
    curve = CurveModel(a, named_params(a), named_params(b), bends=1)
    opt = torch.optim.SGD(curve.params_for("main"), lr=0.1)
    bend0 = curve.point_1.detach().clone()
    for batch in iterate_in_order(_data(), 8):
        opt.zero_grad()
        curve(batch).loss.backward()
        opt.step()
    assert not torch.equal(curve.point_1, bend0)
    assert all(torch.equal(p, before[n]) for n, p in a.named_parameters())
    metrics = curve.evaluate_batch(next(iterate_in_order(_data(), 8)))
    assert metrics["loss"].shape == (8,)


def test_evaluation_recomputes_batchnorm_at_eval_t_as_the_curve_path_does():
    """A curve run's own evaluation (trainer, `eval`) measures theta(eval_t) with BatchNorm
    statistics of that point from the training split, the numbers `path --curve` gives there;
    after a (fused) optimizer step it recomputes them."""
    from torch import nn

    from latentscape import compute
    from latentscape.landscape.core.metrics import task_for
    from latentscape.landscape.methods.task_model import TaskModel, unwrap, wrap
    from latentscape.train.trainer import evaluate
    from landscape_nets import bn_convnet, images

    net_a, net_b = bn_convnet(0).net, bn_convnet(1).net
    ce = nn.CrossEntropyLoss()
    base = TaskModel(net_a, task_for(net_a, criterion=ce))
    curve = CurveModel(base, wrap(named_params(net_a)), wrap(named_params(net_b)), bends=1, eval_t=0.25)
    train, test = images(48, 0), images(40, 1)
    curve.use_training_data(train, 16)
    assert curve.evaluation_protocol()["curve_t"] == 0.25 and "recomputed at theta(0.25)" in curve.evaluation_protocol()["batchnorm"]
    opt = torch.optim.SGD(curve.params_for("main"), lr=0.5, fused=True)  # a fused step keeps tensor versions
    for step in range(2):
        got = evaluate(curve, test, 16, torch.device("cpu"))
        points = [unwrap(p) for p in curve.control_points()]
        want = compute.curve_path(net_a, points, test, criterion=ce, bn_data=train, points=5, batch_size=16, use_vmap=False)
        assert want.ts[1] == 0.25
        for m in ("loss", "accuracy"):
            assert got[m] == pytest.approx(float(want.values["data"][m][1]), rel=1e-5, abs=1e-7)
        curve.set_step(step + 1)
        curve.train()
        opt.zero_grad()
        curve(next(iterate_in_order(train, 16))).loss.backward()
        opt.step()
    stored = CurveModel(base, wrap(named_params(net_a)), wrap(named_params(net_b)), bends=1)
    assert "stored statistics" in stored.evaluation_protocol()["batchnorm"]  # no training data given: says so


def test_curve_weight_decay_is_garipovs_squared_norm_of_the_point_on_the_curve():
    """Garipov et al.'s train.py trains a curve with `curves.l2_regularizer(wd)` = 0.5 * wd *
    sum over layers of ||w(t)||^2, w(t) = sum_j c_j(t) w_j the layer's weights at this batch's t
    (CurveModule.compute_weights_t), and the optimizer's weight decay at 0. Not utils.l2_regularizer
    (0.5 * wd * sum ||p||, unsquared norms of the control points), which his connect.py and
    plane.py only add to a reported loss. Recomputed here layer by layer, by hand."""
    from torch.func import functional_call

    a, b = _mlp(0), _mlp(1)
    wd = 0.1
    curve = CurveModel(a, named_params(a), named_params(b), bends=1, l2=wd)
    with torch.no_grad():
        curve.point_1.add_(0.05 * torch.randn_like(curve.point_1))  # a bend off the segment
    batch = next(iterate_in_order(_data(), 16))
    torch.manual_seed(3)
    t = float(torch.rand(()))
    torch.manual_seed(3)  # the curve draws the same t
    out = curve(batch)
    out.loss.backward()
    assert float(out.logs["t"]) == t

    bend = curve.point_1.detach().clone().requires_grad_(True)
    ends = curve.control_points()
    sizes = [p.numel() for p in ends[0].values()]
    bend_layers = dict(zip(ends[0], (v.reshape(p.shape) for v, p in zip(torch.split(bend, sizes), ends[0].values()))))
    c = [(1 - t) ** 2, 2 * t * (1 - t), t**2]  # Bezier through 3 points (Garipov's num_bends=3)
    w_t = {n: c[0] * ends[0][n] + c[1] * bend_layers[n] + c[2] * ends[2][n] for n in ends[0]}
    reg = 0.5 * wd * sum((w**2).sum() for w in w_t.values())
    total = functional_call(a, w_t, (batch,)).loss + reg
    total.backward()
    assert float(out.logs["l2"]) == pytest.approx(float(reg.detach()), rel=1e-6)
    assert float(out.loss.detach()) == pytest.approx(float(total.detach()), rel=1e-6)
    torch.testing.assert_close(curve.point_1.grad, bend.grad, rtol=1e-5, atol=1e-7)
    unsquared = 0.5 * wd * sum(w.detach().norm() for w in w_t.values())  # utils.l2_regularizer's form: a different number
    assert float(out.logs["l2"]) != pytest.approx(float(unsquared), rel=1e-2)
