"""The compiled training step (train.compile) is traced once and reused at every step.

A scheduled KL weight: the beta of a linear or cyclical schedule changes every step. Read as a Python float inside the
compiled forward, each new value was a new constant for `torch.compile`: a recompile per step
until PyTorch's recompile limit, then the step ran uncompiled. The VAE keeps it in a device
tensor written in place by `set_step`, so one graph serves every step. The auto-decoder's checks
(PCA table initialised, indices inside the table) read no tensor back after the first step, so
they neither sync with the device nor break the graph. The compiler runs with
the "eager" backend here (no C++ compiler needed); recompiles are Dynamo's and do not depend on
the backend.
"""

from __future__ import annotations

import pytest
import torch
from torch._dynamo.utils import counters

from latentscape.config import config_from_dict
from latentscape.data.types import Batch
from latentscape.models.autoencoder import VAE
from latentscape.rundir.model import DataInfo
from latentscape.models.schedules import beta_at
from latentscape.registry import MODELS
from latentscape.rundir.load import load_run
from latentscape.train.api import train_and_evaluate
from latentscape.rundir.checkpoint import load_checkpoint, load_weights
from latentscape.rundir.run import read_metrics
from tinydata import tiny_splits

INFO = DataInfo((1, 6, 6), 2, 96)
SCHEDULES = {
    "linear": {"beta_schedule": "linear", "warmup_steps": 7},
    "cyclical": {"beta_schedule": "cyclical", "cycle_steps": 4},
}


def _vae(**model) -> VAE:
    cfg = config_from_dict({"model": {"name": "vae", "hidden_dims": [8], "latent_dim": 2, "beta": 2.0, **model}})
    return MODELS.get("vae").build(cfg.model, INFO)


def _batch(n: int = 8) -> Batch:
    x = torch.rand(n, *INFO.image_shape, generator=torch.Generator().manual_seed(0))
    return Batch(x, torch.zeros(n, dtype=torch.long), torch.arange(n))


@pytest.fixture
def dynamo_counters():
    torch._dynamo.reset()
    counters.clear()
    yield counters
    torch._dynamo.reset()
    counters.clear()


@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
def test_one_compiled_graph_serves_every_step_of_a_beta_schedule(schedule, dynamo_counters):
    model = _vae(**SCHEDULES[schedule])
    step_fn = torch.compile(model, backend="eager")
    batch = _batch()
    for step in range(12):  # more steps than the recompile limit (8)
        model.set_step(step)
        out = step_fn(batch, "main")
        out.loss.backward()
        expected = torch.tensor(beta_at(model.cfg.beta_schedule, step, 2.0, model.cfg.warmup_steps, model.cfg.cycle_steps))
        assert torch.equal(out.logs["beta"], expected)  # the step's beta, float32 like before
    assert dynamo_counters["stats"]["unique_graphs"] == 1
    assert not dynamo_counters["graph_break"]


def test_beta_tensor_matches_the_float_schedule_and_stays_out_of_checkpoints():
    model = _vae(**SCHEDULES["linear"])
    for step in (0, 3, 7, 50):
        model.set_step(step)
        assert model.beta_t.item() == pytest.approx(model.current_beta())
        assert model.beta_t.dtype == torch.float32 and model.beta_t.dim() == 0
    assert "beta_t" not in model.state_dict()  # rebuilt by set_step, never saved
    # in place: a compiled graph (or a captured CUDA graph) keeps reading the same tensor
    before = model.beta_t
    model.set_step(2)
    assert model.beta_t is before and model.beta_t.item() == pytest.approx(2.0 * 2 / 7)


def test_the_objective_weighs_the_kl_by_the_scheduled_beta():
    model = _vae(**SCHEDULES["linear"])
    batch = _batch()
    for step in (0, 3, 9):
        model.set_step(step)
        torch.manual_seed(1)
        out = model(batch)
        torch.manual_seed(1)
        t = model.terms(batch.x)
        assert torch.equal(out.loss, (t["recon"] + model.current_beta() * t["kl"]).mean())
        torch.manual_seed(1)
        metrics = model.evaluate_batch(batch)
        assert torch.equal(metrics["loss"], t["recon"] + model.current_beta() * t["kl"])


def _cfg(compile_mode: str = "none", **train):
    return config_from_dict({
        "model": {"name": "vae", "hidden_dims": [8], "latent_dim": 2, "beta": 2.0, **SCHEDULES["linear"]},
        "data": {"name": "digits"},
        "train": {"epochs": 2, "batch_size": 16, "eval_every": 1, "num_threads": 1, "log_every": 1,
                  "compile": compile_mode, **train},
        "seed": 4,
    })


def test_the_trainer_compiles_a_scheduled_vae_once(tmp_path, monkeypatch, dynamo_counters):
    real_compile = torch.compile
    monkeypatch.setattr(torch, "compile", lambda model, mode=None: real_compile(model, backend="eager"))
    run = train_and_evaluate(_cfg("default"), tmp_path / "c", data=tiny_splits(), quiet=True, callbacks=[])
    rows = [r for r in read_metrics(run.path / "metrics.jsonl") if r["split"] == "train"]
    assert len(rows) == 12 and all(isinstance(r["beta"], float) for r in rows)  # floats in the log
    assert [r["beta"] for r in rows] == pytest.approx([2.0 * min(1.0, s / 7) for s in range(12)])
    assert dynamo_counters["stats"]["unique_graphs"] == 1


def test_eager_training_logs_and_checkpoints_keep_their_form(tmp_path):
    run = train_and_evaluate(_cfg(), tmp_path / "e", data=tiny_splits(), quiet=True, callbacks=[])
    ckpt = load_checkpoint(run.path / "checkpoints" / "last.pt")
    assert not any("beta" in k for k in ckpt["model"])
    assert not any("beta" in k for k in load_weights(run.path / "checkpoints" / "final.pt"))
    loaded = load_run(run.path)
    assert loaded.model.beta_t.item() == pytest.approx(loaded.model.current_beta())
    assert loaded.model.current_beta() == pytest.approx(2.0 * min(1.0, loaded.model.step / 7))


def test_the_auto_decoder_step_compiles_to_one_graph(tmp_path, monkeypatch, dynamo_counters):
    real_compile = torch.compile
    monkeypatch.setattr(torch, "compile", lambda model, mode=None: real_compile(model, backend="eager"))
    cfg = config_from_dict({
        "model": {"name": "autodecoder", "arch": "8", "latent_dim": 2, "val_steps": 1, "sparse": False},
        "data": {"name": "digits"},
        "train": {"epochs": 2, "batch_size": 16, "eval_every": 0, "num_threads": 1, "compile": "default",
                  "final_eval_splits": []},
    })
    train_and_evaluate(cfg, tmp_path / "ad", data=tiny_splits(), quiet=True, callbacks=[])
    assert dynamo_counters["stats"]["unique_graphs"] == 1
    assert not dynamo_counters["graph_break"]


def test_a_step_change_before_backward_leaves_the_gradient_alone():
    model = _vae(**SCHEDULES["linear"])
    model.set_step(3)
    torch.manual_seed(2)
    model(_batch()).loss.backward()
    expected = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    torch.manual_seed(2)
    loss = model(_batch()).loss
    model.set_step(4)  # the buffer is rewritten in place before backward runs
    loss.backward()
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), expected))
