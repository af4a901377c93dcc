"""End to end on tiny synthetic data: a domain classifier run as feature net, a GAN run whose
callback writes pictures and FID against iterations, then the `fid` / `kid` eval metrics."""

import json

import pytest
import torch

from latentscape.config import config_from_dict
from latentscape.data.types import ImageDataset
from latentscape.errors import LatentscapeError
from latentscape.metrics.base import EvalContext, MetricNotApplicable
from latentscape.metrics.features import build_feature_net, domain_feature_net
from latentscape.registry import METRICS
from latentscape.rundir.load import load_run
from latentscape.train.api import train_and_evaluate



def _data(n, seed, split):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 3, (n,), generator=g)
    images = (torch.rand(n, 1, 16, 16, generator=g) * 60 + labels.view(n, 1, 1, 1) * 60).to(torch.uint8)
    return ImageDataset(images, labels, name="toy", split=split, classes=("a", "b", "c"))


def _no_default_device():
    raise AssertionError("FID fell back to the default device instead of the one asked for")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, monkeypatch_module):
    root = tmp_path_factory.mktemp("runs")
    monkeypatch_module.setenv("LATENTSCAPE_CACHE", str(root / "cache"))
    monkeypatch_module.setenv("LATENTSCAPE_NO_TENSORBOARD", "1")
    # The HTML report (tested with the viz package) takes longer than these runs themselves.
    monkeypatch_module.setattr("latentscape.train.api._write_report", lambda run: None)
    # Every run and context here asks for the CPU: FID (the training callback, the reference
    # statistics, the eval metric) must compute there, never on "the GPU when present".
    monkeypatch_module.setattr("latentscape.metrics.fid.default_device", _no_default_device)
    data = {"train": _data(64, 0, "train"), "test": _data(48, 1, "test")}
    train = {"batch_size": 16, "device": "cpu", "eval_batch_size": 32, "log_every": 4, "deterministic": False}
    clf_cfg = config_from_dict(
        {"model": {"name": "mlp_classifier", "hidden_dims": [8]}, "train": {**train, "epochs": 1}}
    )
    train_and_evaluate(clf_cfg, root / "clf", data=data, quiet=True)
    gan_cfg = config_from_dict({
        "model": {
            "name": "gan", "loss": "lsgan", "latent_dim": 4, "width": 4,
            "pictures": {"every": 2, "grid_size": 4, "fid_every": 2, "fid_samples": 40, "sweep_steps": 3,
                         "interpolation_steps": 3, "feature_run": str(root / "clf")},
        },
        "train": {**train, "epochs": 100, "max_steps": 8},
    })
    train_and_evaluate(gan_cfg, root / "gan", data=data, quiet=True)
    vae_cfg = config_from_dict({
        "model": {"name": "vae", "net": "dcgan", "width": 4, "latent_dim": 3},
        "train": {**train, "epochs": 1},
    })
    train_and_evaluate(vae_cfg, root / "vae", data=data, quiet=True, callbacks=[])
    return root, data


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_training_pictures_and_fid_log(runs):
    root, _ = runs
    images = root / "gan" / "images"
    for name in ("samples_step2.png", "samples_step4.png", "interpolation.png", "interpolation.gif",
                 "sweep_range1.png", "sweep_range3.png", "fid_vs_iteration.png"):
        assert (images / name).is_file(), name
    rows = [json.loads(line) for line in (root / "gan" / "metrics.jsonl").read_text().splitlines()]
    fid_rows = [r for r in rows if r["split"] == "fid"]
    assert [r["iteration"] for r in fid_rows] == [2, 4]  # 8 steps at n_critic=1: 4 iterations
    assert all(r["fid"] >= 0 for r in fid_rows)
    assert list((root / "cache" / "fid_stats").glob("toy-test-n48-*-domain-*.pt"))


def _ctx(root, data, run="gan", **kw):
    loaded = load_run(root / run)
    options = {"feature_run": str(root / "clf"), **kw.pop("options", {})}
    return EvalContext(loaded, data["test"], data["train"], "test", torch.device("cpu"),
                       num_samples=60, options=options, **kw)


def test_fid_kid_eval_metrics(runs):
    root, data = runs
    out = METRICS.get("fid")(_ctx(root, data, batch_size=7))
    same = METRICS.get("fid")(_ctx(root, data, batch_size=64))
    assert out["fid"] > 0
    assert out["fid"] == pytest.approx(same["fid"], rel=1e-6)  # batch size does not matter
    assert out["fid_num_samples"] == "60" and out["fid_reference"] == "toy/test (48 images)"
    assert out["fid_feature_net"].startswith("domain-")
    kid = METRICS.get("kid")(_ctx(root, data, options={"kid_subset_size": "20", "kid_subsets": "5"}))
    assert kid["kid_subsets"] == "5 x 20" and kid["kid_std"] >= 0
    train_ref = METRICS.get("fid")(_ctx(root, data, options={"reference_split": "train"}))
    assert train_ref["fid_reference"] == "toy/train (64 images)"
    assert train_ref["fid"] != pytest.approx(out["fid"])


def test_fid_works_for_a_vae(runs):
    root, data = runs
    out = METRICS.get("fid")(_ctx(root, data, run="vae"))
    again = METRICS.get("fid")(_ctx(root, data, run="vae", batch_size=13))
    assert out["fid"] > 0 and out["fid"] == pytest.approx(again["fid"], rel=1e-6)


def test_domain_net_identity_and_errors(runs):
    root, data = runs
    a = domain_feature_net(root / "clf")
    b = build_feature_net({"feature_run": str(root / "clf")}, "toy")
    assert a.id == b.id and a.dim == 8
    assert a(torch.rand(3, 1, 16, 16)).shape == (3, 8)
    with pytest.raises(LatentscapeError, match="expects images"):
        a(torch.rand(3, 1, 28, 28))
    with pytest.raises(LatentscapeError, match="fid-net"):
        build_feature_net({}, "no_such_dataset")
    with pytest.raises(LatentscapeError, match="allowed"):
        build_feature_net({"feature_net": "resnet"}, "toy")
    clf = load_run(root / "clf")
    ctx = EvalContext(clf, data["test"], data["train"], "test", torch.device("cpu"), num_samples=10)
    with pytest.raises(MetricNotApplicable):
        METRICS.get("fid")(ctx)


@pytest.mark.parametrize("feature_run", [None, "missing-run"])
def test_a_gan_with_fid_but_no_feature_net_is_refused_before_its_run_folder(runs, tmp_path, feature_run):
    """FID during training needs a feature net: without one, one line naming `latentscape fid-net`
    and the switch that turns FID off, and no run folder (not even a hidden staging one)."""
    _, data = runs
    pictures = {"fid_every": 2, "fid_samples": 40}
    if feature_run:
        pictures["feature_run"] = str(tmp_path / feature_run)
    cfg = config_from_dict({
        "model": {"name": "gan", "loss": "lsgan", "latent_dim": 4, "width": 4, "pictures": pictures},
        "train": {"batch_size": 16, "device": "cpu", "epochs": 1, "max_steps": 2},
    })
    with pytest.raises(LatentscapeError) as err:
        train_and_evaluate(cfg, tmp_path / "gan", data=data, quiet=True)
    message = str(err.value)
    assert "\n" not in message
    assert "`latentscape fid-net toy`" in message and "model.pictures.fid_every=0" in message
    assert ("not a run directory" in message) == bool(feature_run)
    assert [p.name for p in tmp_path.iterdir()] == []  # nothing written
