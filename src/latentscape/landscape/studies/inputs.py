"""What the weight-space analyses read: runs (endpoints, curves) and evaluation data."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import torch

from latentscape.data.types import ImageDataset
from latentscape.errors import LatentscapeError
from latentscape.landscape.core.curves import Curve
from latentscape.landscape.core.params import Params, named_params
from latentscape.rundir.load import LoadedRun, load_run


def load_weights_ref(spec: str, device: str = "cpu") -> LoadedRun:
    """`load_run(spec)`; a curve run is rejected with a hint (use --curve)."""
    loaded = load_run(spec, device=device)
    if loaded.config.model.name == "curve":
        raise LatentscapeError(f"{spec} is a curve run; pass it with --curve")
    return loaded


def load_curve_run(spec: str) -> tuple[LoadedRun, Curve]:
    """A trained curve run -> (LoadedRun, Curve over its base model's parameters)."""
    loaded = load_run(spec)
    if loaded.config.model.name != "curve":
        raise LatentscapeError(f"{spec} is not a curve run (model.name={loaded.config.model.name!r}); make one with `latentscape connect`")
    return loaded, loaded.model.to_curve()


def endpoint_data_config(loaded: Any, data_dir: str | None) -> Any:
    """The data config of a run (a curve run: the same), with `data_dir` overridden."""
    cfg = loaded.config.data
    return dataclasses.replace(cfg, data_dir=data_dir) if data_dir else cfg


def load_eval_data(
    data_cfg: Any, splits: Sequence[str], max_examples: int | None = None
) -> dict[str, ImageDataset]:
    """The requested splits (the first `max_examples` of each when given)."""
    from latentscape.data.registry import load_split

    out = {}
    for s in splits:
        ds = load_split(data_cfg, s)
        if max_examples is not None and len(ds) > max_examples:
            ds = ds.subset(torch.arange(max_examples))
        out[s] = ds
    return out


def params_of(loaded: LoadedRun) -> Params:
    """The trainable weights of a loaded run's model."""
    return named_params(loaded.model)
