"""Image losses against direct formulas and reference implementations."""

import numpy as np
import pytest
import torch
from torchmetrics.functional.image import structural_similarity_index_measure

from latentscape.losses.image import (
    bce,
    bce_with_logits,
    laplacian_l1,
    laplacian_pyramid,
    mae,
    mse,
    ssim,
    weighted_image_loss,
)


@pytest.fixture
def pair():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 2, 12, 10, generator=g)
    x_hat = torch.rand(3, 2, 12, 10, generator=g)
    return x_hat, x


def test_mae_mse_bce_match_formulas(pair):
    x_hat, x = pair
    for i in range(3):
        d = x_hat[i] - x[i]
        assert torch.isclose(mae(x_hat, x)[i], d.abs().mean())
        assert torch.isclose(mse(x_hat, x)[i], (d**2).mean())
        ref = -(x[i] * x_hat[i].log() + (1 - x[i]) * (1 - x_hat[i]).log()).mean()
        assert torch.isclose(bce(x_hat, x)[i], ref, rtol=1e-5)


def test_bce_with_logits_equals_bce_of_sigmoid(pair):
    logits, x = pair[0] * 6 - 3, pair[1]
    assert torch.allclose(bce_with_logits(logits, x), bce(torch.sigmoid(logits), x), rtol=1e-5)


def test_ssim_of_identical_images_is_one(pair):
    x = pair[1]
    for window in (3, 5, 11):
        assert torch.allclose(ssim(x, x, window_size=window), torch.ones(3), atol=1e-6)


def test_ssim_matches_torchmetrics(pair):
    x_hat, x = pair[0].clone(), pair[1]
    x_hat = 0.7 * x + 0.3 * x_hat  # correlated, so SSIM is far from 0
    ref = structural_similarity_index_measure(x_hat, x, data_range=1.0, reduction="none")
    assert torch.allclose(ssim(x_hat, x, window_size=11), ref, atol=1e-5)


def test_ssim_decreases_with_noise_and_window_matters(pair):
    x = pair[1]
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
    values = [ssim((x + s * noise).clamp(0, 1), x).mean().item() for s in (0.0, 0.05, 0.2, 0.5)]
    assert values == sorted(values, reverse=True)
    noisy = (x + 0.1 * noise).clamp(0, 1)
    assert not torch.allclose(ssim(noisy, x, window_size=3), ssim(noisy, x, window_size=7))


def _np_blur(img, scale=1.0):
    k1 = np.array([1, 4, 6, 4, 1]) / 16.0
    k = np.outer(k1, k1) * scale
    p = np.pad(img, 2, mode="reflect")
    out = np.zeros_like(img)
    for i in range(img.shape[0]):
        for j in range(img.shape[1]):
            out[i, j] = (p[i : i + 5, j : j + 5] * k).sum()
    return out


def _np_pyramid(img, levels):
    """Hand computation: blur, keep even pixels, zero-insert back, blur x4, subtract."""
    out, cur = [], img
    for _ in range(levels):
        down = _np_blur(cur)[::2, ::2]
        up = np.zeros_like(cur)
        up[::2, ::2] = down
        out.append(cur - _np_blur(up, 4.0))
        cur = down
    return out


@pytest.mark.parametrize("levels", [1, 2])
def test_laplacian_pyramid_matches_hand_computation(levels):
    img = np.random.default_rng(0).random((9, 8))
    ours = laplacian_pyramid(torch.tensor(img)[None, None], levels)
    ref = _np_pyramid(img, levels)
    assert len(ours) == levels
    for a, b in zip(ours, ref):
        assert a.shape[-2:] == b.shape
        assert np.allclose(a[0, 0].numpy(), b, atol=1e-12)


def test_laplacian_loss_zero_for_identical_and_constant_band_free(pair):
    x = pair[1]
    assert torch.equal(laplacian_l1(x, x, 3), torch.zeros(3))
    flat = torch.full((1, 1, 16, 16), 0.3)
    assert all(level.abs().max() < 1e-6 for level in laplacian_pyramid(flat, 3))


def test_laplacian_loss_is_sum_of_level_l1(pair):
    x_hat, x = pair
    a, b = laplacian_pyramid(x_hat, 2), laplacian_pyramid(x, 2)
    ref = sum((p - q).abs().flatten(1).mean(1) for p, q in zip(a, b))
    assert torch.allclose(laplacian_l1(x_hat, x, 2), ref)
    with pytest.raises(ValueError, match="too many"):
        laplacian_l1(x_hat, x, 5)


def test_weighted_combination(pair):
    x_hat, x = pair
    total, parts = weighted_image_loss({"mae": 2.0, "mse": 0.5, "ssim": 1.0}, x_hat, x, ssim_window=5)
    assert set(parts) == {"mae", "mse", "ssim"}
    assert torch.allclose(total, 2 * mae(x_hat, x) + 0.5 * mse(x_hat, x) + (1 - ssim(x_hat, x, 5)))
    logits = torch.logit(x_hat)
    t_logits, _ = weighted_image_loss({"bce": 1.0}, x_hat, x, logits=logits)
    assert torch.allclose(t_logits, bce(x_hat, x), rtol=1e-4)
    with pytest.raises(ValueError, match="unknown image loss 'lpips'"):
        weighted_image_loss({"lpips": 1.0}, x_hat, x)
    with pytest.raises(ValueError, match="non-zero"):
        weighted_image_loss({"mae": 0.0}, x_hat, x)
