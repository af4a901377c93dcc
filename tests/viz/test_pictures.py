"""The pictures a newcomer meets (issue 24), read back from the PNG files they are written to:
plane and trajectory contours without a blank margin and with the v label beside its axis, line
contours whose lines span the whole axes (limits = the grid's) with init/final markers, a 3-D
surface without clipped plateaus or a z label on its ticks, one-point series drawn as markers
(tune history, run curves, compare overlays), short LR numbers in legends, and a visible grey
cloud of training latents."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from latentscape.tune.plots import plot_histories, short_value
from latentscape.viz.compare import overlay_plots
from latentscape.viz.contour import plane_axes, plot_contour
from latentscape.viz.latent_cloud import plot_latents_over_cloud
from latentscape.viz.metrics_log import plot_metrics_jsonl
from latentscape.viz.surface3d import plot_contour_lines, plot_surface_3d, surface_figure, surface_heights

# the lab's plane through a 1-bend chain: u in [-3, 18], v in [-0.7, 4.4] (wide and flat)
GX, GY = np.linspace(-3.0, 18.0, 22), np.linspace(-0.7, 4.4, 12)
POINTS = {"start": (0.0, 0.0), "bend": (7.4, 3.6), "end": (15.0, 0.0)}


def _bowl(gx: np.ndarray, gy: np.ndarray, centre=(7.0, 1.5), scale=1.0) -> np.ndarray:
    xx, yy = np.meshgrid(gx, gy)  # (T, S)
    return 0.1 + scale * ((xx - centre[0]) ** 2 / 40 + (yy - centre[1]) ** 2 / 4)


def _rgb(path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB")).astype(int)  # (H, W, 3)


def blank_margin(path) -> float:
    """The part of the picture outside the bounding box of everything drawn (0: none)."""
    ink = (_rgb(path) < 245).any(axis=2)
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return 1.0 - (rows[-1] - rows[0] + 1) * (cols[-1] - cols[0] + 1) / ink.size


def colour_mask(a: np.ndarray, rgb: tuple[int, int, int], tol: int = 40) -> np.ndarray:
    return (np.abs(a - np.asarray(rgb)) <= tol).all(axis=2)


def saturated(a: np.ndarray) -> np.ndarray:
    """Pixels of some colour (not white, grey or black)."""
    return (a.max(axis=2) - a.min(axis=2)) > 60


def axes_box(a: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the axes frame: the longest dark rows and columns."""
    dark = (a < 80).all(axis=2)
    rows, cols = dark.sum(axis=1), dark.sum(axis=0)
    frame_rows = np.flatnonzero(rows > 0.8 * rows.max())
    frame_cols = np.flatnonzero(cols > 0.8 * cols.max())
    return frame_rows[0], frame_rows[-1], frame_cols[0], frame_cols[-1]


def test_plane_contour_has_no_blank_margin_and_its_v_label_beside_the_axis(tmp_path):
    path = plot_contour(GX, GY, _bowl(GX, GY), tmp_path / "plane.png", points=POINTS, title="test loss")
    assert blank_margin(path) < 0.15  # was ~0.5: a flat strip in a square figure
    fig, ax = plane_axes(GX, GY, True, "u (weight-space distance along B - A)", "v (orthogonal to u)", "t")
    fig.canvas.draw()
    box, label = ax.get_window_extent(), ax.yaxis.label.get_window_extent()
    assert label.y0 >= box.y0 - 2 and label.y1 <= box.y1 + 2  # no longer than its axis
    assert 0 < box.x0 - label.x1 < 60  # right beside the tick labels, not floating away


