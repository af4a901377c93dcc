import torch

from landscape_nets import bn_convnet, images, perturbed
from latentscape.data.loader import iterate_in_order
from latentscape.landscape.core.batchnorm import BatchNormRecomputer, fresh_buffers, has_batchnorm
from latentscape.landscape.core.params import named_params


def _batches(ds):
    return lambda: iterate_in_order(ds, 16)


def test_recomputed_stats_equal_dataset_statistics():
    """The first BN layer sees conv outputs; its recomputed mean/var are their dataset moments."""
    ds = images(48)
    model = bn_convnet(0)
    model.train()
    with torch.no_grad():  # some training-mode passes so stored stats are not the true ones
        for b in iterate_in_order(ds, 16):
            model(b)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rec = BatchNormRecomputer(model, _batches(ds))
    bufs = rec(named_params(model))
    conv = model.net[0]
    with torch.no_grad():
        h = conv(ds.float_images())  # (N, 4, 6, 6)
    torch.testing.assert_close(bufs["net.1.running_mean"], h.mean((0, 2, 3)), atol=1e-5, rtol=1e-5)
    # batch variances are unbiased per batch; the cumulative average of 3 batches of 16
    per_batch = torch.stack([h[i : i + 16].var((0, 2, 3), unbiased=False) * (16 * 36) / (16 * 36 - 1) for i in (0, 16, 32)])
    torch.testing.assert_close(bufs["net.1.running_var"], per_batch.mean(0), atol=1e-5, rtol=1e-4)
    # the caller's module is untouched (values and mode)
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.net[1].momentum == 0.1


def test_same_params_same_stats_and_fresh_buffers_reset():
    ds = images(32)
    model = bn_convnet(1)
    rec = BatchNormRecomputer(model, _batches(ds))
    p = perturbed(model, 0)
    a, b = rec(p), rec(p)
    assert all(torch.equal(a[k], b[k]) for k in a)
    fresh = fresh_buffers(model)
    assert torch.equal(fresh["net.1.running_mean"], torch.zeros(4))
    assert has_batchnorm(model)
