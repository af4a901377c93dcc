"""The auto-decoder (`autodecoder`): a decoder trained alone, one learned latent per training image.

Generative Latent Optimization (GLO; Bojanowski et al. 2018, "Optimizing the Latent Space of
Generative Networks", eq. 1): min over theta and z_1..z_N of (1/N) sum_i l(g_theta(z_i), x_i),
the latents z_i and the decoder weights theta updated together by backpropagation, as in the
decoder-only study (002). The table of z_i (`latents`, nn.Embedding over `Batch.index`, one row
per training example, `DataInfo.num_train` rows) is part of the model's state, so checkpoints and
resume carry it; it sits in the optimizer as a param group of its own (own LR, no weight decay,
optionally sparse). New images (validation, `embed`, `reconstruct`) get latents fitted with the
decoder frozen (`models.latent_fit`), so analyses use it as they use an autoencoder.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor, nn

from latentscape.data.types import Batch, ImageDataset
from latentscape.errors import ConfigError, DataError
from latentscape.losses.image import weighted_image_loss
from latentscape.models.autodecoder_config import AutoDecoderConfig
from latentscape.models.decoding import SigmoidDecoding
from latentscape.rundir.model import DataInfo, LatentModel, LossOutput, ModelEntry
from latentscape.models.latent_fit import fit_latents, project_to_unit_ball
from latentscape.models.latent_init import pca_fit, pca_project
from latentscape.nets.celeba64 import Celeba64Decoder
from latentscape.nets.dcgan import DCGANDecoder
from latentscape.nets.fc_decoder import ConfigurableFCDecoder
from latentscape.nets.fcconv import FCConvDecoder
from latentscape.progress import ProgressFn

__all__ = ["AutoDecoder", "AutoDecoderConfig", "AUTODECODER_ENTRY"]


def build_decoder(cfg: AutoDecoderConfig, image_shape: tuple[int, int, int]) -> nn.Module:
    """The decoder named by `cfg.net`: codes (B, latent_dim) -> logits (B, C, H, W)."""
    try:
        if cfg.net == "fc":
            return ConfigurableFCDecoder(
                cfg.latent_dim, cfg.hidden_dims, image_shape, cfg.activation, cfg.batchnorm, cfg.dropout, cfg.bias
            )
        if cfg.net == "fcconv":
            return FCConvDecoder(cfg.latent_dim, cfg.hidden_dims, image_shape)
        if cfg.net == "dcgan":
            return DCGANDecoder(cfg.latent_dim, image_shape, width=cfg.width, out_activation=None)
        return Celeba64Decoder(cfg.latent_dim, image_shape, width=cfg.width)
    except ValueError as exc:
        raise ConfigError(f"model.net={cfg.net} does not fit {tuple(image_shape)} images: {exc}") from None


@contextlib.contextmanager
def _eval_mode(module: nn.Module) -> Iterator[None]:
    """Run in eval mode (batch-norm running statistics, no dropout), then restore every flag."""
    flags = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for m, flag in flags:
            m.training = flag


class AutoDecoder(SigmoidDecoding, LatentModel):
    """Decoder + per-example latent table, trained jointly (GLO / auto-decoder)."""

    def __init__(self, cfg: AutoDecoderConfig, info: DataInfo) -> None:
        super().__init__()
        if info.num_train < 1:
            raise DataError("the auto-decoder needs a non-empty training split (one latent per image)")
        self.cfg = cfg
        self.image_shape = tuple(info.image_shape)
        self.latent_dim = cfg.latent_dim
        self.num_train = info.num_train
        self.decoder = build_decoder(cfg, self.image_shape)
        self.latents = nn.Embedding(info.num_train, cfg.latent_dim, sparse=cfg.sparse)  # (N, D)
        with torch.no_grad():
            if cfg.latent_init == "normal":
                self.latents.weight.normal_(0.0, cfg.latent_init_std)
            else:  # zeros; "pca" is filled from the training images at train start
                self.latents.weight.zero_()
        if cfg.latent_init == "pca":
            pixels = math.prod(self.image_shape)
            self.register_buffer("pca_mean", torch.zeros(pixels))  # (P,)
            self.register_buffer("pca_basis", torch.zeros(cfg.latent_dim, pixels))  # (D, P)
            self.register_buffer("pca_scale", torch.ones(cfg.latent_dim))  # (D,)
            self.register_buffer("pca_ready", torch.zeros((), dtype=torch.bool))
        self._ready_seen: Tensor | None = None  # the pca_ready buffer last seen set (see forward)
        self.register_load_state_dict_post_hook(_forget_ready_flag)
        probe = torch.zeros(1, *self.image_shape)
        try:
            weighted_image_loss(cfg.losses, probe, probe, None, cfg.ssim_window, cfg.laplacian_levels)
        except ValueError as exc:
            raise ConfigError(f"model.losses: {exc}") from None

    # ------------------------------------------------------------------ optimisation
    def param_groups_for(self, group: str) -> list[dict[str, Any]]:
        """Decoder weights with the optimizer's settings; the table with its own LR, no decay."""
        table: dict[str, Any] = {"params": [self.latents.weight], "weight_decay": 0.0, "sparse": self.cfg.sparse}
        if self.cfg.latent_lr is not None:
            table["lr"] = self.cfg.latent_lr
        return [{"params": list(self.decoder.parameters())}, table]

    def initialize_from_data(self, train: ImageDataset) -> None:
        """PCA initialisation of the table from the training images (no-op for other inits, and
        once done: `train_and_evaluate` runs it before init.pt is written, the DataInit callback
        again at step 0 for trainers driven by hand)."""
        if self.cfg.latent_init != "pca" or bool(self.pca_ready):
            return
        if len(train) != self.num_train:
            raise DataError(f"the training split has {len(train)} images but the latent table {self.num_train} rows")
        mean, basis, scale = pca_fit(train.images, self.latent_dim)
        with torch.no_grad():
            self.pca_mean.copy_(mean)
            self.pca_basis.copy_(basis)
            self.pca_scale.copy_(scale)
            dev = self.latents.weight.device
            for start in range(0, len(train), 4096):
                x = train.images[start : start + 4096].to(dev).float().div_(255.0)  # (b, C, H, W)
                self.latents.weight[start : start + x.shape[0]] = self._initial_codes(x)
            if self.cfg.project_unit_ball:
                self.latents.weight.copy_(project_to_unit_ball(self.latents.weight))
            self.pca_ready.fill_(True)

    def _initial_codes(self, x: Tensor) -> Tensor:
        """Starting codes (B, D) of images x: zeros, or their PCA coordinates for PCA init."""
        if self.cfg.latent_init == "pca":
            return pca_project(x, self.pca_mean, self.pca_basis, self.pca_scale)
        return x.new_zeros(x.shape[0], self.latent_dim)

    def _objective(self, z: Tensor, x: Tensor) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """Per-image (objective, reconstruction, parts) of codes z (B, D) against x (B, C, H, W)."""
        logits = self.decoder(z).float()  # (B, C, H, W)
        with torch.autocast(device_type=x.device.type, enabled=False):
            recon, parts = weighted_image_loss(
                self.cfg.losses, torch.sigmoid(logits), x.float(), logits, self.cfg.ssim_window,
                self.cfg.laplacian_levels,
            )
        objective = recon + self.cfg.latent_penalty * z.float().square().sum(1) if self.cfg.latent_penalty else recon
        return objective, recon, parts

    def _check_table_ready(self) -> None:
        """Fail when a PCA table was never initialised. Reading the flag waits for the device, so
        once it has been seen set, that same buffer object is not read again: only
        `initialize_from_data` sets it, and a load (the post-hook) or a device move (a new
        buffer) makes the next forward look again."""
        if self.cfg.latent_init != "pca" or self._ready_seen is self.pca_ready:
            return
        if not bool(self.pca_ready):
            raise ConfigError(
                "model.latent_init=pca: the table was never initialised from the training images "
                "(train through latentscape, whose callbacks do it, or call initialize_from_data)"
            )
        self._ready_seen = self.pca_ready

    def _check_indices(self, batch: Batch) -> None:
        """Fail on indices past the table. A batch whose indices are known to lie below the table's
        size (`Batch.index_bound`, set by the loaders) needs no look at them (no device sync)."""
        idx = batch.index
        if batch.index_bound is not None and batch.index_bound <= self.num_train:
            return
        if idx.numel() and int(idx.max()) >= self.num_train:
            raise DataError(
                f"batch index {int(idx.max())} is outside the latent table ({self.num_train} rows): the "
                f"training split differs from the one this auto-decoder was built for"
            )

    def forward(self, batch: Batch, group: str = "main") -> LossOutput:
        idx = batch.index  # (B,) rows of the table
        self._check_table_ready()
        self._check_indices(batch)
        if self.cfg.project_unit_ball and self.training:
            with torch.no_grad():  # GLO's projection, applied to the rows before they are used
                self.latents.weight[idx] = project_to_unit_ball(self.latents.weight[idx])
        z = self.latents(idx)  # (B, D)
        objective, recon, parts = self._objective(z, batch.x)
        loss = objective.mean()
        logs = {
            "recon": recon.mean().detach(),
            "latent_norm": z.detach().float().norm(dim=1).mean(),
            **{k: v.mean().detach() for k, v in parts.items()},
        }
        return LossOutput(loss, logs)

    # ------------------------------------------------------------------ inference
    def fit_codes(self, x: Tensor, steps: int | None = None, lr: float | None = None,
                  progress: ProgressFn | None = None) -> Tensor:
        """Latents (B, D) fitted to images x (B, C, H, W) in [0, 1] with the decoder frozen;
        `progress(images done, B)` after each chunk of `val_batch_size` images.

        Deterministic, batch-size independent (per-image Adam on a summed loss), in eval mode;
        the decoder's parameters, buffers, gradients and train/eval flags are left as they were.
        """
        steps = self.cfg.val_steps if steps is None else steps
        lr = self.cfg.val_lr if lr is None else lr
        out = []
        with _eval_mode(self):
            for chunk in x.split(self.cfg.val_batch_size):
                z0 = self._initial_codes(chunk)
                out.append(
                    fit_latents(lambda z, xb: self._objective(z, xb)[0], chunk, z0, steps, lr,
                                project=self.cfg.project_unit_ball)
                )
                if progress is not None:
                    progress(sum(len(o) for o in out), x.shape[0])
        return torch.cat(out) if out else x.new_zeros(0, self.latent_dim)

    def embed(self, x: Tensor) -> Tensor:
        """Images (B, C, H, W) in [0, 1] -> fitted latents (B, latent_dim)."""
        return self.fit_codes(x)

    def training_latents(self) -> Tensor:
        """The learned table (N, D), detached (projected onto the unit ball when that is on)."""
        z = self.latents.weight.detach()
        return project_to_unit_ball(z) if self.cfg.project_unit_ball else z

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n images decoded from a Gaussian fitted to the training latents, (n, C, H, W) in [0, 1]."""
        z = self.training_latents().float()  # (N, D)
        mu = z.mean(0)
        cov = torch.cov(z.T).reshape(self.latent_dim, self.latent_dim) if z.shape[0] > 1 else torch.zeros(
            self.latent_dim, self.latent_dim, device=z.device
        )
        chol = torch.linalg.cholesky(cov + 1e-6 * torch.eye(self.latent_dim, device=z.device))  # (D, D)
        where = generator.device if generator is not None else None  # the generator's device (CUDA ones too)
        eps = torch.randn(n, self.latent_dim, generator=generator, device=where).to(z.device)  # (n, D)
        return self.decode(mu + eps @ chol.T)

    def evaluate_batch(self, batch: Batch) -> dict[str, Tensor]:
        """Per-image metrics at latents fitted with the decoder frozen (the study's validation)."""
        z = self.fit_codes(batch.x)
        with torch.no_grad(), _eval_mode(self):
            objective, recon, parts = self._objective(z, batch.x)
        return {"loss": objective, "recon": recon, **parts}


def _forget_ready_flag(module: AutoDecoder, incompatible_keys: Any) -> None:
    """A loaded state may hold an uninitialised table: the next forward reads the flag again."""
    module._ready_seen = None


def _callbacks(run_cfg) -> list:
    from latentscape.models.autodecoder_pictures import AutoDecoderPictures
    from latentscape.models.data_init import DataInit

    return [DataInit(), AutoDecoderPictures()]


AUTODECODER_ENTRY = ModelEntry(
    config=AutoDecoderConfig,
    build=AutoDecoder,
    callbacks=_callbacks,
    description="auto-decoder / GLO: decoder + learned per-image latents; new images by latent fitting",
    tags=("autoencoder", "generative"),
)