@pytest.mark.parametrize("height, stretched", [(0.3, True), (11.0, False)])
def test_a_flat_plane_is_drawn_readable_and_says_it_is_not_to_scale(tmp_path, height, stretched):
    """A plane --curve through a nearly straight curve (bend 0.2 off a 4-long line) drawn at
    equal scale was a strip 0.07 as tall as wide under an overlapping legend and title: it is
    drawn at a readable height with its v label naming the stretch, and the legend below the
    axes; a plane of moderate shape is still drawn to scale."""
    gx, gy = np.linspace(-0.7, 4.2, 21), np.linspace(-0.05, height - 0.05, 21)
    xx, yy = np.meshgrid(gx, gy)
    z = 2.2 + 0.02 * xx - 0.1 * yy  # (T, S)
    t = np.linspace(0, 1, 30)
    curve = np.stack([3.5 * t, 0.4 * (height - 0.1) * t * (1 - t)], axis=1)  # (M, 2)
    points = {"start": (0.0, 0.0), "bend": (1.75, 0.8 * (height - 0.1)), "end": (3.5, 0.0)}
    fig, ax = plane_axes(gx, gy, True, "u (weight-space distance along B - A)", "v (orthogonal to u)", "test loss")
    fig.canvas.draw()
    box = ax.get_window_extent()
    ratio = height / 4.9
    if stretched:
        assert box.height / box.width > 0.4  # was 0.06
        factor = box.height / box.width / ratio
        label = ax.get_ylabel().replace("\n", " ")
        assert "not to scale" in label and f"v drawn {factor:.2g}x larger than u" in label
    else:
        assert box.height / box.width == pytest.approx(ratio, rel=0.02)  # to scale
        assert "not to scale" not in ax.get_ylabel() + ax.get_xlabel()
    path = plot_contour(gx, gy, z, tmp_path / "plane.png", points=points, curve_xy=curve, line_xy=np.array([[0, 0], [3.5, 0]]),
                        labels=("trained Bezier curve (1 bend)", "straight line"), title="test loss")
    a = _rgb(path)
    top, bottom, left, right = axes_box(a)
    assert (bottom - top) / (right - left) > 0.4 if stretched else True
    red = colour_mask(a, (214, 39, 40), tol=30)  # tab:red: the curve, and its sample in the legend
    assert red[bottom + 30 :].any()  # the legend is below the axes (its curve sample), not over the field
    assert blank_margin(path) < 0.15


def test_trajectory_pictures_span_the_grid_and_mark_init_and_final(tmp_path):
    gx, gy = np.linspace(-12, 3, 21), np.linspace(-2.5, 1.6, 21)
    z = _bowl(gx, gy, centre=(0.0, 0.0), scale=3.0)
    path_xy = np.array([[-9.2, 0.6], [-5.8, -1.3], [-3.2, -1.8], [-1.7, -1.3], [0.0, 0.0]])  # (M, 2)
    points = {"init": (-9.2, 0.6), "final": (0.0, 0.0)}
    filled = plot_contour(gx, gy, z, tmp_path / "filled.png", points=points, curve_xy=path_xy)
    lines = plot_contour_lines(gx, gy, z, tmp_path / "lines.png", path_xy=path_xy, points=points, xlabel="1st PC", ylabel="2nd PC")
    assert blank_margin(filled) < 0.15 and blank_margin(lines) < 0.15
    a = _rgb(lines)
    top, bottom, left, right = axes_box(a)
    inside = saturated(a)[top + 2 : bottom - 1, left + 2 : right - 1]
    h, w = inside.shape
    edge = max(3, int(0.04 * min(h, w)))
    # the iso-lines reach every side of the axes: the limits are the grid's, not padded beyond it
    for strip in (inside[:edge], inside[-edge:], inside[:, :edge], inside[:, -edge:]):
        assert strip.any()
    # init and final: white dots (the red path and the lines are coloured) with their names
    white_dots = colour_mask(a[top:bottom, left:right], (255, 255, 255), tol=8)
    assert white_dots.sum() > 40
    assert (a[top:bottom, left:right] == [255, 0, 0]).all(axis=2).sum() > 50  # the red path


def test_surface_3d_is_not_clipped_into_plateaus_and_its_z_label_clears_the_ticks(tmp_path):
    gx = gy = np.linspace(-1, 1, 41)
    z = _bowl(gx, gy, centre=(0.3, -0.2), scale=8.0)
    z[0, 0] = np.inf  # an overflowed corner
    heights, log, top = surface_heights(z)
    finite = z[np.isfinite(z)]
    assert not log and top == finite.max()
    assert np.sum(heights >= np.percentile(finite, 95)) <= 0.06 * z.size  # no flat top at the 95th percentile
    assert np.allclose(heights[np.isfinite(z)], finite)  # the surface is the values themselves
    logged, is_log, _ = surface_heights(np.exp(_bowl(gx, gy, scale=40.0)))
    assert is_log and np.isfinite(logged).all()  # 18 decades: drawn as log10
    plot_surface_3d(gx, gy, z, tmp_path / "s.png", xlabel="d1", ylabel="d2")
    fig = surface_figure(gx, gy, z, xlabel="d1", ylabel="d2")
    fig.canvas.draw()
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    label = ax.zaxis.label.get_window_extent(renderer)
    ticks = [t.get_window_extent(renderer) for t in ax.zaxis.get_ticklabels() if t.get_text()]
    assert ticks and not any(label.overlaps(t) for t in ticks)


