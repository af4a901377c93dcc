"""The contract of evaluation metrics that `latentscape eval RUN --metrics a,b` computes.

A metric is registered in `registry.METRICS` as a function `(ctx: EvalContext) -> dict[str, float]`
that returns one or more named numbers (plus, optionally, the protocol under which they were
measured, as string values). A metric that does not apply to the model (FID for a model that
cannot sample) raises `MetricNotApplicable` with a one-line reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

from latentscape.data.types import ImageDataset
from latentscape.errors import LatentscapeError
from latentscape.progress import ProgressFn


class MetricNotApplicable(LatentscapeError):
    """The requested metric needs a capability this model lacks."""


def int_option(options: dict[str, str], key: str, default: int, low: int = 1) -> int:
    """`--opt key=N` as an integer >= `low` (the default when absent); a LatentscapeError naming
    the option otherwise (int("abc") deep inside a metric was a ValueError summary)."""
    try:
        value = int(options.get(key, default))
    except (TypeError, ValueError):
        raise LatentscapeError(f"--opt {key}={options[key]!r}: expected an integer") from None
    if value < low:
        raise LatentscapeError(f"--opt {key}={value}: must be at least {low}")
    return value


@dataclass
class EvalContext:
    """What a metric may use.

    Attributes:
        loaded: the `LoadedRun` (run, config, model in eval mode, data info).
        dataset: the split being evaluated.
        train_dataset: the training split (reference statistics, feature nets).
        split: name of the evaluated split.
        device: where to compute.
        batch_size: evaluation batch size.
        num_samples: samples to draw for sample-based metrics (FID, KID).
        seed: seed of every random draw in the evaluation.
        options: metric options from the command line (`--opt key=value`; keys declared in
            `latentscape.metrics.options.METRIC_OPTIONS`).
        progress: `progress(done, total)` after each batch of the metric being computed (images
            or samples); set by `compute.evaluate_loaded` around each metric.
        allow_download: a metric may download pretrained weights it lacks (only when it was
            named: a default evaluation never reaches for the network, it skips the metric).
    """

    loaded: Any
    dataset: ImageDataset
    train_dataset: ImageDataset | None
    split: str
    device: torch.device
    batch_size: int = 500
    num_samples: int = 10_000
    seed: int = 0
    options: dict[str, str] = field(default_factory=dict)
    progress: ProgressFn | None = None
    allow_download: bool = True

    def report(self, done: int, total: int) -> None:
        """Pass `done` of `total` to the progress callback, if any."""
        if self.progress is not None:
            self.progress(done, total)

    @contextmanager
    def weights_needed(self, metric: str) -> Iterator[None]:
        """Around loading pretrained weights: when downloads are off (a default evaluation), a
        missing file's error says how to get it."""
        try:
            yield
        except LatentscapeError as exc:
            if self.allow_download or "not in the cache" not in str(exc):
                raise
            raise type(exc)(f"{exc} (a default eval downloads nothing: `--metrics {metric}` fetches it)") from None
