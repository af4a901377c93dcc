"""Configs of the autoencoder family (`ae`, `vae`): typed, frozen, validated on construction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from latentscape.errors import ConfigError
from latentscape.losses.image import check_loss_weights
from latentscape.models.ae_nets import AE_NETS
from latentscape.rundir.model import ModelConfig
from latentscape.nets.init import InitName
from latentscape.ranges import INF, ranged
from latentscape.registry import BETA_SCHEDULES

AENetName = AE_NETS.literal()
BetaScheduleName = BETA_SCHEDULES.literal()


@dataclass(frozen=True)
class AutoencoderConfig(ModelConfig):
    """Options shared by AE and VAE.

    Attributes:
        net: architecture: fc, fcconv, dcgan (28/32/64 px) or celeba64 (64 px).
        latent_dim: size of the code z.
        hidden_dims: hidden sizes of the fc / fcconv encoder, e.g. (400,) or (32,).
        decoder_hidden_dims: hidden sizes of the fc / fcconv decoder (None: reversed hidden_dims).
        width: channels of the first conv layer (dcgan, celeba64).
        conv_hidden_dims: dense ReLU layers between the conv features and the code (dcgan), e.g.
            (512,): encoder features -> 512 -> code, code -> 512 -> decoder projection.
        init: weight initialisation of conv / linear layers (default: PyTorch's).
        ssim_window: Gaussian window size of the SSIM loss (odd).
        laplacian_levels: band-pass levels of the Laplacian-pyramid loss.
    """

    name: str = "ae"
    net: AENetName = "fc"
    latent_dim: int = ranged(20, 1, 10**6)
    hidden_dims: tuple[int, ...] = ranged((400,), 1, 10**6)
    decoder_hidden_dims: tuple[int, ...] | None = ranged(None, 1, 10**6)
    width: int = ranged(32, 1, 10**5)
    conv_hidden_dims: tuple[int, ...] = ranged((), 1, 10**6)
    init: InitName = "default"
    ssim_window: int = ranged(11, 1, 255)
    laplacian_levels: int = ranged(3, 1, 16)

    def __post_init__(self) -> None:
        if self.latent_dim < 1 or self.width < 1 or self.laplacian_levels < 1:
            raise ConfigError("model.latent_dim, model.width and model.laplacian_levels must be >= 1")
        if self.ssim_window < 1 or self.ssim_window % 2 == 0:
            raise ConfigError(f"model.ssim_window must be odd and positive, got {self.ssim_window}")


def _check_losses(key: str, weights: dict[str, float], allow_empty: bool) -> None:
    if allow_empty and not weights:
        return
    try:
        check_loss_weights(weights)
    except ValueError as exc:
        raise ConfigError(f"{key}: {exc}") from None


@dataclass(frozen=True)
class AEConfig(AutoencoderConfig):
    """AE options. `losses`: image loss name -> weight (mae/l1, mse, bce, ssim, laplacian)."""

    name: str = "ae"
    losses: dict[str, float] = ranged(default_factory=lambda: {"mse": 1.0}, low=0.0)

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_losses("model.losses", self.losses, allow_empty=False)


@dataclass(frozen=True)
class VAEConfig(AutoencoderConfig):
    """VAE / beta-VAE options.

    Attributes:
        likelihood: decoder likelihood: bernoulli, gaussian_fixed (with `sigma`) or
            gaussian_learned (one learned sigma, starting at `sigma`).
        sigma: standard deviation of the Gaussian likelihoods, for images in [0, 1].
        beta: KL weight (the target value of the linear / cyclical schedules).
        beta_schedule: constant, linear (warm-up over `warmup_steps`) or cyclical.
        warmup_steps: length of the linear warm-up.
        cycle_steps: period of the cyclical schedule.
        cycle_ramp: part of each cycle spent ramping up.
        image_losses: extra image losses added to the objective (not to the ELBO), each a per-pixel
            mean times the number of pixels so a weight of 1 is on the likelihood's scale.
    """

    name: str = "vae"
    latent_dim: int = ranged(20, 1, 10**6)
    likelihood: Literal["bernoulli", "gaussian_fixed", "gaussian_learned"] = "bernoulli"
    sigma: float = ranged(0.1, 0.0, 1e3, low_open=True)
    beta: float = ranged(1.0, 0.0, 1e6)
    beta_schedule: BetaScheduleName = "constant"
    warmup_steps: int = ranged(0, 0, INF)
    cycle_steps: int = ranged(0, 0, INF)
    cycle_ramp: float = ranged(0.5, 0.0, 1.0, low_open=True)
    image_losses: dict[str, float] = ranged(default_factory=dict, low=0.0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.sigma > 0 or self.beta < 0 or not 0 < self.cycle_ramp <= 1:
            raise ConfigError("model.sigma must be > 0, model.beta >= 0, model.cycle_ramp in (0, 1]")
        if self.beta_schedule == "cyclical" and self.cycle_steps <= 0:
            raise ConfigError("model.beta_schedule=cyclical needs model.cycle_steps > 0")
        _check_losses("model.image_losses", self.image_losses, allow_empty=True)