def _history_rows(lrs):
    return [{"trial": i, "params": {"train.optimizer.lr": lr}, "mean": 0.2 - i * 0.02, "histories": [[[22, 0.2 - i * 0.02]]]}
            for i, lr in enumerate(lrs)]


def test_tune_history_draws_one_point_trials_and_short_lr_labels(tmp_path):
    lrs = [1e-4, 0.00030000000000000003, 1e-3, 3e-3]
    path = plot_histories(_history_rows(lrs), ["train.optimizer.lr"], "val/loss", tmp_path / "history.png")
    a = _rgb(path)
    top, bottom, left, right = axes_box(a)
    coloured = saturated(a[top + 2 : bottom - 1, left + 2 : right - 1])
    # four rings at step 22 and the legend: ~700 pixels; the legend's line stubs alone were ~200
    assert coloured.sum() > 450
    assert [short_value(lr) for lr in lrs] == ["1e-4", "3e-4", "1e-3", "3e-3"]


@pytest.mark.parametrize("lrs", [[1e-3, 3e-3], [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]])
def test_objective_against_a_grid_ticks_the_searched_values_without_overlap(tmp_path, monkeypatch, lrs):
    """The every-kind study's two LRs (1e-3, 3e-3) were ticked 0.001000.001250.0015...: labels
    run into each other. The grid's own values are the ticks, written short."""
    from latentscape.tune import parse_grid
    from latentscape.tune import plots

    seen = {}

    def keep(fig, path, **kw):
        fig.canvas.draw()
        ax = fig.axes[0]
        labels = [t for t in ax.get_xticklabels() if t.get_text()]
        seen["texts"] = [t.get_text() for t in labels]
        seen["boxes"] = [t.get_window_extent() for t in labels]
        seen["log"] = ax.get_xscale() == "log"
        return save(fig, path, **kw)

    save = plots.save_figure
    monkeypatch.setattr(plots, "save_figure", keep)
    rows = [dict(r, std=0.0) for r in _history_rows(lrs)]
    dim = parse_grid("train.optimizer.lr=" + ",".join(map(str, lrs)))
    assert plots.plot_objective_vs_params(rows, [dim], "val/loss", tmp_path / "o.png").is_file()
    assert seen["texts"] == [short_value(lr) for lr in lrs]
    boxes = seen["boxes"]
    assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:]))  # apart, left to right
    assert seen["log"] == (max(lrs) / min(lrs) >= 10)


def _run(folder, name: str, lr: float):
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(f"name: {name}\nmodel: {{name: ae}}\ndata: {{name: digits}}\n")
    rows = [{"step": 180, "split": "train", "epoch": 15, "loss": 0.1438, "lr": lr},
            {"step": 180, "split": "test", "epoch": 15, "loss": 0.1113}]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def test_runs_that_logged_once_show_as_markers_and_do_not_hide_each_other(tmp_path):
    a, b = _run(tmp_path / "a", "a", 0.0026), _run(tmp_path / "b", "b", 0.0026)  # the demo: one row per split
    curves = plot_metrics_jsonl(a)
    assert len(curves) == 2
    pic = _rgb(next(p for p in curves if p.name == "curves_loss.png"))
    top, bottom, left, right = axes_box(pic)
    assert saturated(pic[top + 2 : bottom - 1, left + 2 : right - 1]).sum() > 550  # rings and legend ~800; 3-pixel dots ~330
    plots = dict(overlay_plots([a, b], ["a", "b"], tmp_path / "cmp"))
    lr = _rgb(plots["lr"])  # both runs at the same value, the same step
    h, w, _ = lr.shape
    centre = lr[int(0.3 * h) : int(0.75 * h), int(0.3 * w) : int(0.7 * w)]  # the point, away from the legend
    assert colour_mask(centre, (31, 119, 180)).sum() > 20  # run a (C0 blue) ...
    assert colour_mask(centre, (255, 127, 14)).sum() > 20  # ... and run b (C1 orange) inside it


