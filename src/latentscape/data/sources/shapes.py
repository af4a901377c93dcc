"""`shapes`: procedurally generated dSprites-style sprites with ground-truth factors.

Follows the factor grid of dSprites (Matthey, Higgins, Hassabis & Lerchner, 2017,
https://github.com/deepmind/dsprites-dataset): shape (square, ellipse, heart), scale (6 values
in [0.5, 1]), orientation (40 values over [0, 2*pi); dSprites repeats 0 and 2*pi, we do not),
position x and y (32 values each in [0, 1]). Sprites are white on black, binary, rendered as
polygons with Pillow at `image_size` (default 64, as dSprites; 32 also works, where neighbouring
positions may round to the same pixel).

The dataset draws `num_examples` (default 20,000) distinct factor combinations for "train" and a
disjoint quarter as many for "test", from a fixed seed, so every run and process sees the same
data for the same size options. `factors` holds the integer index of each factor (N, 5) in the
order of `factor_names`; `metadata["factor_values"]` maps indices to values; labels are the shape.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from latentscape.config import DataConfig
from latentscape.data.files import memo
from latentscape.data.memory import check_fits
from latentscape.data.registry import DatasetEntry
from latentscape.data.types import ImageDataset
from latentscape.errors import ConfigError

SHAPES = ("square", "ellipse", "heart")
FACTOR_NAMES = ("shape", "scale", "orientation", "pos_x", "pos_y")
FACTOR_SIZES = (3, 6, 40, 32, 32)
FACTOR_VALUES: tuple[tuple[float, ...], ...] = (
    (0.0, 1.0, 2.0),
    tuple(np.linspace(0.5, 1.0, 6).tolist()),
    tuple((np.arange(40) * (2 * math.pi / 40)).tolist()),
    tuple(np.linspace(0.0, 1.0, 32).tolist()),
    tuple(np.linspace(0.0, 1.0, 32).tolist()),
)
DEFAULT_NUM_EXAMPLES = 20_000
DEFAULT_IMAGE_SIZE = 64
_SEED = 2017
_HALF_EXTENT = 0.16  # sprite half-size at scale 1, as a fraction of the image side
_OUTLINE_POINTS = 48


def _outline(shape: int) -> np.ndarray:
    """Polygon (P, 2) of a unit sprite centred at 0 with radius about 1 (y pointing down)."""
    t = np.linspace(0.0, 2 * math.pi, _OUTLINE_POINTS, endpoint=False)
    if shape == 0:  # square, side 1.6 so its area matches the other shapes roughly
        return np.array([[-0.8, -0.8], [0.8, -0.8], [0.8, 0.8], [-0.8, 0.8]])
    if shape == 1:  # ellipse with axes 1 and 0.5
        return np.stack([np.cos(t), 0.5 * np.sin(t)], axis=1)
    # heart curve: x = 16 sin^3 t, y = 13 cos t - 5 cos 2t - 2 cos 3t - cos 4t, scaled to ~[-1, 1]
    x = 16 * np.sin(t) ** 3
    y = 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
    return np.stack([x / 17.0, -(y + 2.5) / 17.0], axis=1)


_OUTLINES = [_outline(s) for s in range(3)]
_MAX_RADIUS = max(float(np.linalg.norm(o, axis=1).max()) for o in _OUTLINES)


def render_sprite(factors: np.ndarray, size: int) -> np.ndarray:
    """Render one sprite from factor indices (5,) into a uint8 (size, size) image of 0/255."""
    shape, scale_i, rot_i, x_i, y_i = (int(v) for v in factors)
    scale = FACTOR_VALUES[1][scale_i]
    angle = FACTOR_VALUES[2][rot_i]
    half = _HALF_EXTENT * size
    margin = _MAX_RADIUS * half + 1.0  # keeps the largest, rotated sprite inside the image
    cx = margin + FACTOR_VALUES[3][x_i] * (size - 2 * margin)
    cy = margin + FACTOR_VALUES[4][y_i] * (size - 2 * margin)
    c, s = math.cos(angle), math.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    pts = _OUTLINES[shape] @ rot.T * (scale * half) + np.array([cx, cy])  # (P, 2) pixel coords
    img = Image.new("L", (size, size), 0)
    ImageDraw.Draw(img).polygon([(float(px), float(py)) for px, py in pts], fill=255)
    return np.asarray(img)


def sample_factors(num: int, seed: int) -> np.ndarray:
    """`num` distinct factor combinations (num, 5) of int64 indices, seeded."""
    total = math.prod(FACTOR_SIZES)
    if num > total:
        raise ConfigError(f"data.num_examples: at most {total} distinct sprites exist, asked {num}")
    flat = torch.randperm(total, generator=torch.Generator().manual_seed(seed))[:num].numpy()
    return np.stack(np.unravel_index(flat, FACTOR_SIZES), axis=1).astype(np.int64)  # (num, 5)


def generate_shapes(num_train: int, image_size: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """{"train", "test"} -> (uint8 images (N, 1, S, S), int64 factors (N, 5)); disjoint."""

    def build() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        num_test = max(1, num_train // 4)
        factors = sample_factors(num_train + num_test, _SEED)
        # every image is rendered, then stacked: twice the uint8 dataset at the peak
        check_fits(2 * len(factors) * image_size**2, f"the shapes dataset ({num_train} images of "
                   f"{image_size}x{image_size})", "data.image_size or data.num_examples")
        images = np.stack([render_sprite(f, image_size) for f in factors])[:, None]  # (N, 1, S, S)
        x, f = torch.from_numpy(images), torch.from_numpy(factors)
        return {"train": (x[:num_train], f[:num_train]), "test": (x[num_train:], f[num_train:])}

    return memo(("shapes", num_train, image_size), build)


def _load(split: str, cfg: DataConfig, root: Path) -> ImageDataset:
    size = cfg.image_size or DEFAULT_IMAGE_SIZE
    num = cfg.num_examples or DEFAULT_NUM_EXAMPLES
    if size < 16:
        raise ConfigError(f"data.image_size: shapes needs at least 16 pixels, got {size}")
    if num < 1:
        raise ConfigError(f"data.num_examples must be positive, got {num}")
    images, factors = generate_shapes(num, size)[split]
    return ImageDataset(
        images, factors[:, 0].clone(), name="shapes", split=split, classes=SHAPES,
        factors=factors, factor_names=FACTOR_NAMES,
        metadata={"factor_values": [list(v) for v in FACTOR_VALUES], "factor_sizes": FACTOR_SIZES},
    )


SHAPES_ENTRY = DatasetEntry(
    name="shapes",
    description="dSprites-style sprites (square/ellipse/heart; scale, rotation, x, y), generated; "
    "ground-truth factors",
    load=_load,
    classes=SHAPES,
    sized_by_loader=True,
)
