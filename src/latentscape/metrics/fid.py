"""Frechet Inception Distance as pure steps: features -> statistics -> distance.

FID (Heusel et al. 2017, eq. 6) between Gaussians fitted to two feature sets:
    d^2 = ||mu_1 - mu_2||^2 + Tr(S_1) + Tr(S_2) - 2 Tr((S_1 S_2)^(1/2)).
The trace of the matrix square root needs no general (Schur) square root: with S_1 = R R^T,
S_1 S_2 is similar to the symmetric positive semi-definite A = R^T S_2 R, so
    Tr((S_1 S_2)^(1/2)) = sum_i sqrt(lambda_i(A)),
a Cholesky factor (or `eigh` square root when S_1 is singular) and one symmetric eigenvalue
decomposition (`torch.linalg.eigvalsh`) in float64, on the device the caller asks for (the eval
metric and the training callback: their `--device` / training device; the bare functions default
to the GPU when present);
tiny negative eigenvalues from rounding are clipped to 0, which also covers singular
covariances. `frechet_distance_sqrtm` is the scipy.linalg.sqrtm formulation of pytorch-fid
(kept as the reference the fast form is tested against). The `fid` eval metric (registered
below) works for any model that can `sample`; its feature net and reference set come from
`--opt feature_net=... reference_split=...` and are recorded with the number.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import Tensor

from latentscape.errors import LatentscapeError
from latentscape.metrics.base import EvalContext

ArrayLike = Tensor | np.ndarray


def default_device() -> torch.device:
    """Where the eigendecompositions run when no device is given: the GPU when one is present."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _f64(a: ArrayLike, device: torch.device) -> Tensor:
    t = a.detach() if isinstance(a, Tensor) else torch.from_numpy(np.asarray(a))
    return t.to(device=device, dtype=torch.float64)


def feature_statistics(features: ArrayLike, device: torch.device | str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and unbiased covariance (D, D) of features (N, D), in float64 (one GEMM)."""
    shape = tuple(features.shape)
    if len(shape) != 2 or shape[0] < 2:
        raise LatentscapeError(f"FID needs at least 2 feature vectors (N, D), got shape {shape}")
    f = _f64(features, torch.device(device) if device is not None else default_device())  # (N, D)
    mu = f.mean(0)
    c = f - mu  # (N, D)
    sigma = (c.T @ c) / (f.shape[0] - 1)  # (D, D), as np.cov(rowvar=False)
    return mu.cpu().numpy(), sigma.cpu().numpy()


def trace_sqrt_product(sigma1: Tensor, sigma2: Tensor) -> Tensor:
    """Tr((S_1 S_2)^(1/2)) of two symmetric PSD matrices (D, D) in float64.

    Any factor S_1 = R R^T gives a symmetric R^T S_2 R with the eigenvalues of S_1 S_2 (it is
    similar to S_2 R R^T = S_2 S_1). R is the Cholesky factor when S_1 is positive definite
    (cheap: D^3 / 3), else sqrt(S_1) = V diag(sqrt(l)) V^T from `eigh` (singular covariances,
    e.g. fewer samples than features). One `eigvalsh` (no eigenvectors) then gives the trace.
    """
    s1 = (sigma1 + sigma1.T) / 2  # exact symmetry: the factorisations read one triangle
    factor, info = torch.linalg.cholesky_ex(s1)
    if int(info) != 0:  # not positive definite
        lam, vec = torch.linalg.eigh(s1)
        factor = vec * lam.clamp(min=0).sqrt()  # (D, D): factor @ factor.T = S_1
    a = factor.T @ sigma2 @ factor
    return torch.linalg.eigvalsh((a + a.T) / 2).clamp(min=0).sqrt().sum()


def frechet_distance(
    mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike, eps: float = 1e-6,
    device: torch.device | str | None = None,
) -> float:
    """Squared Frechet distance between N(mu1, sigma1) and N(mu2, sigma2) (Heusel et al., eq. 6).

    Args:
        mu1, mu2: means (D,).
        sigma1, sigma2: covariances (D, D), symmetric positive semi-definite.
        eps: unused by the eigendecomposition (clipping handles singular covariances); kept for
            the signature of `frechet_distance_sqrtm`.
        device: where to compute (default: the GPU when present, else the CPU).
    """
    dev = torch.device(device) if device is not None else default_device()
    m1, m2 = _f64(mu1, dev).reshape(-1), _f64(mu2, dev).reshape(-1)
    s1, s2 = _f64(sigma1, dev), _f64(sigma2, dev)
    s1, s2 = s1.reshape(1, 1) if s1.dim() < 2 else s1, s2.reshape(1, 1) if s2.dim() < 2 else s2
    if m1.shape != m2.shape or s1.shape != s2.shape or s1.shape != (m1.shape[0], m1.shape[0]):
        raise LatentscapeError(f"FID statistics differ in dimension: {tuple(m1.shape)} vs {tuple(m2.shape)}")
    diff = m1 - m2
    value = diff @ diff + s1.trace() + s2.trace() - 2 * trace_sqrt_product(s1, s2)
    return float(value)


def frechet_distance_sqrtm(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """The same distance with scipy.linalg.sqrtm, as pytorch-fid's `calculate_frechet_distance`
    (add eps * I to both covariances when the product is singular, drop a negligible imaginary
    part). Slower (a general Schur square root); the reference for tests and benchmarks."""
    from scipy import linalg

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


def fid_from_features(features1: ArrayLike, features2: ArrayLike, device: torch.device | str | None = None) -> float:
    """FID between two feature sets (N1, D) and (N2, D), computed on `device` (see `frechet_distance`)."""
    return frechet_distance(*feature_statistics(features1, device), *feature_statistics(features2, device), device=device)


def fid_metric(ctx: EvalContext) -> dict[str, float | str]:
    """FID of the model's samples against the reference split (see `reference_stats.gather`)."""
    from latentscape.metrics.reference_stats import gather

    g = gather(ctx)
    mu, sigma = feature_statistics(g.sample_features, ctx.device)  # --device, not any GPU present
    value = frechet_distance(mu, sigma, g.reference.mu, g.reference.sigma, device=ctx.device)
    return {"fid": value, **{f"fid_{k}": v for k, v in g.protocol.items()}}


def fid_from_stats(
    ref_mu: Tensor | np.ndarray, ref_sigma: Tensor | np.ndarray, features: Tensor, device: torch.device | str | None = None
) -> float:
    """FID of `features` (N, D) against stored reference statistics, computed on `device`."""
    mu, sigma = feature_statistics(features, device)
    ref_mu, ref_sigma = np.asarray(torch.as_tensor(ref_mu)), np.asarray(torch.as_tensor(ref_sigma))
    return frechet_distance(mu, sigma, ref_mu, ref_sigma, device=device)
