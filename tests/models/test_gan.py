"""The GAN model: groups and schedules, which weights each step touches, sampling, EMA, config."""

import pytest
import torch

from latentscape.config import config_from_dict
from latentscape.data.types import Batch
from latentscape.errors import ConfigError
from latentscape.rundir.model import DataInfo
from latentscape.models.gan import GAN, GANConfig
from latentscape.registry import MODELS


INFO = DataInfo(image_shape=(1, 28, 28), num_classes=10, num_train=64)


def _batch(b=6):
    return Batch(torch.rand(b, 1, 28, 28), torch.zeros(b, dtype=torch.long), torch.arange(b))


def _gan(**kw):
    return GAN(GANConfig(latent_dim=8, width=4, **kw), INFO)


def test_registered():
    entry = MODELS.get("gan")
    assert entry.config is GANConfig
    assert isinstance(entry.build(GANConfig(width=4), INFO), GAN)


@pytest.mark.parametrize(("loss", "n_critic"), [("bce", 1), ("lsgan", 1), ("wgan_gp", 5)])
def test_group_schedule(loss, n_critic):
    gan = _gan(loss=loss)
    assert gan.n_critic == n_critic
    groups = [gan.group_for_step(s) for s in range(3 * (n_critic + 1))]
    assert groups.count("generator") == 3
    assert groups[: n_critic + 1] == ["critic"] * n_critic + ["generator"]
    # iteration_at counts completed generator steps
    for s in range(len(groups) + 1):
        assert gan.iteration_at(s) == groups[:s].count("generator")


def test_critic_norm_auto():
    def kinds(gan):
        return {type(m) for m in gan.critic.modules()}

    assert torch.nn.GroupNorm in kinds(_gan(loss="wgan_gp"))
    assert torch.nn.BatchNorm2d not in kinds(_gan(loss="wgan_gp"))
    assert torch.nn.BatchNorm2d in kinds(_gan(loss="bce"))


@pytest.mark.parametrize("loss", ["bce", "bce_nonsaturating", "lsgan", "wgan_gp"])
def test_each_step_only_touches_its_net(loss):
    torch.manual_seed(0)
    gan = _gan(loss=loss)
    out = gan(_batch(), "critic")
    out.loss.backward()
    assert all(p.grad is None for p in gan.generator.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in gan.critic.parameters())
    gan.zero_grad(set_to_none=True)
    out = gan(_batch(), "generator")
    out.loss.backward()
    assert all(p.grad is None for p in gan.critic.parameters())
    assert all(p.requires_grad for p in gan.critic.parameters())  # restored after the step
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in gan.generator.parameters())
    if loss == "wgan_gp":
        assert "critic/gradient_penalty" in gan(_batch(), "critic").logs


def test_sample_range_determinism_and_mode():
    gan = _gan().train()
    a = gan.sample(5, torch.Generator().manual_seed(3))
    b = gan.sample(5, torch.Generator().manual_seed(3))
    assert a.shape == (5, 1, 28, 28)
    assert a.min() >= 0 and a.max() <= 1
    torch.testing.assert_close(a, b)
    assert gan.training and gan.generator.training  # sampling does not leave eval mode on
    z = torch.randn(2, 8)
    assert gan.decode(z).shape == (2, 1, 28, 28)


def test_ema():
    gan = _gan(ema_decay=0.5)
    assert gan.sampling_generator is gan.generator_ema
    ema_ids = {id(p) for p in gan.generator_ema.parameters()}
    assert not ema_ids & {id(p) for g in gan.groups for p in gan.params_for(g)}
    w0 = gan.generator.project.weight.detach().clone()
    with torch.no_grad():
        gan.generator.project.weight.add_(1.0)
    gan.update_ema()
    torch.testing.assert_close(gan.generator_ema.project.weight, w0 + 0.5)
    assert "generator_ema.project.weight" in gan.state_dict()


def test_training_reduces_critic_loss_on_fixed_generator():
    # A few critic steps against a fixed generator must separate real from fake.
    torch.manual_seed(0)
    gan = _gan(loss="lsgan")
    opt = torch.optim.Adam(gan.params_for("critic"), lr=1e-3)
    batch = _batch(8)
    first = None
    for _ in range(20):
        opt.zero_grad()
        loss = gan(batch, "critic").loss
        first = first if first is not None else loss.item()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


def test_config_from_yaml_dict():
    cfg = config_from_dict({"model": {"name": "gan", "loss": "lsgan", "pictures": {"fid_every": 10}}})
    assert cfg.model.loss == "lsgan" and cfg.model.pictures.fid_every == 10
    with pytest.raises(ConfigError, match="loss"):
        config_from_dict({"model": {"name": "gan", "loss": "hinge"}})
    with pytest.raises(ConfigError, match="n_critic"):
        config_from_dict({"model": {"name": "gan", "n_critic": 0}})


def test_ema_callback_updates_after_generator_steps_only():
    from types import SimpleNamespace

    from latentscape.models.gan import EMAUpdate, gan_callbacks

    gan = _gan(loss="wgan_gp", ema_decay=0.5)  # steps 0-4 critic, step 5 generator
    cb = EMAUpdate()
    with torch.no_grad():
        gan.generator.project.weight.add_(1.0)
    before = gan.generator_ema.project.weight.clone()
    for step in range(1, 6):  # on_step_end sees the number of finished steps
        cb.on_step_end(SimpleNamespace(model=gan, step=step), {})
    torch.testing.assert_close(gan.generator_ema.project.weight, before)
    cb.on_step_end(SimpleNamespace(model=gan, step=6), {})
    assert not torch.allclose(gan.generator_ema.project.weight, before)
    run_cfg = config_from_dict({"model": {"name": "gan", "ema_decay": 0.9}})
    assert any(isinstance(c, EMAUpdate) for c in gan_callbacks(run_cfg))


def test_the_wgan_gp_critic_step_trains_under_torch_compile():
    """train.compile: compiled graphs have no double backward, so the gradient penalty runs
    eagerly (it used to fail at the first critic step's backward on every device)."""
    gan = _gan(loss="wgan_gp")
    torch.manual_seed(0)
    out = torch.compile(gan, backend="aot_eager")(_batch(), "critic")
    out.loss.backward()
    assert all(p.grad is not None for p in gan.critic.parameters())
