"""Prior estimates of the probe's stages, in seconds, for the start line of each fit.

The fits (scikit-learn, umap-learn) report no intermediate steps, so the probe announces each
with an estimate from these formulas. Constants are CPU seconds measured on the 2-core
development machine (AMD EPYC, one thread per process; Fashion-MNIST, 784 pixels), about the wall
time of one idle laptop core; scikit-learn's logistic regression and kNN use more cores where
there are some, a seeded UMAP runs single-threaded. Measured there:

- UMAP (umap-learn runs 500 epochs up to 10,000 points, 200 above): 2-D of 3,000 points 10.5 s,
  10-d of 20,000 points 13.5 s (5e-6 s per point and epoch, give or take a factor 1.5); the first
  fit of a process compiles numba code first (~10 s, ~20 s more above 4,096 points);
  transforming 10,000 test images: 7-8 s.
- logistic regression (lbfgs, C=1) on standardised pixels of 60,000 images: 155 s (980 iterations);
  on 10-d codes: 0.8 s (93 iterations).
- kNN (k=5) on standardised pixels: 24 s to classify 10,000 test images against 60,000.
- PCA 10 of 60,000 x 784 pixels: 0.8 s.
"""

from __future__ import annotations

#: seconds of numba compilation the first UMAP fit / transform of a process pays
UMAP_COMPILE_FIT_S = 10.0
UMAP_COMPILE_NNDESCENT_S = 20.0  # more for the approximate neighbour search above 4,096 points
UMAP_COMPILE_TRANSFORM_S = 3.0


def umap_epochs(n: int) -> int:
    """umap-learn's default optimisation epochs: 500 up to 10,000 points, 200 above."""
    return 500 if n <= 10_000 else 200


def umap_fit_seconds(n: int, first: bool = True) -> float:
    """UMAP fit on n points: about n x epochs point updates (2-D of 3,000 points: ~10 s)."""
    compile_s = (UMAP_COMPILE_FIT_S + (UMAP_COMPILE_NNDESCENT_S if n > 4096 else 0.0)) if first else 0.0
    return compile_s + 5e-6 * n * umap_epochs(n)


def umap_transform_seconds(m: int, n_fit: int, first: bool = True) -> float:
    """Placing m new points into a fitted UMAP (10,000 test images: ~7 s after a 60,000-image fit,
    8 s after a 5,000-image one)."""
    return (UMAP_COMPILE_TRANSFORM_S if first else 0.0) + 5e-4 * m


def pca_seconds(n: int, d: int) -> float:
    return 0.1 + 1.7e-8 * n * d


def logreg_seconds(n: int, d: int, max_iter: int, classes: int = 10) -> float:
    """At most this long: lbfgs runs up to max_iter iterations of an (n, d) x (d, classes)
    product (high-dimensional pixels use them all; 10-d codes stop after ~100)."""
    iterations = max_iter if d > 100 else min(max_iter, 200)
    return 0.2 + 3.4e-10 * n * max(d, 10) * classes * iterations


def knn_seconds(n_train: int, n_test: int, d: int) -> float:
    """Brute-force distances of every test point to every training point."""
    return 0.1 + 5.1e-11 * n_train * n_test * max(d, 10)


def probe_seconds(n_train: int, n_test: int, pixels: int, code_dims: list[int], dim: int,
                  baselines: tuple[str, ...], classifiers: tuple[str, ...], max_iter: int,
                  map_points: int) -> float:
    """The whole probe: baselines, both classifiers on every embedding, and the 2-D maps."""
    dims = list(code_dims)
    total = 0.0
    if "pca" in baselines:
        total += pca_seconds(n_train, pixels)
        dims.append(dim)
    if "umap" in baselines:
        total += umap_fit_seconds(n_train) + umap_transform_seconds(n_test, n_train)
        dims.append(dim)
    if "pixels" in baselines:
        dims.append(pixels)
    for d in dims:
        if "logreg" in classifiers:
            total += logreg_seconds(n_train, d, max_iter)
        if "knn" in classifiers:
            total += knn_seconds(n_train, n_test, d)
    if map_points:
        m = min(map_points, n_test)
        total += sum(umap_fit_seconds(m, first=(i == 0 and "umap" not in baselines)) for i, d in enumerate(dims) if d > 2)
    return total
