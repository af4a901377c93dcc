"""Every command over every model family, fed a family it was not written for: a curve between two
GANs, the Hessian of an auto-decoder (sparse latent table), a curve whose end is a curve (or
itself), pictures of a model without a latent space, metric options that are not numbers. Each
either works or is one clear line (exit 2), before the work where that is possible."""

from __future__ import annotations

import shutil

import pytest
import torch
import yaml

from latentscape.cli import main
from latentscape.config import config_from_dict
from tinydata import train_quietly

BASE = {"data": {"name": "digits", "fraction": 0.1},
        "train": {"epochs": 1, "batch_size": 32, "num_threads": 1, "final_eval_splits": ["test"], "eval_every": 0}}
MODELS = {
    "gan": {"name": "gan", "loss": "bce", "latent_dim": 4, "width": 4},
    "ad": {"name": "autodecoder", "net": "fc", "arch": "8", "latent_dim": 2, "val_steps": 2},
    "ae": {"name": "ae", "net": "fc", "hidden_dims": [8], "latent_dim": 2},
    "mlp": {"name": "mlp_classifier", "hidden_dims": [4]},
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    configs = {}
    for name, model in MODELS.items():
        data = {**BASE["data"], **({"image_size": 8} if name == "gan" else {})}
        configs[name] = config_from_dict({**BASE, "data": data, "model": model, "seed": 1})
    return {name: str(path) for name, path in train_quietly(tmp_path_factory.mktemp("families"), configs).items()}


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("LATENTSCAPE_NO_TENSORBOARD", "1")
    monkeypatch.setenv("LATENTSCAPE_PLOTS", "none")


def test_a_curve_between_two_gans_trains_each_group_on_its_own_weights(runs, tmp_path, capsys):
    curve = tmp_path / "curve"
    assert main(["connect", runs["gan"], runs["gan"], "--epochs", "1", "--out", str(curve)]) == 0, capsys.readouterr().err
    assert main(["path", "--curve", str(curve), "--points", "3", "--splits", "test", "--out", str(tmp_path / "p")]) == 0

    from latentscape.data.types import Batch
    from latentscape.rundir.load import load_run

    model = load_run(curve).model.train()
    x = torch.rand(4, 1, 8, 8)
    batch = Batch(x, torch.zeros(4, dtype=torch.long), torch.arange(4))
    names = list(model._like)
    bend = model.point_1
    for group in ("critic", "generator"):
        bend.grad = None
        model(batch, group).loss.backward()
        grads = dict(zip(names, torch.split(bend.grad, [model._like[n].numel() for n in names])))
        own = model._group_names(group)
        assert any(float(g.abs().sum()) > 0 for n, g in grads.items() if n in own), group
        assert all(float(g.abs().sum()) == 0 for n, g in grads.items() if n not in own), group


def test_hessian_of_an_auto_decoder_with_its_sparse_latent_table(runs, tmp_path, capsys):
    out = tmp_path / "h"
    assert main(["hessian", runs["ad"], "--top-k", "1", "--max-iter", "3", "--out", str(out)]) == 0, capsys.readouterr().err
    assert (out / "hessian.json").is_file()


@pytest.mark.parametrize("end", ["itself", "another curve"])
def test_a_curve_whose_end_is_a_curve_is_refused_without_recursing(runs, tmp_path, capsys, end):
    curve = tmp_path / "curve"
    assert main(["connect", runs["mlp"], runs["mlp"], "--epochs", "1", "--out", str(curve)]) == 0
    other = tmp_path / "other"
    shutil.copytree(curve, other)
    cfg = yaml.safe_load((other / "config.yaml").read_text())
    cfg["model"]["end"] = str(other if end == "itself" else curve)
    (other / "config.yaml").write_text(yaml.safe_dump(cfg))
    capsys.readouterr()
    assert main(["path", "--curve", str(other), "--points", "3", "--out", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and "is itself a curve run" in err, err


def test_pictures_of_a_model_without_latent_space_are_refused_before_evaluating(runs, capsys):
    from pathlib import Path

    before = sorted(p.name for p in (Path(runs["gan"]) / "eval").iterdir())
    assert main(["eval", runs["gan"], "--pictures"]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == "error: --pictures: GAN has no latent space to draw" and captured.out == ""
    assert sorted(p.name for p in (Path(runs["gan"]) / "eval").iterdir()) == before


@pytest.mark.parametrize("option, message", [
    ("ssim_window=abc", "--opt ssim_window='abc': expected an integer"),
    ("ssim_window=0", "--opt ssim_window=0: must be at least 1"),
])
def test_metric_options_that_are_not_usable_numbers(runs, capsys, option, message):
    assert main(["eval", runs["ae"], "--metrics", "ssim", "--opt", option]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and message in err, err
