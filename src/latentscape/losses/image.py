"""Image reconstruction losses as pure functions, and their weighted combination.

Every function takes a reconstruction `x_hat` and a target `x`, both (B, C, H, W) with values in
[0, 1], and returns one value per image, shape (B,), averaged over that image's pixels (so losses
of different image sizes are comparable and weights stay meaningful). Sums over pixels, in nats,
are the likelihoods' business (`latentscape.losses.divergence`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor


def _per_image_mean(t: Tensor) -> Tensor:
    return t.flatten(1).mean(1)  # (B, C*H*W) -> (B,)


def mae(x_hat: Tensor, x: Tensor) -> Tensor:
    """Mean absolute error (L1) per image, (B,)."""
    return _per_image_mean((x_hat - x).abs())


def mse(x_hat: Tensor, x: Tensor) -> Tensor:
    """Mean squared error per image, (B,)."""
    return _per_image_mean((x_hat - x).square())


def bce(x_hat: Tensor, x: Tensor, eps: float = 1e-6) -> Tensor:
    """Binary cross-entropy per pixel, averaged per image, (B,); `x` may be grey levels in [0, 1]."""
    p = x_hat.clamp(eps, 1.0 - eps)
    return _per_image_mean(-(x * p.log() + (1.0 - x) * (1.0 - p).log()))


def bce_with_logits(logits: Tensor, x: Tensor) -> Tensor:
    """`bce(sigmoid(logits), x)` computed stably from logits, (B,)."""
    return _per_image_mean(F.binary_cross_entropy_with_logits(logits, x, reduction="none"))


def gaussian_window(size: int, sigma: float = 1.5, *, dtype=torch.float32, device=None) -> Tensor:
    """Normalised 2-D Gaussian window, (size, size)."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"window size must be odd and positive, got {size}")
    d = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    g = torch.exp(-0.5 * (d / sigma) ** 2)
    g = g / g.sum()
    return g[:, None] * g[None, :]  # (size, size)


def ssim(
    x_hat: Tensor,
    x: Tensor,
    window_size: int = 11,
    sigma: float = 1.5,
    data_range: float = 1.0,
    k1: float = 0.01,
    k2: float = 0.03,
) -> Tensor:
    """Structural similarity per image, (B,), in [-1, 1] (1 for identical images).

    Wang et al. 2004 ("Image quality assessment: from error visibility to structural similarity"),
    eq. 13, with local statistics under a Gaussian window (sec. III-C). Images are reflect-padded
    so every pixel gets an index; with window 11 and sigma 1.5 this equals torchmetrics'
    `structural_similarity_index_measure`.
    """
    c = x.shape[1]
    pad = window_size // 2
    if pad >= min(x.shape[-2:]):
        raise ValueError(f"SSIM window {window_size} is too large for {tuple(x.shape[-2:])} images")
    win = gaussian_window(window_size, sigma, dtype=x.dtype, device=x.device)
    kernel = win.expand(c, 1, window_size, window_size)  # (C, 1, k, k), depthwise
    stack = torch.cat([x_hat, x, x_hat * x_hat, x * x, x_hat * x])  # (5B, C, H, W)
    stack = F.pad(stack, (pad, pad, pad, pad), mode="reflect")
    mu_a, mu_b, e_aa, e_bb, e_ab = F.conv2d(stack, kernel, groups=c).chunk(5)  # each (B, C, H, W)
    var_a = (e_aa - mu_a.square()).clamp_min(0.0)
    var_b = (e_bb - mu_b.square()).clamp_min(0.0)
    cov = e_ab - mu_a * mu_b
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a.square() + mu_b.square() + c1) * (var_a + var_b + c2)
    return _per_image_mean(num / den)


def fitting_window(hw: tuple[int, int] | torch.Size, size: int = 11) -> int:
    """`size`, or the largest odd window whose reflect padding fits (H, W) images when smaller."""
    largest = 2 * min(int(hw[0]), int(hw[1])) - 1  # pad = window // 2 must stay below H and W
    return max(1, min(size, largest))


def ssim_loss(x_hat: Tensor, x: Tensor, window_size: int = 11) -> Tensor:
    """1 - SSIM per image, (B,), in [0, 2]."""
    return 1.0 - ssim(x_hat, x, window_size=window_size)


# The 5-tap binomial filter [1, 4, 6, 4, 1] / 16 of Burt & Adelson 1983, as an outer product.
_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def _gauss_blur(img: Tensor, scale: float = 1.0) -> Tensor:
    """Depthwise 5x5 binomial blur with reflect padding, (B, C, H, W) -> same shape."""
    c = img.shape[1]
    k = (_BINOMIAL[:, None] * _BINOMIAL[None, :]).to(img) * scale  # (5, 5)
    padded = F.pad(img, (2, 2, 2, 2), mode="reflect")
    return F.conv2d(padded, k.expand(c, 1, 5, 5), groups=c)


