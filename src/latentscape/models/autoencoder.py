"""The autoencoder family: AE and VAE / beta-VAE (registered as `ae` and `vae`).

- AE: a deterministic code, trained on a weighted sum of image losses (MAE, MSE, BCE, SSIM,
  Laplacian pyramid), as in the CIFAR-10 study (003) and the 64x64 mode-connectivity study (000).
- VAE: a diagonal Gaussian posterior q(z|x) = N(mu, diag(sigma^2)) sampled by reparameterisation
  (Kingma & Welling 2014, sec. 2.4), a standard normal prior and a named decoder likelihood.
  Its training objective per image is -log p(x|z) + beta * KL(q(z|x) || p(z)) in nats (the
  beta-VAE of Higgins et al. 2017, eq. 4; beta = 1 gives the negative ELBO), averaged over the
  batch, with beta following a schedule of the global step (`models.schedules`).

The scheduled beta reaches the objective as a 0-d device tensor (`beta_t`) updated in place by
`set_step`, not as a Python float: `torch.compile` (train.compile) would otherwise specialise the
compiled step on each new value and recompile it every step of a linear or cyclical schedule.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from latentscape.data.types import Batch
from latentscape.errors import ConfigError
from latentscape.losses.divergence import (
    diagonal_normal_log_prob,
    gaussian_kl,
    log_mean_exp,
    standard_normal_log_prob,
)
from latentscape.losses.image import weighted_image_loss
from latentscape.models.ae_nets import AE_NETS
from latentscape.models.autoencoder_config import AEConfig, AutoencoderConfig, VAEConfig
from latentscape.models.decoding import SigmoidDecoding
from latentscape.rundir.model import DataInfo, LatentModel, LossOutput, ModelEntry
from latentscape.models.likelihood import build_likelihood
from latentscape.models.schedules import beta_at
from latentscape.nets.init import init_weights

__all__ = ["AEConfig", "AutoencoderConfig", "Autoencoder", "VAE", "VAEConfig"]


def _full_precision(x: Tensor):
    """Leave bf16 autocast for the loss maths (convolutions inside SSIM / Laplacian losses)."""
    return torch.autocast(device_type=x.device.type, enabled=False)


class _AutoencoderBase(SigmoidDecoding, LatentModel):
    """Encoder, decoder and the capabilities both families share."""

    def __init__(self, cfg: AutoencoderConfig, info: DataInfo, code_size: int, variational: bool) -> None:
        super().__init__()
        self.cfg = cfg
        self.image_shape = tuple(info.image_shape)
        self.latent_dim = cfg.latent_dim
        spec = AE_NETS.get(cfg.net)
        self.symmetric_input = spec.symmetric_input
        try:
            self.encoder, self.decoder = spec.build(cfg, self.image_shape, code_size, variational)
        except ValueError as exc:
            raise ConfigError(f"model.net={cfg.net} does not fit {self.image_shape} images: {exc}") from None
        init_weights(self, cfg.init)
        self.step = 0

    def _check_losses_fit(self, key: str, weights: dict[str, float]) -> None:
        """Fail at build time (not at step 1) when a loss cannot handle this image size."""
        if not weights:
            return
        probe = torch.zeros(1, *self.image_shape)
        try:
            weighted_image_loss(weights, probe, probe, None, self.cfg.ssim_window, self.cfg.laplacian_levels)
        except ValueError as exc:
            raise ConfigError(f"{key}: {exc}") from None

    def _encode(self, x: Tensor) -> Tensor:
        """Encoder output (B, code_size) in float32, for images x (B, C, H, W) in [0, 1]."""
        return self.encoder(x * 2.0 - 1.0 if self.symmetric_input else x).float()

    @property
    def num_pixels(self) -> int:
        return math.prod(self.image_shape)


class Autoencoder(_AutoencoderBase):
    """Deterministic autoencoder trained on weighted image losses."""

    def __init__(self, cfg: AEConfig, info: DataInfo) -> None:
        super().__init__(cfg, info, cfg.latent_dim, variational=False)
        self._check_losses_fit("model.losses", cfg.losses)

    def embed(self, x: Tensor) -> Tensor:
        """Images (B, C, H, W) -> codes (B, latent_dim)."""
        return self._encode(x)

    def _losses(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        logits = self.decode_logits(self.embed(x))  # (B, C, H, W)
        cfg = self.cfg
        with _full_precision(x):
            return weighted_image_loss(
                cfg.losses, torch.sigmoid(logits), x.float(), logits, cfg.ssim_window, cfg.laplacian_levels
            )

    def forward(self, batch: Batch, group: str = "main") -> LossOutput:
        total, parts = self._losses(batch.x)  # (B,), {name: (B,)}
        loss = total.mean()
        logs = {"recon": loss.detach(), **{k: v.mean().detach() for k, v in parts.items()}}
        return LossOutput(loss, logs)

    def evaluate_batch(self, batch: Batch) -> dict[str, Tensor]:
        total, parts = self._losses(batch.x)
        return {"loss": total, "recon": total, **parts}


class VAE(_AutoencoderBase):
    """Gaussian-posterior VAE / beta-VAE with a named likelihood."""

    def __init__(self, cfg: VAEConfig, info: DataInfo) -> None:
        super().__init__(cfg, info, 2 * cfg.latent_dim, variational=True)
        self.likelihood = build_likelihood(cfg.likelihood, cfg.sigma)
        self._check_losses_fit("model.image_losses", cfg.image_losses)
        # The KL weight at `self.step`, float32 like the Python float it replaces once multiplied
        # into the float32 KL. Not persistent: checkpoints hold no copy (`set_step` rebuilds it).
        self.register_buffer("beta_t", torch.tensor(self.current_beta(), dtype=torch.float32), persistent=False)

    def current_beta(self) -> float:
        """The KL weight at the model's step, as a Python float (logs, reports)."""
        c = self.cfg
        return beta_at(c.beta_schedule, self.step, c.beta, c.warmup_steps, c.cycle_steps, c.cycle_ramp)

    def set_step(self, step: int) -> None:
        """Record the step and write its beta into `beta_t` in place (no new tensor, no sync)."""
        super().set_step(step)
        self.beta_t.fill_(self.current_beta())

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """q(z|x): means and log-variances, each (B, latent_dim)."""
        mu, logvar = self._encode(x).chunk(2, dim=1)  # (B, 2D) -> 2 x (B, D)
        return mu, logvar

    def embed(self, x: Tensor) -> Tensor:
        """Posterior means (B, latent_dim)."""
        return self.posterior(x)[0]

    def _noise(self, shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None) -> Tensor:
        if generator is None:
            return torch.randn(shape, device=like.device, dtype=like.dtype)
        # drawn where the generator lives (the CPU for the seeded evaluations: the same numbers on
        # every device), then moved
        return torch.randn(shape, generator=generator, dtype=like.dtype, device=generator.device).to(like.device)

    def terms(self, x: Tensor, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """One-sample ELBO terms per image, (B,) each: recon (-log p(x|z)), kl, and logits."""
        mu, logvar = self.posterior(x)
        z = mu + torch.exp(0.5 * logvar) * self._noise(mu.shape, mu, generator)  # (B, D)
        logits = self.decode_logits(z)  # (B, C, H, W)
        recon = -self.likelihood.log_prob(logits, x)
        return {"recon": recon, "kl": gaussian_kl(mu, logvar), "logits": logits}

    def forward(self, batch: Batch, group: str = "main") -> LossOutput:
        t = self.terms(batch.x)
        # this step's value: backward must not see a buffer that set_step rewrote in the meantime
        beta = self.beta_t.clone()
        objective = t["recon"] + beta * t["kl"]  # (B,) nats
        nelbo = (t["recon"] + t["kl"]).mean()
        logs = {
            "recon": t["recon"].mean().detach(),
            "kl": t["kl"].mean().detach(),
            "beta": beta,
            "nelbo": nelbo.detach(),
        }
        if self.cfg.image_losses:
            with _full_precision(batch.x):
                extra, parts = weighted_image_loss(
                    self.cfg.image_losses, torch.sigmoid(t["logits"]), batch.x.float(), t["logits"],
                    self.cfg.ssim_window, self.cfg.laplacian_levels,
                )
            objective = objective + extra * self.num_pixels
            logs.update({f"image_{k}": v.mean().detach() for k, v in parts.items()})
        return LossOutput(objective.mean(), logs)

    def evaluate_batch(self, batch: Batch) -> dict[str, Tensor]:
        t = self.terms(batch.x)
        nelbo = t["recon"] + t["kl"]
        return {"loss": t["recon"] + self.beta_t * t["kl"], "recon": t["recon"], "kl": t["kl"], "nelbo": nelbo}

    def iwae_log_likelihood(
        self, x: Tensor, k: int, generator: torch.Generator | None = None, max_decode: int = 8192
    ) -> Tensor:
        """Importance-weighted lower bound on log p(x) per image, (B,) in nats.

        Burda et al. 2016 ("Importance Weighted Autoencoders"), eq. 8:
        L_k = E[log (1/k) sum_i p(x, z_i) / q(z_i | x)], z_i ~ q(z|x). L_1 is the ELBO and L_k
        increases with k. Samples are decoded in chunks of at most `max_decode` images.
        """
        mu, logvar = self.posterior(x)  # (B, D)
        b = x.shape[0]
        chunk = max(1, max_decode // b)
        log_w = []
        for start in range(0, k, chunk):
            m = min(chunk, k - start)
            z = mu + torch.exp(0.5 * logvar) * self._noise((m, *mu.shape), mu, generator)  # (m, B, D)
            logits = self.decode_logits(z.reshape(m * b, -1))  # (m*B, C, H, W)
            xs = x.unsqueeze(0).expand(m, *x.shape).reshape(m * b, *x.shape[1:])  # (m*B, C, H, W)
            log_px = self.likelihood.log_prob(logits, xs).view(m, b)  # (m, B)
            log_w.append(log_px + standard_normal_log_prob(z) - diagonal_normal_log_prob(z, mu, logvar))
        return log_mean_exp(torch.cat(log_w), dim=0)  # (k, B) -> (B,)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n images from the prior, (n, C, H, W) in [0, 1] (the likelihood's mean)."""
        ref = next(self.parameters())
        z = self._noise((n, self.latent_dim), ref.float(), generator)
        return self.decode(z)


def _picture_callbacks(run_cfg) -> list:
    from latentscape.models.autoencoder_pictures import AutoencoderPictures

    return [AutoencoderPictures()]


# Declared in latentscape.registry.MODELS as "ae" and "vae".
AE_ENTRY = ModelEntry(
    config=AEConfig,
    build=Autoencoder,
    callbacks=_picture_callbacks,
    description="autoencoder on weighted image losses (mae, mse, bce, ssim, laplacian)",
    tags=("autoencoder",),
)
VAE_ENTRY = ModelEntry(
    config=VAEConfig,
    build=VAE,
    callbacks=_picture_callbacks,
    description="VAE / beta-VAE (constant, linear, cyclical beta) with a named likelihood",
    tags=("autoencoder", "generative"),
)
