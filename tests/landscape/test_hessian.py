"""Hessian estimators against a quadratic objective whose Hessian is known exactly."""

import numpy as np
import pytest
import torch
from torch import nn

from latentscape.data.types import Batch
from latentscape.landscape.core import hessian as H


class Quadratic(nn.Module):
    """L(w) = 1/2 (w - c)^T A (w - c) (+ a batch-dependent constant): Hessian A everywhere."""

    def __init__(self, a: torch.Tensor) -> None:
        super().__init__()
        n = a.shape[0]
        self.register_buffer("a", a)
        self.w1 = nn.Parameter(torch.randn(n // 2, dtype=torch.float64))
        self.w2 = nn.Parameter(torch.randn(n - n // 2, 1, dtype=torch.float64))

    def forward(self, batch):
        w = torch.cat([self.w1, self.w2.reshape(-1)])
        return 0.5 * w @ self.a @ w + batch.x.double().mean()


def _setup(eigs, seed=0, mode="backward", nbatches=2):
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(len(eigs), len(eigs), generator=g, dtype=torch.float64))
    a = q @ torch.diag(torch.tensor(eigs, dtype=torch.float64)) @ q.T
    model = Quadratic(a)
    batches = [Batch(torch.rand(4, 1, 2, 2), torch.zeros(4, dtype=torch.long), torch.arange(4)) for _ in range(nbatches)]
    params = {k: v.detach() for k, v in model.named_parameters()}
    return a, H.HessianOperator(H.model_objective(model), params, batches, mode=mode)


EIGS = [9.0, 5.0, 3.0, 1.0, 0.5, -0.25, 0.1, 0.0]


@pytest.mark.parametrize("mode", ["backward", "jvp"])
def test_hvp_is_the_matrix_product(mode):
    a, op = _setup(EIGS, mode=mode)
    v = torch.randn(op.dim, dtype=torch.float64)
    torch.testing.assert_close(op.matvec(v), a @ v)


def test_power_iteration_with_deflation_finds_top_eigenvalues():
    _, op = _setup(EIGS)
    vals, vecs = H.power_iteration(op, 3, max_iter=500, tol=1e-10)
    assert vals == pytest.approx([9.0, 5.0, 3.0], rel=1e-6)
    assert abs(float(vecs[0] @ vecs[1])) < 1e-6


def test_lanczos_top_is_exact_with_a_full_krylov_space():
    _, op = _setup(EIGS)
    assert H.lanczos_top(op, 3, m=len(EIGS)) == pytest.approx([9.0, 5.0, 3.0], abs=1e-9)


def test_hutchinson_trace_is_exact_for_a_diagonal_hessian_and_unbiased_otherwise():
    model = Quadratic(torch.diag(torch.tensor(EIGS, dtype=torch.float64)))
    params = {k: v.detach() for k, v in model.named_parameters()}
    batch = Batch(torch.rand(2, 1, 2, 2), torch.zeros(2, dtype=torch.long), torch.arange(2))
    op = H.HessianOperator(H.model_objective(model), params, [batch])
    est, _, n = H.hutchinson_trace(op, 5)
    assert n == 5 and est == pytest.approx(sum(EIGS), abs=1e-12)  # v_i^2 = 1 for Rademacher v
    _, op2 = _setup(EIGS, nbatches=1)
    est2, err2, _ = H.hutchinson_trace(op2, 200, seed=1)
    assert abs(est2 - sum(EIGS)) < 4 * err2 + 1e-9


def test_slq_density_nodes_weights_and_moments_are_exact():
    _, op = _setup(EIGS)
    dens = H.slq_density(op, runs=3, m=len(EIGS), seed=2)
    for nodes, w in zip(dens.nodes, dens.weights):
        assert np.sort(nodes) == pytest.approx(sorted(EIGS), abs=1e-8)  # Ritz values = spectrum
        assert w.sum() == pytest.approx(1.0, abs=1e-12)
    # Gauss quadrature with m = N nodes is exact: sum tau_j theta_j^p = v^T A^p v / |v|^2, and for
    # Rademacher v in the eigenbasis weights average to 1/N, so the first moment estimates tr(A)/N.
    grid, sigma = H.default_grid(dens, 4000, 1e-3)
    phi = dens.evaluate(grid, sigma)
    assert np.trapezoid(phi, grid) == pytest.approx(1.0, abs=1e-3)
    _, op1 = _setup(EIGS, nbatches=1)
    big = H.slq_density(op1, runs=150, m=len(EIGS), seed=3)
    assert big.moment(1) == pytest.approx(sum(EIGS) / len(EIGS), abs=0.15)
    assert big.moment(2) == pytest.approx(sum(e * e for e in EIGS) / len(EIGS), rel=0.1)


def test_each_estimator_reports_its_products_and_at_most_how_many_are_left():
    _, op = _setup(EIGS)
    calls = []
    H.power_iteration(op, 2, max_iter=50, tol=1e-3, progress=lambda d, t: calls.append((d, t)))
    done, most = zip(*calls)
    assert calls[0] == (1, 100) and list(done) == list(range(1, op.calls + 1))  # one call per product
    assert list(most) == sorted(most, reverse=True) and most[-1] < 100  # early convergence shrinks "at most"
    calls.clear()
    H.slq_density(op, runs=2, m=len(EIGS), seed=1, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(j, 2 * len(EIGS)) for j in range(1, 2 * len(EIGS) + 1)]
    calls.clear()
    H.hutchinson_trace(op, 4, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


SADDLE = [9.0, -7.0, 5.0, 3.0, 1.0, 0.5, -0.25, 0.0]  # a negative eigenvalue larger in magnitude than 5


@pytest.mark.parametrize("max_iter", [1, 2, 3, 5, 20, 500])
def test_top_eigenvalues_come_largest_magnitude_first_however_few_the_iterations(max_iter):
    """Power iteration finds eigenvalues by magnitude (PyHessian's "top"); unconverged ones may
    come out in any order, so they are returned sorted by |lambda|, eigenvectors with them."""
    for seed in range(4):
        _, op = _setup(SADDLE, seed=seed)
        vals, vecs = H.power_iteration(op, 3, max_iter=max_iter, tol=1e-10, seed=seed)
        assert [abs(v) for v in vals] == sorted((abs(v) for v in vals), reverse=True)
        gram = torch.stack(vecs) @ torch.stack(vecs).T  # (3, 3): still the deflated, orthonormal set
        torch.testing.assert_close(gram, torch.eye(3, dtype=gram.dtype), atol=1e-6, rtol=0)
    _, op = _setup(SADDLE)
    vals, _ = H.power_iteration(op, 3, max_iter=500, tol=1e-10)
    assert vals == pytest.approx([9.0, -7.0, 5.0], rel=1e-6)  # converged: the top 3 by magnitude
    assert H.lanczos_top(op, 3, m=len(SADDLE)) == pytest.approx([9.0, -7.0, 5.0], abs=1e-9)  # the same contract
