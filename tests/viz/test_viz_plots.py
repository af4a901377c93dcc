"""Plots: files are written, contour levels handle huge/non-finite losses, metrics.jsonl curves."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from latentscape.viz.contour import contour_levels
from latentscape.viz.metrics_log import curve_file_name, final_metrics, metric_series, read_metrics
from latentscape.viz.plots import (
    plot_contour,
    plot_curves,
    plot_metric_panels,
    plot_metrics_jsonl,
    plot_scatter_2d,
)


def _is_png(path) -> bool:
    with Image.open(path) as img:
        return img.format == "PNG" and img.size[0] > 100 and img.size[1] > 100


def test_plot_curves_and_panels(tmp_path):
    t = np.linspace(0, 1, 11)
    p = plot_curves(
        {"train": (t, np.exp(-t)), "test": (torch.tensor(t), [math.nan] + list(np.exp(-t[1:])))},
        tmp_path / "c.png", "t", "loss", "line", logy=True, markers="o",
    )
    q = plot_metric_panels(t, {"loss": {"train": t, "test": t + 1}, "acc": {"train": 1 - t}}, tmp_path / "p.png", "t")
    assert _is_png(p) and _is_png(q)
    with Image.open(q) as wide, Image.open(p) as single:
        assert wide.size[0] > single.size[0]  # two panels side by side


def test_plot_curves_rejects_mismatched_lengths(tmp_path):
    with pytest.raises(ValueError, match="x values"):
        plot_curves({"a": ([0, 1, 2], [1, 2])}, tmp_path / "c.png")


def test_contour_levels_clip_and_log():
    values = np.array([[0.01, 0.1], [1.0, 1e12]])
    values = np.concatenate([values, [[np.inf, np.nan]]])  # (3, 2)
    levels, field, is_log = contour_levels(values, levels=5, clip_percentile=50)
    assert is_log  # positive values spanning 14 decades
    assert np.allclose(np.diff(np.log(levels)), np.log(levels[1] / levels[0]))  # geometric
    assert levels[0] == pytest.approx(0.01)
    assert levels[-1] == pytest.approx(np.percentile([0.01, 0.1, 1.0, 1e12], 50))
    assert np.all(np.isfinite(field))
    assert field.max() == pytest.approx(levels[-1])  # huge, inf and NaN all sit at the top level
    assert field[0, 0] == pytest.approx(0.01)


def test_contour_levels_linear_with_negative_values_and_constant_field():
    levels, field, is_log = contour_levels(np.array([[-1.0, 0.0], [1.0, 2.0]]), levels=4, clip_percentile=None)
    assert not is_log and np.allclose(levels, [-1, 0, 1, 2])
    levels, _, _ = contour_levels(np.full((2, 2), 3.0), levels=3)
    assert levels[-1] > levels[0]


def test_contour_with_extreme_values_writes_png(tmp_path):
    gx, gy = np.linspace(-1, 2, 12), np.linspace(-0.5, 1.5, 9)
    xx, yy = np.meshgrid(gx, gy)  # (T, S)
    values = np.exp(30 * ((xx - 0.5) ** 2 + yy**2))  # up to ~1e50
    values[0, 0], values[1, 1] = np.inf, np.nan
    curve = np.stack([np.linspace(0, 1, 20), 4 * 0.5 * np.linspace(0, 1, 20) * (1 - np.linspace(0, 1, 20))], 1)
    path = plot_contour(
        gx, gy, torch.tensor(values), tmp_path / "plane.png",
        points={"w1": (0, 0), "w2": (1, 0), "bend": (0.5, 0.5)}, curve_xy=curve, title="train loss",
    )
    assert _is_png(path)
    with pytest.raises(ValueError, match="shape"):
        plot_contour(gx, gy, values.T, tmp_path / "bad.png")


def test_scatter_2d(tmp_path):
    points = torch.randn(300, 2)
    labels = torch.arange(300) % 3
    assert _is_png(plot_scatter_2d(points, labels, tmp_path / "s.png", class_names=["a", "b", "c"]))
    with pytest.raises(ValueError):
        plot_scatter_2d(torch.randn(5, 3), torch.zeros(5), tmp_path / "bad.png")


def _write_jsonl(path, records, torn_tail=True):
    with open(path, "w") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")
        if torn_tail:
            fh.write('{"step": 99, "spl')  # a crash mid-line


def test_metrics_jsonl_reading_grouping_and_plotting(tmp_path):
    _write_jsonl(
        tmp_path / "metrics.jsonl",
        [
            {"step": 0, "epoch": 0, "split": "train", "loss": 2.0, "loss/recon": 1.5},
            {"step": 10, "epoch": 0, "split": "train", "loss": float("nan"), "note": "x"},
            {"step": 10, "epoch": 0, "split": "test", "loss": 1.0, "acc": 0.5},
            {"step": 20, "epoch": 1, "split": "train", "loss": 0.5, "loss/recon": 0.25},
        ],
    )
    records = read_metrics(tmp_path)
    assert len(records) == 4
    series = metric_series(records)
    assert series["loss"]["train"] == ([0.0, 20.0], [2.0, 0.5])  # NaN dropped, torn line ignored
    assert series["loss"]["test"] == ([10.0], [1.0])
    assert "note" not in series
    assert final_metrics(records)["train"]["loss"] == 0.5
    paths = plot_metrics_jsonl(tmp_path)
    assert [p.name for p in paths] == ["curves_loss.png", "curves_loss_recon.png", "curves_acc.png"]
    assert all(p.parent == tmp_path / "images" and _is_png(p) for p in paths)


def test_plot_metrics_jsonl_without_metrics(tmp_path):
    assert plot_metrics_jsonl(tmp_path) == []
    assert curve_file_name("a b/c") == "curves_a_b_c.png"
