"""Evaluate metrics at many weight-space points: vmap batching, affine shortcuts, rank sharding.

Every point of a path, curve or plane is a linear combination of a few weight sets (`PointSet`:
a basis of K weight sets and a (P, K) coefficient matrix). Evaluation is the cost of everything
in `landscape`, so three strategies are used, all giving the same numbers:

1. loop: one `functional_call` per point (always correct; used for points that are exactly a
   basis element, which must reproduce that weight set bit for bit, and as the fallback);
2. vmap: `torch.func.vmap(functional_call)` over chunks of stacked points; for BatchNorm models
   the statistics of every point of a chunk are recomputed inside the vmapped pass too
   (`batched_bn`), then used for all splits;
3. input-layer factorisation: the first Linear/Conv layer sees the raw images, and its output is
   linear in its weights, so for points sum_k c_k w_k it equals sum_k c_k layer_{w_k}(x): K
   convolutions/GEMMs per batch instead of P (exact up to float rounding). The mixed outputs of
   a chunk of points are one (p, K) @ (K, B*features) matmul into a reused buffer, and only the
   rest of the network runs under vmap (or point by point, `batch_rest=False`, when that is
   faster: convolutional nets on a CPU).

Data is anything `core.data.as_data` accepts (an `ImageDataset`, tensors, a `Dataset`, a
`DataLoader`). Sharding points over torchrun ranks, point metrics and writing finished points as
they come are `core.points.evaluate_points`'s: this class evaluates the points it is given.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from latentscape.landscape.core.batched_bn import BatchedBatchNorm, chunk_means_bn
from latentscape.landscape.core.batchnorm import BatchNormRecomputer, has_batchnorm
from latentscape.landscape.core.data import EvalData, as_data
from latentscape.landscape.core.functional import Bound, prefixed
from latentscape.landscape.core.input_layer import BasisOutputs, _MixedInputLayer, factorised_sums, find_input_layer
from latentscape.landscape.core.params import Params, check_compatible, combine

MetricFn = Callable[[nn.Module, Any], dict[str, Tensor]]  # (model, batch) -> {name: (B,)}
Results = dict[str, dict[str, np.ndarray]]  # split -> metric -> (P,)

#: strategy name -> (use_vmap, batch_rest); see `PointEvaluator.strategy`.
STRATEGIES = {"loop": (False, True), "vmap": (True, True), "factorised": (True, True), "factorised-loop": (True, False), "vmap-batchnorm": (True, True)}


@dataclass
class PointSet:
    """P weight-space points: point p = sum_k coeffs[p, k] basis[k].

    Attributes:
        basis: K weight sets with identical names and shapes.
        coeffs: (P, K) float64 coefficients.
    """

    basis: list[Params]
    coeffs: Tensor

    def __post_init__(self) -> None:
        self.coeffs = torch.as_tensor(self.coeffs, dtype=torch.float64).reshape(-1, len(self.basis))
        for i, b in enumerate(self.basis[1:], 1):
            check_compatible(self.basis[0], b, what=f"weight sets 0 and {i}")

    def __len__(self) -> int:
        return self.coeffs.shape[0]

    def point(self, i: int) -> Params:
        return combine(self.coeffs[i], self.basis)

    def is_basis_element(self, i: int) -> bool:
        row = self.coeffs[i]
        return bool((row != 0).sum() == 1 and (row == 1).any())

    def subset(self, rows: list[int]) -> PointSet:
        """The points `rows` over the same basis (the same objects: caches keyed on it still hit)."""
        out = PointSet.__new__(PointSet)
        out.basis, out.coeffs = self.basis, self.coeffs[rows]
        return out


class PointEvaluator:
    """Averages per-example metrics over datasets at many weight-space points of one architecture.

    Args:
        model: the architecture (its weights are ignored; never modified: a private copy is used).
        metric: `(model, batch) -> {name: (B,)}` (see `core.metrics` and `core.task`).
        batch_size: examples per evaluation batch.
        device: where to compute.
        bn_data: training data for BatchNorm statistics (required when the model has BatchNorm);
            anything `core.data.as_data` accepts.
        bn_batches: use only this many batches of `bn_data` (None: all of it).
        bn_forward: how to run the model for BatchNorm statistics (default `model(batch)`).
        buffers: non-BatchNorm buffers of the points (default: the model's own).
        chunk_size: points per vmap call (memory bound; the factorised strategy also keeps a
            chunk's mixed input-layer outputs under `mixed_elements` elements).
        use_vmap: allow strategies 2 and 3 (set False to force the plain loop).
        recompute_bn: recompute BatchNorm statistics per point (False: keep `buffers` fixed, the
            model's running statistics, as Li et al. 2018 evaluate their surfaces).
    """

    def __init__(
        self,
        model: nn.Module,
        metric: MetricFn,
        *,
        batch_size: int = 1000,
        device: torch.device | str = "cpu",
        bn_data: Any = None,
        bn_batches: int | None = None,
        bn_forward: Callable[[nn.Module, Any], Any] | None = None,
        buffers: Params | None = None,
        chunk_size: int = 32,
        use_vmap: bool = True,
        recompute_bn: bool = True,
    ) -> None:
        self.device = torch.device(device)
        self.model = copy.deepcopy(model).to(self.device).eval()
        self.metric = metric
        self.bound = Bound(self.model, metric)
        self.batch_size = batch_size
        self.chunk_size = chunk_size
        self.use_vmap = use_vmap
        self.buffers = {
            k: v.to(self.device)
            for k, v in (buffers if buffers is not None else dict(self.model.named_buffers())).items()
        }
        self.bn = recompute_bn and has_batchnorm(self.model)
        self.bn_batches = bn_batches
        self.recompute: BatchNormRecomputer | None = None
        if self.bn:
            if bn_data is None:
                raise ValueError("the model has BatchNorm: pass bn_data (training data)")
            train, limit = as_data(bn_data), bn_batches

            def batches() -> Iterator[Any]:
                for i, b in enumerate(train.batches(batch_size, self.device)):
                    if limit is not None and i >= limit:
                        return
                    yield b

            fwd = bn_forward or (lambda m, b: m(b))
            self.recompute = BatchNormRecomputer(self.model, batches, fwd, self.buffers)
            self.batched_bn = BatchedBatchNorm(self.model, batches, fwd, self.buffers)
        self.last_strategy = "loop"
        self._basis_outputs = BasisOutputs()
        self._stacked: tuple[tuple[int, ...], list[Params], dict[str, Tensor]] | None = None

    # ------------------------------------------------------------------ public
    @property
    def strategy(self) -> str:
        """The strategy the next call will try: "loop", "vmap"/"factorised" (the input layer is
        factorised whenever the model allows it) or "factorised-loop" (see `choose_strategy`)."""
        if not self.use_vmap:
            return "loop"
        return "vmap" if self.batch_rest else "factorised-loop"

    @strategy.setter
    def strategy(self, name: str) -> None:
        self.use_vmap, self.batch_rest = STRATEGIES[name]

    def state(self, params: Params) -> dict[str, Tensor]:
        """Parameters and buffers of one point (BatchNorm statistics recomputed if needed)."""
        params = {k: v.to(self.device) for k, v in params.items()}
        buffers = self.recompute(params) if self.recompute is not None else self.buffers
        return {**params, **buffers}

    @torch.no_grad()
    def evaluate(self, points: PointSet, data: dict[str, Any]) -> Results:
        """Mean of every metric over each split at every point: split -> metric -> (P,)."""
        data = {s: as_data(d) for s, d in data.items()}
        everything = list(range(len(points)))
        loop_idx = [i for i in everything if not self.use_vmap or points.is_basis_element(i)]
        fast_idx = [i for i in everything if i not in set(loop_idx)]
        exact: dict[int, dict[str, dict[str, float]]] = {i: {} for i in loop_idx}
        per_split: Any = {}
        if fast_idx and self.bn:
            per_split = self._mean_many_bn(points, fast_idx, data)
            if per_split is None:  # not vmap-able: the exact loop
                loop_idx, fast_idx = everything, []
                exact = {i: {} for i in loop_idx}
        elif fast_idx:
            # basis points ride along the factorised pass, exactly (see `factorised_sums`)
            for s, ds in data.items():
                per_split[s], done = self._mean_many(points, fast_idx, ds, loop_idx)
                for i, r in done.items():
                    exact[i][s] = r
        if not fast_idx:
            self.last_strategy = "loop"
        local: dict[int, dict[str, dict[str, float]]] = {}
        for i in loop_idx:
            missing = [s for s in data if s not in exact[i]]
            if missing:
                state = self.state(points.point(i))
                exact[i].update({s: self._mean_one(state, data[s]) for s in missing})
            local[i] = {s: exact[i][s] for s in data}
        for j, i in enumerate(fast_idx):
            local[i] = {s: {m: float(v[j]) for m, v in r.items()} for s, r in per_split.items()}
        out: Results = {}
        for s in data:
            names = list(local[0][s]) if len(points) else []
            out[s] = {m: np.array([local[i][s][m] for i in range(len(points))]) for m in names}
        return out

    # ------------------------------------------------------------------ strategies
    def _batches(self, ds: EvalData) -> Iterator[Any]:
        return ds.batches(self.batch_size, self.device)

    def _mean_one(self, state: dict[str, Tensor], ds: EvalData) -> dict[str, float]:
        sums: dict[str, float] = {}
        for batch in self._batches(ds):
            for k, v in self.bound.call(state, batch).items():
                sums[k] = sums.get(k, 0.0) + float(v.double().sum())
        return {k: v / len(ds) for k, v in sums.items()}

    def _basis(self, points: PointSet) -> tuple[tuple[int, ...], list[Params], dict[str, Tensor]]:
        """(token, the basis on the device, name -> (K, *shape) stacked), kept while the basis
        objects are the same (a grid evaluated chunk by chunk stacks its basis once)."""
        token = tuple(id(b) for b in points.basis)
        if self._stacked is None or self._stacked[0] != token:
            basis = [{k: v.to(self.device) for k, v in b.items()} for b in points.basis]
            self._stacked = (token, basis, {n: torch.stack([b[n] for b in basis]) for n in basis[0]})  # (K, *shape)
        return self._stacked

    def _mean_many(
        self, points: PointSet, idx: list[int], ds: EvalData, exact: list[int] = ()  # type: ignore[assignment]
    ) -> tuple[dict[str, Tensor], dict[int, dict[str, float]]]:
        """Means (p,) of every metric at the points `idx`, and the loop's exact means of those of
        the basis points `exact` that the factorised pass could evaluate on the way ({} if none)."""
        try:
            result, done = self._mean_vmap(points, idx, ds, exact)
            if self._input_layer is None:
                self.last_strategy = "vmap"
            else:
                self.last_strategy = "factorised" if self.batch_rest else "factorised-loop"
            return result, done
        except Exception:  # noqa: BLE001  (model not vmap-able: fall back to the exact loop)
            self.use_vmap = False
            self.last_strategy = "loop"
            rows = [self._mean_one(self.state(points.point(i)), ds) for i in idx]
            return {k: torch.tensor([r[k] for r in rows]) for k in rows[0]}, {}

    def _mean_many_bn(self, points: PointSet, idx: list[int], data: dict[str, EvalData]) -> Any:
        """BatchNorm models: statistics recomputed per point inside the vmap call (batched_bn);
        None when the model cannot be vmapped."""
        _, _, stacked = self._basis(points)
        try:
            out = chunk_means_bn(self.bound, self.batched_bn, stacked, points.coeffs[idx].to(self.device), data, self._batches, self.chunk_size)
        except Exception:  # noqa: BLE001  (model not vmap-able: fall back to the exact loop)
            self.use_vmap = False
            self.last_strategy = "loop"
            return None
        self.last_strategy = "vmap-batchnorm"
        return out

    _input_layer: str | None = None
    _probed = False
    #: with the input-layer factorisation: run the rest of the network under vmap (True) or one
    #: point at a time (False: faster for convolutions after the input layer on a CPU, where vmap
    #: turns them into grouped convolutions; `grid.choose_strategy` times both)
    batch_rest: bool = True
    #: the model copy whose input layer is a `_MixedInputLayer`, and that layer (kept across calls)
    _factorised: tuple[nn.Module, Any] | None = None
    #: bound on the elements of one chunk's mixed input-layer outputs (points * B * features).
    mixed_elements: int = 1 << 21

    def _mean_vmap(
        self, points: PointSet, idx: list[int], ds: EvalData, exact: list[int]
    ) -> tuple[dict[str, Tensor], dict[int, dict[str, float]]]:
        """Strategies 2 and 3 for the points `idx`: per-point means (p,) of every metric; with
        strategy 3 also the exact means of the basis points `exact` (see `factorised_sums`)."""
        token, basis, stacked_all = self._basis(points)
        if not self._probed:
            first = next(iter(self._batches(ds)))
            self._input_layer = find_input_layer(self.model, self.bound, {**basis[0], **self.buffers}, first)
            self._probed = True
        model, names, mixed = self.model, list(basis[0]), None
        layer_name = self._input_layer
        if layer_name is not None:
            pre = f"{layer_name}."
            wb = [(b[pre + "weight"], b.get(pre + "bias")) for b in basis]
            if self._factorised is None:  # built once: a copy with the input layer swapped out
                model = copy.deepcopy(self.model)
                parent_name, _, attr = layer_name.rpartition(".")
                parent = model.get_submodule(parent_name) if parent_name else model
                setattr(parent, attr, _MixedInputLayer(getattr(parent, attr), wb))
                self._factorised = (model, parent.get_submodule(attr))
            model, mixed = self._factorised
            mixed.basis = wb  # this call's basis (the copy's own weights are never used)
            names = [n for n in names if not n.startswith(pre)]
        bound = Bound(model, self.metric)
        buffers = prefixed(self.buffers)
        stacked_basis = {n: stacked_all[n] for n in names}  # name -> (K, *shape)

        def one(p: dict[str, Tensor], batch: Any) -> dict[str, Tensor]:
            return functional_call(bound, {**prefixed(p), **buffers}, (batch,), strict=False)

        def coeffs(rows: list[int]) -> Tensor:
            return points.coeffs[rows].to(self.device, torch.float32)  # (p, K)

        def chunk_params(rows: list[int]) -> dict[str, Tensor]:
            c = coeffs(rows)
            return {n: torch.einsum("pk,k...->p...", c, v) for n, v in stacked_basis.items()}

        done: dict[int, dict[str, float]] = {}
        if mixed is not None and layer_name is not None:
            at = {i: int(points.coeffs[i].argmax()) for i in exact}  # point -> its basis element
            own = {i: {n: basis[k][n] for n in names} for i, k in at.items()}  # without the input layer
            total, done = factorised_sums(
                bound, mixed, layer_name, ds, self._batches, idx, chunk_params, coeffs, self.buffers, at, own,
                batch_rest=self.batch_rest, chunk_size=self.chunk_size, mixed_elements=self.mixed_elements,
                cache=self._basis_outputs, token=token,
            )
            return {name: s.cpu() / len(ds) for name, s in total.items()}, done
        chunks = [idx[i : i + self.chunk_size] for i in range(0, len(idx), self.chunk_size)]
        sums: list[dict[str, Tensor]] = [{} for _ in chunks]
        run = vmap(one, in_dims=(0, None), randomness="different")
        for k, ch in enumerate(chunks):  # one chunk of stacked weights in memory at a time
            p = chunk_params(ch)
            for batch in self._batches(ds):
                for name, v in run(p, batch).items():  # name -> (p, B)
                    sums[k][name] = sums[k].get(name, 0) + v.sum(1, dtype=torch.float64)
        return {name: torch.cat([s[name] for s in sums]).cpu() / len(ds) for name in sums[0]}, done


def linspace(start: float, stop: float, num: int) -> list[float]:
    """`num` evenly spaced positions with exact endpoints (no 0.30000000000000004 drift)."""
    if num == 1:
        return [start]
    return [start + (stop - start) * i / (num - 1) for i in range(num)]