def _upsample(img: Tensor, like: Tensor) -> Tensor:
    """Zero-insertion upsampling to `like`'s size, then blur x4 (Burt & Adelson's EXPAND)."""
    b, c, h, w = img.shape
    up = img.new_zeros(b, c, like.shape[-2], like.shape[-1])  # (B, C, 2h, 2w) or one less
    up[:, :, ::2, ::2] = img
    return _gauss_blur(up, scale=4.0)


def laplacian_pyramid(img: Tensor, levels: int = 3) -> list[Tensor]:
    """Band-pass levels of the Laplacian pyramid (Burt & Adelson 1983), finest first.

    Level i is `g_i - EXPAND(REDUCE(g_i))` where `g_0 = img`, `REDUCE` blurs then keeps every
    second pixel; the low-pass residual is not included (as in the loss the study used).

    Args:
        img: (B, C, H, W) images; H and W must stay >= 3 at the coarsest level.
        levels: number of band-pass levels.
    """
    pyramid = []
    current = img
    for _ in range(levels):
        if min(current.shape[-2:]) < 3:
            raise ValueError(f"{levels} pyramid levels are too many for {tuple(img.shape[-2:])} images")
        down = _gauss_blur(current)[:, :, ::2, ::2]  # (B, C, ceil(H/2), ceil(W/2))
        pyramid.append(current - _upsample(down, current))  # (B, C, H, W)
        current = down
    return pyramid


def laplacian_l1(x_hat: Tensor, x: Tensor, levels: int = 3) -> Tensor:
    """Laplacian-pyramid L1 loss per image, (B,): the sum over levels of each level's mean |diff|.

    The "Lap1" loss of Bojanowski et al. 2018 ("Optimizing the Latent Space of Generative
    Networks", sec. 3), with equal level weights as in the implementation the mode-connectivity
    study used.
    """
    diffs = [a - b for a, b in zip(laplacian_pyramid(x_hat, levels), laplacian_pyramid(x, levels))]
    return torch.stack([_per_image_mean(d.abs()) for d in diffs]).sum(0)  # (levels, B) -> (B,)


# ----------------------------------------------------------------------------- combination

#: name -> fn(x_hat, x, logits, options) -> (B,). `logits` (pre-sigmoid) may be None.
ImageLossFn = Callable[[Tensor, Tensor, "Tensor | None", Mapping[str, int]], Tensor]


def _bce_term(x_hat: Tensor, x: Tensor, logits: Tensor | None, _: Mapping[str, int]) -> Tensor:
    return bce(x_hat, x) if logits is None else bce_with_logits(logits, x)


IMAGE_LOSSES: dict[str, ImageLossFn] = {
    "mae": lambda x_hat, x, logits, o: mae(x_hat, x),
    "l1": lambda x_hat, x, logits, o: mae(x_hat, x),
    "mse": lambda x_hat, x, logits, o: mse(x_hat, x),
    "bce": _bce_term,
    "ssim": lambda x_hat, x, logits, o: ssim_loss(x_hat, x, o.get("ssim_window", 11)),
    "laplacian": lambda x_hat, x, logits, o: laplacian_l1(x_hat, x, o.get("laplacian_levels", 3)),
}


def check_loss_weights(weights: Mapping[str, float]) -> None:
    """Raise ValueError unless `weights` names known losses with finite weights, not all zero."""
    unknown = sorted(set(weights) - set(IMAGE_LOSSES))
    if unknown:
        raise ValueError(f"unknown image loss {unknown[0]!r}; allowed: {', '.join(IMAGE_LOSSES)}")
    if not weights or not any(w != 0 for w in weights.values()):
        raise ValueError("at least one image loss needs a non-zero weight, e.g. {mae: 1.0}")
    if not all(math.isfinite(w) for w in weights.values()):
        raise ValueError("image loss weights must be finite")


def weighted_image_loss(
    weights: Mapping[str, float],
    x_hat: Tensor,
    x: Tensor,
    logits: Tensor | None = None,
    ssim_window: int = 11,
    laplacian_levels: int = 3,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Weighted sum of named image losses, per image.

    Args:
        weights: loss name -> weight, e.g. {"mae": 1.0} or {"bce": 1.0, "ssim": 0.5}.
        x_hat: reconstructions in [0, 1], (B, C, H, W).
        x: targets in [0, 1], (B, C, H, W).
        logits: pre-sigmoid reconstructions (BCE then uses the stable form), or None.
        ssim_window: Gaussian window size of the SSIM loss.
        laplacian_levels: pyramid levels of the Laplacian loss.

    Returns:
        (total (B,), {name: (B,) unweighted term}).
    """
    check_loss_weights(weights)
    options = {"ssim_window": ssim_window, "laplacian_levels": laplacian_levels}
    parts = {name: IMAGE_LOSSES[name](x_hat, x, logits, options) for name in weights}
    total = sum(weights[name] * parts[name] for name in weights)
    return total, parts  # type: ignore[return-value]
