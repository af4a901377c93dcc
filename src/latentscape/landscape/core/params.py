"""Weight-space arithmetic on `Params = dict[str, Tensor]` (DESIGN.md, "Weights are data").

Every function here is pure: it reads tensors and returns new ones, never touching a module. A
weight set is the dict of a module's named parameters; buffers (BatchNorm running statistics) are
handled separately (see `latentscape.landscape.core.batchnorm`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from latentscape.errors import CheckpointError

Params = dict[str, Tensor]


class IncompatibleModelsError(CheckpointError):
    """Two weight sets do not share parameter names and shapes (different architectures)."""


def named_params(module: nn.Module) -> Params:
    """Detached copies of `module`'s parameters, by name (the module is left untouched)."""
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def named_buffers(module: nn.Module) -> Params:
    """Detached copies of `module`'s buffers, by name."""
    return {name: b.detach().clone() for name, b in module.named_buffers()}


def check_compatible(a: Params, b: Params, what: str = "models") -> None:
    """Raise `IncompatibleModelsError` naming the first parameter that differs in name or shape.

    Endpoints are matched by parameter name and shape, never by registration order.
    """
    for name in list(a) + [n for n in b if n not in a]:
        if name not in a or name not in b:
            side = "first" if name not in a else "second"
            raise IncompatibleModelsError(
                f"{what} have different architectures: parameter {name!r} is missing from the {side}"
            )
        if a[name].shape != b[name].shape:
            raise IncompatibleModelsError(
                f"{what} have different architectures: parameter {name!r} has shape "
                f"{tuple(a[name].shape)} vs {tuple(b[name].shape)}"
            )


def flatten(p: Params) -> Tensor:
    """All tensors of `p` concatenated in key order, shape (N,)."""
    return torch.cat([t.reshape(-1) for t in p.values()])  # (N,)


def unflatten(vec: Tensor, like: Params) -> Params:
    """Inverse of `flatten`: views of `vec` (N,) shaped like `like` (keeps autograd)."""
    out: Params = {}
    offset = 0
    for name, t in like.items():
        n = t.numel()
        out[name] = vec[offset : offset + n].view(t.shape)
        offset += n
    if offset != vec.numel():
        raise ValueError(f"vector has {vec.numel()} values, the weight set needs {offset}")
    return out


def combine(coeffs: Sequence[float] | Tensor, points: Sequence[Params]) -> Params:
    """sum_k coeffs[k] * points[k], parameter by parameter.

    A coefficient vector that is exactly one-hot returns (a clone of) that point, so evaluating a
    path at an endpoint reproduces the endpoint bit for bit. Differentiable with respect to the
    points (the curve model trains its bends through it). This is the one theta(t) = sum_k c_k(t)
    w_k of the package (Garipov et al. 2018, eq. 1-3): `Curve`, `CurveModel.theta` and plane
    points all use it.
    """
    c = torch.as_tensor(coeffs, dtype=torch.float64).flatten()
    if c.numel() != len(points):
        raise ValueError(f"{c.numel()} coefficients for {len(points)} points")
    ones = (c == 1).nonzero().flatten()
    if ones.numel() == 1 and int((c != 0).sum()) == 1:
        k = int(ones[0])
        return {name: t.clone() for name, t in points[k].items()}
    out: Params = {}
    for name in points[0]:
        acc = None
        for ck, pk in zip(c.tolist(), points):
            if ck == 0.0:
                continue
            term = pk[name] * ck
            acc = term if acc is None else acc + term
        out[name] = acc if acc is not None else torch.zeros_like(points[0][name])
    return out


def lerp(a: Params, b: Params, t: float) -> Params:
    """(1 - t) a + t b; exact at t = 0 and t = 1."""
    return combine([1.0 - t, t], [a, b])


def sub(a: Params, b: Params) -> Params:
    """a - b."""
    return {k: a[k] - b[k] for k in a}


def add(a: Params, b: Params, alpha: float = 1.0) -> Params:
    """a + alpha b."""
    return {k: a[k] + alpha * b[k] for k in a}


def scale(a: Params, s: float) -> Params:
    """s a."""
    return {k: a[k] * s for k in a}


def inner(a: Params, b: Params) -> float:
    """Euclidean inner product <a, b> over all parameters (accumulated in float64)."""
    return float(sum((a[k].double() * b[k].double()).sum() for k in a))


def norm(a: Params) -> float:
    """Euclidean norm |a| over all parameters."""
    return inner(a, a) ** 0.5


def distance(a: Params, b: Params) -> float:
    """|a - b|."""
    return float(sum((a[k].double() - b[k].double()).pow(2).sum() for k in a)) ** 0.5


def gram_schmidt(vectors: Sequence[Params], eps: float = 1e-12) -> list[Params]:
    """Orthonormal basis of span(vectors), in order (classical Gram-Schmidt, re-orthogonalised).

    Raises:
        ValueError: when a vector is (numerically) in the span of the previous ones.
    """
    basis: list[Params] = []
    for i, v in enumerate(vectors):
        w = {k: t.double() for k, t in v.items()}
        for _ in range(2):  # twice is enough (Giraud et al. 2005, "twice is enough")
            for q in basis:
                w = add(w, q, -inner(w, q))
        n = norm(w)
        if n <= eps * max(norm(v), 1.0):
            raise ValueError(f"vector {i} is linearly dependent on the previous ones")
        basis.append(scale(w, 1.0 / n))
    return [{k: t.to(vectors[0][k].dtype) for k, t in q.items()} for q in basis]


def stack(points: Sequence[Params]) -> Params:
    """Stack P weight sets into one with a leading point axis: name -> (P, *shape)."""
    return {name: torch.stack([p[name] for p in points]) for name in points[0]}
