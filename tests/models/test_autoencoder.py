"""AE / VAE: the model contract, training signal, ELBO vs IWAE, likelihoods, config checks."""

import math

import pytest
import torch

from latentscape.config import config_from_dict
from latentscape.data.types import Batch
from latentscape.errors import ConfigError
from latentscape.models.autoencoder import VAE, Autoencoder
from latentscape.rundir.model import DataInfo
from latentscape.registry import MODELS

INFO = DataInfo((1, 8, 8), 10, 64)


def build(**model):
    cfg = config_from_dict({"model": {"hidden_dims": [32], "latent_dim": 3, **model}})
    return MODELS.get(cfg.model.name).build(cfg.model, INFO)


def batch(n=16, seed=0, shape=(1, 8, 8)):
    x = torch.rand(n, *shape, generator=torch.Generator().manual_seed(seed))
    return Batch(x, torch.zeros(n, dtype=torch.long), torch.arange(n))


def test_registered_names_and_classes():
    assert isinstance(build(name="ae"), Autoencoder) and isinstance(build(name="vae"), VAE)


def test_vae_contract():
    torch.manual_seed(0)
    m, b = build(name="vae"), batch()
    out = m(b)
    assert out.loss.dim() == 0
    assert set(out.logs) == {"recon", "kl", "beta", "nelbo"} and all(v.dim() == 0 for v in out.logs.values())
    assert torch.isclose(out.logs["nelbo"], out.logs["recon"] + out.logs["kl"])
    ev = m.evaluate_batch(b)
    assert {k: tuple(v.shape) for k, v in ev.items()} == {k: (16,) for k in ("loss", "recon", "kl", "nelbo")}
    assert m.embed(b.x).shape == (16, 3) and torch.equal(m.embed(b.x), m.posterior(b.x)[0])
    r = m.reconstruct(b.x)
    assert r.shape == b.x.shape and 0 <= r.min() and r.max() <= 1
    s1 = m.sample(5, generator=torch.Generator().manual_seed(3))
    s2 = m.sample(5, generator=torch.Generator().manual_seed(3))
    assert s1.shape == (5, 1, 8, 8) and torch.equal(s1, s2)


def test_vae_nelbo_is_bce_sum_plus_kl():
    m, b = build(name="vae"), batch()
    g = torch.Generator().manual_seed(5)
    t = m.terms(b.x, generator=g)
    bce_sum = torch.nn.functional.binary_cross_entropy_with_logits(t["logits"], b.x, reduction="none").flatten(1).sum(1)
    assert torch.allclose(t["recon"], bce_sum, rtol=1e-5)
    mu, logvar = m.posterior(b.x)
    assert torch.allclose(t["kl"], 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(1), rtol=1e-5)


def _loss_at_seed(m, b):
    torch.manual_seed(123)
    with torch.no_grad():
        return m(b).loss.item()


@pytest.mark.parametrize("model", [{"name": "vae"}, {"name": "ae", "losses": {"mae": 1.0, "ssim": 0.5}},
                                   {"name": "vae", "likelihood": "gaussian_learned", "sigma": 0.3}])
def test_training_steps_lower_the_loss_on_a_fixed_batch(model):
    torch.manual_seed(0)
    m, b = build(**model), batch()
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    before = _loss_at_seed(m, b)
    for _ in range(5):
        opt.zero_grad()
        m(b).loss.backward()
        opt.step()
    assert _loss_at_seed(m, b) < before


def test_beta_follows_set_step():
    m = build(name="vae", beta=2.0, beta_schedule="linear", warmup_steps=100)
    m.set_step(25)
    assert m(batch()).logs["beta"].item() == pytest.approx(0.5)
    m.set_step(1000)
    out = m(batch())
    assert out.logs["beta"].item() == pytest.approx(2.0)


