"""FID Inception-v3: torchvision-compatible names and sizes, pool3 output, safe loading checks."""

import pytest
import torch

from latentscape.metrics.features import build_feature_net
from latentscape.nets.weights import WeightsError
from latentscape.nets.inception import FID_WEIGHTS, FIDInceptionV3



@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return FIDInceptionV3().eval()


def test_parameter_count_matches_torchvision_inception3():
    # torchvision's Inception3(aux_logits=False, num_classes=1000) has 23,834,568 parameters.
    assert sum(p.numel() for p in FIDInceptionV3(num_classes=1000).parameters()) == 23_834_568


def test_state_dict_names(net):
    keys = net.state_dict().keys()
    for k in ("Conv2d_1a_3x3.conv.weight", "Conv2d_1a_3x3.bn.running_var", "Mixed_5b.branch_pool.conv.weight",
              "Mixed_6e.branch7x7dbl_5.bn.bias", "Mixed_7c.branch3x3dbl_3b.conv.weight", "fc.weight"):
        assert k in keys
    assert net.fc.weight.shape == (1008, 2048)
    assert not any(k.startswith("AuxLogits") for k in keys)


def test_pool3_features(net):
    # one pass (299 x 299 on CPU is slow): a grayscale image is repeated to RGB
    x = torch.rand(1, 1, 28, 28)
    with torch.no_grad():
        gray = net(x)
    assert gray.shape == (1, 2048)
    assert torch.all(gray >= 0)  # average of ReLU outputs


def test_load_checks(net):
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    state["AuxLogits.fc.weight"] = torch.zeros(1008, 768)  # ignored, as in torchvision files
    other = FIDInceptionV3()
    other.load_fid_state_dict(state, "file")
    assert torch.equal(other.Mixed_7b.branch1x1.conv.weight, net.Mixed_7b.branch1x1.conv.weight)
    broken = dict(state)
    del broken["Mixed_6a.branch3x3.conv.weight"]
    with pytest.raises(WeightsError, match="Mixed_6a.branch3x3.conv.weight"):
        other.load_fid_state_dict(broken, "file")
    broken = dict(state, **{"fc.weight": torch.zeros(1000, 2048)})
    with pytest.raises(WeightsError, match="fc.weight"):
        other.load_fid_state_dict(broken, "file")


def test_missing_weights_offline_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTSCAPE_CACHE", str(tmp_path))
    with pytest.raises(WeightsError, match="not found"):
        build_feature_net({"feature_net": "inception", "inception_weights": str(tmp_path / "none.pth")}, "cub")
    wrong = tmp_path / "pt_inception.pth"
    torch.save({"a": torch.zeros(1)}, wrong)
    with pytest.raises(WeightsError, match="SHA-256"):
        build_feature_net({"feature_net": "inception", "inception_weights": str(wrong)}, "cub")
    assert FID_WEIGHTS.filename == "pt_inception-2015-12-05-6726825d.pth"
