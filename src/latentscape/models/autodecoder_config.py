"""Config of the auto-decoder (`autodecoder`, GLO): typed, frozen, validated on construction.

Defaults follow the decoder-only study (002, `hparams.py`): 2-D latents initialised at zero,
leaky ReLU, batch norm on, no dropout, biases on, MSE reconstruction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from latentscape.errors import ConfigError
from latentscape.losses.image import check_loss_weights
from latentscape.config import ModelConfig
from latentscape.nets.fc_decoder import parse_arch
from latentscape.ranges import INF, ranged


@dataclass(frozen=True)
class AutoDecoderConfig(ModelConfig):
    """Auto-decoder options.

    Attributes:
        net: decoder family: "fc" (built from `arch`) or a conv decoder of the autoencoders
            ("dcgan" for 28/32/64 px, "celeba64", "fcconv" with `arch` as its hidden sizes).
        arch: hidden widths of the fc decoder, "500-500-1000" (the study's --arch).
        latent_dim: size of each example's latent vector (study default 2).
        activation: relu, leaky_relu, tanh or swish (fc decoder).
        batchnorm: BatchNorm1d after each hidden layer (fc decoder).
        dropout: dropout after each hidden activation (fc decoder; 0 disables it).
        bias: biases in the fc decoder's Linear layers.
        width: channels of the first conv layer (dcgan, celeba64).
        latent_init: "zeros" (the study), "normal" (N(0, latent_init_std^2)) or "pca" (the
            training images projected on their first `latent_dim` principal components, scaled
            to unit variance per component; GLO, Bojanowski et al. 2018, sec. 3.3).
        latent_init_std: standard deviation of the "normal" initialisation.
        latent_lr: learning rate of the latent table (None: the optimizer's LR, as the study).
        latent_penalty: weight of the mean squared norm of the batch's latents added to the loss.
        project_unit_ball: keep every latent inside the unit ball (GLO's projection, sec. 3.1),
            applied to a row before each use and after each fitting step.
        sparse: sparse gradients + SparseAdam for the table (only the batch's rows and moments
            move: "lazy" Adam) instead of dense Adam over the whole table (the study's Keras
            behaviour, whose momentum keeps moving rows outside the batch). Default on: faster per
            step on MNIST's 60,000-row table (bench/autodecoder.py, best of 3 alternated runs:
            24.1 vs 26.4 ms at d=2, 16.8 vs 51.3 ms at d=32), though dense Adam reconstructs better after
            few epochs (bench/autodecoder.py vs --sparse). Not with train.grad_clip or torchrun (both need
            dense gradients).
        losses: reconstruction loss name -> weight (mse, mae/l1, bce, ssim, laplacian).
        laplacian_levels: band-pass levels of the Laplacian-pyramid loss.
        ssim_window: Gaussian window of the SSIM loss (odd).
        val_steps: Adam steps that fit the latents of new images (validation, embed, reconstruct)
            with the decoder frozen.
        val_lr: learning rate of that fitting.
        val_batch_size: images fitted together (the result does not depend on it).
    """

    name: str = "autodecoder"
    net: Literal["fc", "fcconv", "dcgan", "celeba64"] = "fc"
    arch: str = "500-500-1000"
    latent_dim: int = ranged(2, 1, 10**6)
    activation: Literal["relu", "leaky_relu", "tanh", "swish"] = "leaky_relu"
    batchnorm: bool = True
    dropout: float = ranged(0.0, 0.0, 1.0, high_open=True)
    bias: bool = True
    width: int = ranged(32, 1, 10**5)
    latent_init: Literal["zeros", "normal", "pca"] = "zeros"
    latent_init_std: float = ranged(0.01, 0.0, 1e3, low_open=True)
    latent_lr: float | None = ranged(None, 0.0, 1e3, low_open=True)
    latent_penalty: float = ranged(0.0, 0.0, 1e6)
    project_unit_ball: bool = False
    sparse: bool = True
    losses: dict[str, float] = ranged(default_factory=lambda: {"mse": 1.0}, low=0.0)
    laplacian_levels: int = ranged(3, 1, 16)
    ssim_window: int = ranged(11, 1, 255)
    val_steps: int = ranged(50, 0, 10**6)
    val_lr: float = ranged(0.05, 0.0, 1e3, low_open=True)
    val_batch_size: int = ranged(1000, 1, INF)

    def __post_init__(self) -> None:
        try:
            parse_arch(self.arch)
        except ValueError as exc:
            raise ConfigError(f"model.arch: {exc}") from None
        if self.latent_dim < 1 or self.width < 1 or self.laplacian_levels < 1 or self.val_batch_size < 1:
            raise ConfigError("model.latent_dim, model.width, model.laplacian_levels and model.val_batch_size must be >= 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"model.dropout must be in [0, 1), got {self.dropout}")
        if self.val_steps < 0 or not self.val_lr > 0 or not self.latent_init_std > 0:
            raise ConfigError("model.val_steps must be >= 0, model.val_lr and model.latent_init_std > 0")
        if self.latent_lr is not None and not self.latent_lr > 0:
            raise ConfigError(f"model.latent_lr must be > 0 (or null), got {self.latent_lr}")
        if self.latent_penalty < 0:
            raise ConfigError(f"model.latent_penalty must be >= 0, got {self.latent_penalty}")
        if self.ssim_window < 1 or self.ssim_window % 2 == 0:
            raise ConfigError(f"model.ssim_window must be odd and positive, got {self.ssim_window}")
        try:
            check_loss_weights(self.losses)
        except ValueError as exc:
            raise ConfigError(f"model.losses: {exc}") from None

    @property
    def hidden_dims(self) -> tuple[int, ...]:
        """Widths parsed from `arch`."""
        return parse_arch(self.arch)