def _visible_grey(path) -> float:
    """The part of the picture in a grey that stands out from white (not text, not light 0.8 grey)."""
    a = _rgb(path)
    return float(((a.max(axis=2) - a.min(axis=2) < 12) & (a.max(axis=2) <= 200) & (a.min(axis=2) >= 40)).mean())


@pytest.mark.parametrize("spread", [0.3, 0.01])
def test_the_grey_cloud_of_training_latents_is_visible(tmp_path, spread):
    """A cloud as wide as the fitted latents, and one 50 times smaller (an auto-decoder's training
    latents after a few epochs, with validation latents fitted far outside them)."""
    rng = np.random.default_rng(0)
    centres = np.array([(-1, -1), (1, 1), (1, -1), (-1, 1)]) * spread / 0.3
    cloud = np.concatenate([rng.normal(c, spread, (3000, 2)) for c in centres])  # (M, 2)
    points, labels = rng.normal(0, 1.2, (2000, 2)), rng.integers(0, 10, 2000)
    path = plot_latents_over_cloud(points, labels, tmp_path / "latents_val.png", cloud=cloud, title="val over train")
    assert _visible_grey(path) > 0.025  # now ~0.04; light grey dots (204) under the points were under 0.5%


@pytest.mark.parametrize("value, text", [(0.1, "0.1"), (0.01, "0.01"), (1.5e-5, "1.5e-5"), (128, "128"), ("adam", "adam")])
def test_short_values(value, text):
    assert short_value(value) == text


def test_probe_maps_fill_even_rows_under_a_title_saying_what_the_points_are(tmp_path, monkeypatch):
    """Four maps were a row of three over a row of one, under no title (and, once a title was
    asked for, the last panel's name was shown over all of them)."""
    from latentscape.viz import embedding_maps

    seen = {}

    def keep(fig, path, **kw):
        seen["title"] = fig.get_suptitle()
        seen["grid"] = {(round(ax.get_position().x0, 2), round(ax.get_position().y0, 2)) for ax in fig.axes}
        return save(fig, path, **kw)

    save = embedding_maps.save_figure
    monkeypatch.setattr(embedding_maps, "save_figure", keep)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 60)
    maps = [(name, rng.normal(size=(60, 2))) for name in ("vae (10-d)", "pca10", "umap10", "pixels")]
    embedding_maps.draw_embedding_maps(maps, labels, tmp_path / "maps.png", ("a", "b", "c"), title="60 test images of toy")
    assert seen["title"] == "60 test images of toy"
    xs, ys = {x for x, _ in seen["grid"]}, {y for _, y in seen["grid"]}
    assert len(xs) == 2 and len(ys) == 2  # 2 x 2


def test_the_latent_scatter_legend_sits_beside_the_points(tmp_path):
    """A 2-D autoencoder's codes fill the whole axes: a legend inside ("best") covered some."""
    from latentscape.viz.plots import plot_scatter_2d

    rng = np.random.default_rng(0)
    points, labels = rng.uniform(-1, 1, (2000, 2)), rng.integers(0, 10, 2000)
    a = _rgb(plot_scatter_2d(points, labels, tmp_path / "scatter.png", title="latent codes (test)"))
    top, bottom, left, right = axes_box(a)
    assert saturated(a[top:bottom, right + 3 :]).sum() > 100  # the legend's coloured markers, right of the axes


def test_a_long_plot_title_wraps_inside_the_picture(tmp_path, monkeypatch):
    """"accuracy along the trained PolyChain curve (1 bend) from mlp0 to mlp1" ran off the edge."""
    from latentscape.viz import plots

    seen = {}

    def keep(fig, path, **kw):
        fig.canvas.draw()
        seen["title"] = fig.axes[0].title.get_window_extent()
        seen["width"] = fig.bbox.width
        return save(fig, path, **kw)

    save = plots.save_figure
    monkeypatch.setattr(plots, "save_figure", keep)
    title = "accuracy along the trained PolyChain curve (1 bend) from mnist-mlp-seed0 to mnist-mlp-seed1"
    plots.plot_curves({"train": ([0, 0.5, 1], [0.97, 0.96, 0.97])}, tmp_path / "p.png", xlabel="t", ylabel="accuracy", title=title)
    assert seen["title"].x0 >= 0 and seen["title"].x1 <= seen["width"]
