"""The autoencoder-family configs match their studies and build on their datasets' shapes."""

from pathlib import Path

import pytest
import yaml

from latentscape.config import load_config
from latentscape.models.autoencoder import VAE, Autoencoder
from latentscape.rundir.model import DataInfo
from latentscape.registry import MODELS

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SHAPES = {"mnist": (1, 28, 28), "fashion-mnist": (1, 28, 28), "cifar10": (3, 32, 32), "celeba": (3, 64, 64), "shapes": (1, 64, 64)}
AE_FAMILY = sorted(
    p for p in CONFIGS.glob("*.yaml")
    if (yaml.safe_load(p.read_text()) or {}).get("model", {}).get("name") in ("ae", "vae")
)


def _load(name):
    return load_config(CONFIGS / name)


def test_study_settings():
    fc = _load("mnist_fc_vae.yaml")
    assert (fc.model.net, fc.model.hidden_dims, fc.model.latent_dim, fc.model.likelihood) == ("fc", (400,), 20, "bernoulli")
    fm = _load("fmnist_fcconv_vae.yaml")
    assert (fm.model.net, fm.model.latent_dim, fm.model.hidden_dims, fm.model.decoder_hidden_dims) == ("fcconv", 10, (32,), (118,))
    assert (fm.train.batch_size, fm.train.epochs, fm.train.optimizer.lr, fm.seed) == (512, 30, 1e-3, 42)
    for latent in (16, 128, 1024):
        assert _load(f"cifar10_ae_l{latent}.yaml").model.latent_dim == latent
        for beta in ("0.8", "1.0", "1.2"):
            m = _load(f"cifar10_vae_l{latent}_beta{beta}.yaml").model
            assert (m.latent_dim, m.beta, m.beta_schedule) == (latent, float(beta), "constant")
    lin = _load("cifar10_vae_l128_linear.yaml").model
    assert lin.beta_schedule == "linear" and lin.warmup_steps == 20 * 196
    for loss in ("mae", "laplacian"):
        m = _load(f"celeba64_ae_{loss}.yaml").model
        assert (m.net, m.latent_dim, m.losses) == ("celeba64", 128, {loss: 1.0})


@pytest.mark.parametrize("path", AE_FAMILY, ids=[p.name for p in AE_FAMILY])
def test_builds_on_its_dataset_shape(path):
    cfg = load_config(path)
    model = MODELS.get(cfg.model.name).build(cfg.model, DataInfo(SHAPES[cfg.data.name], 10, 100))
    assert isinstance(model, VAE if cfg.model.name == "vae" else Autoencoder)
