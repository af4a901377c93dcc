"""Image dynamics along a path: fixed images reconstructed by the models at successive points.

The autoencoder study tracks four fixed images through the networks on a curve; we save a strip
(rows = images, first column = originals, then one column per point) and a GIF (one frame per
point: originals over reconstructions).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from latentscape.landscape.core.curves import Curve
from latentscape.landscape.core.evaluate import PointEvaluator
from latentscape.landscape.core.functional import Bound


@torch.no_grad()
def reconstructions_along(evaluator: PointEvaluator, curve: Curve, ts: Sequence[float], x: Tensor) -> Tensor:
    """Reconstructions of `x` (N, C, H, W) at every t: (T, N, C, H, W) in [0, 1].

    Uses the evaluator's model copy and BatchNorm recomputation, so the pictures come from
    exactly the networks whose metrics are reported.
    """
    bound = Bound(evaluator.model, lambda m, inp: m.reconstruct(inp))
    x = x.to(evaluator.device)
    frames = []
    for t in ts:
        state = evaluator.state(curve(float(t)))
        frames.append(bound.call(state, x).clamp(0, 1).cpu())  # (N, C, H, W)
    return torch.stack(frames)  # (T, N, C, H, W)


def strip_positions(t_count: int, columns: int = 11) -> list[int]:
    """Indices of the (at most `columns`, evenly spaced) points shown in the strip, from the
    first point to the last (a path of fewer points than columns shows all of them)."""
    shown = min(columns, t_count)
    return sorted({round(i * (t_count - 1) / max(shown - 1, 1)) for i in range(shown)})


def save_dynamics(
    originals: Tensor, recons: Tensor, ts: Sequence[float], images_dir: Path, strip_columns: int = 11, upscale: int | None = None
) -> dict[str, Path]:
    """Write images/dynamics.png (strip) and images/dynamics.gif.

    Args:
        originals: (N, C, H, W) in [0, 1].
        recons: (T, N, C, H, W) in [0, 1].
        ts: the T path positions.
        images_dir: destination folder.
        strip_columns: at most this many (evenly spaced) points in the strip; the GIF has all.
    """
    from latentscape.viz.gif import save_gif
    from latentscape.viz.grid import make_grid, save_image_grid

    t_count, n = recons.shape[:2]
    side = originals.shape[-1]
    up = upscale or max(1, 64 // side)
    cols = strip_positions(t_count, strip_columns)
    strip = torch.cat([originals.unsqueeze(1), recons[cols].transpose(0, 1)], dim=1)  # (N, 1 + S, C, H, W)
    strip_path = save_image_grid(strip.flatten(0, 1), images_dir / "dynamics.png", nrow=len(cols) + 1, upscale=up)  # (N*(1+S), C, H, W)
    frames = [make_grid(torch.cat([originals, recons[i]]), nrow=n) for i in range(t_count)]  # (C, H', W') each
    gif_path = save_gif(frames, images_dir / "dynamics.gif", duration_ms=120, upscale=up)
    return {"strip": strip_path, "gif": gif_path, "strip_ts": [float(ts[c]) for c in cols]}  # type: ignore[dict-item]
