"""`latentscape eval --metrics mig,factorvae,dci`: disentanglement of a model's codes.

Each metric embeds the evaluated split in order with the model's `embed` (posterior means for a
VAE, codes for an AE) in `ctx.batch_size` batches and passes the codes (N, D) and the dataset's
ground-truth factors (N, K) to the pure functions of `metrics/disentanglement.py`. The
codes do not depend on the batch size, so neither do the scores. Options (`--opt key=value`):
`mig_bins` (20), `factorvae_batch` (64), `factorvae_votes` (5000 train / half as many eval),
`factorvae_threshold` (0.05, variance below which a dimension counts as collapsed),
`dci_regressor` (random_forest | lasso), `disentanglement_max_n` (all: score a seeded subsample).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from latentscape.metrics import disentanglement as dis
from latentscape.errors import LatentscapeError
from latentscape.metrics.base import EvalContext, MetricNotApplicable, int_option


def _int_option(ctx: EvalContext, key: str, default: int) -> int:
    """`int_option`, refused as MetricNotApplicable (these metrics' other refusals)."""
    try:
        return int_option(ctx.options, key, default)
    except LatentscapeError as exc:
        raise MetricNotApplicable(str(exc)) from None


@torch.no_grad()
def codes_and_factors(ctx: EvalContext, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(codes (N, D) float64, factors (N, K)) of the evaluated split, or MetricNotApplicable."""
    model, data = ctx.loaded.model, ctx.dataset
    if data.factors is None:
        raise MetricNotApplicable(
            f"{metric}: dataset {data.name!r} has no ground-truth factors (use data.name=shapes)")
    if not callable(getattr(model, "embed", None)):
        raise MetricNotApplicable(f"{metric}: {type(model).__name__} has no `embed` (no codes to score)")
    if len(data) < 2:
        raise MetricNotApplicable(f"{metric}: the {ctx.split} split has fewer than two examples")
    rows = torch.arange(len(data))
    if "disentanglement_max_n" in ctx.options:
        limit = _int_option(ctx, "disentanglement_max_n", len(data))
        if limit < len(data):
            gen = torch.Generator().manual_seed(ctx.seed)
            rows = torch.randperm(len(data), generator=gen)[:limit].sort().values
    codes = []
    for start in range(0, len(rows), ctx.batch_size):
        idx = rows[start:start + ctx.batch_size]
        x = data.images[idx].to(ctx.device).float().div_(255.0)  # (B, C, H, W)
        z = model.embed(x)
        codes.append(z.reshape(z.shape[0], -1).double().cpu())  # (B, D)
    return torch.cat(codes).numpy(), data.factors[rows].numpy()


def _guarded(metric: str, compute: Callable[[], dict[str, float]]) -> dict[str, float]:
    try:
        return compute()
    except ValueError as exc:  # e.g. a collapsed code, a 1-d code for MIG
        raise MetricNotApplicable(f"{metric}: {exc}") from None


def mig_metric(ctx: EvalContext) -> dict[str, float]:
    """Mutual Information Gap (Chen et al. 2018), overall and per factor (named)."""
    codes, factors = codes_and_factors(ctx, "mig")
    bins = _int_option(ctx, "mig_bins", 20)
    out = _guarded("mig", lambda: dis.mig(codes, factors, num_bins=bins))
    names = ctx.dataset.factor_names
    named = {"mig": out.pop("mig")}
    for key, gap in out.items():  # "mig_<k>" -> "mig_<factor name>"
        k = int(key.removeprefix("mig_"))
        named[f"mig_{names[k]}" if k < len(names) else key] = gap
    return named


def factorvae_metric(ctx: EvalContext) -> dict[str, float]:
    """FactorVAE majority-vote accuracy (Kim & Mnih 2018)."""
    codes, factors = codes_and_factors(ctx, "factorvae")
    votes = _int_option(ctx, "factorvae_votes", 5000)
    batch = _int_option(ctx, "factorvae_batch", 64)
    try:
        threshold = float(ctx.options.get("factorvae_threshold", 0.05))
    except ValueError:
        raise MetricNotApplicable("--opt factorvae_threshold must be a number") from None
    return _guarded("factorvae", lambda: dis.factorvae_score(
        codes, factors, batch_size=batch, num_train=votes, num_eval=max(1, votes // 2),
        variance_threshold=threshold, seed=ctx.seed))


def dci_metric(ctx: EvalContext) -> dict[str, float]:
    """DCI disentanglement, completeness, informativeness (Eastwood & Williams 2018)."""
    codes, factors = codes_and_factors(ctx, "dci")
    regressor = ctx.options.get("dci_regressor", "random_forest")
    return _guarded("dci", lambda: dis.dci(codes, factors, regressor=regressor, seed=ctx.seed))
