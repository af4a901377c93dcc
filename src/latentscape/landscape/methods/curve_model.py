"""A curve between two trained runs, trained as an ordinary model (Garipov et al. 2018, sec. 3.2).

The `curve` model's trainable parameters are the curve's free control points (the bends, and the
endpoints when they are not fixed); its `forward` draws t ~ U(0, 1) once per batch and calls the
base model's own `forward` at theta(t) through `torch.func.functional_call`, so the loss is
L(theta(t)) [+ 0.5 * l2 * ||theta(t)||^2, Garipov et al.'s curve weight decay], the Monte-Carlo estimate of the curve objective
E_t L(theta(t)) (Garipov et al., eq. 4). Any registered model can be the base: no layer twins.
`connect` trains it with the generic trainer, and `load_run` rebuilds it from the saved config
(`curve_config.CurveConfig`). Its own evaluation looks at theta(eval_t) with the BatchNorm
statistics of that point, recomputed from the training split (`use_training_data`).

A curve of your own model (`connect --model FILE.py:factory`) has a `methods.task_model.TaskModel`
as its base and records the factory in `model.user`. Rebuilding it imports that file, which runs
its code: only a command given `--model` again does that (`USER_BASE`, set by
`studies.user_curve.opted_in`); any other load of such a run is refused with one line.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call

from latentscape.data.types import Batch, ImageDataset
from latentscape.errors import LatentscapeError
from latentscape.landscape.core.batchnorm import BatchNormRecomputer, has_batchnorm
from latentscape.landscape.core.data import as_data
from latentscape.landscape.core.functional import Bound
from latentscape.landscape.core.metrics import bn_forward
from latentscape.landscape.core.curves import Curve, coefficients
from latentscape.landscape.core.params import Params, check_compatible, combine, flatten, unflatten
from latentscape.landscape.methods.curve_config import CurveConfig, UserModelRecord
from latentscape.rundir.model import DataInfo, LatentModel, LossOutput, ModelEntry


class CurveModel(LatentModel):
    """theta(t) = sum_k c_k(t) w_k over the parameters of `base`, trained through `base.forward`.

    Control point k is stored flat as `point_k` (N,): an `nn.Parameter` when free, a buffer when
    fixed, so checkpoints hold the whole curve.

    Args:
        base: the architecture (a deep copy is kept; its own parameters are frozen and unused).
        start, end: endpoint weight sets (names and shapes must match `base`).
        kind, bends, fix_start, fix_end, l2: see `CurveConfig`.
    """

    def __init__(
        self,
        base: LatentModel,
        start: Params,
        end: Params,
        kind: str = "bezier",
        bends: int = 1,
        fix_start: bool = True,
        fix_end: bool = True,
        l2: float = 0.0,
        eval_t: float = 0.5,
    ) -> None:
        super().__init__()
        self.base = copy.deepcopy(base)
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.groups = tuple(getattr(base, "groups", ("main",)))
        names = {n: p.detach() for n, p in self.base.named_parameters()}
        check_compatible(names, start, what="the base model and the start run")
        check_compatible(start, end, what="the endpoint runs")
        self._like = {n: names[n] for n in names}  # name order and shapes of theta
        self.kind, self.l2, self.eval_t = kind, l2, eval_t
        init = Curve.through({n: start[n] for n in names}, {n: end[n] for n in names}, bends, kind)
        n_points = len(init.points)
        for k, pt in enumerate(init.points):
            vec = flatten({n: pt[n].float() for n in names}).clone()  # (N,)
            fixed = (k == 0 and fix_start) or (k == n_points - 1 and fix_end)
            if fixed:
                self.register_buffer(f"point_{k}", vec)
            else:
                self.register_parameter(f"point_{k}", nn.Parameter(vec))
        self.num_points = n_points
        self._bn_train: tuple[ImageDataset, int] | None = None  # see use_training_data
        self._bn_cache: tuple[tuple[Any, ...], Params] | None = None

    # ------------------------------------------------------------------ curve
    def control_vectors(self) -> list[Tensor]:
        """Control points as flat (N,) tensors, start first."""
        return [getattr(self, f"point_{k}") for k in range(self.num_points)]

    def control_points(self) -> list[Params]:
        """Control points as detached weight sets (for `Curve`, paths and planes)."""
        return [{n: v.detach().clone() for n, v in unflatten(vec, self._like).items()} for vec in self.control_vectors()]

    def to_curve(self) -> Curve:
        """The trained curve as a `Curve` over the base model's parameters."""
        return Curve(self.control_points(), self.kind)

    def theta(self, t: float | Tensor) -> Params:
        """theta(t) as views of one (N,) vector, differentiable w.r.t. the free control points."""
        c = coefficients(self.kind, float(t), self.num_points)[0]  # (K,) float64
        vec = combine(c, [{"theta": v} for v in self.control_vectors()])["theta"]  # (N,)
        return unflatten(vec, self._like)

    def _group_names(self, group: str) -> set[str]:
        """Names of the base model's parameters that `group`'s optimizer trains."""
        mine = {id(p) for p in self.base.params_for(group)}
        return {n for n, p in self.base.named_parameters() if id(p) in mine}

    def base_buffers(self) -> Params:
        return dict(self.base.named_buffers())

    def base_model(self) -> LatentModel:
        """A copy of the base architecture (weights are those of the start run)."""
        return copy.deepcopy(self.base)

    # ------------------------------------------------------------------ model contract
    def params_for(self, group: str):
        if group not in self.groups:
            raise KeyError(f"unknown group {group!r}; this model has {self.groups}")
        return iter([p for n, p in self.named_parameters() if n.startswith("point_")])

    def group_for_step(self, step: int) -> str:
        return self.base.group_for_step(step)

    def set_step(self, step: int) -> None:
        """The curve's training step is the step of the base model evaluated along it."""
        super().set_step(step)
        self.base.set_step(step)

    def _at(self, t: float, batch: Batch, group: str) -> tuple[LossOutput, Params]:
        theta = self.theta(t)
        if len(self.groups) > 1:  # a GAN step trains its group's weights only: the others are constants
            own = self._group_names(group)
            theta = {n: (v if n in own else v.detach()) for n, v in theta.items()}
        state = {**theta, **self.base_buffers()}
        self.base.train(self.training)
        out = functional_call(self.base, state, (batch, group), strict=False)
        return out, theta

    def forward(self, batch: Batch, group: str = "main") -> LossOutput:
        t = float(torch.rand(()))  # one t per batch, t ~ U(0, 1)
        out, theta = self._at(t, batch, group)
        loss = out.loss
        logs = dict(out.logs)
        if self.l2 > 0:
            reg = 0.5 * self.l2 * sum(w.pow(2).sum() for w in theta.values())
            loss = loss + reg
            logs["l2"] = reg.detach()
        logs["t"] = torch.tensor(t)
        return LossOutput(loss, logs)

    # ------------------------------------------------------------------ evaluation
    def use_training_data(self, train: ImageDataset, batch_size: int) -> None:
        """The training split that the BatchNorm statistics of theta(eval_t) are recomputed
        from, in batches of `batch_size` (the trainer hands over its training split and
        eval_batch_size, `latentscape eval` its own)."""
        self._bn_train = (train, batch_size)
        self._bn_cache = None

    def _recomputes_bn(self) -> bool:
        return self._bn_train is not None and has_batchnorm(self.base)

    def evaluation_protocol(self) -> dict[str, Any]:
        """Where on the curve `evaluate_batch` looks, and whose BatchNorm statistics it uses."""
        proto: dict[str, Any] = {"curve_t": self.eval_t}
        if self._recomputes_bn():
            train, batch_size = self._bn_train  # type: ignore[misc]
            proto["batchnorm"] = (f"recomputed at theta({self.eval_t:g}) from the {len(train)} training images "
                                  f"(batches of {batch_size}), as path --curve and Garipov et al.'s update_bn")
        elif has_batchnorm(self.base):
            proto["batchnorm"] = "the start model's stored statistics (no training data was given)"
        return proto

    def _eval_buffers(self) -> Params:
        """Buffers at theta(eval_t): BatchNorm statistics recomputed from the training split
        (`core.batchnorm`, the pass `path --curve` makes) once per evaluation: kept until the
        model is put in train mode, loads weights, or changes step, eval_t or device (a fused
        optimizer step leaves tensor versions alone); without BatchNorm or training data, the
        base's own."""
        if not self._recomputes_bn():
            return self.base_buffers()
        vectors = self.control_vectors()
        device = vectors[0].device
        key = (self.eval_t, str(device), self.step, tuple((id(v), v._version) for v in vectors))
        if self._bn_cache is None or self._bn_cache[0] != key:
            train, batch_size = self._bn_train  # type: ignore[misc]
            data = as_data(train)
            recompute = BatchNormRecomputer(self.base, lambda: data.batches(batch_size, device), bn_forward, self.base_buffers())
            self._bn_cache = (key, recompute(self.theta(self.eval_t)))
        return self._bn_cache[1]

    def train(self, mode: bool = True) -> CurveModel:
        if mode:  # training moves the control points: the next evaluation recomputes BatchNorm
            self._bn_cache = None
        return super().train(mode)

    def load_state_dict(self, *args: Any, **kwargs: Any) -> Any:
        self._bn_cache = None
        return super().load_state_dict(*args, **kwargs)

    @torch.no_grad()
    def evaluate_batch(self, batch: Batch) -> dict[str, Tensor]:
        """The base model's metrics at theta(eval_t), BatchNorm statistics of that point (see
        `_eval_buffers`)."""
        theta = self.theta(self.eval_t)
        self.base.eval()
        bound = Bound(self.base, lambda m, b: m.evaluate_batch(b))
        return bound.call({**theta, **self._eval_buffers()}, batch)


