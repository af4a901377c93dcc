import os
from pathlib import Path

import numpy as np
import pytest
import torch

from latentscape.data.types import Batch
from latentscape.landscape.core.metrics import PATH_METRICS, resolve_metrics, ssim_per_example
from latentscape.landscape.core.summaries import summarize


def test_ssim_is_one_for_identical_images_and_drops_with_noise():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 1, 16, 16, generator=g)
    assert torch.allclose(ssim_per_example(x, x), torch.ones(3), atol=1e-5)
    noisy = (x + 0.3 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    s = ssim_per_example(noisy, x)
    assert s.shape == (3,) and torch.all(s < 0.9)


def test_summary_barrier_signs():
    loss = summarize(np.array([0.1, 0.5, 0.2]), "loss")
    assert loss["barrier"] == pytest.approx(0.3) and loss["mean"] == pytest.approx(0.8 / 3)
    acc = summarize(np.array([0.99, 0.7, 0.98]), "accuracy")
    assert acc["barrier"] == pytest.approx(0.28)
    # ends taken at given indices (extended range 0..1.5)
    ext = summarize(np.array([0.1, 0.3, 0.2, 0.9]), "loss", ends=(0, 2))
    assert ext["end"] == 0.2 and ext["barrier"] == pytest.approx(0.7)


class _AE(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Conv2d(1, 1, 1)

    def reconstruct(self, x):
        return torch.sigmoid(self.lin(x))

    def evaluate_batch(self, batch):
        return {"loss": (self.reconstruct(batch.x) - batch.x).abs().flatten(1).mean(1)}


def test_autoencoder_gets_model_and_ssim_metrics():
    m = _AE()
    names = [n for n in ("model", "ssim") if PATH_METRICS.get(n)(m) is not None]
    assert names == ["model", "ssim"]
    x = torch.rand(2, 1, 8, 8)
    batch = Batch(x, torch.zeros(2, dtype=torch.long), torch.arange(2))
    out = {}
    for fn in resolve_metrics(m, ["model", "ssim"])[0]:
        out.update(fn(m, batch))
    assert set(out) == {"loss", "ssim"} and out["ssim"].shape == (2,)
    with pytest.raises(Exception):
        resolve_metrics(torch.nn.Linear(2, 2), ["ssim"])  # not an autoencoder


def _heads_dir():
    root = Path(os.environ.get("LATENTSCAPE_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data")
    return root / "weights" / "lpips-v0.1"


@pytest.mark.shared_data
@pytest.mark.skipif(not (_heads_dir() / "alex.pth").is_file(), reason="LPIPS heads not in shared/data")
def test_lpips_metric_mechanics_with_random_backbone(monkeypatch):
    import latentscape.metrics.lpips as lp

    real = lp.LPIPS
    monkeypatch.setattr(lp, "LPIPS", lambda net="alex": real(net, heads_path=_heads_dir() / f"{net}.pth", pretrained_backbone=False))
    m = _AE()
    (fn,), _ = resolve_metrics(m, ["lpips"])
    x = torch.rand(2, 1, 8, 8)
    d = fn(m, Batch(x, torch.zeros(2, dtype=torch.long), torch.arange(2)))["lpips"]
    assert d.shape == (2,) and torch.all(d >= 0)
