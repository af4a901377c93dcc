"""PCA initialisation of auto-decoder latents (GLO, Bojanowski et al. 2018, sec. 3.3).

GLO starts its latents from the first principal components of the images rather than at random;
here the coordinates are also divided by each component's standard deviation so every latent
dimension starts with unit variance, whatever the image scale.
"""

from __future__ import annotations

import torch
from torch import Tensor

#: images used to estimate the components (the projection then covers every image).
MAX_PCA_IMAGES = 20000


def pca_fit(images: Tensor, k: int, max_images: int = MAX_PCA_IMAGES) -> tuple[Tensor, Tensor, Tensor]:
    """Mean, top-k principal directions and their standard deviations of uint8 images.

    Args:
        images: uint8 (N, C, H, W).
        k: number of components (the latent size).
        max_images: estimate from an evenly spaced subset of at most this many images.

    Returns:
        mean (P,), basis (k, P) with orthonormal rows (sign fixed so each row's largest-magnitude
        entry is positive: deterministic), scale (k,) > 0, all float32 with P = C*H*W.
    """
    n = images.shape[0]
    keep = torch.linspace(0, n - 1, min(n, max_images)).round().long()
    x = images[keep].flatten(1).float().div_(255.0)  # (M, P)
    mean = x.mean(0)
    xc = x - mean
    # Exact SVD of the centred data; k may exceed the rank, extra rows are then zero.
    _, s, vh = torch.linalg.svd(xc, full_matrices=False)  # vh: (min(M, P), P)
    basis = torch.zeros(k, x.shape[1])
    r = min(k, vh.shape[0])
    basis[:r] = vh[:r]
    pivot = basis.abs().argmax(1, keepdim=True)  # (k, 1)
    basis = basis * torch.where(basis.gather(1, pivot) < 0, -1.0, 1.0)  # positive pivots
    scale = torch.ones(k)
    scale[:r] = (s[:r] / max(x.shape[0] - 1, 1) ** 0.5).clamp_min(1e-6)
    return mean, basis, scale


def pca_project(x: Tensor, mean: Tensor, basis: Tensor, scale: Tensor) -> Tensor:
    """Whitened PCA coordinates (B, k) of images x (B, C, H, W) in [0, 1]."""
    flat = x.flatten(1).float() - mean  # (B, P)
    return flat @ basis.T / scale  # (B, k)
