"""Image grids: tile a batch of images into one picture and save it as PNG (Pillow, atomic).

Images are float tensors in [0, 1] with 1 or 3 channels, shape (N, C, H, W); values outside
[0, 1] are clamped, so a model's raw outputs can be passed directly.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from latentscape.io import atomic_write


def _check_images(images: Tensor) -> Tensor:
    """Validate (N, C, H, W) with C in {1, 3}; return a detached float CPU copy in [0, 1]."""
    if not isinstance(images, Tensor):
        images = torch.as_tensor(np.asarray(images))
    if images.dim() == 3:
        images = images.unsqueeze(0)  # (1, C, H, W)
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected images of shape (N, C, H, W) with C in (1, 3), got {tuple(images.shape)}")
    if images.shape[0] == 0:
        raise ValueError("cannot make a grid of zero images")
    return images.detach().to("cpu", torch.float32).clamp(0.0, 1.0)


def make_grid(
    images: Tensor, nrow: int = 8, padding: int = 2, pad_value: float = 1.0
) -> Tensor:
    """Tile images row by row into one image.

    Args:
        images: (N, C, H, W) float in [0, 1] (clamped), C in {1, 3}; (C, H, W) is one image.
        nrow: images per row; the number of rows is ceil(N / nrow).
        padding: pixels of `pad_value` between images and around the border.
        pad_value: value of the padding, in [0, 1].

    Returns:
        (C, rows * (H + padding) + padding, ncol * (W + padding) + padding) float in [0, 1],
        where ncol = min(nrow, N). Unused cells of the last row are left as padding.
    """
    images = _check_images(images)
    if nrow < 1 or padding < 0:
        raise ValueError(f"nrow must be >= 1 and padding >= 0, got nrow={nrow}, padding={padding}")
    n, c, h, w = images.shape
    ncol = min(nrow, n)
    rows = math.ceil(n / ncol)
    grid = torch.full(
        (c, rows * (h + padding) + padding, ncol * (w + padding) + padding),
        float(pad_value),
        dtype=torch.float32,
    )  # (C, H', W')
    for k in range(n):
        r, col = divmod(k, ncol)
        top = padding + r * (h + padding)
        left = padding + col * (w + padding)
        grid[:, top : top + h, left : left + w] = images[k]
    return grid


def to_pil(image: Tensor) -> Image.Image:
    """Convert one (C, H, W) float image in [0, 1] (clamped) to a Pillow image ("L" or "RGB")."""
    image = _check_images(image)[0]  # (C, H, W)
    array = (image * 255.0).round().to(torch.uint8).permute(1, 2, 0).numpy()  # (H, W, C)
    if array.shape[2] == 1:
        return Image.fromarray(array[:, :, 0], mode="L")
    return Image.fromarray(np.ascontiguousarray(array), mode="RGB")


def _upscale(img: Image.Image, upscale: int) -> Image.Image:
    """Nearest-neighbour enlargement (keeps pixels crisp for 28x28 digits)."""
    if upscale < 1:
        raise ValueError(f"upscale must be >= 1, got {upscale}")
    if upscale == 1:
        return img
    return img.resize((img.width * upscale, img.height * upscale), Image.Resampling.NEAREST)


def save_pil(img: Image.Image, path: str | Path, **kwargs) -> Path:
    """Save a Pillow image atomically; the format comes from the suffix (PNG by default)."""
    path = Path(path)
    fmt = {".gif": "GIF", ".jpg": "JPEG", ".jpeg": "JPEG"}.get(path.suffix.lower(), "PNG")
    return atomic_write(path, lambda fh: img.save(fh, format=fmt, **kwargs))


def save_image_grid(
    images: Tensor, path: str | Path, nrow: int = 8, padding: int = 2, upscale: int = 1
) -> Path:
    """Save images tiled by `make_grid` as a PNG (parent folders created, atomic write).

    Args:
        images: (N, C, H, W) float in [0, 1], C in {1, 3}.
        path: destination file (e.g. run.image_path("samples_step1000.png")).
        nrow: images per row.
        padding: white pixels between images.
        upscale: integer nearest-neighbour enlargement of the whole grid.

    Returns:
        The path written.
    """
    grid = make_grid(images, nrow=nrow, padding=padding)
    return save_pil(_upscale(to_pil(grid), upscale), path)


def _text_width(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.ImageFont) -> int:
    left, _, right, _ = draw.textbbox((0, 0), text, font=font)
    return int(right - left)


def _label_font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's default font at `size` pixels (its bitmap fallback when FreeType is missing)."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):
        return ImageFont.load_default()


def save_labeled_rows(
    rows: list[Tensor],
    labels: list[str],
    path: str | Path,
    padding: int = 2,
    upscale: int = 2,
) -> Path:
    """Save several image rows (e.g. "originals" over "reconstructions") with text labels.

    Each row is one line of a grid; a white left margin holds its label, drawn in black with
    Pillow's default font. Rows may hold different numbers of images but must share C, H, W.

    Args:
        rows: list of (N_i, C, H, W) float in [0, 1].
        labels: one label per row.
        path: destination PNG.
        padding: pixels between images.
        upscale: integer enlargement of the images (the labels stay legible at any size).

    Returns:
        The path written.
    """
    if len(rows) != len(labels) or not rows:
        raise ValueError(f"need one label per row and at least one row, got {len(rows)} rows, {len(labels)} labels")
    checked = [_check_images(r) for r in rows]
    shapes = {tuple(r.shape[1:]) for r in checked}
    if len(shapes) != 1:
        raise ValueError(f"all rows must share (C, H, W), got {sorted(shapes)}")
    ncol = max(r.shape[0] for r in checked)
    row_imgs = []
    for r in checked:
        grid = make_grid(r, nrow=ncol, padding=padding)  # (C, H + 2p, n_i * (W + p) + p)
        row_imgs.append(_upscale(to_pil(grid).convert("RGB"), upscale))
    font = _label_font(12 + 2 * upscale)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    margin = max(_text_width(probe, str(lbl), font) for lbl in labels) + 12
    width = margin + max(img.width for img in row_imgs)
    height = sum(img.height for img in row_imgs)
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    top = 0
    for img, label in zip(row_imgs, labels):
        canvas.paste(img, (margin, top))
        _, t, _, b = draw.textbbox((0, 0), str(label), font=font)
        draw.text((6, top + (img.height - (b - t)) // 2 - t), str(label), fill=(0, 0, 0), font=font)
        top += img.height
    return save_pil(canvas, path)
