"""`latentscape probe`: a tiny AE on digits against PCA / UMAP / pixels; protocol; errors."""

import json

import numpy as np
import pytest

from latentscape.cli import main
from latentscape.config import config_from_dict
from latentscape.train.api import train_and_evaluate


def _train(root, name, model, **train):
    cfg = config_from_dict({
        "model": model,
        "data": {"name": "digits", "fraction": 0.3},
        "train": {"epochs": 1, "batch_size": 32, "num_threads": 1, "eval_every": 0, "log_every": 50, **train},
    })
    return train_and_evaluate(cfg, root / name, quiet=True).path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("probe_runs")
    return {
        "ae": _train(root, "ae", {"name": "ae", "hidden_dims": [16], "latent_dim": 2, "losses": {"mse": 1.0}}),
        "gan": _train(root, "gan", {"name": "gan", "latent_dim": 4, "width": 4, "pictures": {"every": 0}},
                      max_steps=1, final_eval_splits=[]),
    }


def test_probe_table_has_every_embedding_and_protocol(runs, tmp_path, capsys):
    out = tmp_path / "analysis"
    assert main(["probe", str(runs["ae"]), "--baselines", "pca,pixels", "--dim", "2", "--out", str(out),
                 "--max-train", "200", "--map-points", "0", "--knn-k", "3"]) == 0
    printed = capsys.readouterr().out
    data = json.loads((out / "probe.json").read_text())
    names = [r["embedding"] for r in data["rows"]]
    assert names == ["ae", "pca2", "pixels"]
    for row in data["rows"]:
        assert 0.0 <= row["logreg_acc"] <= 1.0 and 0.0 <= row["knn_acc"] <= 1.0
        assert row["embedding"] in printed and row["fit_s"] >= 0
    assert [r["dim"] for r in data["rows"]] == [2, 2, 64]
    p = data["protocol"]
    assert p["train_size"] == 200 and p["max_train"] == 200 and p["knn_k"] == 3 and p["logreg_c"] == 1.0
    assert p["test_size"] > 0 and p["baselines_fitted_on"] == "training split only" and "standard" in p["scaler"]
    assert not (out / "maps.png").exists() and "| pixels |" in (out / "probe.md").read_text()
    # digits are easy: pixels are far above chance (10 classes)
    assert data["rows"][2]["logreg_acc"] > 0.5
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp folders left
    summary = json.loads((out / "summary.json").read_text())  # the index contract
    assert summary["kind"] == "probe" and summary["dataset"] == "digits" and summary["rows"] == data["rows"]
    best_pixels = max(data["rows"][2]["logreg_acc"], data["rows"][2]["knn_acc"])
    assert summary["metrics"]["pixels " + ("logreg" if best_pixels == data["rows"][2]["logreg_acc"] else "knn") + " accuracy"] == best_pixels
    assert summary["finding"].startswith("On digits (200 training codes), the codes of ae reach a test accuracy of")  # a subset, said so
    assert f"{best_pixels:.4g} for pixels" in summary["finding"]
    best_pca = max(data["rows"][1]["logreg_acc"], data["rows"][1]["knn_acc"])
    if best_pca < best_pixels:  # the baseline with as many dimensions as the codes is named too
        assert f"{best_pca:.4g} for {data['rows'][1]['embedding']}" in summary["finding"]


def test_baselines_default_to_the_runs_code_dimension(runs, tmp_path):
    out = tmp_path / "analysis"
    assert main(["probe", str(runs["ae"]), "--baselines", "pca", "--out", str(out), "--max-train", "100", "--map-points", "0"]) == 0
    data = json.loads((out / "probe.json").read_text())
    assert [r["embedding"] for r in data["rows"]] == ["ae", "pca2"] and data["protocol"]["baseline_dim"] == 2


def test_pixel_baseline_is_deterministic(runs):
    from latentscape.data.registry import load_split
    from latentscape.probe.api import ProbeOptions, probe_embeddings, subsample
    from latentscape.probe.embeddings import baseline_embedding
    from latentscape.rundir.load import load_run

    cfg = load_run(runs["ae"]).config.data
    train = subsample(load_split(cfg, "train"), 150, 0)
    test = load_split(cfg, "test")
    options = ProbeOptions(baselines=("pixels",))
    rows = [probe_embeddings([baseline_embedding("pixels", train, test, 2, 0)], train, test, options)[0]
            for _ in range(2)]
    assert rows[0]["logreg_acc"] == rows[1]["logreg_acc"] and rows[0]["knn_acc"] == rows[1]["knn_acc"]
    assert subsample(load_split(cfg, "train"), 150, 0).labels.tolist() == train.labels.tolist()


def test_run_without_embed_is_one_clear_error(runs, tmp_path, capsys):
    assert main(["probe", str(runs["ae"]), str(runs["gan"]), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "has no `embed`" in err and "gan" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("args, message", [
    (["--baselines", "tsne"], "unknown baseline 'tsne'"),
    (["--classifiers", "svm"], "unknown classifier 'svm'"),
    (["--max-train", "1"], "--max-train must be at least 2"),
    (["--knn-k", "0"], "--knn-k"),
])
def test_bad_options(runs, tmp_path, capsys, args, message):
    assert main(["probe", str(runs["ae"]), "--out", str(tmp_path / "y"), *args]) == 2
    assert message in capsys.readouterr().err


def test_probe_missing_run_is_an_error(tmp_path, capsys):
    assert main(["probe", str(tmp_path / "nothing")]) == 2


def test_probe_never_replaces_a_foreign_folder(runs, capsys):
    # --out pointing at the run itself must not wipe it
    assert main(["probe", str(runs["ae"]), "--out", str(runs["ae"]), "--baselines", "none"]) == 2
    assert "without probe.json" in capsys.readouterr().err
    assert (runs["ae"] / "config.yaml").is_file()


@pytest.mark.slow
def test_probe_all_baselines_with_umap_and_maps(runs, tmp_path):
    out = tmp_path / "full"
    assert main(["probe", str(runs["ae"]), "--dim", "3", "--out", str(out), "--map-points", "60"]) == 0
    data = json.loads((out / "probe.json").read_text())
    assert [r["embedding"] for r in data["rows"]] == ["ae", "pca3", "umap3", "pixels"]
    assert all(np.isfinite(r["logreg_acc"]) for r in data["rows"])
    assert (out / "maps.png").stat().st_size > 0
    # rerunning replaces the folder as a whole, with the same numbers (seeded UMAP)
    assert main(["probe", str(runs["ae"]), "--dim", "3", "--out", str(out), "--map-points", "60"]) == 0
    again = json.loads((out / "probe.json").read_text())
    assert [r["logreg_acc"] for r in again["rows"]] == [r["logreg_acc"] for r in data["rows"]]
