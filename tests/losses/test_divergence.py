"""KL divergences and log-likelihoods against closed forms, torch.distributions and Monte Carlo."""

import math

import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from latentscape.losses.divergence import (
    bernoulli_log_prob,
    diagonal_normal_log_prob,
    gaussian_kl,
    gaussian_log_prob,
    log_mean_exp,
    standard_normal_log_prob,
)


def test_kl_of_the_prior_is_zero():
    assert torch.equal(gaussian_kl(torch.zeros(4, 7), torch.zeros(4, 7)), torch.zeros(4))


def test_kl_matches_closed_form_and_monte_carlo():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(3, 5, generator=g), torch.randn(3, 5, generator=g) * 0.5
    ours = gaussian_kl(mu, logvar)
    q, p = Normal(mu, (0.5 * logvar).exp()), Normal(torch.zeros(3, 5), torch.ones(3, 5))
    assert torch.allclose(ours, kl_divergence(q, p).sum(1), atol=1e-5)
    z = q.sample((200_000,))  # (S, 3, 5)
    mc = (q.log_prob(z) - p.log_prob(z)).sum(-1).mean(0)
    assert torch.allclose(ours, mc, atol=0.03)


def test_normal_log_probs_match_torch_distributions():
    g = torch.Generator().manual_seed(1)
    z, mu, logvar = (torch.randn(6, 4, generator=g) for _ in range(3))
    assert torch.allclose(standard_normal_log_prob(z), Normal(0.0, 1.0).log_prob(z).sum(-1))
    ref = Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(-1)
    assert torch.allclose(diagonal_normal_log_prob(z, mu, logvar), ref, atol=1e-5)


def test_image_log_likelihoods():
    g = torch.Generator().manual_seed(2)
    x, mean = torch.rand(2, 1, 4, 4, generator=g), torch.rand(2, 1, 4, 4, generator=g)
    ref = Normal(mean, 0.1).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(gaussian_log_prob(x, mean, math.log(0.1)), ref, atol=1e-4)
    binary = (x > 0.5).float()
    logits = torch.randn(2, 1, 4, 4, generator=g)
    ref = Bernoulli(logits=logits).log_prob(binary).flatten(1).sum(1)
    assert torch.allclose(bernoulli_log_prob(logits, binary), ref, atol=1e-5)


def test_log_mean_exp_is_stable():
    t = torch.tensor([[1000.0, 1000.0], [1000.0 + math.log(3.0), 1000.0]])
    out = log_mean_exp(t, dim=0)
    assert torch.allclose(out, torch.tensor([1000.0 + math.log(2.0), 1000.0]))
