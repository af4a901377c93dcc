"""FID: zero on identical sets, agreement with direct NumPy/SciPy and closed forms, batch-size
independence of the feature passes, and the reference-statistics cache."""

import numpy as np
import pytest
import torch
from scipy import linalg

from latentscape.data.types import ImageDataset
from latentscape.errors import LatentscapeError
from latentscape.metrics.features import FeatureExtractor, dataset_features, sample_features
from latentscape.metrics.fid import feature_statistics, fid_from_features, frechet_distance
from latentscape.metrics.reference_stats import reference_stats, stats_path



def _features(n=400, d=12, seed=0, shift=0.0, scale=1.0):
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    return (rng.normal(size=(n, d)) @ mix) * scale + shift


def test_fid_of_a_set_with_itself_is_zero():
    f = _features()
    assert fid_from_features(f, f) == pytest.approx(0.0, abs=1e-6)


def test_fid_matches_direct_scipy():
    a, b = _features(seed=1), _features(seed=2, shift=0.3, scale=1.5)
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    assert fid_from_features(torch.from_numpy(a).float(), b) == pytest.approx(expected, rel=1e-4)
    assert fid_from_features(a, b) > 0.5


def test_fid_closed_form_for_diagonal_gaussians():
    # For diagonal covariances: FID = |mu1 - mu2|^2 + sum (sqrt(v1) - sqrt(v2))^2.
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    v1, v2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 1.0])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)
    assert frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2)) == pytest.approx(expected)


def test_fid_singular_covariance_uses_eps_fallback():
    f = np.zeros((10, 4))
    f[:, 0] = np.arange(10)  # rank-1 covariance
    value = fid_from_features(f, f + 1.0)
    assert np.isfinite(value) and value == pytest.approx(4.0, abs=1e-2)


def test_statistics_and_errors():
    f = _features(n=50, d=3)
    mu, sigma = feature_statistics(torch.from_numpy(f))
    np.testing.assert_allclose(mu, f.mean(0))
    np.testing.assert_allclose(sigma, np.cov(f, rowvar=False))
    with pytest.raises(LatentscapeError):
        feature_statistics(np.zeros((1, 3)))
    with pytest.raises(LatentscapeError):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


# ----------------------------------------------------------------------------- feature passes


def _extractor():
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, stride=2), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.Flatten(),
        torch.nn.Linear(4 * 3 * 3, 6),
    ).eval()
    calls = []

    def fn(x):
        calls.append(x.shape[0])
        return net(x)

    return FeatureExtractor("toy", "toy-0001", 6, fn, torch.device("cpu")), calls


def _dataset(n=37, seed=0, name="toy", split="test"):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 1, 8, 8), dtype=torch.uint8, generator=g)
    return ImageDataset(images, torch.zeros(n, dtype=torch.long), name=name, split=split)


def test_dataset_features_do_not_depend_on_batch_size():
    ext, _ = _extractor()
    data = _dataset()
    f1, f2 = dataset_features(data, ext, batch_size=5), dataset_features(data, ext, batch_size=64)
    torch.testing.assert_close(f1, f2, rtol=1e-6, atol=1e-6)
    other = dataset_features(_dataset(seed=1), ext, batch_size=8)
    assert fid_from_features(f1, f1) == pytest.approx(0.0, abs=1e-6)
    assert fid_from_features(f1, other) == pytest.approx(fid_from_features(f2, other), rel=1e-6)


def test_sample_features_do_not_depend_on_batch_size():
    ext, _ = _extractor()

    def sample(k, generator):
        return torch.rand(k, 1, 8, 8, generator=generator)

    a = sample_features(sample, 613, ext, batch_size=7, seed=3)
    b = sample_features(sample, 613, ext, batch_size=500, seed=3)
    assert a.shape == (613, 6)
    torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)
    c = sample_features(sample, 613, ext, batch_size=500, seed=4)
    assert not torch.allclose(a, c)


def test_reference_stats_are_cached_per_split_and_net(tmp_path):
    ext, calls = _extractor()
    data = _dataset()
    first = reference_stats(data, ext, batch_size=10, cache_dir=tmp_path)
    n_calls = len(calls)
    again = reference_stats(data, ext, batch_size=10, cache_dir=tmp_path)
    assert len(calls) == n_calls  # read from the cache
    torch.testing.assert_close(first.mu, again.mu)
    torch.testing.assert_close(first.sigma, again.sigma)
    assert again.num_examples == 37 and again.features.shape == (37, 6)
    path = stats_path(data, ext, tmp_path)
    assert path.is_file() and "toy-test-n37" in path.name and "toy-0001" in path.name
    other_net = FeatureExtractor("toy", "toy-0002", 6, ext.fn, ext.device)
    assert stats_path(data, other_net, tmp_path) != path
    assert stats_path(_dataset(seed=5), ext, tmp_path) != path  # other images, other key
    assert not list(tmp_path.glob(".*"))  # no temp files left behind


def test_fid_runs_on_the_device_asked_for_even_with_a_gpu_present(monkeypatch):
    from latentscape.metrics import fid as fid_module
    from latentscape.metrics.fid import fid_from_stats

    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(40, 5, generator=g), torch.randn(50, 5, generator=g) + 0.2
    expected = frechet_distance(*feature_statistics(a, "cpu"), *feature_statistics(b, "cpu"), device="cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a GPU machine...
    assert fid_module.default_device().type == "cuda"  # ...whose default is the GPU

    def no_default():
        raise AssertionError("FID fell back to the default device")

    monkeypatch.setattr(fid_module, "default_device", no_default)
    assert fid_from_features(a, b, device="cpu") == expected  # ...and --device cpu is obeyed
    mu, sigma = feature_statistics(b, "cpu")
    assert fid_from_stats(mu, sigma, a, device=torch.device("cpu")) == expected
