"""A folder with every kind of run and analysis, made by the real commands on the embedded `digits`
data (tiny models, ~1 minute on 2 cores): the index and browser tests open it.

Kinds: run, connect, path (line and curve), plane, surface, trajectory, hessian, fge, probe, tune,
demo. Every analysis folder holds the summary.json its command wrote (docs/ARCHITECTURE.md,
"Reports"): nothing here is a fixture.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from latentscape.cli import main

KINDS = ("run", "connect", "path", "plane", "surface", "trajectory", "hessian", "fge", "probe", "tune", "demo")


def _config(path: Path, model: dict, **train) -> Path:
    raw = {
        "model": model,
        "data": {"name": "digits", "fraction": 0.3},
        "train": {"epochs": 2, "batch_size": 32, "num_threads": 1, "eval_every": 1, "log_every": 5, **train},
        "seed": 0,
    }
    path.write_text(yaml.safe_dump(raw))
    return path


def _run(*args: str) -> None:
    assert main([*args]) == 0, args


def make_every_kind(root: Path) -> dict[str, Path]:
    """Run every command into `root`; returns the folder of each kind."""
    mp = pytest.MonkeyPatch()
    mp.setenv("LATENTSCAPE_NO_TENSORBOARD", "1")
    try:
        return _make(root)
    finally:
        mp.undo()


def _make(root: Path) -> dict[str, Path]:
    root.mkdir(parents=True, exist_ok=True)
    runs = root / "runs"
    mlp = _config(root / "mlp.yaml", {"name": "mlp_classifier", "hidden_dims": [8]})
    a, b = runs / "a", runs / "b"
    _run("train", str(mlp), "seed=0", "train.keep_every=10", "--run-dir", str(a))
    _run("train", str(mlp), "seed=1", "--run-dir", str(b))
    common = ("--max-examples", "200", "--threads", "1")
    _run("path", str(a), str(b), "--points", "5", "--out", str(runs / "path-line"), *common)
    _run("connect", str(a), str(b), "train.epochs=1", "--curve", "bezier", "--bends", "1", "--out", str(runs / "chain"))
    _run("path", "--curve", str(runs / "chain"), "--points", "5", "--out", str(runs / "path-curve"), *common)
    _run("plane", "--curve", str(runs / "chain"), "--grid", "5", "--out", str(runs / "plane"), *common)
    analysis = a / "analysis"
    _run("surface", str(a), "--grid", "5", "--splits", "test", "--out", str(analysis / "surface"), *common)
    _run("trajectory", str(a), "--grid", "5", "--splits", "test", "--out", str(analysis / "trajectory"), *common)
    _run("hessian", str(a), "--top-k", "1", "--max-iter", "5", "--batches", "1", "--batch-size", "100",
         "--out", str(analysis / "hessian"), "--threads", "1")
    _run("fge", str(b), "--cycles", "2", "--cycle-epochs", "1", "--batch-size", "32", "--max-train", "300", "--threads", "1",
         "--out", str(runs / "fge"))
    ae = _config(root / "ae.yaml", {"name": "ae", "hidden_dims": [16], "latent_dim": 2, "losses": {"mse": 1.0}}, epochs=1)
    _run("train", str(ae), "--run-dir", str(runs / "ae"))
    _run("probe", str(runs / "ae"), "--baselines", "pca", "--max-train", "200", "--map-points", "0")
    _run("tune", str(mlp), "train.epochs=1", "data.val_fraction=0.2", "train.eval_split=val", "--grid", "train.optimizer.lr=1e-3,3e-3",
         "--repeats", "1", "--objective", "val/loss", "--study-dir", str(root / "studies" / "lr"))
    from latentscape.demo import DemoSettings, run_demo

    settings = DemoSettings(epochs=1, curve_epochs=1, points=3, hidden=16, latent_dim=4, threads=1, max_examples=100)
    run_demo(root / "demo", settings, quiet=True)

    return {
        "run": a, "connect": runs / "chain", "path": runs / "path-line", "plane": runs / "plane",
        "surface": analysis / "surface", "trajectory": analysis / "trajectory", "hessian": analysis / "hessian",
        "fge": runs / "fge", "probe": runs / "ae" / "analysis" / "probe", "tune": root / "studies" / "lr", "demo": root / "demo",
    }
