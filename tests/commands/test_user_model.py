"""Your own model on the command line: `--model tests/user_models/resnet.py:build`, weights
files (.pt with weights_only, .safetensors), a registered dataset and --loss, through every
landscape command; the numbers against a plain state-dict-per-point loop."""

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from latentscape.cli import main
from latentscape.config import DataConfig
from latentscape.data.registry import load_split

FACTORY = str(Path(__file__).resolve().parents[1] / "user_models" / "resnet.py") + ":build"
ARGS = '{"width": 4}'
DATA = ["--data", "digits", "--data-opt", "fraction=0.2"]


def _build(width=4):
    import importlib.util

    spec = importlib.util.spec_from_file_location("user_resnet_for_tests", FACTORY.rsplit(":", 1)[0])
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.build(width=width)


def _split(name):
    return load_split(DataConfig(name="digits", fraction=0.2), name)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """Four weight files of the user's ResNet along a short training on digits (.pt and .safetensors)."""
    from safetensors.torch import save_file

    root = tmp_path_factory.mktemp("w")
    train = _split("train")
    x, y = train.images.float() / 255, train.labels
    torch.manual_seed(0)
    net = _build()
    opt = torch.optim.SGD(net.parameters(), lr=0.2)
    files = []
    for k in range(4):
        for i in range(0, 128, 32):
            opt.zero_grad()
            F.cross_entropy(net(x[i : i + 32]), y[i : i + 32]).backward()
            opt.step()
        state = {n: t.detach().clone() for n, t in net.state_dict().items()}
        path = root / (f"w{k}.safetensors" if k == 1 else f"w{k}.pt")
        if k == 1:
            save_file(state, str(path))
        else:
            torch.save(state if k != 2 else {"state_dict": state, "epoch": 2}, path)  # a checkpoint dict too
        files.append(path)
    return files


def _plain_loss(state, train, test):
    """Load the state, recompute BatchNorm on the whole training split (one batch), test loss."""
    net = _build()
    net.load_state_dict(state)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    net.train()
    with torch.no_grad():
        net(train.images.float() / 255)
        net.eval()
        return float(F.cross_entropy(net(test.images.float() / 255), test.labels))


def _state(path):
    from latentscape.landscape.studies.user_model import read_weights_file

    return read_weights_file(path)


def test_path_with_your_own_model_matches_a_state_dict_loop(weights, tmp_path):
    out = tmp_path / "p"
    assert main(["path", "--model", FACTORY, "--model-args", ARGS, str(weights[0]), str(weights[1]), *DATA, "--points", "3",
                 "--splits", "test", "--out", str(out), "--plots", "none", "--threads", "1"]) == 0
    doc = json.loads((out / "path.json").read_text())
    train, test = _split("train"), _split("test")
    a, b = _state(weights[0]), _state(weights[1])
    params = {n for n, _ in _build().named_parameters()}
    for i, t in enumerate(doc["ts"]):
        state = {k: ((1 - t) * a[k] + t * b[k] if k in params else a[k]) for k in a}
        assert doc["metrics"]["test"]["loss"][i] == pytest.approx(_plain_loss(state, train, test), rel=1e-5)
    assert set(doc["metrics"]["test"]) == {"loss", "accuracy"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kind"] == "path" and summary["model"] == "build" and summary["dataset"] == "digits"
    assert doc["user_model"]["loss"] == "cross_entropy" and (out / "grid.npz").is_file()


def test_every_landscape_command_takes_your_own_model(weights, tmp_path, capsys):
    common = ["--model", FACTORY, "--model-args", ARGS, *DATA, "--plots", "none", "--threads", "1"]
    w = [str(p) for p in weights]
    assert main(["plane", *w[:3], *common, "--grid", "3", "--compare-points", "3", "--splits", "test", "--out", str(tmp_path / "pl")]) == 0
    plane = json.loads((tmp_path / "pl" / "summary.json").read_text())
    assert plane["kind"] == "plane" and "broken line through w2.pt" in plane["finding"]
    assert main(["surface", w[3], *common, "--grid", "3", "--splits", "test", "--metrics", "loss", "--out", str(tmp_path / "s")]) == 0
    surf = json.loads((tmp_path / "s" / "surface.json").read_text())
    assert np.array(surf["values"]["test"]["loss"]).shape == (3, 3)
    assert surf["values"]["test"]["loss"][1][1] == pytest.approx(_plain_loss(_state(weights[3]), _split("train"), _split("test")), rel=1e-5)
    assert main(["trajectory", *w, *common, "--grid", "3", "--splits", "test", "--out", str(tmp_path / "t")]) == 0
    assert json.loads((tmp_path / "t" / "summary.json").read_text())["kind"] == "trajectory"
    assert main(["hessian", w[3], *common, "--top-k", "1", "--batch-size", "64", "--out", str(tmp_path / "h")]) == 0
    h = json.loads((tmp_path / "h" / "hessian.json").read_text())
    assert h["complete"] and h["top_eigenvalues"]["values"][0] > 0 and h["objective"].startswith("CrossEntropyLoss()")
    assert main(["path", *w[:2], *common, "--loss", "mse", "--points", "2", "--splits", "test", "--out", str(tmp_path / "mse")]) == 0
    mse = json.loads((tmp_path / "mse" / "path.json").read_text())
    assert set(mse["metrics"]["test"]) == {"loss"} and 0 < mse["metrics"]["test"]["loss"][0] < 10


@pytest.mark.parametrize(
    "spec,args,message",
    [
        (FACTORY.replace(":build", ":nope"), None, "has no 'nope'"),
        (FACTORY.replace(":build", ":not_a_model"), None, "returned a int, not a torch.nn.Module"),
        ("no/such/file.py:build", None, "no such file"),
        (FACTORY, '{"width": 6}', "'stem.0.weight' has shape (4, 1, 3, 3), the model needs (6, 1, 3, 3)"),
        (FACTORY, "[1]", "JSON object"),
    ],
)
def test_bad_model_options_are_one_line(weights, tmp_path, capsys, spec, args, message):
    argv = ["surface", str(weights[0]), "--model", spec, *DATA, "--grid", "3", "--out", str(tmp_path / "x")]
    if args:
        argv[argv.index("--model") + 2 : argv.index("--model") + 2] = ["--model-args", args]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    if "stem.0.weight" in message:
        assert "--model" in err and "w0.pt" in err  # names the file and the model it does not fit


def test_weights_files_never_run_code(tmp_path, capsys):
    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    bad = tmp_path / "evil.pt"
    with open(bad, "wb") as fh:
        pickle.dump({"stem.0.weight": Evil()}, fh)
    assert main(["surface", str(bad), "--model", FACTORY, *DATA, "--out", str(tmp_path / "x")]) == 2
    captured = capsys.readouterr()
    assert "owned" not in captured.out and "evil.pt" in captured.err and len(captured.err.strip().splitlines()) == 1
    assert main(["surface", str(bad), "--loss", "mse", "--out", str(tmp_path / "y")]) == 2  # --loss without --model
    assert "--loss applies with --model" in capsys.readouterr().err
