"""The trainer's callback contract: hooks and the state they see.

It lives below models and train because model families ship their own callbacks (pictures, FID
during training) and the trainer calls them; neither side imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from latentscape.config import RunConfig
from latentscape.data.types import ImageDataset
from latentscape.rundir.model import LatentModel
from latentscape.rundir.run import Run


@dataclass
class TrainState:
    """What callbacks see. `run` is None on non-zero ranks."""

    model: LatentModel
    run: Run | None
    config: RunConfig
    data: dict[str, ImageDataset]
    device: torch.device
    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    is_main: bool = True
    world_size: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


class Callback:
    """Hooks called by the trainer; override what you need. Write files only when is_main."""

    def before_run(self, config: RunConfig, data: dict[str, ImageDataset], device: torch.device) -> None:
        """Refuse a setup this callback cannot work with (raise LatentscapeError, one line saying
        how to fix it). Called before the run directory exists, so a run that could not finish
        leaves no folder behind (e.g. FID during training without a feature net)."""

    def on_train_start(self, state: TrainState) -> None: ...

    def on_step_end(self, state: TrainState, logs: dict[str, Any]) -> None:
        """`logs` holds 0-d tensors on the training device (and the float lr): reading one
        with float() waits for the device, so do it only when needed."""

    def on_eval_end(self, state: TrainState, metrics: dict[str, float]) -> None: ...

    def on_train_end(self, state: TrainState) -> None: ...
