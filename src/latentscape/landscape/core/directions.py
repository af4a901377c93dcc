"""Random directions around one weight set, normalised as in Li et al. 2018.

Li, Xu, Taylor, Studer, Goldstein, "Visualizing the Loss Landscape of Neural Nets" (NeurIPS 2018),
section 4: a Gaussian direction d is rescaled filter by filter so that each filter has the norm
of the corresponding filter of the weights w,

    d_{i,j} <- d_{i,j} / |d_{i,j}| * |w_{i,j}|            (eq. in sec. 4, "filter normalization")

where j runs over the filters of layer i. As in their code (`net_plotter.normalize_direction`),
a "filter" is a slice along the first axis of a weight tensor: an output channel of a Conv, a row
(output neuron) of a Linear. One-dimensional parameters (biases, BatchNorm scales and shifts) are
zeroed with `ignore="biasbn"` (their `--xignore biasbn`); otherwise they follow their code: the
direction copies the weights (`d = w`) under filter/layer normalisation, and stays Gaussian with
`norm="none"`.

Directions are generated per parameter *name* from a generator seeded by (seed, direction index,
name), so two models of the same architecture get the same raw Gaussian directions whatever the
order their modules were registered in, and the result does not depend on the device.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor

from latentscape.errors import LatentscapeError
from latentscape.landscape.core.params import Params

Norm = Literal["filter", "layer", "none"]
NORMS = ("filter", "layer", "none")
IGNORES = ("biasbn", "none")


def _name_seed(seed: int, index: int, name: str) -> int:
    """A 63-bit seed from (seed, direction index, parameter name), stable across runs/platforms."""
    digest = hashlib.sha256(f"{seed}:{index}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def gaussian_like(weights: Params, seed: int, index: int = 0) -> Params:
    """N(0, 1) entries shaped like `weights`, generated per name on the CPU (float32)."""
    out: Params = {}
    for name, w in weights.items():
        g = torch.Generator().manual_seed(_name_seed(seed, index, name))
        d = torch.randn(w.shape, generator=g, dtype=torch.float32)
        out[name] = d.to(device=w.device, dtype=w.dtype)
    return out


def normalize_direction(d: Tensor, w: Tensor, norm: Norm, eps: float = 1e-10) -> Tensor:
    """`d` rescaled to the norms of `w`: per filter (slice along axis 0), per layer, or untouched."""
    if norm == "filter":
        dn = d.reshape(d.shape[0], -1).norm(dim=1)  # (filters,)
        wn = w.reshape(w.shape[0], -1).norm(dim=1)  # (filters,)
        factor = (wn / (dn + eps)).reshape(-1, *([1] * (d.dim() - 1)))  # broadcast over each filter
        return d * factor
    if norm == "layer":
        return d * (w.norm() / (d.norm() + eps))
    return d


def normalize_directions(direction: Params, weights: Params, norm: Norm = "filter", ignore: str = "biasbn") -> Params:
    """Li et al.'s `normalize_directions_for_weights`: a new direction, `direction` untouched.

    Args:
        direction: raw direction, same names and shapes as `weights`.
        weights: the weight set the direction is drawn around.
        norm: "filter", "layer" or "none".
        ignore: "biasbn" zeroes every one-dimensional parameter (biases, BatchNorm affine);
            "none" keeps them (a copy of the weights under filter/layer normalisation, as in
            Li et al.'s code; the Gaussian entries with norm="none").
    """
    if norm not in NORMS:
        raise LatentscapeError(f"direction normalisation {norm!r}: allowed {', '.join(NORMS)}")
    if ignore not in IGNORES:
        raise LatentscapeError(f"--ignore {ignore!r}: allowed {', '.join(IGNORES)}")
    out: Params = {}
    for name, d in direction.items():
        w = weights[name]
        if d.dim() <= 1:
            if ignore == "biasbn":
                out[name] = torch.zeros_like(d)
            else:
                out[name] = d.clone() if norm == "none" else w.detach().clone()
        else:
            out[name] = normalize_direction(d, w, norm)
    return out


def random_directions(
    weights: Params,
    count: int = 2,
    *,
    seed: int = 0,
    norm: Norm = "filter",
    ignore: str = "biasbn",
) -> list[Params]:
    """`count` normalised random directions around `weights` (deterministic given `seed`)."""
    return [normalize_directions(gaussian_like(weights, seed, k), weights, norm, ignore) for k in range(count)]


def filter_norms(p: Params) -> dict[str, Tensor]:
    """Per-filter norms (slice along axis 0) of every parameter with >= 2 dimensions: name -> (F,)."""
    return {n: t.reshape(t.shape[0], -1).norm(dim=1) for n, t in p.items() if t.dim() > 1}


def cosine(a: Params, b: Params, names: Sequence[str] | None = None) -> float:
    """Cosine of the angle between two directions (over `names`, default all)."""
    keys = list(names) if names is not None else list(a)
    dot = sum(float((a[k].double() * b[k].double()).sum()) for k in keys)
    na = sum(float(a[k].double().pow(2).sum()) for k in keys) ** 0.5
    nb = sum(float(b[k].double().pow(2).sum()) for k in keys) ** 0.5
    return dot / max(na * nb, 1e-300)