def _endpoint(spec: str) -> tuple[LatentModel, Params]:
    from latentscape.rundir.load import load_run, parse_weight_spec
    from latentscape.rundir.run import Run

    # Read the endpoint's config first: loading a curve run builds its own endpoints, so a curve
    # whose end is a curve (or itself) would recurse without end.
    if Run.open(parse_weight_spec(spec)[0]).config().model.name == "curve":
        raise LatentscapeError(f"curve endpoint {spec} is itself a curve run; a curve joins two ordinary runs")
    loaded = load_run(spec)
    return loaded.model, {n: p.detach().clone() for n, p in loaded.model.named_parameters()}


#: Builds (base, start weights, end weights) of a curve of your own model from its config. Set
#: only while a command given `--model` runs (`studies.user_curve.opted_in`): without it, loading
#: such a curve run is refused instead of importing the recorded file.
USER_BASE: ContextVar[Callable[[CurveConfig], tuple[LatentModel, Params, Params]] | None] = ContextVar("USER_BASE", default=None)


def user_code_refusal(record: UserModelRecord, where: str = "this curve run") -> LatentscapeError:
    """The one line that says a curve of your own model needs `--model` to be loaded."""
    return LatentscapeError(
        f"{where} is a curve of your own model {record.describe()}: loading it imports that code, "
        f"so give --model {record.factory} (path --curve, plane --curve, eval and train --resume take it)"
    )


def build_curve(cfg: CurveConfig, info: DataInfo) -> CurveModel:
    """Load both endpoints (runs of the same architecture, or weights files of your own model
    when `cfg.user` is set and `--model` allowed it) and span the curve between them."""
    if cfg.user is not None:
        build_user = USER_BASE.get()
        if build_user is None:
            raise user_code_refusal(cfg.user)
        base, start, end = build_user(cfg)
    else:
        base, start = _endpoint(cfg.start)
        _, end = _endpoint(cfg.end)
    return CurveModel(base, start, end, cfg.kind, cfg.bends, cfg.fix_start, cfg.fix_end, cfg.l2, cfg.eval_t)


def absolute_spec(spec: str) -> str:
    """A weight reference with its run directory made absolute (configs outlive the cwd)."""
    path, at, which = spec.partition("@")
    return str(Path(path).resolve()) + (at + which if at else "")


# Declared in latentscape.registry.MODELS as "curve".
CURVE_ENTRY = ModelEntry(CurveConfig, build_curve, description="Bezier/PolyChain curve between two runs (Garipov et al. 2018)")
