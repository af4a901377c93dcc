"""Animated GIFs (latent interpolations, traversals, samples over training) with Pillow."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from latentscape.io import atomic_write
from latentscape.viz.grid import _upscale, to_pil


def save_gif(
    frames: list[Tensor] | Tensor,
    path: str | Path,
    duration_ms: int = 100,
    loop: int = 0,
    upscale: int = 1,
) -> Path:
    """Write frames as an animated GIF (parent folders created, atomic write).

    Args:
        frames: list of (C, H, W) or a (T, C, H, W) tensor, float in [0, 1] (clamped), C in
            {1, 3}; all frames the same size. A frame may itself be a `make_grid` output.
        path: destination `.gif`.
        duration_ms: display time of each frame.
        loop: 0 loops forever; n plays n + 1 times (Pillow's convention).
        upscale: integer nearest-neighbour enlargement.

    Returns:
        The path written.
    """
    if isinstance(frames, Tensor):
        if frames.dim() != 4:
            raise ValueError(f"expected frames of shape (T, C, H, W), got {tuple(frames.shape)}")
        frames = list(frames)
    if not frames:
        raise ValueError("cannot write a GIF with zero frames")
    sizes = {tuple(torch.as_tensor(f).shape) for f in frames}
    if len(sizes) != 1:
        raise ValueError(f"all GIF frames must have the same shape, got {sorted(sizes)}")
    images = [_upscale(to_pil(f).convert("RGB"), upscale) for f in frames]
    # Adaptive palette per frame; disposal=1 keeps frames whole, optimize=False keeps every frame
    # (Pillow would otherwise merge identical consecutive frames and change the frame count).
    pal = [im.quantize(colors=256, method=2, dither=0) for im in images]

    def write(fh) -> None:
        pal[0].save(
            fh,
            format="GIF",
            save_all=True,
            append_images=pal[1:],
            duration=int(duration_ms),
            loop=int(loop),
            disposal=1,
            optimize=False,
        )

    return atomic_write(path, write)
