"""Evaluation metrics of models that reconstruct images: loss, reconstruction errors, SSIM, PSNR.

Registered in `registry.METRICS` for `latentscape eval`. Each is `(ctx: EvalContext) -> dict`:
one unshuffled pass over `ctx.dataset` in `ctx.batch_size` batches, per-image values averaged
over the split (so results do not depend on the batch size). Reconstructions are decoded codes /
posterior means (`model.reconstruct`), deterministic for a given model.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator

import torch
from torch import Tensor

from latentscape.data.loader import iterate_in_order
from latentscape.data.types import Batch
from latentscape.losses.image import bce, fitting_window, mae, mse, ssim
from latentscape.metrics.base import EvalContext, MetricNotApplicable, int_option


def batches(ctx: EvalContext) -> Iterator[Batch]:
    """The evaluated split in order, on ctx.device."""
    return iterate_in_order(ctx.dataset, ctx.batch_size, ctx.device)


@torch.no_grad()
def mean_over_split(ctx: EvalContext, per_batch: Callable[[Batch], dict[str, Tensor]]) -> dict[str, float]:
    """Average per-example values (name -> (B,)) of `per_batch` over the whole split."""
    sums: dict[str, float] = defaultdict(float)
    count = 0
    for batch in batches(ctx):
        for name, values in per_batch(batch).items():
            sums[name] += float(values.double().sum())
        count += batch.x.shape[0]
        ctx.report(count, len(ctx.dataset))
    if count == 0:
        raise MetricNotApplicable(f"the {ctx.split} split is empty")
    return {name: total / count for name, total in sums.items()}


def _reconstructor(ctx: EvalContext, metric: str) -> Callable[[Tensor], Tensor]:
    model = ctx.loaded.model
    if not callable(getattr(model, "reconstruct", None)):
        raise MetricNotApplicable(f"{metric}: {type(model).__name__} cannot reconstruct images")
    return model.reconstruct


def loss_metric(ctx: EvalContext) -> dict[str, float]:
    """Mean of the model's own per-example evaluation values (any model), seeded."""
    model = ctx.loaded.model
    with torch.random.fork_rng(devices=[ctx.device] if ctx.device.type == "cuda" else []):
        torch.manual_seed(ctx.seed)
        return mean_over_split(ctx, model.evaluate_batch)


def reconstruction_metric(ctx: EvalContext) -> dict[str, float]:
    """Per-pixel MAE, MSE and BCE of reconstructions, averaged per image then over the split."""
    rec = _reconstructor(ctx, "reconstruction")

    def per_batch(batch: Batch) -> dict[str, Tensor]:
        x_hat = rec(batch.x).float()
        return {"recon_mae": mae(x_hat, batch.x), "recon_mse": mse(x_hat, batch.x), "recon_bce": bce(x_hat, batch.x)}

    return mean_over_split(ctx, per_batch)


def ssim_metric(ctx: EvalContext) -> dict[str, float]:
    """SSIM of reconstructions (`losses.image.ssim`: Gaussian window 11, sigma 1.5, data range 1,
    equal to torchmetrics' default and to `latentscape path`'s SSIM).

    `--opt ssim_window=5` uses a smaller Gaussian window (sigma 1.5), as the Fashion-MNIST study
    did.
    """
    rec = _reconstructor(ctx, "ssim")
    window = int_option(ctx.options, "ssim_window", 11)

    def per_batch(batch: Batch) -> dict[str, Tensor]:
        x_hat = rec(batch.x).float().clamp(0, 1)
        key = "ssim" if window == 11 else f"ssim_w{window}"
        return {key: ssim(x_hat, batch.x, window_size=fitting_window(batch.x.shape[-2:], window))}

    return mean_over_split(ctx, per_batch)


def psnr_metric(ctx: EvalContext) -> dict[str, float]:
    """PSNR of reconstructions in dB, per image (data range 1), averaged over the split."""
    from torchmetrics.functional.image import peak_signal_noise_ratio

    rec = _reconstructor(ctx, "psnr")

    def per_batch(batch: Batch) -> dict[str, Tensor]:
        x_hat = rec(batch.x).float().clamp(0, 1)
        value = peak_signal_noise_ratio(x_hat, batch.x, data_range=1.0, reduction="none", dim=(1, 2, 3))
        return {"psnr": value}

    return mean_over_split(ctx, per_batch)
