"""Frechet Inception Distance as pure steps: features -> statistics -> distance.

FID (Heusel et al. 2017, eq. 6) between Gaussians fitted to two feature sets:
    d^2 = ||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2)).
The matrix square root is scipy.linalg.sqrtm in float64 with pytorch-fid's fallback (add
eps * I to both covariances when the product is singular, drop a negligible imaginary part).
The `fid` eval metric (registered below) works for any model that can `sample`; its feature net
and reference set come from `--opt feature_net=... reference_split=...` and are recorded with
the number.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from scipy import linalg
from torch import Tensor

from latentscape.errors import LatentscapeError
from latentscape.metrics.base import EvalContext


def feature_statistics(features: Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and unbiased covariance (D, D) of features (N, D), in float64."""
    f = features.detach().cpu().double().numpy() if isinstance(features, Tensor) else np.asarray(features, np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise LatentscapeError(f"FID needs at least 2 feature vectors (N, D), got shape {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """Squared Frechet distance between N(mu1, sigma1) and N(mu2, sigma2) (Heusel et al., eq. 6).

    Args:
        mu1, mu2: means (D,).
        sigma1, sigma2: covariances (D, D).
        eps: diagonal offset used when sigma1 @ sigma2 is singular (as pytorch-fid).
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise LatentscapeError(f"FID statistics differ in dimension: {mu1.shape} vs {mu2.shape}")
    diff = mu1 - mu2
    with warnings.catch_warnings():  # a singular product is handled by the fallback below
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise LatentscapeError(f"FID: matrix square root has an imaginary part {np.abs(covmean.imag).max():.3g}")
        covmean = covmean.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fid_from_features(features1: Tensor | np.ndarray, features2: Tensor | np.ndarray) -> float:
    """FID between two feature sets (N1, D) and (N2, D)."""
    return frechet_distance(*feature_statistics(features1), *feature_statistics(features2))


def fid_metric(ctx: EvalContext) -> dict[str, float | str]:
    """FID of the model's samples against the reference split (see `reference_stats.gather`)."""
    from latentscape.metrics.reference_stats import gather

    g = gather(ctx)
    mu, sigma = feature_statistics(g.sample_features)
    value = frechet_distance(mu, sigma, g.reference.mu, g.reference.sigma)
    return {"fid": value, **{f"fid_{k}": v for k, v in g.protocol.items()}}


def fid_from_stats(ref_mu: Tensor | np.ndarray, ref_sigma: Tensor | np.ndarray, features: Tensor) -> float:
    """FID of `features` (N, D) against stored reference statistics."""
    mu, sigma = feature_statistics(features)
    return frechet_distance(mu, sigma, np.asarray(torch.as_tensor(ref_mu)), np.asarray(torch.as_tensor(ref_sigma)))
