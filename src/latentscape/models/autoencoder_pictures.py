"""Pictures of an autoencoder's latent space, written into a run's images/ folder.

- reconstructions.png: pairs of rows, originals above their reconstructions;
- samples.png: decoded draws from the prior (models that can `sample`);
- interpolation.png / .gif: decodes along the straight line between the codes of two test images;
- traversal_range1.png, traversal_range3.png: latent dimensions 0 (rows) and 1 (columns) swept
  over offsets in [-r, r] around a test image's code (or the origin), the others held fixed,
  as in the CIFAR-10 / CUB study's (-1, 1) and (-3, 3) grids;
- traversal_dims.png: one row per latent dimension (at most 32), that dimension alone swept over
  [-3, 3] around the code of a test image, the others held fixed (beta-VAE style traversals);
- latent_scatter.png: codes of the split coloured by class, when the latent has two dimensions;
- curves_<metric>.png: training curves (reconstruction, KL, ...) from metrics.jsonl.

`write_pictures` is what both the trainer callback and `latentscape eval --pictures` call.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from latentscape.models.codes import interpolation_codes
from latentscape.data.types import ImageDataset
from latentscape.rundir.callbacks import Callback, TrainState
from latentscape.viz.gif import save_gif
from latentscape.viz.grid import save_image_grid
from latentscape.viz.metrics_log import plot_metrics_jsonl
from latentscape.viz.plots import plot_scatter_2d

ALL_PICTURES = (
    "reconstructions", "samples", "interpolation", "traversal", "traversal_dims", "scatter", "curves",
)
MAX_TRAVERSAL_DIMS = 32


def upscale_for(image_shape: Sequence[int]) -> int:
    """Integer enlargement that brings small images (28, 32 px) to about 64 px for viewing."""
    return max(1, 64 // int(image_shape[-1]))


def reconstruction_rows(originals: Tensor, recons: Tensor, ncol: int = 8) -> Tensor:
    """Interleave rows: originals[0:ncol], recons[0:ncol], originals[ncol:2ncol], ... (N', C, H, W)."""
    rows = []
    for start in range(0, originals.shape[0], ncol):
        rows += [originals[start : start + ncol], recons[start : start + ncol]]
    return torch.cat(rows)  # (2N, C, H, W)


def traversal_codes(center: Tensor, radius: float, steps: int, dims: tuple[int, int] = (0, 1)) -> Tensor:
    """(steps * steps, D) codes: dims[0] varies by row, dims[1] by column, over center +- radius.

    With a one-dimensional latent only dims[0] varies: (steps, 1).
    """
    offsets = torch.linspace(-radius, radius, steps, device=center.device)
    if center.shape[0] < 2:
        return center + offsets[:, None]  # (steps, 1)
    grid = center.repeat(steps * steps, 1)  # (steps^2, D)
    grid[:, dims[0]] += offsets.repeat_interleave(steps)  # row index
    grid[:, dims[1]] += offsets.repeat(steps)  # column index
    return grid


def dimension_traversal_codes(center: Tensor, radius: float, steps: int, max_dims: int = MAX_TRAVERSAL_DIMS) -> Tensor:
    """Codes (min(D, max_dims) * steps, D): row i sweeps dimension i over [-r, r] around `center`."""
    dims = min(center.shape[0], max_dims)
    offsets = torch.linspace(-radius, radius, steps, device=center.device)
    grid = center.repeat(dims * steps, 1)  # (dims * steps, D), row-major: dimension, then offset
    rows = torch.arange(dims, device=center.device).repeat_interleave(steps)
    grid[torch.arange(dims * steps, device=center.device), rows] += offsets.repeat(dims)
    return grid


@torch.no_grad()
def _embed_all(model, dataset: ImageDataset, device, limit: int, batch_size: int = 500) -> tuple[Tensor, Tensor]:
    n = min(len(dataset), limit)
    codes = [
        model.embed(dataset.images[i : i + batch_size].to(device).float().div_(255.0)).cpu()
        for i in range(0, n, batch_size)
    ]
    return torch.cat(codes), dataset.labels[:n]


@torch.no_grad()
def write_pictures(
    model,
    dataset: ImageDataset,
    out_dir: str | Path,
    *,
    run_dir: str | Path | None = None,
    device: torch.device | str = "cpu",
    seed: int = 0,
    which: Sequence[str] = ALL_PICTURES,
    n_images: int = 16,
    interpolation_steps: int = 10,
    traversal_steps: int = 9,
    ranges: Sequence[float] = (1.0, 3.0),
    traversal_center: str = "posterior",
    scatter_points: int = 5000,
) -> list[Path]:
    """Write the autoencoder pictures of `model` on `dataset` into `out_dir`.

    Args:
        model: an AE / VAE (needs `embed`, `decode`, `reconstruct`; `sample` for samples.png).
        dataset: images to reconstruct and interpolate (usually the test split).
        out_dir: destination folder (run_dir/images).
        run_dir: the run folder, for training curves from metrics.jsonl (skipped when None).
        device: where to run the model.
        seed: seed of the prior samples.
        which: subset of ALL_PICTURES.
        n_images: images in the reconstruction grid (rows of 8).
        interpolation_steps: decoded frames between (and including) the two codes.
        traversal_steps: values per traversed dimension.
        ranges: traversal radii, one picture each (traversal_range{r}.png).
        traversal_center: "posterior" (code of the first image) or "zero".
        scatter_points: images embedded for the 2-D scatter.

    Returns:
        The paths written.
    """
    out_dir = Path(out_dir)
    was_training = model.training
    model.eval()
    up = upscale_for(dataset.image_shape)
    x = dataset.images[: max(n_images, 2)].to(device).float().div_(255.0)  # (N, C, H, W)
    written: list[Path] = []
    try:
        if "reconstructions" in which:
            grid = reconstruction_rows(x[:n_images], model.reconstruct(x[:n_images]))
            written.append(save_image_grid(grid, out_dir / "reconstructions.png", nrow=8, upscale=up))
        if "samples" in which and callable(getattr(model, "sample", None)):
            samples = model.sample(64, generator=torch.Generator().manual_seed(seed))
            written.append(save_image_grid(samples, out_dir / "samples.png", nrow=8, upscale=up))
        if "interpolation" in which:
            written += _write_interpolation(model, x[:2], interpolation_steps, out_dir, up)
        if "traversal" in which:
            center = model.embed(x[:1])[0] if traversal_center == "posterior" else torch.zeros(
                model.latent_dim, device=x.device
            )
            written += _write_traversals(model, center, ranges, traversal_steps, out_dir, up)
        if "traversal_dims" in which:
            center = model.embed(x[:1])[0]  # (D,)
            images = model.decode(dimension_traversal_codes(center, max(ranges), traversal_steps))
            written.append(save_image_grid(images, out_dir / "traversal_dims.png", nrow=traversal_steps, upscale=up))
        if "scatter" in which and model.latent_dim == 2:
            written.append(_write_scatter(model, dataset, device, scatter_points, out_dir))
        if "curves" in which and run_dir is not None:
            written += plot_metrics_jsonl(run_dir)
    finally:
        model.train(was_training)
    return written


def _write_interpolation(model, pair: Tensor, steps: int, out_dir: Path, up: int) -> list[Path]:
    """interpolation.png (first image, decoded codes, second image) and a there-and-back GIF."""
    z = model.embed(pair)  # (2, D)
    frames = model.decode(interpolation_codes(z[0], z[1], steps))  # (T, C, H, W)
    row = torch.cat([pair[:1], frames, pair[1:2]])
    cycle = torch.cat([frames, frames.flip(0)[1:-1]])  # there and back
    return [
        save_image_grid(row, out_dir / "interpolation.png", nrow=row.shape[0], upscale=up),
        save_gif(cycle, out_dir / "interpolation.gif", duration_ms=120, upscale=up),
    ]


def _write_traversals(model, center: Tensor, ranges: Sequence[float], steps: int, out_dir: Path, up: int) -> list[Path]:
    """traversal_range{r}.png: decoded grids over two latent dims, center +- r."""
    out = []
    for r in ranges:
        images = model.decode(traversal_codes(center, float(r), steps))
        out.append(save_image_grid(images, out_dir / f"traversal_range{r:g}.png", nrow=steps, upscale=up))
    return out


def _write_scatter(model, dataset: ImageDataset, device, points: int, out_dir: Path) -> Path:
    """latent_scatter.png: 2-D codes of up to `points` images, coloured by class."""
    codes, labels = _embed_all(model, dataset, device, points)
    return plot_scatter_2d(
        codes.numpy(), labels.numpy(), out_dir / "latent_scatter.png",
        class_names=list(dataset.classes) or None, title=f"latent codes ({dataset.split})",
    )


def pictures_split(data: dict[str, ImageDataset], preferred: str) -> ImageDataset | None:
    """The split to draw: `preferred`, else test, val, train (the first present)."""
    for name in (preferred, "test", "val", "train"):
        if name in data:
            return data[name]
    return None


class AutoencoderPictures(Callback):
    """Writes reconstructions and samples after each evaluation, and every picture at the end.

    Args:
        every_eval: also refresh reconstructions.png / samples.png at periodic evaluations.
    """

    def __init__(self, every_eval: bool = True) -> None:
        self.every_eval = every_eval

    def _write(self, state: TrainState, which: Sequence[str]) -> None:
        if not state.is_main or state.run is None:
            return
        dataset = pictures_split(state.data, state.config.train.eval_split)
        if dataset is None or len(dataset) < 2:
            return
        write_pictures(
            state.model, dataset, state.run.path / "images", run_dir=state.run.path,
            device=state.device, seed=state.config.seed, which=which,
        )

    def on_eval_end(self, state: TrainState, metrics: dict[str, float]) -> None:
        if self.every_eval:
            self._write(state, ("reconstructions", "samples"))

    def on_train_end(self, state: TrainState) -> None:
        self._write(state, ALL_PICTURES)
