"""What the analyses read: weight sets (runs, curve runs, or your own model and weights files),
how to score them, and the evaluation data."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from latentscape.data.types import ImageDataset
from latentscape.errors import LatentscapeError
from latentscape.landscape.core.batchnorm import has_batchnorm
from latentscape.landscape.core.curves import Curve
from latentscape.landscape.core.metrics import task_for
from latentscape.landscape.core.params import Params, check_compatible, named_params
from latentscape.landscape.core.task import Task
from latentscape.rundir.load import LoadedRun, load_run
from latentscape.timing import phase


@dataclass
class EvalOptions:
    """How points are evaluated (shared by path, plane, surface, trajectory, hessian)."""

    splits: Sequence[str] = ("train", "test")
    metrics: Sequence[str] | None = None
    batch_size: int = 1000
    max_examples: int | None = None
    bn_batches: int | None = None
    device: str = "cpu"
    data_dir: str | None = None
    use_vmap: bool = True

    def __post_init__(self) -> None:
        if not self.splits:
            raise LatentscapeError("--splits: give at least one split (train, val, test)")
        if self.metrics is not None and not self.metrics:
            raise LatentscapeError("--metrics: give at least one metric name, or leave it out for all that apply")
        for option, value in (("--batch-size", self.batch_size), ("--max-examples", self.max_examples),
                              ("--bn-batches", self.bn_batches)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise LatentscapeError(f"{option} {value}: must be a positive integer")


@dataclass
class UserModel:
    """`--model FILE.py:factory` with weights files, a dataset and `--loss`."""

    spec: str
    args: str | None = None
    data: str = "digits"
    data_overrides: Sequence[str] = ()
    loss: str = "cross_entropy"


@dataclass
class Source:
    """The model an analysis looks at and where its weights and data come from.

    Attributes:
        model: the architecture (its own weights are not used; never modified).
        buffers: buffers of the points (BatchNorm statistics when kept fixed, ...).
        weights: the weight sets given, in order.
        refs: how each was named on the command line.
        data_cfg: the dataset to evaluate on.
        run_dir: the run the weights come from (None for `--model`).
        curve: the trained curve of a curve run.
        user: the `--model` options (None for latentscape runs).
    """

    model: nn.Module
    buffers: Params
    weights: list[Params]
    refs: list[str]
    data_cfg: Any
    run_dir: Path | None = None
    curve: Curve | None = None
    user: UserModel | None = None
    model_name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def task(self, metrics: Sequence[str] | None = None, group: str | None = None) -> Task:
        """How the points are scored: the run's own metrics, or the `--loss` of `--model`."""
        if self.user is None:
            return task_for(self.model, metrics=metrics, group=group)
        if group is not None:
            raise LatentscapeError("--group applies to latentscape runs with several optimizers (GANs), not to --model")
        from latentscape.landscape.studies.user_model import criterion_for

        kind, fn = criterion_for(self.user.loss)
        return task_for(self.model, metrics=metrics, **{kind: fn})

    @property
    def dataset_name(self) -> str:
        return str(getattr(self.data_cfg, "name", ""))

    def protocol(self, data: dict[str, Any], full: dict[str, int] | None = None) -> dict[str, Any]:
        """The protocol entries every analysis records: model, dataset, examples per split (and
        the whole sizes of the splits --max-examples cut), and the --model options."""
        proto: dict[str, Any] = {"model": self.model_name, "dataset": self.dataset_name, "examples": {s: len(d) for s, d in data.items()}}
        if full:
            proto["full_sizes"] = dict(full)
        if self.user is not None:
            proto["user_model"] = {"factory": self.user.spec, "args": self.user.args, "loss": self.user.loss, "weights": list(self.refs)}
        return proto


def load_weights_ref(spec: str, device: str = "cpu") -> LoadedRun:
    """`load_run(spec)`; a curve run is rejected with a hint (use --curve)."""
    loaded = load_run(spec, device=device)
    if loaded.config.model.name == "curve":
        raise LatentscapeError(f"{spec} is a curve run; pass it with --curve")
    return loaded


def load_curve_run(spec: str, user_spec: str | None = None) -> tuple[LoadedRun, Curve]:
    """A trained curve run -> (LoadedRun, Curve over its base model's parameters). A curve of
    your own model needs `user_spec` (`--model`, the explicit opt-in to import its file)."""
    from latentscape.landscape.studies.user_curve import check_opt_in, opted_in

    check_opt_in(spec, user_spec)
    with opted_in(user_spec):
        loaded = load_run(spec)
    if loaded.config.model.name != "curve":
        raise LatentscapeError(f"{spec} is not a curve run (model.name={loaded.config.model.name!r}); make one with `latentscape connect`")
    return loaded, loaded.model.to_curve()


def endpoint_data_config(loaded: Any, data_dir: str | None) -> Any:
    """The data config of a run (a curve run: the same), with `data_dir` overridden."""
    cfg = loaded.config.data
    return dataclasses.replace(cfg, data_dir=data_dir) if data_dir else cfg


def from_refs(refs: Sequence[str], data_dir: str | None) -> Source:
    """Load runs by weight reference; all must share the architecture of the first."""
    with phase("load_runs"):
        loaded = [load_weights_ref(r) for r in refs]
    params = [named_params(ld.model) for ld in loaded]
    for r, p in zip(refs[1:], params[1:]):
        check_compatible(params[0], p, what=f"{refs[0]} and {r}")
    first = loaded[0]
    return Source(
        first.model, dict(first.model.named_buffers()), params, [str(r) for r in refs],
        endpoint_data_config(first, data_dir), first.run.path, model_name=first.config.model.name,
    )


