"""Tiny synthetic data, configs and callbacks shared by tests (CPU, seconds).

Imported as `from tinydata import ...` (pytest puts tests/ on sys.path)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import torch

from latentscape.config import config_from_dict
from latentscape.data.types import ImageDataset
from latentscape.rundir.callbacks import Callback


def tiny_dataset(n: int = 96, seed: int = 0, split: str = "train") -> ImageDataset:
    """Two linearly separable classes of 1x6x6 images (class 1 is brighter)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    base = torch.rand(n, 1, 6, 6, generator=g) * 120
    images = (base + labels.view(-1, 1, 1, 1) * 120).clamp(0, 255).to(torch.uint8)
    return ImageDataset(images=images, labels=labels.long(), name="tiny", split=split, classes=("dark", "bright"))


def tiny_splits() -> dict[str, ImageDataset]:
    return {"train": tiny_dataset(96, 0), "test": tiny_dataset(32, 1, "test")}


def tiny_config(**train_overrides):
    train = {"epochs": 3, "batch_size": 16, "log_every": 2, "eval_every": 1, "num_threads": 1}
    train.update(train_overrides)
    return config_from_dict(
        {
            "model": {"name": "mlp_classifier", "hidden_dims": [8]},
            "data": {"name": "digits"},
            "train": train,
            "seed": 3,
        }
    )


class CrashAt(Callback):
    """Raises (or SIGKILLs the process) when training reaches `step`."""

    def __init__(self, step: int, kill: bool = False) -> None:
        self.step, self.kill = step, kill

    def on_step_end(self, state, logs):
        if state.step == self.step:
            if self.kill:
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError("simulated crash")


class PoisonAt(Callback):
    """Simulates divergence: one weight turns NaN after step `step` (a too-high learning rate)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, state, logs) -> None:
        if state.step == self.step:
            with torch.no_grad():
                next(state.model.parameters()).view(-1)[0] = float("nan")


def train_quietly(root: Path, configs: dict) -> dict[str, Path]:
    """Train each config into root/<name> without TensorBoard or pictures: name -> run dir (the
    module-scoped run fixtures of tests that only need finished runs)."""
    from latentscape.train.api import train_and_evaluate

    mp = pytest.MonkeyPatch()
    mp.setenv("LATENTSCAPE_NO_TENSORBOARD", "1")
    mp.setenv("LATENTSCAPE_PLOTS", "none")
    try:
        return {name: train_and_evaluate(cfg, root / name, quiet=True).path for name, cfg in configs.items()}
    finally:
        mp.undo()
