"""A dataset with only a test split (like the KMNIST folder, whose training images are missing)
can be evaluated: `eval --split test` and `path/plane --splits test` never load the training
split unless BatchNorm statistics or a train-referenced metric need it (issue 12)."""

import json

import pytest

import latentscape.data.registry as data_registry
from latentscape.cli import main
from latentscape.config import config_from_dict
from latentscape.errors import DataError
from latentscape.train.api import train_and_evaluate


def _train(root, name, model, seed=0):
    cfg = config_from_dict({
        "model": {"hidden_dims": [8], **model},
        "data": {"name": "digits", "fraction": 0.1},
        "train": {"epochs": 1, "batch_size": 32, "num_threads": 1, "eval_every": 0, "log_every": 100},
        "seed": seed,
    })
    return train_and_evaluate(cfg, root / name, quiet=True).path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return {
        "vae": _train(root, "vae", {"name": "vae", "latent_dim": 2}),
        "a": _train(root, "a", {"name": "mlp_classifier"}, 0),
        "b": _train(root, "b", {"name": "mlp_classifier"}, 1),
        "c": _train(root, "c", {"name": "mlp_classifier"}, 2),
    }


@pytest.fixture
def no_train_split(monkeypatch):
    """Loading "train" fails as it does for the KMNIST folder; records the splits asked for."""
    real = data_registry.load_split
    asked = []

    def load_split(cfg, split):
        asked.append(split)
        if split in ("train", "val"):
            raise DataError("train-images-idx3-ubyte.gz is missing (test-only dataset)")
        return real(cfg, split)

    monkeypatch.setattr(data_registry, "load_split", load_split)
    return asked


def test_eval_test_split_of_a_test_only_dataset(runs, no_train_split, capsys):
    assert main(["eval", str(runs["vae"]), "--split", "test", "--metrics", "loss,elbo"]) == 0
    assert no_train_split == ["test"]
    assert "nelbo" in json.loads((runs["vae"] / "eval" / "test.json").read_text())["metrics"]


def test_eval_with_train_reference_still_says_what_is_missing(runs, no_train_split):
    assert main(["eval", str(runs["vae"]), "--metrics", "loss", "--opt", "reference_split=train"]) == 2


def test_path_and_plane_on_test_split_only(runs, no_train_split, tmp_path):
    a, b, c = (str(runs[k]) for k in "abc")
    assert main(["path", a, b, "--points", "3", "--splits", "test", "--out", str(tmp_path / "p"), "--threads", "1"]) == 0
    doc = json.loads((tmp_path / "p" / "path.json").read_text())
    assert list(doc["metrics"]) == ["test"]
    assert main(["plane", a, b, c, "--grid", "3", "--splits", "test", "--out", str(tmp_path / "q"), "--threads", "1"]) == 0
    assert set(no_train_split) == {"test"}


def test_compute_evaluate_run_matches_the_eval_command_and_writes_nothing(runs, no_train_split):
    from latentscape import compute

    before = sorted(p.name for p in (runs["vae"] / "eval").iterdir())
    r = compute.evaluate_run(str(runs["vae"]), "test", ["elbo"], seed=0)
    assert sorted(p.name for p in (runs["vae"] / "eval").iterdir()) == before
    assert main(["eval", str(runs["vae"]), "--metrics", "elbo"]) == 0
    written = json.loads((runs["vae"] / "eval" / "test.json").read_text())["metrics"]["nelbo"]
    assert r["metrics"]["nelbo"] == written and r["protocol"]["split"] == "test"
