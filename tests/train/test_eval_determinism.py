"""Scheduled evaluations: per-split seeded noise and the last epoch's evaluation (issue 15)."""

import torch

from latentscape.config import config_from_dict
from latentscape.data.types import ImageDataset
from latentscape.rundir.model import DataInfo
from latentscape.registry import MODELS
from latentscape.train.api import train_and_evaluate
from latentscape.rundir.run import read_metrics
from latentscape.train.trainer import evaluate
from tinydata import tiny_config, tiny_splits


def _vae():
    cfg = config_from_dict({"model": {"name": "vae", "hidden_dims": [16], "latent_dim": 3}})
    torch.manual_seed(0)
    return MODELS.get("vae").build(cfg.model, DataInfo((1, 8, 8), 10, 64)).eval()


def _split(name: str, seed: int, n: int = 40) -> ImageDataset:
    g = torch.Generator().manual_seed(seed)
    images = (torch.rand(n, 1, 8, 8, generator=g) * 255).to(torch.uint8)
    return ImageDataset(images=images, labels=torch.zeros(n, dtype=torch.long), name="t", split=name)


def test_vae_test_nelbo_does_not_depend_on_other_splits_evaluated_before():
    model, train, test = _vae(), _split("train", 1), _split("test", 2)
    dev = torch.device("cpu")
    alone = evaluate(model, test, 16, dev, seed=5)
    evaluate(model, train, 16, dev, seed=5)
    torch.rand(123)  # whatever else happened to the global generator
    after = evaluate(model, test, 16, dev, seed=5)
    assert alone["nelbo"] == after["nelbo"]
    # the noise is really seeded per split: another seed gives another estimate
    assert evaluate(model, test, 16, dev, seed=6)["nelbo"] != alone["nelbo"]
    # and evaluating leaves the caller's RNG stream untouched
    torch.manual_seed(9)
    evaluate(model, test, 16, dev, seed=5)
    x = torch.rand(3)
    torch.manual_seed(9)
    assert torch.equal(x, torch.rand(3))


def test_last_epoch_scheduled_evaluation_runs_once(tmp_path):
    # eval_split=test is not a final split here: its last scheduled point used to be skipped
    cfg = tiny_config(epochs=3, eval_every=1, final_eval_splits=["train"])
    run = train_and_evaluate(cfg, tmp_path / "r", data=tiny_splits(), quiet=True, callbacks=[])
    rows = [r for r in read_metrics(run.path / "metrics.jsonl") if r["split"] == "test"]
    assert [r["epoch"] for r in rows] == [1, 2, 3]


def test_final_evaluation_reuses_the_last_scheduled_one(tmp_path):
    cfg = tiny_config(epochs=2, eval_every=1)  # final splits train, test
    run = train_and_evaluate(cfg, tmp_path / "r", data=tiny_splits(), quiet=True, callbacks=[])
    rows = read_metrics(run.path / "metrics.jsonl")
    test_rows = [(r["step"], r["epoch"]) for r in rows if r["split"] == "test"]
    assert test_rows == sorted(set(test_rows)) and [e for _, e in test_rows] == [1, 2]
    import json

    final = json.loads((run.path / "eval" / "final.json").read_text())
    last = [r for r in rows if r["split"] == "test"][-1]
    assert abs(final["test"]["loss"] - last["loss"]) < 1e-12
