"""`latentscape fge`: cyclic learning rate, snapshots and the ensemble."""

import json

import pytest
import torch

from latentscape.cli import main
from latentscape.config import config_from_dict
from latentscape.errors import LatentscapeError
from latentscape.landscape.fge import FGEConfig, cyclic_lr, scores
from latentscape.train.api import train_and_evaluate


def test_cyclic_lr_is_triangular_between_lr1_and_lr2():
    assert cyclic_lr(0.0, 0.1, 0.001) == pytest.approx(0.1)
    assert cyclic_lr(0.5, 0.1, 0.001) == pytest.approx(0.001)
    assert cyclic_lr(0.25, 0.1, 0.001) == pytest.approx(0.0505)
    assert cyclic_lr(0.75, 0.1, 0.001) == pytest.approx(0.0505)
    assert cyclic_lr(1.0, 0.1, 0.001) == pytest.approx(0.1)  # next cycle starts high again
    with pytest.raises(LatentscapeError):
        FGEConfig(lr1=0.001, lr2=0.1)


def test_scores_of_perfect_and_uniform_predictions():
    labels = torch.tensor([0, 1, 1])
    assert scores(torch.eye(2)[labels], labels) == {"accuracy": 100.0, "nll": pytest.approx(0.0, abs=1e-6)}
    s = scores(torch.full((3, 2), 0.5), labels)
    assert s["nll"] == pytest.approx(0.6931, abs=1e-4)


def test_fge_command_writes_snapshots_and_ensemble(tmp_path, capsys):
    cfg = config_from_dict(
        {
            "model": {"name": "mlp_classifier", "hidden_dims": [16]},
            "data": {"name": "digits", "fraction": 0.4},
            "train": {"epochs": 2, "batch_size": 32, "eval_every": 0, "num_threads": 1, "log_every": 1000, "optimizer": {"lr": 0.01}},
        }
    )
    run = train_and_evaluate(cfg, tmp_path / "r", quiet=True).path
    assert main(["fge", str(run), "--cycles", "3", "--cycle-epochs", "1", "--lr1", "0.05", "--lr2", "0.001", "--batch-size", "32"]) == 0
    doc = json.loads((run / "eval" / "fge.json").read_text())
    assert len(doc["snapshots"]) == 3 and len(doc["ensemble_by_size"]) == 3
    final = json.loads((run / "eval" / "final.json").read_text())
    assert doc["original"]["accuracy"] == pytest.approx(final["test"]["accuracy"] * 100, abs=1e-4)
    assert doc["ensemble_by_size"][0] == doc["snapshots"][0]  # an ensemble of one is that snapshot
    assert 0 <= doc["ensemble"]["accuracy"] <= 100
    assert "FGE ensemble (3)" in capsys.readouterr().out
