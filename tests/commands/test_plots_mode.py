"""Numbers first, pictures after: LATENTSCAPE_PLOTS=sync|background|none (issue 15)."""

import json
import time

import pytest

from latentscape.cli import main
from latentscape.config import config_from_dict
from latentscape.errors import ConfigError
from latentscape.train.api import train_and_evaluate
from latentscape.viz.deferred import plots_mode


def _cfg(seed):
    return config_from_dict({
        "model": {"name": "mlp_classifier", "hidden_dims": [8]},
        "data": {"name": "digits", "fraction": 0.1},
        "train": {"epochs": 1, "batch_size": 32, "num_threads": 1, "eval_every": 0, "log_every": 100},
        "seed": seed,
    })


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return [train_and_evaluate(_cfg(s), root / f"r{s}", quiet=True).path for s in (0, 1)]


def _path(runs, out):
    return main(["path", str(runs[0]), str(runs[1]), "--points", "3", "--splits", "test", "--out", str(out), "--threads", "1"])


def test_none_writes_the_numbers_and_no_pictures(runs, tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTSCAPE_PLOTS", "none")
    assert _path(runs, tmp_path / "p") == 0
    assert len(json.loads((tmp_path / "p" / "path.json").read_text())["ts"]) == 3
    assert not list((tmp_path / "p").glob("images/*.png")) and not (tmp_path / "p" / "report.html").exists()


def test_background_returns_with_the_numbers_and_the_pictures_follow(runs, tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTSCAPE_PLOTS", "background")
    assert _path(runs, tmp_path / "p") == 0
    assert (tmp_path / "p" / "path.json").is_file()  # written before the child was forked
    deadline = time.time() + 60
    while not (tmp_path / "p" / "report.html").is_file() and time.time() < deadline:
        time.sleep(0.2)
    assert (tmp_path / "p" / "report.html").is_file() and list((tmp_path / "p").glob("images/path_*.png"))


def test_bad_mode_is_a_config_error(monkeypatch):
    monkeypatch.setenv("LATENTSCAPE_PLOTS", "later")
    with pytest.raises(ConfigError, match="LATENTSCAPE_PLOTS"):
        plots_mode()


@pytest.mark.parametrize("command", ["surface", "hessian"])
def test_plots_flag_none_still_writes_every_number(runs, tmp_path, monkeypatch, command):
    monkeypatch.delenv("LATENTSCAPE_PLOTS", raising=False)
    out = tmp_path / command
    args = {"surface": ["--grid", "3", "--splits", "test"], "hessian": ["--top-k", "1", "--density", "--slq-steps", "5"]}[command]
    assert main([command, str(runs[0]), *args, "--out", str(out), "--plots", "none"]) == 0
    doc = json.loads((out / f"{command}.json").read_text())
    assert doc and not list(out.glob("images/*.png")) and not (out / "report.html").exists()
    if command == "surface":
        assert (out / "surface.npz").is_file() and (out / "surface_test.vtk").is_file()


def test_plots_flag_sync_overrides_the_environment(runs, tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTSCAPE_PLOTS", "none")
    out = tmp_path / "p"
    assert main(["path", str(runs[0]), str(runs[1]), "--points", "3", "--splits", "test", "--out", str(out), "--plots", "sync"]) == 0
    assert (out / "report.html").is_file() and list(out.glob("images/path_*.png"))
