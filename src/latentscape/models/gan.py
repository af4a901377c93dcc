"""DCGAN-style GANs trained with the original BCE game, LSGAN or WGAN-GP.

The model has two optimizer groups, `critic` and `generator`. The trainer asks `group_for_step`
which one a step updates: `n_critic` critic steps, then one generator step (Gulrajani et al.
2017, Algorithm 1 uses n_critic = 5; the other losses alternate 1:1). An *iteration* is one
generator step, so after `s` trainer steps `iteration_at(s) = s // (n_critic + 1)` iterations
are done; pictures and FID are scheduled in iterations. Every step draws a real batch.

Images arrive in [0, 1] and are mapped to [-1, 1] to match the generator's tanh output;
`sample` and `decode` map back to [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn

from latentscape.data.types import Batch
from latentscape.losses.gan import GAN_LOSSES, gradient_penalty
from latentscape.rundir.model import DataInfo, LatentModel, LossOutput, ModelConfig, ModelEntry
from latentscape.models.ema import make_ema_copy, update_ema_
from latentscape.nets.dcgan import NORMS, DCGANDecoder, DCGANEncoder, dcgan_init_
from latentscape.ranges import INF, ranged
from latentscape.rundir.callbacks import Callback, TrainState

GANLossName = GAN_LOSSES.literal()
NormName = NORMS.literal()
CriticNormName = Literal[("auto", *NORMS.names())]  # type: ignore[valid-type]


@dataclass(frozen=True)
class GANPicturesConfig:
    """What the GAN pictures callback writes during training (all schedules in iterations).

    Attributes:
        every: sample grid `images/samples_step<N>.png` every N iterations (0: only at the end).
        grid_size: samples in a grid (a fixed latent batch, so grids are comparable).
        interpolation_steps: images between two latent codes (interpolation.png / .gif).
        sweep_steps: grid side of the two-dimension sweeps (sweep_range1.png, sweep_range3.png).
        fid_every: FID every N iterations, logged (split "fid") and plotted (0: off).
        fid_samples: generated samples per FID estimate.
        fid_reference_split: split of the reference statistics.
        feature_net: registered feature net (`domain` or `inception`).
        feature_run: run directory of the domain classifier (None: the cached default of the
            dataset, made by `latentscape fid-net DATASET`).
        inception_weights: local FID Inception weights file (None: cache / hashed download).
        seed: seed of the fixed latent codes.
    """

    every: int = ranged(1000, 0, INF)
    grid_size: int = ranged(64, 1, 4096)
    interpolation_steps: int = ranged(10, 2, 1000)
    sweep_steps: int = ranged(8, 2, 100)
    fid_every: int = ranged(0, 0, INF)
    fid_samples: int = ranged(2000, 2, 10**7)
    fid_reference_split: Literal["train", "test", "val"] = "test"
    feature_net: str = "domain"
    feature_run: str | None = None
    inception_weights: str | None = None
    seed: int = ranged(1234, 0, 2**63 - 1)


@dataclass(frozen=True)
class GANConfig(ModelConfig):
    """Options of the `gan` model.

    Attributes:
        loss: "bce" (original minimax), "bce_nonsaturating", "lsgan" or "wgan_gp".
        latent_dim: size of z ~ N(0, I).
        width: base channel count of both nets (DCGAN: 64).
        generator_norm: normalisation in the generator.
        critic_norm: normalisation in the critic; "auto" is batch norm, except "layer" for
            WGAN-GP, whose per-example penalty rules batch norm out (Gulrajani et al., sec. 4).
        n_critic: critic steps per generator step; None: 5 for WGAN-GP, else 1.
        gp_weight: lambda of the gradient penalty (Gulrajani et al.: 10).
        ema_decay: EMA of the generator weights used by `sample` / `decode` (0: off).
        init: "dcgan" (N(0, 0.02), Radford et al. 2016) or "default" (PyTorch's).
        pictures: sample grids, interpolations, sweeps and FID during training.
    """

    name: str = "gan"
    loss: GANLossName = "wgan_gp"
    latent_dim: int = ranged(100, 1, 10**6)
    width: int = ranged(64, 1, 10**5)
    generator_norm: NormName = "batch"
    critic_norm: CriticNormName = "auto"
    n_critic: int | None = ranged(None, 1, 1000)
    gp_weight: float = ranged(10.0, 0.0, 1e6)
    ema_decay: float = ranged(0.0, 0.0, 1.0, high_open=True)
    init: Literal["dcgan", "default"] = "dcgan"
    pictures: GANPicturesConfig = field(default_factory=GANPicturesConfig)

    def __post_init__(self) -> None:
        if self.latent_dim < 1 or self.width < 1:
            raise ValueError("latent_dim and width must be positive")
        if self.n_critic is not None and self.n_critic < 1:
            raise ValueError(f"n_critic must be >= 1, got {self.n_critic}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")

    @property
    def resolved_n_critic(self) -> int:
        return self.n_critic if self.n_critic is not None else GAN_LOSSES[self.loss].default_n_critic

    @property
    def resolved_critic_norm(self) -> str:
        if self.critic_norm != "auto":
            return self.critic_norm
        return "layer" if GAN_LOSSES[self.loss].gradient_penalty else "batch"


@contextmanager
def _eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


@contextmanager
def _frozen(module: nn.Module) -> Iterator[nn.Module]:
    """Build the graph without gradients for `module`'s weights (they still flow through it)."""
    flags = [p.requires_grad for p in module.parameters()]
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        yield module
    finally:
        for p, f in zip(module.parameters(), flags):
            p.requires_grad_(f)


def _penalty() -> Callable[..., Tensor]:
    """`gradient_penalty`, kept out of the graph when `torch.compile` traces the step
    (train.compile): compiled graphs have no double backward, which the penalty's gradient needs.
    Decided at trace time, so an eager run never imports the compiler."""
    return torch.compiler.disable(gradient_penalty) if torch.compiler.is_compiling() else gradient_penalty


class GAN(LatentModel):
    """A generator G: z -> image and a critic D: image -> score, trained adversarially."""

    groups = ("critic", "generator")

    def __init__(self, cfg: GANConfig, info: DataInfo) -> None:
        super().__init__()
        self.cfg = cfg
        self.image_shape = info.image_shape
        self.latent_dim = cfg.latent_dim
        self.n_critic = cfg.resolved_n_critic
        self.objective = GAN_LOSSES[cfg.loss]
        self.generator = DCGANDecoder(
            cfg.latent_dim, info.image_shape, cfg.width, norm=cfg.generator_norm, out_activation="tanh"
        )
        critic_norm = cfg.resolved_critic_norm
        self.critic = DCGANEncoder(info.image_shape, 1, cfg.width, norm=critic_norm)  # type: ignore[arg-type]
        if cfg.init == "dcgan":
            dcgan_init_(self.generator)
            dcgan_init_(self.critic)
        self.generator_ema = make_ema_copy(self.generator) if cfg.ema_decay > 0 else None
        self._steps = {"critic": self._critic_step, "generator": self._generator_step}

    # ------------------------------------------------------------------ the contract
    def params_for(self, group: str) -> Iterator[nn.Parameter]:
        nets = {"critic": self.critic, "generator": self.generator}
        if group not in nets:
            raise KeyError(f"unknown group {group!r}; this model has {self.groups}")
        return nets[group].parameters()

    def group_for_step(self, step: int) -> str:
        """`n_critic` critic steps, then one generator step."""
        return "generator" if step % (self.n_critic + 1) == self.n_critic else "critic"

    def iteration_at(self, step: int) -> int:
        """Generator steps done after `step` trainer steps."""
        return step // (self.n_critic + 1)

    def forward(self, batch: Batch, group: str = "critic") -> LossOutput:
        if group not in self._steps:
            raise KeyError(f"unknown group {group!r}; this model has {self.groups}")
        return self._steps[group](batch.x * 2 - 1)  # (B, C, H, W) in [-1, 1]

    def _noise(self, n: int, device: torch.device) -> Tensor:
        return torch.randn(n, self.latent_dim, device=device)  # (n, latent_dim)

    def _scores(self, x: Tensor) -> Tensor:
        return self.critic(x).squeeze(1)  # (B, 1) -> (B,)

    def _critic_step(self, real: Tensor) -> LossOutput:
        with torch.no_grad():
            fake = self.generator(self._noise(real.shape[0], real.device))  # (B, C, H, W)
        real_s, fake_s = self._scores(real), self._scores(fake)
        loss = self.objective.critic(real_s, fake_s)
        logs = {"critic/real_score": real_s.detach().mean(), "critic/fake_score": fake_s.detach().mean()}
        if self.objective.gradient_penalty:
            gp = _penalty()(self.critic, real, fake)
            logs["critic/wasserstein"] = (real_s.detach().mean() - fake_s.detach().mean())
            logs["critic/gradient_penalty"] = gp.detach()
            loss = loss + self.cfg.gp_weight * gp
        return LossOutput(loss, logs)

    def _generator_step(self, real: Tensor) -> LossOutput:
        fake = self.generator(self._noise(real.shape[0], real.device))  # (B, C, H, W)
        with _frozen(self.critic):
            fake_s = self._scores(fake)
        loss = self.objective.generator(fake_s)
        return LossOutput(loss, {"generator/fake_score": fake_s.detach().mean()})

    @torch.no_grad()
    def evaluate_batch(self, batch: Batch) -> dict[str, Tensor]:
        """Critic and generator losses (without the penalty) on a real batch, per example."""
        real = batch.x * 2 - 1
        b = real.shape[0]
        fake = self.generator(self._noise(b, real.device))
        real_s, fake_s = self._scores(real), self._scores(fake)
        return {
            "critic_loss": self.objective.critic(real_s, fake_s).expand(b),
            "generator_loss": self.objective.generator(fake_s).expand(b),
            "real_score": real_s,
            "fake_score": fake_s,
        }

    # ------------------------------------------------------------------ capabilities
    @property
    def sampling_generator(self) -> nn.Module:
        """The generator used for pictures and metrics: its EMA when enabled."""
        return self.generator_ema if self.generator_ema is not None else self.generator

    def decode(self, z: Tensor) -> Tensor:
        """Latent codes (B, latent_dim) -> images (B, C, H, W) in [0, 1] (eval-mode norms)."""
        net = self.sampling_generator
        with _eval_mode(net):
            x = net(z)  # (B, C, H, W) in [-1, 1]
        return ((x + 1) / 2).clamp(0, 1)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n images (n, C, H, W) in [0, 1] from z ~ N(0, I) drawn with `generator`."""
        device = next(self.generator.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=generator, device=generator.device if generator else device)
        return self.decode(z.to(device))

    def update_ema(self) -> None:
        """Fold the current generator weights into the EMA copy (no-op when EMA is off)."""
        if self.generator_ema is not None:
            update_ema_(self.generator_ema, self.generator, self.cfg.ema_decay)


class EMAUpdate(Callback):
    """Updates the generator EMA after every generator step."""

    def on_step_end(self, state: TrainState, logs: dict[str, float]) -> None:
        model = state.model
        if model.group_for_step(state.step - 1) == "generator":
            model.update_ema()


def build_gan(cfg: GANConfig, info: DataInfo) -> GAN:
    return GAN(cfg, info)


def gan_callbacks(run_cfg) -> list[Callback]:
    """EMA updates (when enabled) and the pictures / FID callback."""
    from latentscape.models.gan_pictures import GANPictures

    callbacks: list[Callback] = []
    if run_cfg.model.ema_decay > 0:
        callbacks.append(EMAUpdate())
    callbacks.append(GANPictures(run_cfg.model.pictures))
    return callbacks


# Declared in latentscape.registry.MODELS as "gan".
GAN_ENTRY = ModelEntry(
    GANConfig,
    build_gan,
    callbacks=gan_callbacks,
    description="DCGAN-style GAN: BCE (minimax / non-saturating), LSGAN or WGAN-GP",
    tags=("generative", "sample"),
)
