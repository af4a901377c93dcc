"""`latentscape fge`: cyclic learning rate, snapshots and the ensemble."""

import json

import pytest
import torch

from latentscape.cli import main
from latentscape.config import config_from_dict
from latentscape.errors import LatentscapeError
from latentscape.landscape.methods.fge import FGEConfig, cyclic_lr, scores
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
    assert scores(torch.eye(2)[labels], labels) == {"accuracy": 1.0, "nll": pytest.approx(0.0, abs=1e-6)}  # a fraction
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
    (folder,) = (run / "analysis").glob("fge-*")
    doc = json.loads((folder / "fge.json").read_text())
    assert len(doc["snapshots"]) == 3 and len(doc["ensemble_by_size"]) == 3
    final = json.loads((run / "eval" / "final.json").read_text())
    assert doc["original"]["accuracy"] == pytest.approx(final["test"]["accuracy"], abs=1e-6)  # fractions, like every other page
    assert doc["ensemble_by_size"][0] == doc["snapshots"][0]  # an ensemble of one is that snapshot
    assert 0 <= doc["ensemble"]["accuracy"] <= 1
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["kind"] == "fge" and summary["metrics"]["ensemble accuracy"] == doc["ensemble"]["accuracy"]
    assert f"{doc['ensemble']['accuracy']:.4f}" in summary["finding"] and "%" not in summary["finding"]
    out = capsys.readouterr().out
    assert "FGE ensemble (3)" in out and f"{doc['original']['accuracy']:.4f}" in out


class _NaNLossAt(torch.nn.Module):
    """A classifier whose loss turns NaN at one training call (a diverging learning rate)."""

    def __init__(self, inner, bad_call: int) -> None:
        super().__init__()
        self.inner, self.bad_call, self.calls = inner, bad_call, 0

    def forward(self, batch):
        out = self.inner(batch)
        self.calls += 1
        return out._replace(loss=out.loss * float("nan")) if self.calls == self.bad_call else out

    def logits(self, x):
        return self.inner.logits(x)


def _classifier():
    from latentscape.rundir.model import DataInfo
    from latentscape.registry import MODELS

    cfg = config_from_dict({"model": {"name": "mlp_classifier", "hidden_dims": [8]}})
    torch.manual_seed(0)
    return MODELS.get("mlp_classifier").build(cfg.model, DataInfo((1, 6, 6), 2, 96))


@pytest.mark.parametrize("at_once", [True, False])
def test_a_nan_loss_stops_fge_with_its_step_on_every_device(at_once, monkeypatch):
    """On the CPU the loss is checked at each step; on accelerators (played here by the CPU) the
    check stays on the device until a snapshot or the end: the same error, no host read per step."""
    from latentscape.landscape.methods import fge
    from tinydata import tiny_dataset

    monkeypatch.setattr(fge.FiniteGuard, "__init__", _guard_init(at_once))
    cfg = FGEConfig(cycles=2, cycle_epochs=1.0, batch_size=16)  # 6 steps a cycle, snapshots after steps 3 and 9
    with pytest.raises(LatentscapeError, match=r"fge: loss became nan at step 4; lower --lr1"):
        fge.train_snapshots(_NaNLossAt(_classifier(), bad_call=5), tiny_dataset(96), cfg)
    reads = []
    monkeypatch.setattr(torch.Tensor, "__bool__", lambda t, _real=torch.Tensor.__bool__: reads.append(1) or _real(t))
    calls = []
    snaps = fge.train_snapshots(_classifier(), tiny_dataset(96), cfg, progress=lambda done, total: calls.append((done, total)))
    assert len(snaps) == 2 and calls == [(s, 12) for s in range(0, 13)]  # the total first, then after every step
    assert len(reads) == (12 if at_once else 0)  # one per step at once; none when deferred


def _guard_init(at_once: bool):
    def init(self, device, diverged) -> None:
        self.at_once, self.step, self.value, self.diverged = at_once, None, None, diverged

    return init


def test_fge_augments_its_sgd_batches_as_the_given_augmentation_says():
    """The batches of the cyclic SGD go through `augment` (one call per step, on the uint8
    images, seeded per batch); the snapshots then differ from those of plain batches."""
    from latentscape.data.augment import CropFlip
    from latentscape.landscape.methods import fge
    from tinydata import tiny_dataset

    seen = []

    def spy(images, gen):
        seen.append(images.dtype)
        return CropFlip(1, True)(images, gen)

    cfg = FGEConfig(cycles=1, cycle_epochs=1.0, batch_size=16)  # 6 steps
    augmented = fge.train_snapshots(_classifier(), tiny_dataset(96), cfg, augment=spy)
    plain = fge.train_snapshots(_classifier(), tiny_dataset(96), cfg)
    assert seen == [torch.uint8] * 6
    assert any(not torch.equal(augmented[0][k], plain[0][k]) for k in plain[0])


@pytest.mark.parametrize("augment", [True, False])
def test_fge_of_an_augmented_run_draws_augmented_batches(augment, tmp_path, monkeypatch, capsys):
    from latentscape.data import augment as augment_module

    cfg = config_from_dict({
        "model": {"name": "mlp_classifier", "hidden_dims": [8]},
        "data": {"name": "digits", "fraction": 0.2, "augment": augment, "augment_padding": 1, "augment_flip": False},
        "train": {"epochs": 1, "batch_size": 32, "eval_every": 0, "num_threads": 1, "log_every": 1000},
    })
    run = train_and_evaluate(cfg, tmp_path / "r", quiet=True).path
    calls = []
    real = augment_module.CropFlip.__call__
    monkeypatch.setattr(augment_module.CropFlip, "__call__", lambda self, images, gen: calls.append(self) or real(self, images, gen))
    assert main(["fge", str(run), "--cycles", "1", "--cycle-epochs", "1", "--batch-size", "32", "--out", str(tmp_path / "f")]) == 0
    doc = json.loads((tmp_path / "f" / "fge.json").read_text())
    steps = 300 // 32  # full batches of the 300 training images: one cycle of one epoch
    if augment:
        assert calls == [augment_module.CropFlip(1, False)] * steps
        assert doc["augment"] == {"padding": 1, "flip": False} and "augmented as in training" in capsys.readouterr().err
    else:
        assert calls == [] and doc["augment"] is None
