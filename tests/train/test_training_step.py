"""The training step is part of the model contract: trained, wrapped and reloaded models see it."""

import json

import pytest
import torch
from tinydata import tiny_splits

from latentscape.config import config_from_dict
from latentscape.models.schedules import beta_at
from latentscape.rundir.load import load_run
from latentscape.train.api import train_and_evaluate
from latentscape.rundir.callbacks import Callback

WARMUP = 1000  # much longer than the runs: beta is still ramping when they end


def _vae_cfg(seed, epochs=2):
    return config_from_dict(
        {
            "model": {"name": "vae", "hidden_dims": [16], "latent_dim": 2, "beta": 4.0,
                      "beta_schedule": "linear", "warmup_steps": WARMUP},
            "data": {"name": "digits"},
            "train": {"epochs": epochs, "batch_size": 16, "eval_every": 0, "num_threads": 1, "log_every": 1},
            "seed": seed,
        }
    )


class Betas(Callback):
    """Records the beta the model logged at every training step."""

    def __init__(self):
        self.seen = []

    def on_step_end(self, state, logs):
        self.seen.append((state.step, logs["beta"]))


@pytest.fixture(scope="module")
def vaes(tmp_path_factory):
    root = tmp_path_factory.mktemp("vaes")
    return [train_and_evaluate(_vae_cfg(s), root / f"v{s}", data=tiny_splits(), quiet=True).path for s in (0, 1)]


def test_load_run_rebuilds_the_final_step_beta(vaes):
    loaded = load_run(vaes[0])
    steps = json.loads((vaes[0] / "eval" / "final.json").read_text())["steps"]
    assert steps > 0 and loaded.model.step == steps
    assert loaded.model.current_beta() == pytest.approx(beta_at("linear", steps, 4.0, WARMUP))
    assert load_run(f"{vaes[0]}@init").model.step == 0
    assert load_run(f"{vaes[0]}@last").model.step == steps


def test_old_runs_without_step_metadata_fall_back_to_final_json(vaes, tmp_path):
    import shutil

    import torch

    old = tmp_path / "old"
    shutil.copytree(vaes[0], old)
    obj = torch.load(old / "checkpoints" / "final.pt", weights_only=True)
    obj["meta"] = {}
    torch.save(obj, old / "checkpoints" / "final.pt")
    steps = json.loads((old / "eval" / "final.json").read_text())["steps"]
    assert load_run(old).model.step == steps


def test_final_eval_and_reloaded_eval_use_the_same_beta(vaes):
    from latentscape.train.trainer import evaluate

    loaded = load_run(vaes[0])
    rows = [r for r in loaded.run.read_metrics() if r.get("split") == "test"]
    again = evaluate(loaded.model, tiny_splits()["test"], 64, torch.device("cpu"))
    beta = beta_at("linear", loaded.model.step, 4.0, WARMUP)
    for m in (rows[-1], again):  # loss = recon + beta * kl, averaged per example
        assert (m["loss"] - m["recon"]) / m["kl"] == pytest.approx(beta, rel=1e-4)


def test_curve_between_scheduled_vaes_trains_with_the_scheduled_beta(vaes, tmp_path):
    cfg = config_from_dict(
        {
            "model": {"name": "curve", "start": str(vaes[0]), "end": str(vaes[1]), "bends": 1},
            "data": {"name": "digits"},
            "train": {"epochs": 1, "batch_size": 16, "eval_every": 0, "num_threads": 1, "log_every": 1},
            "seed": 0,
        }
    )
    rec = Betas()
    train_and_evaluate(cfg, tmp_path / "curve", data=tiny_splits(), callbacks=[rec], quiet=True)
    assert len(rec.seen) > 2
    for step, beta in rec.seen:  # on_step_end sees the step after the update
        assert beta == pytest.approx(beta_at("linear", step - 1, 4.0, WARMUP))
    assert rec.seen[-1][1] > 0
