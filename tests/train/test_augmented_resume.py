"""A run with on-device augmentation killed at a write step and resumed is bit-identical to an
uninterrupted one (the crops and flips are seeded per batch, not drawn from a running stream)."""

from __future__ import annotations

import copy

import torch

from crashkit import TINY, assert_same_run, env_without_tensorboard, killed_then_resumed, uninterrupted

AUGMENTED = copy.deepcopy(TINY)
AUGMENTED["model"] = {"name": "resnet", "depth": 8, "width": 2, "mean": [0.3], "std": [0.4]}
AUGMENTED["data"].update({"augment": True, "augment_padding": 2})
AUGMENTED["train"]["optimizer"] = {"name": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4}
AUGMENTED["train"]["schedule"] = {"name": "garipov"}


def test_killed_mid_epoch_and_resumed_gives_the_same_run(tmp_path, monkeypatch):
    env_without_tensorboard(monkeypatch)
    steps = uninterrupted(tmp_path / "ref", monkeypatch, AUGMENTED)
    # killed while writing the second last.pt: the first, after step 3 of epoch 0's 5 batches,
    # is what the resume starts from, inside an epoch, with batches (and crops) from batch 3 on
    n = [i for i, s in enumerate(steps, 1) if s == "write last.pt"][1]
    killed_then_resumed(tmp_path / "k", n, monkeypatch, AUGMENTED)
    assert_same_run(tmp_path / "ref", tmp_path / "k")


def test_augmentation_changes_training(tmp_path, monkeypatch):
    """The same run without augmentation ends elsewhere: the switch reaches the trainer."""
    env_without_tensorboard(monkeypatch)
    plain = copy.deepcopy(AUGMENTED)
    plain["data"]["augment"] = False
    uninterrupted(tmp_path / "a", monkeypatch, AUGMENTED)
    uninterrupted(tmp_path / "p", monkeypatch, plain)
    wa, wp = (torch.load(r / "checkpoints" / "final.pt", weights_only=True)["state_dict"] for r in (tmp_path / "a", tmp_path / "p"))
    assert any(not torch.equal(wa[k], wp[k]) for k in wa)
