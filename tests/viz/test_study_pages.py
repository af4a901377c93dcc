"""The pages of surface, trajectory and hessian folders lead with the numbers the analysis is run
for, written by the real writers (write_surface, write_hessian) and read back from report.html and
the PNGs: a table with the value at w and the grid's range, the top eigenvalues and traces with
their methods, pictures in reading order with captions saying what is drawn, the density with the
top eigenvalues marked; counts written out (50,890 parameters, not 5.089e+04)."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest
from PIL import Image

from latentscape.landscape.studies.hessian import HessianResult, write_hessian
from latentscape.landscape.studies.surface import SurfaceResult, write_surface
from latentscape.viz.findings import fge_finding
from latentscape.viz.html_parts import format_value
from latentscape.viz.report import write_report


@pytest.fixture(autouse=True)
def _plots_here(monkeypatch):
    monkeypatch.setenv("LATENTSCAPE_PLOTS", "sync")  # pictures and page drawn before the writer returns


def _text(page) -> str:
    """The page's visible text, tags dropped (a cell's number is next to its row's label)."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.read_text())))


def test_a_surface_page_tables_its_grid_and_orders_its_three_views(tmp_path):
    xs = ys = np.linspace(-1.0, 1.0, 5)
    xx, yy = np.meshgrid(xs, ys)  # (T, S)
    loss = 0.2 + xx**2 + 0.5 * yy**2
    result = SurfaceResult(xs, ys, {"test": {"loss": loss}}, protocol={
        "directions": {"kind": "random", "norm": "filter", "ignore": "biasbn", "seed": 0},
        "examples": {"test": 2000}, "full_sizes": {"test": 10000}, "batchnorm": "fixed (the model's own)",
        "source": "runs/mlp2", "model": "mlp_classifier", "dataset": "mnist"})
    folder = write_surface(tmp_path / "surface", result)
    text = _text(write_report(folder))  # (a command's folder also has its config.yaml, then the writer does this)
    assert "test loss 0.2 0.2 1.7 " in text  # at w, min, max (then the mean), from the table
    assert "2,000 of 10,000 test" in text and "random, filter-normalised, seed 0" in text and "5 x 5 over [-1, 1]" in text
    captions = re.findall(r"<figcaption>([^<]+)</figcaption>", (folder / "report.html").read_text())
    assert [c.split(":")[1].split("(")[0].strip() for c in captions] == ["filled contours", "contour lines", "3-D surface"]
    assert "class='gallery views'" in (folder / "report.html").read_text()  # the three side by side


def test_a_hessian_page_tables_the_spectrum_and_its_picture_marks_the_top_eigenvalues(tmp_path):
    rng = np.random.default_rng(0)
    nodes = np.sort(np.concatenate([rng.normal(0, 0.05, 80), [1.8, 2.1, 2.7, 2.95, 3.06]]))
    weights = np.full(nodes.size, 1.0 / nodes.size)
    result = HessianResult(
        top_eigenvalues={"method": "power", "values": [3.06, 2.96, 2.72]},
        trace={"estimate": 29.27, "std_error": 1.56, "samples": 38, "method": "Hutchinson (Rademacher)"},
        density={"method": "stochastic Lanczos quadrature", "runs": 1, "steps": 85, "sigma": 0.03,
                 "nodes": [nodes.tolist()], "weights": [weights.tolist()], "trace_estimate": 25.05},
        protocol={"source": "runs/mlp2", "split": "train", "examples": 1000, "parameters": 50890, "model": "mlp_classifier",
                  "dataset": "mnist", "objective": "model(batch).loss, eval mode", "settings": {"batches": 2, "batch_size": 500}},
        complete=True,
    )
    folder = write_hessian(tmp_path / "hessian", result)
    text = _text(write_report(folder))
    assert "eigenvalue 1 power iteration 3.06" in text and "eigenvalue 3 power iteration 2.72" in text
    assert "trace Hutchinson (Rademacher), 38 samples 29.27 1.56" in text and "trace SLQ, 1 run(s) of 85 steps 25.05" in text
    assert "50,890" in text and "5.089e+04" not in text and "1,000 train" in text
    with Image.open(folder / "images" / "hessian_density.png") as img:
        a = np.asarray(img.convert("RGB")).astype(int)
    red = (np.abs(a - np.array([214, 39, 40])) <= 40).all(axis=2)  # C3: the ticks of the top eigenvalues
    columns = np.flatnonzero(red[: a.shape[0] // 4].any(axis=0))  # ... at the top of the axes
    assert columns.size and len(np.split(columns, np.flatnonzero(np.diff(columns) > 1) + 1)) >= 2  # separate ticks


@pytest.mark.parametrize("value, text", [(50890.0, "50,890"), (12345, "12,345"), (2345, "2345"), (0.12345, "0.1235"),
                                         (1234567.5, "1.235e+06"), (float("inf"), "inf")])
def test_numbers_on_pages(value, text):
    assert format_value(value) == text


def test_an_fge_finding_says_when_a_single_snapshot_beats_the_ensemble():
    snaps = [{"accuracy": 0.966, "nll": 0.111}, {"accuracy": 0.9731, "nll": 0.092}, {"accuracy": 0.974, "nll": 0.0876}]
    doc = {"original": {"accuracy": 0.9631, "nll": 0.1235}, "ensemble": {"accuracy": 0.9716, "nll": 0.0948}, "snapshots": snaps}
    assert fge_finding(doc).endswith("; snapshot 3 alone is more accurate (0.9740, NLL 0.0876), so the ensemble adds nothing here.")
    doc["ensemble"] = {"accuracy": 0.9752, "nll": 0.081}
    assert fge_finding(doc).endswith("for the original model.")


def test_a_zero_barrier_is_not_also_given_as_zero_percent():
    from latentscape.viz.findings import demo_finding

    line = {"test": {"start": 0.39, "end": 0.36, "max": 0.39, "barrier": 0.0}}
    text = demo_finding({"line": line, "curve": line}, "Bezier curve (1 bend)")
    assert "barrier of 0;" in text and "%" not in text


def test_a_tune_page_tables_its_trials_best_first(tmp_path):
    folder = tmp_path / "study"
    folder.mkdir()
    trials = [{"trial": i, "state": "COMPLETE", "params": {"train.optimizer.lr": lr}, "mean": m, "std": 0.01, "values": [m]}
              for i, (lr, m) in enumerate([(1e-3, 0.31), (3e-3, 0.27)])]
    doc = {"kind": "tune", "title": "LR grid", "objective": "val/loss", "direction": "minimize", "repeats": 1,
           "search": ["train.optimizer.lr=1e-3,3e-3"], "counts": {"COMPLETE": 2}, "trials": sorted(trials, key=lambda t: t["mean"])}
    (folder / "summary.json").write_text(__import__("json").dumps(doc))
    Image.new("RGB", (640, 480), "white").save(folder / "history.png")  # the study's own picture
    text = _text(write_report(folder))
    assert "could not read" not in text
    assert "over training steps, every repeat of every trial" in text  # the picture, captioned
    assert "Trials" in text and "val/loss (mean)" in text
    assert text.index("#1") < text.index("#0")  # best first, as the summary orders them
