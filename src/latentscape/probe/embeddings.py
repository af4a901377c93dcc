"""Embeddings to probe: a model's `embed` codes, and PCA / UMAP / pixel baselines.

Baselines are fitted on the training split only and applied to the test split, so no test
image shapes the representation that is scored on it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from latentscape.data.types import ImageDataset
from latentscape.errors import LatentscapeError
from latentscape.probe import costs
from latentscape.progress import ProgressFn, StageFn, silent

BASELINES = ("pca", "umap", "pixels")
#: what this process has run of UMAP already ("fit", "transform"): the numba code is compiled then
_UMAP_RAN: set[str] = set()


@dataclass(frozen=True)
class Embedding:
    """One representation of both splits.

    Attributes:
        name: row name in the table ("run:<name>", "pca10", "umap10", "pixels").
        train: float32 (N_train, D).
        test: float32 (N_test, D).
        fit_seconds: time to fit the representation (0 for a trained model's codes).
        embed_seconds: time to embed both splits.
    """

    name: str
    train: np.ndarray
    test: np.ndarray
    fit_seconds: float
    embed_seconds: float

    @property
    def dim(self) -> int:
        return int(self.train.shape[1])


def has_embed(model) -> bool:
    """Whether a model maps images to codes (the `embed` capability)."""
    return callable(getattr(model, "embed", None))


@torch.no_grad()
def embed_dataset(model, dataset: ImageDataset, batch_size: int = 500, device: torch.device | str = "cpu",
                  progress: ProgressFn | None = None) -> np.ndarray:
    """Codes of every image in order, float32 (N, D), via `model.embed` on [0, 1] images;
    `progress(images done, N)` after each batch."""
    if not has_embed(model):
        raise LatentscapeError(f"{type(model).__name__} has no `embed`: it cannot map images to codes")
    codes = []
    for start in range(0, len(dataset), batch_size):
        x = dataset.images[start:start + batch_size].to(device).float().div_(255.0)  # (B, C, H, W)
        z = model.embed(x)
        codes.append(z.reshape(z.shape[0], -1).float().cpu())  # (B, D)
        if progress is not None:
            progress(min(start + batch_size, len(dataset)), len(dataset))
    if not codes:
        raise LatentscapeError(f"the {dataset.split} split of {dataset.name} is empty")
    return torch.cat(codes).numpy()


def pixels(dataset: ImageDataset) -> np.ndarray:
    """Raw pixels in [0, 1], float32 (N, C*H*W)."""
    return dataset.images.reshape(len(dataset), -1).float().div_(255.0).numpy()  # (N, C*H*W)


def model_embedding(name: str, model, train: ImageDataset, test: ImageDataset, batch_size: int,
                    device: torch.device | str, progress: ProgressFn | None = None) -> Embedding:
    """A trained model's codes of both splits; `progress(images done, train + test images)`."""
    start = time.perf_counter()
    total = len(train) + len(test)
    on_train = (lambda done, _: progress(done, total)) if progress is not None else None
    on_test = (lambda done, _: progress(len(train) + done, total)) if progress is not None else None
    z_train = embed_dataset(model, train, batch_size, device, on_train)
    z_test = embed_dataset(model, test, batch_size, device, on_test)
    return Embedding(name, z_train, z_test, 0.0, time.perf_counter() - start)


def baseline_embedding(kind: str, train: ImageDataset, test: ImageDataset, dim: int, seed: int,
                       stage: StageFn = silent) -> Embedding:
    """PCA or UMAP of `dim` components fitted on the training pixels, or the pixels themselves.

    Args:
        kind: "pca", "umap" or "pixels".
        dim: components of PCA / UMAP.
        seed: random state of the fit (UMAP with a seed runs single-threaded and deterministic).
        stage: wraps the fit and the transform, `stage(what, estimate=seconds)` (progress lines).
    """
    x_train, x_test = pixels(train), pixels(test)
    if kind == "pixels":
        return Embedding("pixels", x_train, x_test, 0.0, 0.0)
    if kind not in BASELINES:
        raise LatentscapeError(f"unknown baseline {kind!r} (allowed: {', '.join(BASELINES)})")
    if not 1 <= dim <= min(x_train.shape):
        raise LatentscapeError(f"--dim {dim}: must be in [1, {min(x_train.shape)}] for {train.name}")
    n, m = len(x_train), len(x_test)
    if kind == "pca":
        from sklearn.decomposition import PCA

        reducer = PCA(n_components=dim, random_state=seed)
        fit_s, transform_s = costs.pca_seconds(n, x_train.shape[1]), costs.pca_seconds(m, dim)
    else:
        import umap

        reducer = umap.UMAP(n_components=dim, random_state=seed, n_neighbors=15, min_dist=0.1, n_jobs=1)
        fit_s = costs.umap_fit_seconds(n, first="fit" not in _UMAP_RAN)
        transform_s = costs.umap_transform_seconds(m, n, first="transform" not in _UMAP_RAN)
    start = time.perf_counter()
    with stage(f"{kind.upper()} {dim}-d fit on {n} training images", estimate=fit_s):
        z_train = reducer.fit_transform(x_train)
    fitted = time.perf_counter()
    with stage(f"{kind.upper()} {dim}-d of the {m} test images", estimate=transform_s):
        z_test = reducer.transform(x_test)
    if kind == "umap":
        _UMAP_RAN.update(("fit", "transform"))
    return Embedding(f"{kind}{dim}", np.asarray(z_train, np.float32), np.asarray(z_test, np.float32),
                     fitted - start, time.perf_counter() - fitted)
