"""Reconstruction and likelihood metrics: formulas, batch-size independence, applicability."""

from types import SimpleNamespace

import pytest
import torch

from latentscape.config import config_from_dict
from latentscape.data.types import ImageDataset
from latentscape.metrics.base import EvalContext, MetricNotApplicable
from latentscape.rundir.model import DataInfo, LatentModel
from latentscape.registry import METRICS, MODELS


def dataset(n=20):
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 1, 8, 8), generator=g, dtype=torch.uint8)
    return ImageDataset(images, torch.arange(n) % 3, name="t", split="test")


def ctx(model, batch_size=7, **options):
    return EvalContext(
        loaded=SimpleNamespace(model=model), dataset=dataset(), train_dataset=None, split="test",
        device=torch.device("cpu"), batch_size=batch_size, seed=0, options=options,
    )


class Halver(LatentModel):
    """reconstruct(x) = x / 2: known errors."""

    def reconstruct(self, x):
        return x / 2

    def evaluate_batch(self, batch):
        return {"loss": batch.x.flatten(1).mean(1)}


def test_reconstruction_psnr_ssim_formulas():
    c = ctx(Halver())
    x = dataset().float_images()
    err = (x - x / 2).flatten(1)
    rec = METRICS.get("reconstruction")(c)
    assert rec["recon_mae"] == pytest.approx(err.abs().mean().item(), rel=1e-6)
    assert rec["recon_mse"] == pytest.approx(err.square().mean().item(), rel=1e-6)
    psnr = METRICS.get("psnr")(c)["psnr"]
    assert psnr == pytest.approx((10 * torch.log10(1 / err.square().mean(1))).mean().item(), rel=1e-5)
    assert 0 < METRICS.get("ssim")(c)["ssim"] < 1
    assert METRICS.get("loss")(c)["loss"] == pytest.approx(x.mean().item(), rel=1e-6)


class Identity(Halver):
    def reconstruct(self, x):
        return x


def test_perfect_reconstruction_has_ssim_one():
    assert METRICS.get("ssim")(ctx(Identity()))["ssim"] == pytest.approx(1.0, abs=1e-6)
    assert METRICS.get("ssim")(ctx(Identity(), ssim_window="5"))["ssim_w5"] == pytest.approx(1.0, abs=1e-6)


def test_ssim_window_option_changes_the_value():
    a = METRICS.get("ssim")(ctx(Halver()))["ssim"]
    assert METRICS.get("ssim")(ctx(Halver(), ssim_window="11")) == {"ssim": a}
    assert METRICS.get("ssim")(ctx(Halver(), ssim_window="3"))["ssim_w3"] != pytest.approx(a)


def _vae():
    torch.manual_seed(0)
    cfg = config_from_dict({"model": {"name": "vae", "hidden_dims": [16], "latent_dim": 2}}).model
    return MODELS.get("vae").build(cfg, DataInfo((1, 8, 8), 3, 20)).eval()


def test_metrics_do_not_depend_on_batch_size():
    vae = _vae()
    for name in ("reconstruction", "psnr", "ssim"):
        a, b = METRICS.get(name)(ctx(vae, 7)), METRICS.get(name)(ctx(vae, 20))
        assert a == pytest.approx(b, rel=1e-5)


def test_elbo_and_iwae_are_seeded_and_ordered():
    vae = _vae()
    e1, e2 = METRICS.get("elbo")(ctx(vae)), METRICS.get("elbo")(ctx(vae))
    assert e1 == e2 and e1["nelbo"] == pytest.approx(e1["recon_nll"] + e1["kl"])
    iwae = METRICS.get("iwae")(ctx(vae, iwae_k="64"))
    assert iwae["iwae_nll"] < e1["nelbo"]
    assert METRICS.get("iwae")(ctx(vae, iwae_k="64")) == iwae


def test_not_applicable_metrics():
    with pytest.raises(MetricNotApplicable, match="not a VAE"):
        METRICS.get("elbo")(ctx(Halver()))
    with pytest.raises(MetricNotApplicable, match="cannot reconstruct"):
        METRICS.get("psnr")(ctx(LatentModel()))
