"""`latentscape probe` says what runs and how long it should take; `--per-class N` is study 001's
class-balanced protocol (and the quick variant of a 60,000-image probe)."""

import json

import numpy as np
import pytest

from latentscape.cli import main
from latentscape.config import config_from_dict
from latentscape.probe import costs
from latentscape.train.api import train_and_evaluate


@pytest.fixture(scope="module")
def ae_run(tmp_path_factory):
    cfg = config_from_dict({
        "model": {"name": "ae", "hidden_dims": [16], "latent_dim": 2, "losses": {"mse": 1.0}},
        "data": {"name": "digits", "fraction": 0.5},
        "train": {"epochs": 1, "batch_size": 32, "num_threads": 1, "eval_every": 0, "log_every": 50},
    })
    return train_and_evaluate(cfg, tmp_path_factory.mktemp("runs") / "ae", quiet=True).path


def test_per_class_draws_the_same_number_of_every_class(ae_run, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LATENTSCAPE_PROGRESS", "lines")
    out = tmp_path / "probe"
    assert main(["probe", str(ae_run), "--per-class", "20", "--baselines", "pca,pixels", "--map-points", "0",
                 "--knn-k", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    protocol = json.loads((out / "probe.json").read_text())["protocol"]
    assert protocol["per_class"] == 20 and protocol["train_size"] == 20 * 10 and protocol["max_train"] is None
    # what runs, with the whole probe's estimate first, then a line per stage (quick ones: their end only)
    assert "probe: 200 training and " in printed.out and "estimate" in printed.out
    err = printed.err.splitlines()
    assert "probe: PCA 2-d fit on 200 training images: done in 0 s" in err
    assert any(line.startswith("probe: pixels: logistic regression on 200 training codes (64-d): done in") for line in err)
    assert not any("started" in line for line in err)  # every stage here is estimated under 2 s


def test_per_class_and_max_train_do_not_mix(ae_run, tmp_path, capsys):
    assert main(["probe", str(ae_run), "--per-class", "20", "--max-train", "100", "--out", str(tmp_path / "p")]) == 2
    assert "--per-class" in capsys.readouterr().err


def test_the_estimates_grow_with_the_work():
    """The cost model behind the start lines (constants measured on the 2-core machine)."""
    assert costs.umap_epochs(5000) == 500 and costs.umap_epochs(60000) == 200
    assert 60 < costs.umap_fit_seconds(60000) < 200  # measured 179 s of wall time on a busy machine
    assert costs.logreg_seconds(60000, 784, 1000) > 100 * costs.logreg_seconds(60000, 10, 1000) / 10
    full = costs.probe_seconds(60000, 10000, 784, [10], 10, ("pca", "umap", "pixels"), ("logreg", "knn"), 1000, 3000)
    quick = costs.probe_seconds(5000, 10000, 784, [10], 10, ("pca", "umap", "pixels"), ("logreg", "knn"), 1000, 3000)
    assert 4 * 60 < full < 10 * 60 and quick < full / 2.5  # measured: ~5 min and 1.5 min of CPU time
    assert np.isclose(costs.knn_seconds(60000, 10000, 784), 24.1, rtol=0.1)  # measured 24 s
