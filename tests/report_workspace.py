"""A small folder of runs and analyses with real files (configs, metrics, PNGs, GIFs, JSON) in the
layouts the commands write, for the index / compare / browser tests (no training: milliseconds)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from latentscape.viz.gif import save_gif
from latentscape.viz.grid import save_image_grid
from latentscape.viz.plots import plot_contour, plot_curves

EVIL = "<script>alert(1)</script>"


def _config(path: Path, name: str, model: str, dataset: str, extra: str = "") -> None:
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.yaml").write_text(
        f"name: '{name}'\nmodel:\n  name: {model}\n{extra}data:\n  name: {dataset}\ntrain:\n  epochs: 2\nseed: 0\n"
    )


def _metrics(path: Path, scale: float) -> None:
    lines = [{"step": s, "epoch": s // 10, "split": "train", "loss": scale * 1000.0 / (1 + s) ** 2} for s in range(0, 50, 5)]
    lines.append({"step": 45, "epoch": 4, "split": "test", "loss": scale * 0.9, "ssim": 0.5})
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))


def _eval(path: Path, n: int, fid: float) -> None:
    (path / "eval").mkdir(exist_ok=True)
    doc = {"protocol": {"split": "test", "n": n, "seed": 0, "weights": "final"}, "metrics": {"fid": fid, "psnr": 20.5}}
    (path / "eval" / "test.json").write_text(json.dumps(doc))


def _strip(images: Path, name: str, cols: int = 5) -> list[float]:
    torch.manual_seed(0)
    save_image_grid(torch.rand(3 * (1 + cols), 1, 8, 8), images / f"{name}.png", nrow=1 + cols, upscale=8)  # (N*(1+S), C, H, W)
    save_gif(torch.rand(cols, 1, 18, 34), images / f"{name}.gif", upscale=4)
    return [i / (cols - 1) for i in range(cols)]


def make_workspace(root: Path) -> dict[str, Path]:
    """Write runs a (evil name, VAE/MNIST), b (AE/digits), a demo, a path, a plane, a tune study
    summary and a probe result under `root`; returns their folders by role."""
    a, b = root / "runs" / "a", root / "runs" / "b"
    _config(a, EVIL, "vae", "mnist")
    _config(b, "b", "ae", "digits")
    for run, scale, n, fid in ((a, 1.0, 1000, 12.5), (b, 2.0, 500, 30.0)):
        _metrics(run, scale)
        _eval(run, n, fid)
        save_image_grid(torch.rand(8, 1, 8, 8), run / "images" / "samples_step45.png", nrow=4)
        save_gif(torch.rand(4, 3, 16, 16), run / "images" / "interp_z.gif", upscale=4)
    demo = root / "demo"
    _config(demo, "curve", "curve", "mnist", extra=f"  start: {a}\n  end: {b}\n  kind: bezier\n  bends: 1\n")
    images = demo / "images"
    ts = [0.0, 0.5, 1.0]
    plot_curves({"line": (ts, [0.1, 0.3, 0.12]), "curve": (ts, [0.1, 0.09, 0.12])}, images / "line_vs_curve_test_loss.png", xlabel="t", ylabel="test loss")
    stats = {"line": (0.1, 0.12, 0.3, 0.18), "curve": (0.1, 0.12, 0.121, 0.1)}
    summary = {k: {sp: {"start": s, "end": e, "max": m, "mean": mean, "barrier": m - max(s, e)} for sp in ("train", "test")} for k, (s, e, m, mean) in stats.items()}
    summary["dynamics"] = {k: {"strip_ts": _strip(images, f"{k}_dynamics")} for k in ("line", "curve")}
    (demo / "eval").mkdir()
    (demo / "eval" / "demo.json").write_text(json.dumps(summary))
    path = root / "analyses" / "path-1"
    _config(path, "path", "vae", "mnist")
    doc = {
        "kind": "line", "ts": ts, "start": str(a), "end": str(b), "length": 3.0, "strategy": "loop",
        "metrics": {"test": {"loss": [0.1, 0.3, 0.12]}},
        "summary": {"test": {"loss": {"start": 0.1, "end": 0.12, "min": 0.1, "max": 0.3, "mean": 0.17, "barrier": 0.18}}},
        "dynamics": {"strip": "images/dynamics.png", "gif": "images/dynamics.gif", "strip_ts": _strip(path / "images", "dynamics")},
    }
    (path / "path.json").write_text(json.dumps(doc))
    plot_curves({"test": (ts, [0.1, 0.3, 0.12])}, path / "images" / "path_loss.png", xlabel="t", ylabel="loss")
    plane = root / "analyses" / "plane-1"
    _config(plane, "plane", "vae", "mnist")
    grid = [[0.1, 0.2, 0.3], [0.2, 0.25, 0.5], [0.3, 0.4, 0.9]]
    (plane / "plane.json").write_text(json.dumps({
        "points": {"A": [0, 0], "B": [1, 0], "C": [0, 1]}, "grid_x": [0, 0.5, 1], "grid_y": [0, 0.5, 1],
        "values": {"test": {"loss": grid}},
    }))
    plot_contour([0, 0.5, 1], [0, 0.5, 1], torch.tensor(grid).numpy(), plane / "images" / "plane_loss_test.png", title="test loss")
    study = root / "studies" / "lr-grid"
    study.mkdir(parents=True)
    (study / "summary.json").write_text(json.dumps({
        "kind": "tune", "title": "LR grid search", "finding": "Best lr 3e-4.", "model": "vae", "dataset": "mnist",
        "metrics": {"best val loss": 0.25, "trials": 8},
    }))
    probe = root / "studies" / "probe-x"
    probe.mkdir(parents=True)
    (probe / "result.json").write_text(json.dumps({"kind": "probe", "accuracy": 0.91, "model": "ae", "dataset": "digits"}))
    return {"a": a, "b": b, "demo": demo, "path": path, "plane": plane, "study": study, "probe": probe}