def test_iwae_k1_equals_elbo_in_expectation_and_tightens_with_k():
    torch.manual_seed(0)
    m = build(name="vae").eval()
    x = batch(8).x
    reps = 500
    xs = x.repeat(reps, 1, 1, 1)  # (reps * 8, 1, 8, 8): independent draws of the same images
    with torch.no_grad():
        g = torch.Generator().manual_seed(0)
        t = m.terms(xs, g)
        elbo = -(t["recon"] + t["kl"]).view(reps, 8).mean(0)
        iwae1 = m.iwae_log_likelihood(xs, 1, generator=g).view(reps, 8).mean(0)
        iwae50 = m.iwae_log_likelihood(x.repeat(10, 1, 1, 1), 50, generator=g).view(10, 8).mean(0)
    assert torch.allclose(iwae1, elbo, atol=float(elbo.abs().mean() * 0.01))
    assert (iwae50 >= elbo).all()  # a tighter bound on log p(x): lower nll


def test_gaussian_likelihoods():
    m, b = build(name="vae", likelihood="gaussian_fixed", sigma=0.2), batch()
    t = m.terms(b.x, torch.Generator().manual_seed(0))
    mean = torch.sigmoid(t["logits"])
    ref = (0.5 * ((b.x - mean) / 0.2) ** 2 + math.log(0.2) + 0.5 * math.log(2 * math.pi)).flatten(1).sum(1)
    assert torch.allclose(t["recon"], ref, rtol=1e-5)
    learned = build(name="vae", likelihood="gaussian_learned", sigma=0.2)
    names = [n for n, _ in learned.named_parameters()]
    assert "likelihood.log_sigma" in names and "likelihood.log_sigma" not in [n for n, _ in m.named_parameters()]


def test_extra_image_losses_enter_the_objective_not_the_elbo():
    torch.manual_seed(0)
    plain = build(name="vae")
    torch.manual_seed(0)
    extra = build(name="vae", image_losses={"ssim": 1.0})
    b = batch()
    torch.manual_seed(1)
    a = plain(b)
    torch.manual_seed(1)
    c = extra(b)
    assert torch.isclose(a.logs["nelbo"], c.logs["nelbo"]) and c.loss > a.loss
    assert "image_ssim" in c.logs


def test_ae_contract_and_logs():
    m, b = build(name="ae", losses={"mae": 1.0, "laplacian": 2.0}, laplacian_levels=2), batch()
    out = m(b)
    assert set(out.logs) == {"recon", "mae", "laplacian"}
    assert torch.isclose(out.loss, out.logs["mae"] + 2 * out.logs["laplacian"])
    ev = m.evaluate_batch(b)
    assert ev["loss"].shape == (16,) and not hasattr(m, "sample")


@pytest.mark.parametrize("model,match", [
    ({"name": "ae", "losses": {"lpips": 1.0}}, "model.losses: unknown image loss"),
    ({"name": "vae", "beta_schedule": "cyclical"}, "cycle_steps"),
    ({"name": "vae", "likelihood": "poisson"}, "allowed: bernoulli"),
    ({"name": "vae", "init": "xavier"}, "allowed: default"),
    ({"name": "vae", "ssim_window": 4}, "odd"),
])
def test_config_errors(model, match):
    with pytest.raises(ConfigError, match=match):
        build(**model)


def test_losses_that_do_not_fit_the_images_fail_at_build_time():
    with pytest.raises(ConfigError, match="model.losses: 4 pyramid levels are too many"):
        build(name="ae", losses={"laplacian": 1.0}, laplacian_levels=4)
    with pytest.raises(ConfigError, match="model.image_losses: SSIM window 17 is too large"):
        build(name="vae", image_losses={"ssim": 1.0}, ssim_window=17)


def test_net_that_does_not_fit_the_images_is_a_config_error():
    cfg = config_from_dict({"model": {"name": "ae", "net": "celeba64"}})
    with pytest.raises(ConfigError, match="celeba64 does not fit"):
        MODELS.get("ae").build(cfg.model, INFO)


def test_conv_nets_get_symmetric_inputs():
    m = MODELS.get("vae").build(config_from_dict({"model": {"name": "vae", "net": "dcgan", "width": 4}}).model,
                                DataInfo((1, 28, 28), 10, 10))
    seen = []
    m.encoder.register_forward_pre_hook(lambda mod, args: seen.append(args[0]))
    m.embed(torch.zeros(2, 1, 28, 28))
    assert torch.equal(seen[0], -torch.ones(2, 1, 28, 28))
