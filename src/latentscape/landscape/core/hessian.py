"""Curvature of a model's objective: Hessian-vector products and the spectral estimators of
PyHessian (Yao, Gholami, Keutzer, Mahoney, "PyHessian: Neural Networks Through the Lens of the
Hessian", IEEE BigData 2020).

The objective is the model's own training loss `model(batch, group).loss` (any family: a
classifier's cross-entropy, an autoencoder's reconstruction loss, a VAE's negative ELBO with its
sampling noise frozen by a fixed seed, a GAN group's loss) averaged over a fixed list of batches,
as a function of the parameters `theta` through `torch.func.functional_call` -- no per-layer code.
H v is the gradient of <grad L(theta), v> (double backward, Pearlmutter 1994) or, equivalently,
`torch.func.jvp` of `torch.func.grad` (forward-over-reverse). BatchNorm runs in eval mode with
the buffers given (the model's, or statistics recomputed for the point).

Estimators (all on flat vectors of the N parameters):
    power iteration with deflation: top-k eigenvalues by magnitude (PyHessian `eigenvalues`),
        returned largest magnitude first;
    Lanczos with full re-orthogonalisation: Ritz values of the m x m tridiagonal T (`lanczos_top`:
        the k largest in magnitude, the same contract as power iteration);
    Hutchinson: tr(H) = E[v^T H v] for Rademacher v (Hutchinson 1989; PyHessian `trace`);
    stochastic Lanczos quadrature: the spectral density phi(t) = 1/N sum_i delta(t - lambda_i)
        ~ mean over runs of sum_j tau_j g_sigma(t - theta_j), theta_j the Ritz values and tau_j the
        squared first components of T's eigenvectors (Ghorbani et al. 2019, eq. 5; PyHessian
        `density`), with Gaussian broadening g_sigma.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, jvp

from latentscape.landscape.core.data import batch_size_of
from latentscape.landscape.core.functional import Bound
from latentscape.landscape.core.params import Params, unflatten

Objective = Callable[[Params, Any], Tensor]  # (parameters, batch) -> scalar loss
#: `progress(products done, products at most)`: the estimators call it after every Hessian-vector
#: product; "at most" shrinks when an estimate stops early (power iteration, Hutchinson at `tol`).
Progress = Callable[[int, int], None]


def model_objective(
    model: nn.Module,
    buffers: Params | None = None,
    group: str | None = None,
    seed: int = 0,
    loss: Callable[[nn.Module, Any], Tensor] | None = None,
) -> Objective:
    """A scalar objective of the model at given parameters, in eval mode, with noise frozen.

    Args:
        model: the architecture (a private copy is used; `model` is untouched).
        buffers: buffers to use (default: the model's own), plus any parameters held fixed.
        group: the loss of this optimizer group (`model(batch, group=...)`); None: `model(batch)`.
        seed: the RNG seed every evaluation starts from, so a stochastic objective (a VAE's
            reparameterisation noise) is one deterministic function of the parameters.
        loss: `(model, batch) -> scalar` (a `Task.objective`, e.g. a criterion on the model's
            outputs); None: the model's own training objective `model(batch[, group]).loss`.
    """
    worker = copy.deepcopy(model).eval().requires_grad_(False)
    fixed = dict(buffers) if buffers is not None else {k: v.detach() for k, v in worker.named_buffers()}
    kwargs = {"group": group} if group is not None else {}
    bound = Bound(worker, loss) if loss is not None else None

    def objective(params: Params, batch: Any) -> Tensor:
        dev = next(iter(params.values())).device
        with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
            torch.manual_seed(seed)
            if bound is not None:
                return bound.call({**fixed, **params}, batch)
            out = functional_call(worker, {**fixed, **params}, (batch,), kwargs, strict=False)
        return out.loss if hasattr(out, "loss") else out

    return objective


class HessianOperator:
    """v -> H v for the objective averaged over `batches` (weighted by batch size).

    Args:
        objective: `(params, batch) -> scalar` mean loss of a batch.
        params: the point theta (name -> tensor); the Hessian is over exactly these tensors.
        batches: evaluation batches (a fixed subset of the data).
        mode: "backward" (double backward) or "jvp" (torch.func forward-over-reverse).
        cache_graph: keep each batch's gradient graph between products (backward mode) so that
            H v costs one backward pass instead of forward + two backward passes (PyHessian's
            full-batch mode); memory grows with the number of batches. None: cache when there is
            a single batch.
    """

    def __init__(
        self, objective: Objective, params: Params, batches: Sequence[Any], mode: str = "backward", cache_graph: bool | None = None
    ) -> None:
        if not batches:
            raise ValueError("no batches to compute the Hessian on")
        if mode not in ("backward", "jvp"):
            raise ValueError(f"mode {mode!r}: backward or jvp")
        self.objective, self.mode, self.batches = objective, mode, list(batches)
        self.params = {k: v.detach() for k, v in params.items()}
        sizes = [float(batch_size_of(b)) for b in self.batches]
        self.weights = [s / sum(sizes) for s in sizes]
        first = next(iter(self.params.values()))
        self.dim = sum(v.numel() for v in self.params.values())
        self.dtype, self.device = first.dtype, first.device
        self.calls = 0
        self.cache_graph = (len(self.batches) == 1) if cache_graph is None else cache_graph
        self._graphs: dict[int, tuple[list[Tensor], list[Tensor | None]]] = {}

    def _hvp_batch(self, v: Params, batch: Any) -> list[Tensor]:
        names = list(self.params)
        if self.mode == "jvp":
            _, hv = jvp(grad(lambda p: self.objective(p, batch)), (self.params,), (v,))
            return [hv[n] for n in names]
        key = id(batch)
        if key in self._graphs:
            leaves, g = self._graphs[key]
        else:
            p = {n: t.clone().requires_grad_(True) for n, t in self.params.items()}
            with torch.enable_grad():
                loss = self.objective(p, batch)
                g = list(torch.autograd.grad(loss, [p[n] for n in names], create_graph=True, allow_unused=True))
            leaves = [p[n] for n in names]
            if self.cache_graph:
                self._graphs[key] = (leaves, g)
        used = [(gi, v[n]) for gi, n in zip(g, names) if gi is not None and gi.requires_grad]
        if not used:  # the objective is at most linear in these parameters
            return [torch.zeros_like(t) for t in leaves]
        with torch.enable_grad():
            hv = torch.autograd.grad(
                [gi for gi, _ in used], leaves, grad_outputs=[vi for _, vi in used], retain_graph=self.cache_graph, allow_unused=True
            )
        return [h if h is not None else torch.zeros_like(t) for h, t in zip(hv, leaves)]

    def matvec(self, v: Tensor) -> Tensor:
        """H v for a flat (N,) vector; returns (N,)."""
        self.calls += 1
        vp = unflatten(v.to(self.dtype), self.params)
        total = torch.zeros(self.dim, dtype=self.dtype, device=self.device)
        for w, batch in zip(self.weights, self.batches):
            hv = self._hvp_batch(vp, batch)
            # an embedding with sparse gradients (the auto-decoder's latent table) gives a sparse h
            total += w * torch.cat([(h.to_dense() if h.is_sparse else h).detach().reshape(-1) for h in hv])  # (N,)
        return total

    def random(self, gen: torch.Generator, kind: str = "gaussian") -> Tensor:
        """A random (N,) vector drawn on the CPU from `gen` (Gaussian or Rademacher)."""
        if kind == "rademacher":
            v = torch.randint(0, 2, (self.dim,), generator=gen).to(self.dtype) * 2 - 1
        else:
            v = torch.randn(self.dim, generator=gen, dtype=torch.float64).to(self.dtype)
        return v.to(self.device)


def _orthogonalise(v: Tensor, basis: Sequence[Tensor]) -> Tensor:
    for _ in range(2):  # twice is enough
        for q in basis:
            v = v - torch.dot(v, q) * q
    return v


def power_iteration(
    op: HessianOperator, k: int = 1, max_iter: int = 100, tol: float = 1e-3, seed: int = 0, progress: Progress | None = None
) -> tuple[list[float], list[Tensor]]:
    """Top-k eigenvalues by magnitude with deflation (PyHessian `eigenvalues`): each vector is kept
    orthogonal to the eigenvectors already found; stops when the Rayleigh quotient changes by less
    than `tol` relative. `progress`: products (at most k x max_iter).

    Power iteration converges to the eigenvalue of largest magnitude (a negative one when it
    dominates), so "top" means top by |lambda|, as in PyHessian. Converged values come out in that
    order; with few iterations a later one can be larger (it is still converging when `max_iter`
    stops it), so the pairs are returned sorted: largest magnitude first.
    """
    gen = torch.Generator().manual_seed(seed)
    values: list[float] = []
    vectors: list[Tensor] = []
    products = 0
    for i in range(k):
        v = _orthogonalise(op.random(gen), vectors)
        v = v / v.norm()
        eig = None
        for it in range(max_iter):
            hv = _orthogonalise(op.matvec(v), vectors)
            products += 1
            if progress is not None:
                progress(products, products + (max_iter - it - 1) + (k - i - 1) * max_iter)
            new = float(torch.dot(hv, v))
            n = hv.norm()
            if float(n) == 0.0:
                eig = 0.0
                break
            v = hv / n
            if eig is not None and abs(new - eig) <= tol * (abs(eig) + 1e-12):
                eig = new
                break
            eig = new
        values.append(float(eig))
        vectors.append(v)
    order = sorted(range(k), key=lambda i: -abs(values[i]))  # stable: ties keep the order found
    return [values[i] for i in order], [vectors[i] for i in order]


def lanczos(op: HessianOperator, m: int, v0: Tensor, progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray]:
    """m steps of Lanczos with full re-orthogonalisation from v0: T's (alpha (m',), beta (m'-1,));
    `progress`: products (one per step, at most min(m, N)).

    Stops early (m' < m) when the Krylov space is exhausted (beta ~ 0), e.g. m > rank(H) + 1.
    Each step applies the three-term recurrence w = Hq - alpha q - beta q_prev, then removes what
    rounding left of the earlier vectors in one classical Gram-Schmidt pass against all of them
    (the rows of one (m, N) matrix: two matrix-vector products, no per-vector N-sized temporaries),
    and a second pass when the first removed much (the "twice is enough" test of Daniel, Gragg,
    Kaufman and Stewart 1976).
    """
    steps = min(m, op.dim)
    basis = torch.empty(steps, v0.numel(), dtype=v0.dtype, device=v0.device)  # (m, N) Lanczos vectors
    basis[0] = v0 / v0.norm()
    alphas: list[float] = []
    betas: list[float] = []
    for j in range(steps):
        q = basis[j]
        w = op.matvec(q)  # (N,), a new tensor
        if progress is not None:
            progress(j + 1, steps)
        a = float(torch.dot(w, q))
        alphas.append(a)
        w.add_(q, alpha=-a)
        if j > 0:
            w.add_(basis[j - 1], alpha=-betas[-1])
        done = basis[: j + 1]  # (j + 1, N)
        for _ in range(2):
            before = float(w.norm())
            w.addmv_(done.t(), done @ w, alpha=-1.0)
            if float(w.norm()) > 0.5 * before:
                break
        b = float(w.norm())
        if j == steps - 1 or b <= 1e-10 * max(1.0, abs(a)):
            break
        betas.append(b)
        basis[j + 1] = w / b
    return np.array(alphas), np.array(betas)


def ritz(alphas: np.ndarray, betas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending) and squared first eigenvector components of the tridiagonal T."""
    t = np.diag(alphas) + np.diag(betas, 1) + np.diag(betas, -1)  # (m, m)
    evals, evecs = np.linalg.eigh(t)
    return evals, evecs[0] ** 2


def lanczos_top(op: HessianOperator, k: int = 1, m: int | None = None, seed: int = 0, progress: Progress | None = None) -> list[float]:
    """The k Ritz values largest in magnitude after m (default max(3k, 30)) Lanczos steps,
    largest magnitude first (the contract of `power_iteration`)."""
    gen = torch.Generator().manual_seed(seed)
    a, b = lanczos(op, m or max(3 * k, 30), op.random(gen), progress)
    evals, _ = ritz(a, b)
    return [float(v) for v in sorted(evals[::-1], key=lambda v: -abs(v))[:k]]


def hutchinson_trace(
    op: HessianOperator, samples: int = 100, seed: int = 0, tol: float | None = None, progress: Progress | None = None
) -> tuple[float, float, int]:
    """tr(H) ~ mean of v^T H v over Rademacher v: (mean, standard error, samples used).

    With `tol`, stops once the running mean changes by less than `tol` relative (PyHessian).
    `progress`: products (one per sample, at most `samples`).
    """
    gen = torch.Generator().manual_seed(seed)
    vals: list[float] = []
    for i in range(samples):
        v = op.random(gen, "rademacher")
        vals.append(float(torch.dot(op.matvec(v), v)))
        if progress is not None:
            progress(i + 1, samples)
        if tol is not None and i > 0 and abs(np.mean(vals) - np.mean(vals[:-1])) <= tol * (abs(np.mean(vals[:-1])) + 1e-12):
            break
    arr = np.array(vals)
    err = float(arr.std(ddof=1) / np.sqrt(arr.size)) if arr.size > 1 else float("nan")
    return float(arr.mean()), err, int(arr.size)


@dataclass
class Density:
    """Stochastic Lanczos quadrature: nodes and weights of each run (each run's weights sum to 1)."""

    nodes: list[np.ndarray]
    weights: list[np.ndarray]

    def evaluate(self, grid: np.ndarray, sigma: float) -> np.ndarray:
        """phi(t) on `grid` (G,) with Gaussian broadening of width sigma (integrates to ~1)."""
        out = np.zeros_like(grid, dtype=np.float64)
        for nodes, w in zip(self.nodes, self.weights):
            diff = grid[:, None] - nodes[None, :]  # (G, m)
            out += (w[None, :] * np.exp(-(diff**2) / (2 * sigma**2))).sum(1) / (sigma * np.sqrt(2 * np.pi))
        return out / len(self.nodes)

    def moment(self, p: int) -> float:
        """Estimate of (1/N) tr(H^p) (exact in expectation; exact per run for p < 2m)."""
        return float(np.mean([(w * n**p).sum() for n, w in zip(self.nodes, self.weights)]))


def slq_density(
    op: HessianOperator,
    runs: int = 1,
    m: int = 90,
    seed: int = 0,
    done: Density | None = None,
    on_run: Callable[[Density], None] | None = None,
    progress: Progress | None = None,
) -> Density:
    """Stochastic Lanczos quadrature of the eigenvalue density (Rademacher starts, as PyHessian).

    Args:
        done: runs already computed (a resumed analysis): kept, and their start vectors drawn
            again so that the remaining runs get the vectors of an uninterrupted computation.
        on_run: called with the density so far after each run.
        progress: products of the runs computed here (at most min(m, N) per run).
    """
    gen = torch.Generator().manual_seed(seed)
    nodes = list(done.nodes) if done is not None else []
    weights = list(done.weights) if done is not None else []
    steps, first = min(m, op.dim), len(nodes)
    for r in range(runs):
        v = op.random(gen, "rademacher")
        if r < len(nodes):  # finished before: only its draw is repeated
            continue
        base = (r - first) * steps
        run_progress = None if progress is None else (lambda j, _, base=base: progress(base + j, (runs - first) * steps))
        a, b = lanczos(op, m, v, run_progress)
        ev, w = ritz(a, b)
        nodes.append(ev)
        weights.append(w)
        if on_run is not None:
            on_run(Density(list(nodes), list(weights)))
    return Density(nodes[:runs], weights[:runs])


def default_grid(density: Density, points: int = 1000, sigma_frac: float = 1e-2) -> tuple[np.ndarray, float]:
    """A grid covering the Ritz values with margins, and sigma = sigma_frac * their range."""
    lo = float(min(n.min() for n in density.nodes))
    hi = float(max(n.max() for n in density.nodes))
    span = max(hi - lo, 1e-8 * max(1.0, abs(hi)))
    sigma = sigma_frac * span
    return np.linspace(lo - 5 * sigma - 0.05 * span, hi + 5 * sigma + 0.05 * span, points), sigma
