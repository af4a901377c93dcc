"""`latentscape eval`: metrics table, eval/<split>.json with protocol, merging, pictures, errors."""

import json

import pytest

from latentscape.cli import main
from latentscape.config import config_from_dict
from latentscape.train.api import train_and_evaluate


def _train(root, name, model):
    cfg = config_from_dict({
        "model": {"hidden_dims": [16], "latent_dim": 2, **model},
        "data": {"name": "digits", "fraction": 0.1},
        "train": {"epochs": 1, "batch_size": 32, "num_threads": 1, "eval_every": 0, "log_every": 2},
    })
    return train_and_evaluate(cfg, root / name, quiet=True).path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return {"vae": _train(root, "vae", {"name": "vae"}), "ae": _train(root, "ae", {"name": "ae", "losses": {"mae": 1.0}})}


def test_eval_writes_all_applicable_metrics_with_protocol(runs, capsys):
    metrics = "loss,reconstruction,elbo,iwae,ssim,psnr"
    assert main(["eval", str(runs["vae"]), "--metrics", metrics, "--iwae-k", "8", "--batch-size", "13"]) == 0
    out = capsys.readouterr().out
    data = json.loads((runs["vae"] / "eval" / "test.json").read_text())
    m, p = data["metrics"], data["protocol"]
    for key in ("loss", "nelbo", "recon_nll", "kl", "iwae_nll", "recon_mae", "recon_mse", "recon_bce", "ssim", "psnr"):
        assert key in m and key in out
    assert p["split"] == "test" and p["n"] == 30 and p["seed"] == 0 and p["iwae_k"] == 8 and p["weights"] == "final"
    assert m["iwae_nll"] <= m["nelbo"] + 1.0  # k=8 is at least about as tight as the ELBO
    assert m["nelbo"] == pytest.approx(m["recon_nll"] + m["kl"])


def test_eval_merges_and_restarts_on_a_new_protocol(runs):
    path = runs["vae"] / "eval" / "test.json"
    assert main(["eval", str(runs["vae"]), "--metrics", "elbo"]) == 0
    assert main(["eval", str(runs["vae"]), "--metrics", "psnr"]) == 0
    assert {"nelbo", "psnr"} <= set(json.loads(path.read_text())["metrics"])
    assert main(["eval", str(runs["vae"]), "--metrics", "psnr", "--seed", "3"]) == 0
    assert set(json.loads(path.read_text())["metrics"]) == {"psnr"}  # other seed: old numbers dropped


def test_eval_ae_skips_vae_metrics_and_explicit_request_fails(runs, capsys):
    assert main(["eval", str(runs["ae"])]) == 0  # default: every metric that applies
    metrics = json.loads((runs["ae"] / "eval" / "test.json").read_text())["metrics"]
    assert "psnr" in metrics and "nelbo" not in metrics and "iwae_nll" not in metrics
    capsys.readouterr()
    assert main(["eval", str(runs["ae"]), "--metrics", "iwae"]) == 2
    assert "error: metric 'iwae' does not apply" in capsys.readouterr().err
    # one named metric that does not apply does not cost the others: they are written, exit 2
    (runs["ae"] / "eval" / "test.json").unlink()
    assert main(["eval", str(runs["ae"]), "--metrics", "psnr,iwae,ssim"]) == 2
    captured = capsys.readouterr()
    assert "error: metric 'iwae' does not apply" in captured.err and "psnr" in captured.out
    assert {"psnr", "ssim"} <= set(json.loads((runs["ae"] / "eval" / "test.json").read_text())["metrics"])


def test_eval_bad_inputs(runs, tmp_path, capsys):
    assert main(["eval", str(tmp_path / "nothing")]) == 2
    assert main(["eval", str(runs["vae"]), "--metrics", "nope"]) == 2
    assert "unknown metric 'nope'" in capsys.readouterr().err


def test_eval_pictures(runs):
    images = runs["vae"] / "images"
    for p in images.glob("*"):
        p.unlink()
    assert main(["eval", str(runs["vae"]), "--metrics", "loss", "--pictures"]) == 0
    names = {p.name for p in images.iterdir()}
    assert {"reconstructions.png", "samples.png", "interpolation.gif", "traversal_range1.png",
            "traversal_range3.png", "latent_scatter.png", "curves_kl.png", "curves_recon.png"} <= names


def test_a_default_eval_never_reaches_for_the_network(runs, capsys, monkeypatch, tmp_path):
    """Offline, a default eval used to try to download AlexNet for LPIPS: now a metric whose
    weights are missing is skipped with the reason; naming it still fetches them."""
    from latentscape.nets import weights

    fetched = []

    def download(spec, dest):
        fetched.append(spec.name)
        raise weights.WeightsError(f"cannot download {spec.name} (offline)")

    monkeypatch.setattr(weights, "_download", download)
    monkeypatch.setenv("LATENTSCAPE_CACHE", str(tmp_path / "cache"))  # nothing cached
    assert main(["eval", str(runs["ae"])]) == 0
    err = capsys.readouterr().err
    assert fetched == []
    assert "skipped lpips: AlexNet (torchvision) weights are not in the cache" in err
    assert "(a default eval downloads nothing: `--metrics lpips` fetches it)" in err
    assert main(["eval", str(runs["ae"]), "--metrics", "lpips"]) == 2
    assert fetched == ["AlexNet (torchvision)"] and "cannot download" in capsys.readouterr().err


def test_eval_reports_each_metric_as_it_runs(runs, capsys, monkeypatch):
    from latentscape import progress

    monkeypatch.setenv("LATENTSCAPE_PROGRESS", "lines")
    monkeypatch.setattr(progress, "SHORT", 0.0)  # tiny data: every metric counts as slow
    assert main(["eval", str(runs["vae"]), "--metrics", "elbo,iwae", "--iwae-k", "4", "--batch-size", "10"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "eval test: elbo (30 images): started" and err[2] == "eval test: iwae (k=4) (30 images): started"
    assert err[1].startswith("eval test: elbo: done (30/30 images) in ")
    assert err[3].startswith("eval test: iwae (k=4): done (30/30 images) in ") and len(err) == 4