def from_curve(ref: str, data_dir: str | None, user_spec: str | None = None) -> Source:
    """A curve run: its base architecture, its control points as weights, its curve. A curve of
    your own model (`connect --model`) needs `user_spec`, the `--model` that allows importing its
    file; its Source is then that of `--model` (your module, its names, the recorded --loss)."""
    with phase("load_runs"):
        loaded, curve = load_curve_run(ref, user_spec)
    cm = loaded.model
    cfg = loaded.config.model  # the weight sets the curve connects name its ends ("start"/"end" when unknown)
    refs = [getattr(cfg, "start", "") or "start", *[f"bend {k}" for k in range(1, curve.num_bends + 1)], getattr(cfg, "end", "") or "end"]
    data_cfg = endpoint_data_config(loaded, data_dir)
    record = loaded.config.model.user
    if record is not None:
        from latentscape.landscape.methods.task_model import unwrap

        user = UserModel(record.factory, record.args, record.data, (), record.loss)
        points = [unwrap(p) for p in curve.points]
        return Source(
            cm.base.net, unwrap(cm.base_buffers()), points, refs, data_cfg, loaded.run.path, Curve(points, curve.kind),
            user=user, model_name=record.factory.rpartition(":")[2],
        )
    return Source(
        cm.base_model(), cm.base_buffers(), curve.points, refs, data_cfg, loaded.run.path, curve, model_name=_start_model_name(loaded),
    )


def _start_model_name(loaded: LoadedRun) -> str:
    """The model name of a curve run's start run (the curve's own is "curve")."""
    from latentscape.rundir.load import parse_weight_spec
    from latentscape.rundir.run import Run

    try:
        return str(Run.open(parse_weight_spec(loaded.config.model.start)[0]).config().model.name)
    except Exception:  # noqa: BLE001  (a name for a summary: the base class will do)
        return type(loaded.model.base).__name__


def from_user_model(user: UserModel, weight_files: Sequence[str], data_dir: str | None) -> Source:
    """`--model FILE.py:factory` at the weights of each file, on the dataset `user.data`."""
    from latentscape.landscape.studies.user_model import build_user_model, fit_weights, read_weights_file

    model = build_user_model(user.spec, user.args)
    params, buffers = [], None
    for f in weight_files:
        p, b = fit_weights(model, read_weights_file(f), f"{f} (for --model {user.spec})")
        params.append(p)
        buffers = buffers if buffers is not None else b
    return Source(
        model, buffers or {}, params, [str(f) for f in weight_files], user_data_config(user, data_dir),
        user=user, model_name=user.spec.rpartition(":")[2] or type(model).__name__,
    )


def user_data_config(user: UserModel, data_dir: str | None) -> Any:
    """The `DataConfig` of `--data NAME --data-opt KEY=VALUE ...` (and `--data-dir`)."""
    from latentscape.config import apply_overrides, data_config

    bad = [o for o in user.data_overrides if not o.startswith("data.")]
    if bad:
        raise LatentscapeError(f"{bad[0]}: with --model only data.KEY=VALUE settings apply")
    raw = apply_overrides({"data": {"name": user.data}}, list(user.data_overrides))["data"]
    if data_dir:
        raw["data_dir"] = data_dir
    return data_config(raw)


def load_eval_data(
    data_cfg: Any, splits: Sequence[str], max_examples: int | None = None, full: dict[str, int] | None = None
) -> dict[str, ImageDataset]:
    """The requested splits (the first `max_examples` of each when given; `full` receives the
    whole size of each split that was cut)."""
    from latentscape.data.registry import load_split

    out = {}
    for s in splits:
        ds = load_split(data_cfg, s)
        if max_examples is not None and len(ds) > max_examples:
            if full is not None:
                full[s] = len(ds)
            ds = ds.subset(torch.arange(max_examples))
        out[s] = ds
    return out


def load_data(
    src: Source, opts: EvalOptions, recompute_bn: bool = True, full: dict[str, int] | None = None
) -> tuple[dict[str, ImageDataset], ImageDataset | None]:
    """The evaluated splits, and the training split only when BatchNorm statistics need it (so a
    test-only dataset can be evaluated with `--splits test`, and nobody pays for 60k unused
    training images). `full` receives the whole sizes of the splits `--max-examples` cut."""
    with phase("data"):
        data = load_eval_data(src.data_cfg, opts.splits, opts.max_examples, full)
        train = data.get("train")
        if train is None and recompute_bn and has_batchnorm(src.model):
            train = load_eval_data(src.data_cfg, ["train"], opts.max_examples)["train"]
    return data, train


def weight_set(model: nn.Module, weights: Any, what: str = "weights") -> tuple[Params, Params]:
    """(parameters, buffers) of `model` at `weights`: a module of the same architecture, a state
    dict, or a weights file (.pt read with weights_only, .safetensors), checked against the model
    (the first tensor that does not fit is named).
    """
    from latentscape.landscape.studies.user_model import fit_weights, read_weights_file

    if isinstance(weights, nn.Module):
        state = {**{n: p.detach() for n, p in weights.named_parameters()}, **{n: b.detach() for n, b in weights.named_buffers()}}
        source = f"{what} ({type(weights).__name__})"
    elif isinstance(weights, (str, Path)):
        state, source = read_weights_file(weights), str(weights)
    elif isinstance(weights, dict):
        state, source = dict(weights), f"{what} (state dict)"
    else:
        raise LatentscapeError(f"{what}: give a module, a state dict or a weights file, not a {type(weights).__name__}")
    return fit_weights(model, state, source)


def as_splits(data: Any) -> dict[str, Any]:
    """split -> data: a mapping as it is, anything else as the one split "data"."""
    from collections.abc import Mapping

    if data is None:
        return {}
    return {str(k): v for k, v in data.items()} if isinstance(data, Mapping) else {"data": data}
