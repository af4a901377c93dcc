"""The fast forms of FID (symmetric eigendecomposition) and KID (float32 kernels, shared Gram
matrices) against the reference formulations (scipy sqrtm, per-subset float64 kernels)."""

import numpy as np
import pytest
import torch

from latentscape.data.types import ImageDataset
from latentscape.errors import LatentscapeError
from latentscape.metrics.features import FeatureExtractor, dataset_features
from latentscape.metrics.fid import feature_statistics, fid_from_features, frechet_distance, frechet_distance_sqrtm
from latentscape.metrics.kid import kernel_inception_distance, kid_dtype


def _features(n, d, seed, shift=0.0, scale=1.0):
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    return (rng.normal(size=(n, d)) @ mix) * scale + shift


@pytest.mark.parametrize("d", [1, 7, 64])
def test_eigh_fid_equals_scipy_sqrtm(d):
    a, b = _features(300, d, 1), _features(280, d, 2, shift=0.2, scale=1.3)
    s1, s2 = feature_statistics(a), feature_statistics(b)
    fast, ref = frechet_distance(*s1, *s2), frechet_distance_sqrtm(*s1, *s2)
    assert fast == pytest.approx(ref, rel=1e-6) and ref > 0.01


def test_fid_of_a_set_with_itself_is_zero_even_when_singular():
    # full rank: zero to rounding; rank-deficient (n < d): the zero eigenvalues of S S come out
    # as +-1e-15 whose square roots add ~1e-8 each, as they do in scipy's sqrtm
    for n, d, tol in ((500, 32, 1e-9), (20, 64, 1e-6)):
        f = _features(n, d, 3)
        mu, sigma = feature_statistics(f)
        value = frechet_distance(mu, sigma, mu, sigma)
        assert abs(value) < tol * np.trace(sigma)
        assert abs(value - frechet_distance_sqrtm(mu, sigma, mu, sigma)) < 1e-7 * np.trace(sigma)


def test_statistics_equal_numpy_and_fid_is_batch_size_independent():
    f = _features(200, 6, 4)
    mu, sigma = feature_statistics(torch.from_numpy(f).float())
    np.testing.assert_allclose(mu, f.astype(np.float32).astype(np.float64).mean(0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(f.astype(np.float32).astype(np.float64), rowvar=False), rtol=1e-10, atol=1e-12)
    g = torch.Generator().manual_seed(0)
    images = (torch.rand(70, 1, 4, 4, generator=g) * 255).to(torch.uint8)
    ds = ImageDataset(images=images, labels=torch.zeros(70, dtype=torch.long), name="t", split="test")
    w = torch.randn(16, 5, generator=g)
    ext = FeatureExtractor("lin", "lin-0", 5, lambda x: x.reshape(x.shape[0], -1) @ w, torch.device("cpu"))
    ref = torch.from_numpy(_features(90, 5, 5))
    values = {bs: fid_from_features(dataset_features(ds, ext, bs), ref) for bs in (7, 32, 70)}
    assert max(values.values()) - min(values.values()) <= 1e-6 * values[70]


def test_kid_gram_path_equals_per_subset_path_and_float32_is_close():
    a, b = _features(60, 16, 6), _features(50, 16, 7, shift=0.3)
    # 40 subsets of 20: 40 * 3 * 400 > 60^2 + 50^2 + 60*50, so the shared Gram matrices are used
    gram = kernel_inception_distance(a, b, 20, 40, seed=1, dtype=torch.float64)
    import latentscape.metrics.kid as kid

    old, kid.MAX_GRAM_ELEMENTS = kid.MAX_GRAM_ELEMENTS, 0  # force the per-subset path
    try:
        per_subset = kernel_inception_distance(a, b, 20, 40, seed=1, dtype=torch.float64)
    finally:
        kid.MAX_GRAM_ELEMENTS = old
    assert gram[0] == pytest.approx(per_subset[0], rel=1e-10) and gram[1] == pytest.approx(per_subset[1], rel=1e-9)
    f32 = kernel_inception_distance(a, b, 20, 40, seed=1)
    assert f32[0] == pytest.approx(gram[0], rel=1e-4) and gram[0] > 0.01


def test_kid_dtype_option():
    assert kid_dtype({}) is torch.float32 and kid_dtype({"kid_dtype": "float64"}) is torch.float64
    with pytest.raises(LatentscapeError, match="kid_dtype"):
        kid_dtype({"kid_dtype": "half"})
