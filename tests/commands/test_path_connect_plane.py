"""`latentscape path`, `connect` and `plane` end to end on tiny digits runs (seconds)."""

import json

import numpy as np
import pytest
import torch

from latentscape.cli import main
from latentscape.config import config_from_dict
from latentscape.rundir.load import load_run
from latentscape.train.api import train_and_evaluate


# On the CPU the path's endpoints reproduce the run's own evaluation bit for bit; CUDA kernels may
# reduce in another order for another batch layout, so there the check is to float tolerance.
ON_CUDA = torch.cuda.is_available()


def _same(a: float, b: float) -> bool:
    return a == pytest.approx(b, rel=1e-6, abs=1e-9) if ON_CUDA else a == b


def _cfg(seed, hidden=16):
    return config_from_dict(
        {
            "model": {"name": "mlp_classifier", "hidden_dims": [hidden]},
            "data": {"name": "digits", "fraction": 0.4},
            "train": {"epochs": 2, "batch_size": 32, "eval_every": 0, "num_threads": 1, "log_every": 1000, "optimizer": {"lr": 0.01}},
            "seed": seed,
        }
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for name, seed, hidden in (("a", 0, 16), ("b", 1, 16), ("c", 2, 16), ("other", 3, 12)):
        out[name] = train_and_evaluate(_cfg(seed, hidden), root / name, quiet=True).path
    return out


def test_path_between_minima_reproduces_endpoints_and_writes_outputs(runs, tmp_path):
    out = tmp_path / "p"
    assert main(["path", str(runs["a"]), str(runs["b"]), "--points", "5", "--out", str(out), "--threads", "1"]) == 0
    doc = json.loads((out / "path.json").read_text())
    assert doc["ts"] == [0.0, 0.25, 0.5, 0.75, 1.0]
    for i, run in ((0, runs["a"]), (-1, runs["b"])):
        final = json.loads((run / "eval" / "final.json").read_text())
        for split in ("train", "test"):
            for m in ("loss", "accuracy"):
                assert _same(doc["metrics"][split][m][i], final[split][m])  # bit for bit on the CPU
    s = doc["summary"]["test"]["loss"]
    losses = np.array(doc["metrics"]["test"]["loss"])
    assert s["max"] == losses.max() and s["barrier"] == pytest.approx(losses.max() - max(losses[0], losses[-1]))
    assert doc["length"] > 0
    assert (out / "images" / "path_loss.png").is_file() and (out / "images" / "path_accuracy.png").is_file()
    assert (out / "report.html").is_file()


def test_path_range_and_init_cases(runs, tmp_path):
    out = tmp_path / "p"
    assert main(["path", f"{runs['a']}@init", f"{runs['b']}@init", "--points", "4", "--range", "0,1.5", "--out", str(out), "--splits", "test"]) == 0
    doc = json.loads((out / "path.json").read_text())
    assert doc["ts"][-1] == 1.5 and list(doc["metrics"]) == ["test"]
    init_final = load_run(f"{runs['a']}@init").model
    assert init_final is not None


def test_different_architectures_are_one_clear_error(runs, tmp_path, capsys):
    assert main(["path", str(runs["a"]), str(runs["other"]), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "different architectures" in err and "net.features.1.weight" in err
    assert len(err.splitlines()) == 1


def test_connect_then_path_and_plane_along_the_curve(runs, tmp_path):
    curve_dir = tmp_path / "curve"
    assert main(["connect", str(runs["a"]), str(runs["b"]), "train.num_threads=1", "--bends", "1", "--epochs", "1", "--out", str(curve_dir)]) == 0
    loaded = load_run(curve_dir)
    assert loaded.config.model.name == "curve" and loaded.config.model.bends == 1
    out = tmp_path / "cp"
    assert main(["path", "--curve", str(curve_dir), "--points", "3", "--out", str(out)]) == 0
    doc = json.loads((out / "path.json").read_text())
    final_a = json.loads((runs["a"] / "eval" / "final.json").read_text())
    final_b = json.loads((runs["b"] / "eval" / "final.json").read_text())
    assert _same(doc["metrics"]["test"]["loss"][0], final_a["test"]["loss"])
    assert _same(doc["metrics"]["test"]["loss"][-1], final_b["test"]["loss"])
    assert doc["kind"] == "curve"
    title = json.loads((out / "summary.json").read_text())["title"]  # the runs it connects, not "from start to end"
    assert title == f"Loss along the trained Bezier curve (1 bend) from {runs['a'].name} to {runs['b'].name}"
    pl = tmp_path / "pl"
    assert main(["plane", "--curve", str(curve_dir), "--grid", "3", "--out", str(pl), "--splits", "test"]) == 0
    plane = json.loads((pl / "plane.json").read_text())
    assert np.array(plane["values"]["test"]["loss"]).shape == (3, 3)
    assert len(plane["curve_xy"]) == 61 and (pl / "images" / "plane_loss_test.png").is_file()
    assert list(plane["points"]) == [runs["a"].name, runs["b"].name, "bend"]  # named after the runs the curve connects
    # the finding is the comparison the plane is drawn for, measured on both paths
    line, curve = plane["paths"]["line"], plane["paths"]["curve"]
    assert line["values"]["test"]["loss"][0] == doc["metrics"]["test"]["loss"][0]  # both start at A
    assert _same(curve["values"]["test"]["loss"][-1], final_b["test"]["loss"])
    finding = json.loads((pl / "summary.json").read_text())["finding"]
    assert f"barrier of the straight line is {line['summary']['test']['loss']['barrier']:.3g}" in finding
    assert "trained Bezier curve (1 bend)" in finding and f"{curve['summary']['test']['loss']['barrier']:.3g}" in finding


def test_plane_through_three_runs(runs, tmp_path):
    out = tmp_path / "pl"
    assert main(["plane", str(runs["a"]), str(runs["b"]), str(runs["c"]), "--grid", "4", "--out", str(out), "--splits", "test"]) == 0
    doc = json.loads((out / "plane.json").read_text())
    pts = list(doc["points"].values())
    assert pts[0] == [0.0, 0.0] and abs(pts[1][1]) < 1e-4  # B lies on the u axis
    grid = np.array(doc["values"]["test"]["accuracy"])
    assert grid.shape == (4, 4) and np.all((0 <= grid) & (grid <= 1))
    assert doc["grid_x"][0] < 0 < pts[1][0] < doc["grid_x"][-1]  # margins around the points
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kind"] == "plane" and "straight line a -> b" in summary["finding"] and "broken line through c" in summary["finding"]
    assert summary["metrics"]["line test loss barrier"] == doc["paths"]["line"]["summary"]["test"]["loss"]["barrier"]
