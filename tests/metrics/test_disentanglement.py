"""Disentanglement metrics on constructed codes: a copy of the factors scores about 1, a random
code about 0 (FactorVAE: chance), a permuted copy like the copy; then `latentscape eval`."""

import json

import numpy as np
import pytest

from latentscape.metrics.disentanglement import (
    dci, dci_from_importance, discretize, entropy, factorvae_score, mig, mutual_information,
)

SIZES = (3, 6, 10, 8)


@pytest.fixture(scope="module")
def factors():
    rng = np.random.default_rng(0)
    return np.stack([rng.integers(s, size=1000) for s in SIZES], axis=1)  # (N, K)


def _copy(factors, noise=0.01, seed=1):
    rng = np.random.default_rng(seed)
    return factors * 0.7 + 2.0 + rng.normal(0, noise, factors.shape)  # affine copy, tiny noise


def _random(n, d=6, seed=2):
    return np.random.default_rng(seed).normal(size=(n, d))


def test_information_basics():
    a = np.array([0, 0, 1, 1, 2, 2])
    assert entropy(a) == pytest.approx(np.log(3))
    assert mutual_information(a, a) == pytest.approx(np.log(3))
    assert mutual_information(a, np.array([0, 1, 0, 1, 0, 1])) == pytest.approx(0.0, abs=1e-12)
    bins = discretize(np.array([[0.0], [0.5], [1.0]]), num_bins=2)
    assert bins[:, 0].tolist() == [0, 1, 1] and discretize(np.ones((4, 1))).max() == 0  # constant


def test_copy_scores_about_one(factors):
    code = _copy(factors)
    assert mig(code, factors)["mig"] > 0.95
    assert factorvae_score(code, factors, num_train=800, num_eval=400)["factorvae"] > 0.99
    out = dci(code, factors, n_estimators=20)
    assert out["dci_disentanglement"] > 0.9 and out["dci_completeness"] > 0.9 and out["dci_informativeness"] > 0.9


def test_random_code_scores_about_zero(factors):
    code = _random(len(factors))
    assert mig(code, factors)["mig"] < 0.05
    # the FactorVAE metric is a classifier accuracy: an uninformative code scores chance, 1/K
    assert factorvae_score(code, factors, num_train=800, num_eval=400)["factorvae"] < 1 / len(SIZES) + 0.12
    out = dci(code, factors, n_estimators=20)
    assert max(out.values()) < 0.15


def test_permuted_copy_scores_like_the_copy(factors):
    code = _copy(factors)
    perm = code[:, [2, 0, 3, 1]]
    assert mig(perm, factors)["mig"] == pytest.approx(mig(code, factors)["mig"], abs=1e-12)
    kw = dict(num_train=800, num_eval=400)
    assert factorvae_score(perm, factors, **kw)["factorvae"] == pytest.approx(
        factorvae_score(code, factors, **kw)["factorvae"], abs=0.02)
    a, b = dci(code, factors, n_estimators=20), dci(perm, factors, n_estimators=20)
    assert all(a[k] == pytest.approx(b[k], abs=0.02) for k in a)


def test_entangled_code_scores_below_the_copy(factors):
    code = _copy(factors)
    mixed = code @ np.random.default_rng(3).normal(size=(4, 4))  # every dimension mixes factors
    assert mig(mixed, factors)["mig"] < mig(code, factors)["mig"] - 0.3
    assert dci(mixed, factors, n_estimators=20)["dci_disentanglement"] < 0.7


def test_dci_from_importance_extremes():
    assert dci_from_importance(np.eye(4)) == pytest.approx({"dci_disentanglement": 1.0, "dci_completeness": 1.0})
    assert dci_from_importance(np.ones((4, 4))) == pytest.approx({"dci_disentanglement": 0.0, "dci_completeness": 0.0})
    # one dimension explains two factors: complete but not disentangled
    out = dci_from_importance(np.array([[1.0, 1.0], [0.0, 0.0]]))
    assert out["dci_disentanglement"] == pytest.approx(0.0) and out["dci_completeness"] == pytest.approx(1.0)


