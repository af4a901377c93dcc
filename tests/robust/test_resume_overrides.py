"""`latentscape train --resume RUN key=value`: after a NaN stop the LR (and schedule, clipping,
length) may change; other keys are refused naming the allowed ones; changes are recorded."""

from __future__ import annotations

import hashlib
import json

import pytest
import yaml

from tinydata import PoisonAt
from latentscape.cli import main
from latentscape.config import config_from_dict
from latentscape.errors import TrainingDiverged
from latentscape.train.api import train_and_evaluate
from latentscape.rundir.checkpoint import load_checkpoint

CFG = {
    "model": {"name": "mlp_classifier", "hidden_dims": [8]},
    "data": {"name": "digits", "fraction": 0.1},
    "train": {"epochs": 2, "batch_size": 32, "log_every": 2, "num_threads": 1, "checkpoint_every_steps": 2,
              "final_eval_splits": ["test"]},
    "seed": 1,
}



def _snapshot(root):
    return {str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def diverged(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTSCAPE_NO_TENSORBOARD", "1")
    run_dir = tmp_path / "run"
    with pytest.raises(TrainingDiverged) as info:
        train_and_evaluate(config_from_dict(CFG), run_dir, callbacks=[PoisonAt(3)], quiet=True)
    return run_dir, str(info.value)


def test_nan_stop_then_resume_with_lower_lr_is_recorded(diverged, capsys):
    run_dir, message = diverged
    assert f"latentscape train --resume {run_dir} train.optimizer.lr=0.0001" in message
    assert load_checkpoint(run_dir / "checkpoints" / "last.pt")["step"] == 2  # last good one
    assert main(["train", "--resume", str(run_dir), "train.optimizer.lr=1e-4", "train.grad_clip=1.0",
                 "train.epochs=3"]) == 0
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert cfg["train"]["optimizer"]["lr"] == 1e-4 and cfg["train"]["grad_clip"] == 1.0
    assert cfg["train"]["epochs"] == 3
    history = [json.loads(line) for line in (run_dir / "config_history.jsonl").read_text().splitlines()]
    assert len(history) == 1 and history[0]["step"] == 2
    assert history[0]["changes"] == {
        "train.optimizer.lr": {"from": 1e-3, "to": 1e-4},
        "train.grad_clip": {"from": None, "to": 1.0},
        "train.epochs": {"from": 2, "to": 3},
    }
    final = json.loads((run_dir / "eval" / "final.json").read_text())
    assert final["epochs"] == 3
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["lr"] for r in rows if r["split"] == "train" and r["step"] > 2][0] == pytest.approx(1e-4)


@pytest.mark.parametrize("override", ["train.batch_size=8", "model.hidden_dims=[4]", "seed=3",
                                      "train.optimizer.name=sgd", "data.fraction=0.5"])
def test_resume_refuses_other_keys_naming_the_allowed_ones(diverged, capsys, override):
    run_dir, _ = diverged
    before = _snapshot(run_dir)
    assert main(["train", "--resume", str(run_dir), override]) == 2
    err = capsys.readouterr().err.strip()
    key = override.split("=")[0]
    assert err.splitlines() == [err]
    assert f"{key} cannot change when resuming" in err and "train.optimizer.lr" in err and "train.schedule.*" in err
    assert _snapshot(run_dir) == before


def test_resume_override_out_of_range_is_refused_and_changes_nothing(diverged, capsys):
    run_dir, _ = diverged
    before = _snapshot(run_dir)
    assert main(["train", "--resume", str(run_dir), "train.optimizer.lr=-1"]) == 2
    assert "train.optimizer.lr=-1.0 is out of range" in capsys.readouterr().err
    assert main(["train", "--resume", str(run_dir), "configs/mnist_mlp.yaml"]) == 2
    assert "only KEY=VALUE" in capsys.readouterr().err
    assert _snapshot(run_dir) == before
