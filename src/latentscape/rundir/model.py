"""The model contract (DESIGN.md, Model) and the registry entry that pairs a model with its config.

A model is an `nn.Module` whose `forward(batch, group)` returns its training objective. Models with
several optimizers (a GAN's critic and generator) name their groups. Nets (architectures) live in
`latentscape.nets` and know no losses; losses are pure functions in `latentscape.losses`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from torch import Tensor, nn

from latentscape.config import ModelConfig
from latentscape.data.types import Batch

__all__ = ["DataInfo", "LatentModel", "LossOutput", "ModelConfig", "ModelEntry"]


class LossOutput(NamedTuple):
    """A scalar objective to minimise and scalar logs (detached by the trainer before logging)."""

    loss: Tensor
    logs: dict[str, Tensor]


@dataclass(frozen=True)
class DataInfo:
    """What a builder needs to know about the data: shapes and label count."""

    image_shape: tuple[int, int, int]  # (C, H, W)
    num_classes: int
    num_train: int


class LatentModel(nn.Module):
    """Base class with the defaults of the model contract.

    Subclasses implement `forward(batch, group)`; the rest is optional:
    `reconstruct(x)`, `sample(n, generator)`, `embed(x)`, `decode(z)`, and
    `use_training_data(train, batch_size)` for a model whose evaluation needs the training split
    (a curve recomputes the BatchNorm statistics of theta(t) from it): the trainer and
    `latentscape eval` hand it over.
    """

    #: optimizer groups, in the order they are created.
    groups: tuple[str, ...] = ("main",)
    #: the global training step the weights are at (see `set_step`); 0 for fresh weights.
    step: int = 0

    def forward(self, batch: Batch, group: str = "main") -> LossOutput:  # pragma: no cover
        raise NotImplementedError

    def set_step(self, step: int) -> None:
        """Tell the model the global training step its weights are at.

        Part of the contract: the trainer calls it before every training step and before every
        evaluation, `load_run` calls it with the step the loaded weights were trained to, and
        wrappers (the `curve` model) pass it on to the models they wrap. Models whose objective
        depends on the step (the beta-VAE's KL schedule) derive it from `self.step` here, into a
        device tensor updated in place that `forward` reads (the VAE's `beta_t`): a Python
        number read by a compiled `forward` would recompile it at every new value. Others ignore it.
        """
        self.step = int(step)

    def params_for(self, group: str) -> Iterator[nn.Parameter]:
        """Parameters updated by `group`'s optimizer (all of them for single-group models)."""
        if group not in self.groups:
            raise KeyError(f"unknown group {group!r}; this model has {self.groups}")
        return self.parameters()

    def param_groups_for(self, group: str) -> list[dict[str, Any]]:
        """Torch param groups of `group`'s optimizer: one by default. Override to give some
        parameters their own "lr" / "weight_decay" (scheduled alike) or "sparse" gradients
        (stepped by SparseAdam in the same step); the auto-decoder's latent table does."""
        return [{"params": list(self.params_for(group))}]

    def group_for_step(self, step: int) -> str:
        """The optimizer group that the trainer updates at global step `step`."""
        return self.groups[0]

    def evaluation_protocol(self) -> dict[str, Any]:
        """How `evaluate_batch` measures, when that needs saying (recorded as "protocol" in
        eval/final.json): e.g. a curve's position t and where its BatchNorm statistics come from."""
        return {}

    def evaluate_batch(self, batch: Batch) -> dict[str, Tensor]:
        """Per-example evaluation metrics: name -> tensor (B,). The trainer averages them."""
        out = self(batch, self.groups[0])
        b = batch.x.shape[0]
        metrics = {"loss": out.loss.detach().expand(b)}
        for k, v in out.logs.items():
            if v.dim() == 0:
                metrics[k] = v.detach().expand(b)
        return metrics


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: its config class, a builder, and optional training callbacks.

    Attributes:
        config: the `ModelConfig` subclass that holds this model's options.
        build: (config, data_info) -> LatentModel.
        callbacks: optional (run_config) -> list of trainer callbacks that this model's runs get
            by default (pictures, FID every N steps, ...).
        description: one line for `--help` and docs.
    """

    config: type[ModelConfig]
    build: Callable[[Any, DataInfo], LatentModel]
    callbacks: Callable[[Any], Sequence[Any]] | None = None
    description: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)
