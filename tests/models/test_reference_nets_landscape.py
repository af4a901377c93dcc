"""Each reference net trains (augmented, SGD + momentum + weight decay, Garipov's schedule) and goes
through `path`, `plane`, `surface` and `hessian` on the command line, with BatchNorm statistics
recomputed from the (unaugmented) training images at every point."""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch

from latentscape.cli import main
from latentscape.config import config_from_dict
from latentscape.data.registry import load_split
from latentscape.rundir.load import load_run
from tinydata import train_quietly

NETS = {
    "resnet": {"name": "resnet", "depth": 8, "width": 4},
    "resnet_noshort": {"name": "resnet", "depth": 8, "width": 4, "shortcut": False},
    "preresnet": {"name": "preresnet", "depth": 11, "width": 2},
    "wide_resnet": {"name": "wide_resnet", "depth": 10, "widen": 2, "width": 2, "dropout": 0.3},
    "vgg16_bn": {"name": "vgg", "depth": 16, "width": 2, "hidden": 8, "batch_norm": True},
    "vgg9": {"name": "vgg9", "width": 2},
}


def _config(model: dict, seed: int):
    return config_from_dict({
        "model": {**model, "mean": [0.3], "std": [0.4]},
        "data": {"name": "digits", "fraction": 0.05, "augment": True, "augment_padding": 2, "augment_flip": False},
        "train": {"epochs": 1, "batch_size": 16, "eval_every": 0, "num_threads": 1, "log_every": 1000,
                  "final_eval_splits": ["test"],
                  "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4},
                  "schedule": {"name": "garipov"}},
        "seed": seed,
    })


@pytest.fixture(scope="module", params=list(NETS))
def runs(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(request.param)
    model = NETS[request.param]
    return train_quietly(root, {"a": _config(model, 0), "b": _config(model, 1)})


def _recomputed_test_loss(run_dir) -> float:
    """The test loss with BatchNorm statistics recomputed by hand: one pass over the whole
    (unaugmented) training split in train mode, fresh cumulative statistics, dropout off."""
    loaded = load_run(str(run_dir))
    model = copy.deepcopy(loaded.model).eval()
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
            m.train()
    train = load_split(loaded.config.data, "train")
    with torch.no_grad():
        model.logits(train.images.float() / 255)
        model.eval()
        test = load_split(loaded.config.data, "test")
        logits = model.logits(test.images.float() / 255)
    return float(torch.nn.functional.cross_entropy(logits, test.labels))


def _read(path):
    return json.loads(path.read_text())


def test_trains_and_goes_through_path_plane_surface_hessian(runs, tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTSCAPE_PLOTS", "none")
    a, b = str(runs["a"]), str(runs["b"])
    init, final = (torch.load(runs["a"] / "checkpoints" / f, weights_only=True)["state_dict"] for f in ("init.pt", "final.pt"))
    assert any(not torch.equal(init[k], final[k]) for k in init)  # it trained

    assert main(["path", a, b, "--points", "3", "--splits", "test", "--out", str(tmp_path / "p"), "--threads", "1"]) == 0
    path = _read(tmp_path / "p" / "path.json")
    loss = path["metrics"]["test"]["loss"]
    assert len(loss) == 3 and all(math.isfinite(v) for v in loss)
    # BatchNorm recomputed at the endpoint: the hand-made recomputation, not the stored statistics
    assert loss[0] == pytest.approx(_recomputed_test_loss(runs["a"]), rel=1e-4)
    stored = _read(runs["a"] / "eval" / "final.json")["test"]["loss"]
    assert loss[0] != pytest.approx(stored, rel=1e-6)

    out = tmp_path / "s"
    assert main(["surface", a, "--grid", "3", "--range", "-0.5:0.5", "--splits", "test", "--metrics", "loss",
                 "--out", str(out), "--threads", "1"]) == 0
    surface = _read(out / "surface.json")["values"]["test"]["loss"]
    assert surface[1][1] == pytest.approx(loss[0], rel=1e-5)  # the origin is the model, BN recomputed
    assert all(math.isfinite(v) for row in surface for v in row)

    out = tmp_path / "pl"
    assert main(["plane", a, b, f"{a}@init", "--grid", "3", "--splits", "test", "--metrics", "loss",
                 "--out", str(out), "--threads", "1"]) == 0
    grid = _read(out / "plane.json")["values"]["test"]["loss"]
    assert len(grid) == 3 and all(len(row) == 3 and all(math.isfinite(v) for v in row) for row in grid)

    out = tmp_path / "h"
    assert main(["hessian", a, "--top-k", "2", "--max-iter", "20", "--batch-size", "32", "--out", str(out), "--threads", "1"]) == 0
    eig = _read(out / "hessian.json")["top_eigenvalues"]["values"]
    assert len(eig) == 2 and all(math.isfinite(v) for v in eig)


@pytest.fixture(scope="module")
def vgg_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("vgg_curve")
    return train_quietly(root, {"a": _config(NETS["vgg16_bn"], 0), "b": _config(NETS["vgg16_bn"], 1)})


def test_connect_trains_a_curve_with_the_endpoints_augmentation_and_path_follows_it(vgg_runs, tmp_path, monkeypatch):
    """Garipov et al.'s curve training on VGG16-BN: a Bezier curve with one free bend (their
    num_bends=3), SGD, the garipov schedule; the curve run inherits data.augment from the start."""
    monkeypatch.setenv("LATENTSCAPE_PLOTS", "none")
    monkeypatch.setenv("LATENTSCAPE_NO_TENSORBOARD", "1")
    a, b, curve = str(vgg_runs["a"]), str(vgg_runs["b"]), tmp_path / "curve"
    assert main(["connect", a, b, "--curve", "bezier", "--bends", "1", "--epochs", "1", "--lr", "0.015", "--wd", "5e-4",
                 "--schedule", "garipov", "--out", str(curve)]) == 0
    cfg = load_run(str(curve)).config
    assert cfg.data.augment and cfg.train.schedule.name == "garipov" and cfg.train.optimizer.name == "sgd"
    assert main(["path", "--curve", str(curve), "--points", "3", "--splits", "test", "--out", str(tmp_path / "p"), "--threads", "1"]) == 0
    loss = _read(tmp_path / "p" / "path.json")["metrics"]["test"]["loss"]
    assert loss[0] == pytest.approx(_recomputed_test_loss(vgg_runs["a"]), rel=1e-4)  # t=0 is the start
    assert loss[2] == pytest.approx(_recomputed_test_loss(vgg_runs["b"]), rel=1e-4)
    final = _read(curve / "eval" / "final.json")  # connect's own evaluation: t=0.5, BatchNorm recomputed there
    assert final["protocol"]["curve_t"] == 0.5 and final["test"]["loss"] == pytest.approx(loss[1], rel=1e-5)
