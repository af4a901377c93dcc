"""Pictures of a generator during and after training, as in the source study's GAN part:

- `images/samples_step<N>.png`: a fixed latent batch decoded every N iterations (grids over
  training are comparable because z is the same);
- `images/interpolation.png` (+ `.gif`): straight lines between pairs of latent codes;
- `images/sweep_range1.png`, `images/sweep_range3.png`: the first two latent dimensions swept over
  [-1, 1] and [-3, 3] on a grid, the other dimensions fixed;
- FID every N iterations, logged to metrics.jsonl (split "fid") and plotted in
  `images/fid_vs_iteration.png`.

An iteration is one generator step (`model.iteration_at(step)`). The pure helpers
(`interpolation_codes`, `sweep_codes`, `write_*`) work on any model with `decode(z)`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from latentscape.models.codes import interpolation_codes
from latentscape.errors import LatentscapeError
from latentscape.rundir.callbacks import Callback, TrainState
from latentscape.viz.gif import save_gif
from latentscape.viz.grid import make_grid, save_image_grid
from latentscape.viz.plots import plot_curves


def sweep_codes(z: Tensor, value_range: float, steps: int, dims: tuple[int, int] = (0, 1)) -> Tensor:
    """A steps x steps grid over two latent dims in [-r, r], the rest fixed to z (D,).

    Returns:
        (steps * steps, D); row i sets dims[0] to the i-th value, column j sets dims[1].
    """
    if z.shape[0] <= max(dims):
        raise LatentscapeError(f"a two-dimension sweep needs latent_dim > {max(dims)}, got {z.shape[0]}")
    values = torch.linspace(-value_range, value_range, steps, device=z.device)
    codes = z.expand(steps, steps, -1).clone()  # (S, S, D)
    codes[:, :, dims[0]] = values.view(steps, 1)
    codes[:, :, dims[1]] = values.view(1, steps)
    return codes.reshape(steps * steps, -1)  # (S*S, D)


@torch.no_grad()
def write_interpolation(model, z0: Tensor, z1: Tensor, steps: int, png: Path, gif: Path) -> None:
    """Rows of interpolations (one per code pair) as a PNG, and a GIF walking along them."""
    codes = interpolation_codes(z0, z1, steps)  # (T, P, D)
    t, p, d = codes.shape
    images = model.decode(codes.reshape(t * p, d))  # (T*P, C, H, W)
    images = images.view(t, p, *images.shape[1:])
    save_image_grid(images.transpose(0, 1).reshape(t * p, *images.shape[2:]), png, nrow=t, upscale=2)
    ncol = max(1, int(p**0.5))
    frames = [make_grid(images[i], nrow=ncol) for i in range(t)]
    save_gif(frames + frames[-2:0:-1], gif, duration_ms=120, upscale=2)  # ping-pong loop


@torch.no_grad()
def write_sweep(model, z: Tensor, value_range: float, steps: int, path: Path) -> None:
    save_image_grid(model.decode(sweep_codes(z, value_range, steps)), path, nrow=steps, upscale=2)


@torch.no_grad()
def write_generator_pictures(
    model, images_dir: str | Path, seed: int = 1234, grid_size: int = 64, interpolation_steps: int = 10,
    sweep_steps: int = 8, name: str = "samples.png",
) -> list[Path]:
    """Samples, interpolations and both sweeps of any model with `decode` and `latent_dim`
    (e.g. for `latentscape eval RUN --pictures` on a GAN). Returns the paths written."""
    images_dir = Path(images_dir)
    gen = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    d = model.latent_dim
    z_grid = torch.randn(grid_size, d, generator=gen).to(device)
    z_pairs = torch.randn(2, 8, d, generator=gen).to(device)
    z_sweep = torch.randn(d, generator=gen).to(device)
    paths = [save_image_grid(model.decode(z_grid), images_dir / name, upscale=2)]
    write_interpolation(model, z_pairs[0], z_pairs[1], interpolation_steps,
                        images_dir / "interpolation.png", images_dir / "interpolation.gif")
    paths += [images_dir / "interpolation.png", images_dir / "interpolation.gif"]
    for r in (1, 3):
        write_sweep(model, z_sweep, float(r), sweep_steps, images_dir / f"sweep_range{r}.png")
        paths.append(images_dir / f"sweep_range{r}.png")
    return paths


class GANPictures(Callback):
    """Sample grids, interpolations, sweeps and FID against iterations for a sampling model.

    Args:
        cfg: a `GANPicturesConfig` (latentscape.models.gan).
    """

    def __init__(self, cfg) -> None:
        self.cfg = cfg
        self.fid_history: list[tuple[int, float]] = []
        self._fid = None  # (extractor, reference stats) once built
        self._extractor = None  # the feature net found by before_run

    # ------------------------------------------------------------------ hooks
    def on_train_start(self, state: TrainState) -> None:
        if not state.is_main:
            return
        model = state.model
        device = next(model.parameters()).device
        gen = torch.Generator().manual_seed(self.cfg.seed)  # as write_generator_pictures draws them
        self.z_grid = torch.randn(self.cfg.grid_size, model.latent_dim, generator=gen).to(device)
        if self.cfg.fid_every > 0:
            self._build_fid(state)
            if state.run is not None:  # a resumed run keeps its earlier points
                self.fid_history = [
                    (int(r["iteration"]), float(r["fid"]))
                    for r in state.run.read_metrics()
                    if r.get("split") == "fid" and "iteration" in r
                ]

    def on_step_end(self, state: TrainState, logs: dict[str, float]) -> None:
        model = state.model
        if not state.is_main or state.run is None or model.group_for_step(state.step - 1) != "generator":
            return
        it = model.iteration_at(state.step)
        if self.cfg.every and it % self.cfg.every == 0:
            self.write_samples(state, it)
        if self.cfg.fid_every and it % self.cfg.fid_every == 0:
            self.log_fid(state, it)

    def on_train_end(self, state: TrainState) -> None:
        if not state.is_main or state.run is None:
            return
        model, cfg = state.model, self.cfg
        it = model.iteration_at(state.step)
        # the same seed as on_train_start, so the final grid continues the samples_step<N> series
        write_generator_pictures(
            model, state.run.path / "images", cfg.seed, cfg.grid_size, cfg.interpolation_steps,
            cfg.sweep_steps, name=f"samples_step{it}.png",
        )
        if self.cfg.fid_every and (not self.fid_history or self.fid_history[-1][0] != it):
            self.log_fid(state, it)

    # ------------------------------------------------------------------ pieces
    def write_samples(self, state: TrainState, iteration: int) -> Path:
        with torch.no_grad():
            images = state.model.decode(self.z_grid)  # (N, C, H, W) in [0, 1]
        return save_image_grid(images, state.run.image_path(f"samples_step{iteration}.png"), upscale=2)

    def before_run(self, config, data, device) -> None:
        """FID during training needs its feature net (and the reference split): find both before
        the run folder exists, so a run that would fail at its first step leaves nothing behind."""
        if self.cfg.fid_every > 0:
            self._extractor = self._feature_net(data, device)

    def _feature_net(self, data, device):
        """The FID feature net of the reference split's dataset; one line on how to get one."""
        from latentscape.metrics.features import build_feature_net, default_feature_run

        cfg = self.cfg
        split = cfg.fid_reference_split
        if split not in data:
            raise LatentscapeError(f"model.pictures.fid_reference_split={split!r}: this run has splits {sorted(data)}")
        dataset = data[split].name
        off = "or turn FID during training off with model.pictures.fid_every=0"
        run = Path(cfg.feature_run or default_feature_run(dataset))
        if cfg.feature_net == "domain" and not (run / "config.yaml").is_file():
            where = (f"model.pictures.feature_run={cfg.feature_run} is not a run directory" if cfg.feature_run
                     else f"none is cached at {run}")
            raise LatentscapeError(
                f"FID during training (model.pictures.fid_every={cfg.fid_every}) needs a domain feature net for "
                f"{dataset!r} and {where}: make it once with `latentscape fid-net {dataset}`, give "
                f"model.pictures.feature_run=RUN_DIR (a classifier run), {off}"
            )
        options = {"feature_net": cfg.feature_net}
        if cfg.feature_run:
            options["feature_run"] = cfg.feature_run
        if cfg.inception_weights:
            options["inception_weights"] = cfg.inception_weights
        try:
            return build_feature_net(options, dataset, device)
        except LatentscapeError as exc:
            raise LatentscapeError(f"FID during training (model.pictures.fid_every={cfg.fid_every}): {exc}; {off}") from None

    def _build_fid(self, state: TrainState) -> None:
        from latentscape.metrics.reference_stats import reference_stats

        extractor = self._extractor
        if extractor is None or extractor.device != state.device:  # callbacks used without before_run
            extractor = self._feature_net(state.data, state.device)
        reference = state.data[self.cfg.fid_reference_split]
        self._fid = (extractor, reference_stats(reference, extractor, state.config.train.eval_batch_size))

    def log_fid(self, state: TrainState, iteration: int) -> float:
        from latentscape.metrics.features import sample_features
        from latentscape.metrics.fid import fid_from_stats

        if self._fid is None:
            self._build_fid(state)
        extractor, ref = self._fid
        batch = state.config.train.eval_batch_size
        feats = sample_features(state.model.sample, self.cfg.fid_samples, extractor, batch, self.cfg.seed)
        value = fid_from_stats(ref.mu.numpy(), ref.sigma.numpy(), feats, device=state.device)
        self.fid_history.append((iteration, value))
        state.run.log({"fid": value, "iteration": iteration}, step=state.step, split="fid", epoch=state.epoch)
        iters, values = zip(*self.fid_history)
        plot_curves(
            {"FID": (list(iters), list(values))},
            state.run.image_path("fid_vs_iteration.png"),
            xlabel="generator iteration",
            ylabel=f"FID ({extractor.id}, {self.cfg.fid_samples} samples)",
            title=f"FID vs {self.cfg.fid_reference_split} split",
            markers=True,
        )
        return value
