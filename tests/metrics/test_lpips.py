"""LPIPS with a random backbone and the real v0.1 heads: identity, symmetry, positivity, head and
backbone loading checks (names, shapes, hashes), and a clear error when weights are missing."""

import pytest
import torch

from latentscape.metrics.lpips import LPIPS, unit_normalize
from latentscape.nets.weights import WeightsError
from latentscape.nets.lpips_backbones import BACKBONES, LPIPSBackbone




@pytest.fixture
def heads(shared_data_dir):
    path = shared_data_dir / "weights" / "lpips-v0.1"
    if not (path / "alex.pth").is_file():
        pytest.skip("no LPIPS v0.1 heads in ../shared/data")
    return path


@pytest.mark.parametrize("net", ["alex", "vgg", "squeeze"])
def test_backbone_taps(net):
    b = LPIPSBackbone(net)
    outs = b(torch.rand(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == list(BACKBONES[net].channels)
    assert all(k.startswith("features.") for k in b.state_dict())  # torchvision names


def test_unit_normalize():
    x = torch.randn(2, 5, 3, 3)
    n = unit_normalize(x).pow(2).sum(1)
    torch.testing.assert_close(n, torch.ones(2, 3, 3))


@pytest.mark.shared_data
@pytest.mark.parametrize("net", ["alex", "squeeze"])
def test_lpips_properties(net, heads):
    torch.manual_seed(0)
    lp = LPIPS(net, heads_path=heads / f"{net}.pth", pretrained_backbone=False)
    x, y = torch.rand(3, 3, 32, 32), torch.rand(3, 3, 32, 32)
    d = lp(x, y)
    assert d.shape == (3,)
    assert torch.all(d > 0)
    torch.testing.assert_close(lp(x, x), torch.zeros(3))
    torch.testing.assert_close(lp(y, x), d)
    # a small perturbation is closer than an unrelated image
    assert torch.all(lp(x, (x + 0.02 * torch.randn_like(x)).clamp(0, 1)) < d)
    gray = lp(x[:, :1], y[:, :1])  # grayscale inputs are repeated to RGB
    assert gray.shape == (3,) and torch.all(gray > 0)


@pytest.mark.shared_data
def test_heads_loading_checks_shapes(tmp_path, heads):
    lp = LPIPS("alex", heads_path=heads / "alex.pth", pretrained_backbone=False)
    official = torch.load(heads / "alex.pth", map_location="cpu", weights_only=True)
    assert torch.equal(lp.heads["lin0"].model[1].weight, official["lin0.model.1.weight"])
    assert all((h.model[1].weight >= 0).all() for h in lp.heads.values())
    with pytest.raises(WeightsError, match="lin1.model.1.weight"):
        lp.load_heads(heads / "vgg.pth")  # same names; lin0 fits, lin1 has 128 channels, not 192
    bad = tmp_path / "bad.pth"
    torch.save({"lin0.model.1.weight": torch.zeros(1, 64, 1, 1)}, bad)
    with pytest.raises(WeightsError, match="not LPIPS heads"):
        lp.load_heads(bad)
    with pytest.raises(WeightsError, match="MD5"):
        LPIPS("alex", heads_path=bad, pretrained_backbone=False)


def test_missing_backbone_weights_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTSCAPE_CACHE", str(tmp_path))
    with pytest.raises(WeightsError, match="not found"):
        LPIPS("alex", backbone_weights=tmp_path / "nope.pth")


def test_backbone_loads_torchvision_style_file(tmp_path):
    src = LPIPSBackbone("squeeze")
    state = {**src.state_dict(), "classifier.1.weight": torch.zeros(1000, 512, 1, 1)}
    dst = LPIPSBackbone("squeeze")
    dst.load_torchvision_state_dict(state, "file")
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v)
    with pytest.raises(WeightsError):
        LPIPSBackbone("alex").load_torchvision_state_dict(state, "file")


@pytest.mark.shared_data
def test_mean_lpips_of_reconstructions(heads):
    from types import SimpleNamespace

    from latentscape.data.types import ImageDataset
    from latentscape.metrics.base import EvalContext, MetricNotApplicable
    from latentscape.metrics.lpips import lpips_metric, mean_lpips_of_reconstructions

    torch.manual_seed(0)
    lp = LPIPS("squeeze", heads_path=heads / "squeeze.pth", pretrained_backbone=False)
    data = ImageDataset(torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8), torch.zeros(5, dtype=torch.long))
    perfect = SimpleNamespace(reconstruct=lambda x: x)
    blurry = SimpleNamespace(reconstruct=lambda x: torch.nn.functional.avg_pool2d(x, 3, 1, 1))
    assert mean_lpips_of_reconstructions(perfect, data, lp, 2, torch.device("cpu")) == pytest.approx(0.0, abs=1e-7)
    assert mean_lpips_of_reconstructions(blurry, data, lp, 2, torch.device("cpu")) > 0
    loaded = SimpleNamespace(model=torch.nn.Linear(1, 1), config=SimpleNamespace(model=SimpleNamespace(name="gan")))
    with pytest.raises(MetricNotApplicable):
        lpips_metric(EvalContext(loaded, data, None, "test", torch.device("cpu")))
