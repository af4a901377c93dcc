"""The reference nets and on-device augmentation on CUDA (`make test-gpu`; skipped without CUDA)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from latentscape.cli import main
from latentscape.data.augment import CropFlip

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (run `make test-gpu` on a GPU machine)"),
]

COMMON = ["data.name=digits", "data.fraction=0.3", "train.epochs=1", "train.batch_size=32", "train.eval_every=0",
          "model.name=resnet", "model.depth=8", "model.width=4", "model.mean=[0.5]", "model.std=[0.25]",
          "train.optimizer.name=sgd", "train.optimizer.lr=0.05"]


def _train(tmp_path: Path, name: str, device: str, *extra: str) -> dict:
    config = tmp_path / "base.yaml"
    config.write_text("model:\n  name: resnet\n")
    run = tmp_path / name
    assert main(["train", str(config), *COMMON, *extra, f"train.device={device}", "--run-dir", str(run)]) == 0
    return json.loads((run / "eval" / "final.json").read_text())


def test_resnet_trains_on_cuda_like_on_cpu(tmp_path):
    gpu, cpu = _train(tmp_path, "gpu", "cuda"), _train(tmp_path, "cpu", "cpu")
    for split in ("train", "test"):
        for metric, value in cpu[split].items():
            assert gpu[split][metric] == pytest.approx(value, rel=2e-2, abs=2e-3), (split, metric)


def test_augmented_cuda_runs_repeat_exactly(tmp_path):
    """CUDA draws other crops than the CPU for the same seed (another generator), but the same
    ones every time: two augmented CUDA runs end with the same numbers."""
    first = _train(tmp_path, "a", "cuda", "data.augment=true", "train.deterministic=true")
    second = _train(tmp_path, "b", "cuda", "data.augment=true", "train.deterministic=true")
    assert first["test"] == second["test"] and first["train"] == second["train"]


def test_crop_flip_on_cuda_takes_windows_of_the_padded_image():
    x = torch.randint(1, 256, (64, 3, 8, 8), dtype=torch.uint8, device="cuda")
    out = CropFlip(padding=2)(x, torch.Generator("cuda").manual_seed(0))
    assert out.device == x.device and out.shape == x.shape
    for img, aug in zip(x.cpu(), out.cpu()):
        padded = [torch.nn.functional.pad(src, (2, 2, 2, 2)) for src in (img, img.flip(-1))]
        assert any(torch.equal(aug, p[:, y : y + 8, z : z + 8]) for p in padded for y in range(5) for z in range(5))