def test_metrics_are_deterministic_and_reject_bad_input(factors):
    code = _copy(factors, noise=0.5)
    assert factorvae_score(code, factors, num_train=300, num_eval=100, seed=4) == \
        factorvae_score(code, factors, num_train=300, num_eval=100, seed=4)
    assert dci(code, factors, seed=1, n_estimators=5) == dci(code, factors, seed=1, n_estimators=5)
    with pytest.raises(ValueError, match="same N"):
        mig(code[:10], factors)
    with pytest.raises(ValueError, match="NaN"):
        mig(np.full_like(code, np.nan), factors)
    with pytest.raises(ValueError, match="collapsed"):
        factorvae_score(np.zeros_like(code), factors)
    with pytest.raises(ValueError, match="random_forest or lasso"):
        dci(code, factors, regressor="svm")
    assert dci(code, factors, regressor="lasso")["dci_informativeness"] > 0.5


# ---- latentscape eval --metrics mig,factorvae,dci -------------------------------------------

def _train(root, name, data, model):
    from latentscape.config import config_from_dict
    from latentscape.train.api import train_and_evaluate

    cfg = config_from_dict({
        "model": {"hidden_dims": [32], "latent_dim": 4, **model}, "data": data,
        "train": {"epochs": 1, "batch_size": 32, "num_threads": 1, "eval_every": 0, "log_every": 50},
    })
    return train_and_evaluate(cfg, root / name, quiet=True).path


@pytest.fixture(scope="module")
def shapes_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("dis")
    return _train(root, "shapes", {"name": "shapes", "image_size": 16, "num_examples": 240}, {"name": "vae"})


@pytest.mark.slow
def test_eval_disentanglement_is_batch_size_independent(shapes_run, capsys):
    from latentscape.cli import main

    results = []
    for bs in ("7", "100"):
        assert main(["eval", str(shapes_run), "--metrics", "mig,factorvae,dci", "--batch-size", bs,
                     "--opt", "factorvae_votes=300", "--opt", "factorvae_threshold=0"]) == 0
        results.append(json.loads((shapes_run / "eval" / "test.json").read_text())["metrics"])
    out = capsys.readouterr().out
    for key in ("mig", "mig_shape", "mig_pos_x", "factorvae", "dci_disentanglement", "dci_completeness",
                "dci_informativeness"):
        assert key in out and 0.0 <= results[0][key] <= 1.0
        assert results[0][key] == pytest.approx(results[1][key], abs=1e-6)


def test_eval_disentanglement_not_applicable_without_factors_or_embed():
    import torch

    from latentscape.data.types import ImageDataset
    from latentscape.metrics.base import EvalContext, MetricNotApplicable
    from latentscape.metrics.disentanglement_eval import dci_metric, mig_metric

    class Coder(torch.nn.Module):
        def embed(self, x):
            return x.flatten(1)[:, :3]

    class Loaded:
        model = Coder()

    images = torch.randint(0, 256, (20, 1, 4, 4), dtype=torch.uint8)
    plain = ImageDataset(images, torch.zeros(20, dtype=torch.int64), name="digits")
    ctx = EvalContext(loaded=Loaded(), dataset=plain, train_dataset=None, split="test", device=torch.device("cpu"))
    with pytest.raises(MetricNotApplicable, match="no ground-truth factors"):
        mig_metric(ctx)
    with_factors = ImageDataset(images, plain.labels, factors=torch.randint(0, 3, (20, 2)))
    ctx.dataset = with_factors
    assert 0.0 <= mig_metric(ctx)["mig"] <= 1.0
    # the codes, hence every score, do not depend on the embedding batch size
    from latentscape.metrics.disentanglement_eval import codes_and_factors

    ctx.batch_size = 3
    small = codes_and_factors(ctx, "mig")
    ctx.batch_size = 50
    large = codes_and_factors(ctx, "mig")
    assert np.array_equal(small[0], large[0]) and np.array_equal(small[1], large[1])
    assert small[0].shape == (20, 3)
    ctx.options = {"disentanglement_max_n": "7"}
    assert codes_and_factors(ctx, "mig")[0].shape == (7, 3)
    Loaded.model = torch.nn.Linear(2, 2)  # no `embed`
    with pytest.raises(MetricNotApplicable, match="no `embed`"):
        dci_metric(ctx)
