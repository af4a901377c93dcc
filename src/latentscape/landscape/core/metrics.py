"""Pluggable per-example metrics evaluated at weight-space points.

A path metric is registered in `PATH_METRICS` as a factory `(model) -> fn | None`: it returns
None when it does not apply to the model (SSIM for a classifier) and otherwise a function
`fn(model, batch) -> {name: Tensor (B,)}` of per-example values, which the evaluator averages
over a split. The functions are called through `torch.func.functional_call` (and `vmap` when the
model allows), so they must use only the model's public methods and pure tensor ops.

Built in:
    model: the model's own `evaluate_batch` (loss and accuracy for classifiers, the training
        objective and its terms for autoencoders) -- works for every registered model.
    loss: only the "loss" entry of `evaluate_batch` (e.g. `--metrics loss,hessian_top`).
    ssim: SSIM of `reconstruct(x)` against x (Wang et al. 2004), autoencoders.
    lpips: LPIPS (alex) distance of reconstructions (Zhang et al. 2018) via
        `latentscape.metrics.lpips`, included by default only when its weights are present.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from latentscape.losses.image import fitting_window, ssim
from latentscape.registry import Registry

MetricFn = Callable[[nn.Module, Any], dict[str, Tensor]]
PATH_METRICS: Registry[Callable[[nn.Module], MetricFn | None]] = Registry("path metric")

#: metrics used when none are named: every one that applies.
DEFAULT_METRICS = ("model", "ssim", "lpips")


def _model_metrics(model: nn.Module) -> MetricFn:
    def fn(m: nn.Module, batch: Any) -> dict[str, Tensor]:
        return {k: v.float() for k, v in m.evaluate_batch(batch).items() if v.dim() == 1}

    return fn


def ssim_per_example(x: Tensor, y: Tensor, data_range: float = 1.0) -> Tensor:
    """Mean SSIM per image: `latentscape.losses.image.ssim` (the one SSIM of the package).

    Args:
        x, y: images (B, C, H, W) in [0, data_range]. The 11-px Gaussian window shrinks to the
            largest odd size that fits images under 11 px.

    Returns:
        (B,) SSIM in [-1, 1] (1 = identical).
    """
    return ssim(x, y, window_size=fitting_window(x.shape[-2:]), data_range=data_range)


def _ssim(model: nn.Module) -> MetricFn | None:
    if not callable(getattr(model, "reconstruct", None)):
        return None

    def fn(m: nn.Module, batch: Any) -> dict[str, Tensor]:
        recon = m.reconstruct(batch.x).clamp(0, 1)  # (B, C, H, W)
        return {"ssim": ssim_per_example(recon, batch.x)}

    return fn


def _lpips(model: nn.Module) -> MetricFn | None:
    """LPIPS (alex) of reconstructions; None without a reconstruct method or the module.

    Raises:
        LatentscapeError (WeightsError): the LPIPS weights are missing (offline, no local copy);
            `resolve_metrics` skips the metric then unless it was asked for by name.
    """
    if not callable(getattr(model, "reconstruct", None)):
        return None
    try:
        lp = importlib.import_module("latentscape.metrics.lpips")
    except ImportError:
        return None
    net = lp.LPIPS("alex").eval()

    def fn(m: nn.Module, batch: Any) -> dict[str, Tensor]:
        x = batch.x
        recon = m.reconstruct(x).clamp(0, 1)
        if x.shape[-1] < 32:  # the backbone needs >= 32 px: compare bilinear 64 px upsamplings
            recon = F.interpolate(recon, size=64, mode="bilinear", align_corners=False)
            x = F.interpolate(x, size=64, mode="bilinear", align_corners=False)
        return {"lpips": net.to(x.device)(recon, x).reshape(-1)}

    return fn


def _loss_only(model: nn.Module) -> MetricFn | None:
    if not callable(getattr(model, "evaluate_batch", None)):
        return None

    def fn(m: nn.Module, batch: Any) -> dict[str, Tensor]:
        out = m.evaluate_batch(batch)
        return {"loss": out["loss"].float()} if "loss" in out else {}

    return fn


PATH_METRICS.register("model", _model_metrics)
PATH_METRICS.register("ssim", _ssim)
PATH_METRICS.register("lpips", _lpips)
PATH_METRICS.register("loss", _loss_only)


def resolve_metrics(model: nn.Module, names: Sequence[str] | None = None) -> list[MetricFn]:
    """Metric functions for `model`: the named ones (an error if one does not apply) or, with
    `names=None`, every built-in that applies."""
    from latentscape.errors import LatentscapeError

    fns = []
    for name in names if names is not None else DEFAULT_METRICS:
        try:
            fn = PATH_METRICS.get(name)(model)
        except LatentscapeError:
            if names is not None:
                raise  # asked for by name: say why it is unavailable (e.g. missing weights)
            continue
        if fn is None:
            if names is not None:
                raise LatentscapeError(f"path metric {name!r} does not apply to this model")
            continue
        fns.append(fn)
    return fns


def combined(fns: Sequence[MetricFn]) -> MetricFn:
    """One function returning the union of `fns`' outputs."""

    def fn(m: nn.Module, batch: Any) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        for f in fns:
            out.update(f(m, batch))
        return out

    return fn
