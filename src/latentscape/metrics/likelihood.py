"""Likelihood metrics of VAEs, in nats per image: the negative ELBO and the IWAE bound.

- elbo: -E_q[log p(x|z)] + KL(q(z|x) || p(z)) with one posterior sample per image (an unbiased
  estimate of the negative ELBO, Kingma & Welling 2014, eq. 3), averaged over the split.
- iwae: -L_k, the importance-weighted bound of Burda et al. 2016, eq. 8, with k samples per image;
  an upper bound on the negative log-likelihood that tightens (decreases) as k grows, and
  equals the ELBO in expectation for k = 1.

Both draw their noise from a generator seeded by `ctx.seed`, so repeated evaluations agree.
"""

from __future__ import annotations

import torch
from torch import Tensor

from latentscape.data.types import Batch
from latentscape.metrics.base import EvalContext, MetricNotApplicable, int_option
from latentscape.metrics.reconstruction import mean_over_split

DEFAULT_IWAE_K = 100


def _variational(ctx: EvalContext, metric: str):
    model = ctx.loaded.model
    if not callable(getattr(model, "iwae_log_likelihood", None)):
        raise MetricNotApplicable(f"{metric}: {type(model).__name__} has no posterior and likelihood (not a VAE)")
    return model


def iwae_k(ctx: EvalContext) -> int:
    """k of the IWAE bound: `--iwae-k` (ctx.options["iwae_k"]), default 100."""
    return int_option(ctx.options, "iwae_k", DEFAULT_IWAE_K)


def elbo_metric(ctx: EvalContext) -> dict[str, float]:
    """Negative ELBO per image and its two terms, in nats."""
    model = _variational(ctx, "elbo")
    gen = torch.Generator().manual_seed(ctx.seed)

    def per_batch(batch: Batch) -> dict[str, Tensor]:
        t = model.terms(batch.x, generator=gen)
        return {"nelbo": t["recon"] + t["kl"], "recon_nll": t["recon"], "kl": t["kl"]}

    return mean_over_split(ctx, per_batch)


def iwae_metric(ctx: EvalContext) -> dict[str, float]:
    """IWAE upper bound on -log p(x), nats per image, with k samples (`iwae_k` option)."""
    model = _variational(ctx, "iwae")
    k = iwae_k(ctx)
    gen = torch.Generator().manual_seed(ctx.seed)

    def per_batch(batch: Batch) -> dict[str, Tensor]:
        return {"iwae_nll": -model.iwae_log_likelihood(batch.x, k, generator=gen)}

    return mean_over_split(ctx, per_batch)
