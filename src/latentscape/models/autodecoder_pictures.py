"""Pictures of an auto-decoder run, written into its images/ folder.

- reconstructions.png (originals above the decodes of their fitted latents), samples.png,
  interpolation.png/.gif, traversal_range*.png and curves_<metric>.png, as for autoencoders;
- latents_train.png: the learned training latents by class (2-D latents);
- latents_val.png: latents fitted to the evaluation split by class, over the grey cloud of the
  training latents (2-D latents), as in the decoder-only study (002).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from latentscape.data.types import ImageDataset
from latentscape.models.autoencoder_pictures import pictures_split, write_pictures
from latentscape.rundir.callbacks import Callback, TrainState
from latentscape.viz.latent_cloud import plot_latents_over_cloud

#: pictures shared with the autoencoders (the 2-D scatter is replaced by the two latent plots).
SHARED = ("reconstructions", "samples", "interpolation", "traversal", "curves")


def write_latent_plots(model, train: ImageDataset | None, evaluation: ImageDataset | None, out_dir: str | Path,
                       device: torch.device | str = "cpu", max_val: int = 2000) -> list[Path]:
    """latents_train.png and latents_val.png for a 2-D auto-decoder; nothing otherwise.

    Args:
        model: an AutoDecoder (`training_latents`, `fit_codes`).
        train: the training split the table was learned on (labels by row), or None.
        evaluation: images whose latents are fitted and drawn over the training cloud, or None.
        out_dir: destination folder.
        device: where to fit.
        max_val: fit at most this many evaluation images.
    """
    if model.latent_dim != 2:
        return []
    out_dir = Path(out_dir)
    table = model.training_latents().cpu()  # (N, 2)
    written: list[Path] = []
    names = None
    if train is not None and len(train) == table.shape[0]:
        names = list(train.classes) or None
        written.append(plot_latents_over_cloud(table, train.labels, out_dir / "latents_train.png",
                                               class_names=names, title="training latents"))
    if evaluation is not None and len(evaluation):
        x = evaluation.images[:max_val].to(device).float().div_(255.0)  # (n, C, H, W)
        z = model.fit_codes(x).cpu()
        written.append(plot_latents_over_cloud(
            z, evaluation.labels[: z.shape[0]], out_dir / "latents_val.png", cloud=table,
            class_names=list(evaluation.classes) or names,
            title=f"{evaluation.split} latents (fitted, decoder frozen) over training latents",
        ))
    return written


class AutoDecoderPictures(Callback):
    """Reconstructions and samples after each evaluation; every picture at the end."""

    def __init__(self, every_eval: bool = True) -> None:
        self.every_eval = every_eval

    def _write(self, state: TrainState, which: Sequence[str], latents: bool) -> None:
        if not state.is_main or state.run is None:
            return
        dataset = pictures_split(state.data, state.config.train.eval_split)
        if dataset is None or len(dataset) < 2:
            return
        out = state.run.path / "images"
        write_pictures(state.model, dataset, out, run_dir=state.run.path, device=state.device,
                       seed=state.config.seed, which=which)
        if latents:
            write_latent_plots(state.model, state.data.get("train"), dataset, out, device=state.device)

    def on_eval_end(self, state: TrainState, metrics: dict[str, float]) -> None:
        if self.every_eval:
            self._write(state, ("reconstructions", "samples"), latents=False)

    def on_train_end(self, state: TrainState) -> None:
        self._write(state, SHARED, latents=True)
