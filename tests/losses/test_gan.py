"""GAN losses: values against the papers' formulas, gradients, and the gradient penalty."""

import math

import pytest
import torch

from latentscape.losses.gan import (
    GAN_LOSSES,
    bce_discriminator_loss,
    bce_generator_loss,
    bce_nonsaturating_generator_loss,
    gradient_penalty,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
    wasserstein_critic_loss,
    wasserstein_generator_loss,
)



def test_bce_matches_log_formulas():
    real = torch.tensor([0.3, -1.2, 2.0])
    fake = torch.tensor([-0.5, 0.7, 1.5])
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    expected_d = -(torch.log(d_real).mean() + torch.log(1 - d_fake).mean())
    torch.testing.assert_close(bce_discriminator_loss(real, fake), expected_d)
    torch.testing.assert_close(bce_generator_loss(fake), torch.log(1 - d_fake).mean())
    torch.testing.assert_close(bce_nonsaturating_generator_loss(fake), -torch.log(d_fake).mean())


def test_bce_is_stable_for_confident_critic():
    real = torch.tensor([100.0])
    fake = torch.tensor([-100.0])
    assert bce_discriminator_loss(real, fake).item() == pytest.approx(0.0, abs=1e-6)
    assert math.isfinite(bce_nonsaturating_generator_loss(fake).item())


def test_minimax_saturates_nonsaturating_does_not():
    # When D confidently rejects fakes, log(1 - D) has (almost) no gradient; -log D has a large one.
    fake = torch.tensor([-8.0], requires_grad=True)
    (g_minimax,) = torch.autograd.grad(bce_generator_loss(fake), fake)
    (g_ns,) = torch.autograd.grad(bce_nonsaturating_generator_loss(fake), fake)
    assert abs(g_minimax.item()) < 1e-3
    assert abs(g_ns.item()) > 0.99


def test_lsgan_eq2():
    real = torch.tensor([1.0, 0.5])
    fake = torch.tensor([0.0, 0.2])
    assert lsgan_discriminator_loss(real, fake).item() == pytest.approx(0.5 * 0.125 + 0.5 * 0.02)
    assert lsgan_generator_loss(fake).item() == pytest.approx(0.5 * (1 + 0.64) / 2)
    # optimum of D: real -> b, fake -> a
    assert lsgan_discriminator_loss(torch.ones(3), torch.zeros(3)).item() == 0.0


def test_wasserstein_losses():
    real = torch.tensor([2.0, 4.0])
    fake = torch.tensor([-1.0, 1.0])
    assert wasserstein_critic_loss(real, fake).item() == pytest.approx(0.0 - 3.0)
    assert wasserstein_generator_loss(fake).item() == pytest.approx(0.0)


def test_gradient_penalty_of_linear_critic():
    # D(x) = <w, x>: grad = w everywhere, so the penalty is (||w|| - 1)^2 exactly.
    w = torch.randn(1, 3, 4, 4)

    def critic(x):
        return (x * w).flatten(1).sum(1)

    real, fake = torch.rand(5, 3, 4, 4), torch.rand(5, 3, 4, 4)
    gp = gradient_penalty(critic, real, fake)
    assert gp.item() == pytest.approx((w.norm().item() - 1) ** 2, rel=1e-5)
    w_unit = w / w.norm()
    assert gradient_penalty(lambda x: (x * w_unit).flatten(1).sum(1), real, fake).item() == pytest.approx(0, abs=1e-10)


def test_gradient_penalty_reaches_critic_weights():
    critic = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    real, fake = torch.rand(4, 3, 2, 2), torch.rand(4, 3, 2, 2)
    gp = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(0))
    gp.backward()
    assert critic[1].weight.grad is not None and critic[1].weight.grad.abs().sum() > 0


def test_registry_of_losses():
    assert set(GAN_LOSSES) == {"bce", "bce_nonsaturating", "lsgan", "wgan_gp"}
    assert GAN_LOSSES["wgan_gp"].gradient_penalty and GAN_LOSSES["wgan_gp"].default_n_critic == 5
    assert all(not GAN_LOSSES[k].gradient_penalty for k in ("bce", "bce_nonsaturating", "lsgan"))
