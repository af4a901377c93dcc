"""Image-folder datasets: CelebA (aligned, 64x64) and CUB-200-2011 (32x32).

Both are decoded with Pillow into uint8 (N, 3, S, S) tensors; S is `data.image_size` (CelebA 64,
CUB 32 by default). The decoded arrays are kept in memory for the process and as .npy files
under $LATENTSCAPE_CACHE (default ~/.cache/latentscape/processed), so the JPEGs are decoded once.

- CelebA (Liu et al., "Deep Learning Face Attributes in the Wild", ICCV 2015): folder `celeba/`
  with `img_align_celeba/` (178x218 JPEGs) and `list_eval_partition.txt`. Images are centre
  cropped to 178x178 and resized. Splits follow the official partition (0 train, 1 valid,
  2 test: 162,770 / 19,867 / 19,962); without the partition file, a seeded 4:1 train/test split of
  all images is used (`split_seed`), as in the autoencoder mode-connectivity study. No labels.
- CUB-200-2011 (Wah et al., Caltech 2011): folder `CUB_200_2011/` with `images/`, `images.txt`,
  `train_test_split.txt`, `image_class_labels.txt`, `classes.txt` (and `bounding_boxes.txt` for
  `cub-bbox`). `cub` centre-crops each photo to a square; `cub-bbox` crops a square around the
  annotated bird box. Grey photos are converted to RGB. Labels 0..199.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from latentscape.config import DataConfig
from latentscape.data.download import Archive
from latentscape.data.files import FileSpec, cached_parse, disk_cached_array, verify_md5
from latentscape.data.memory import check_fits
from latentscape.data.registry import DatasetEntry, fraction_indices
from latentscape.data.types import ImageDataset
from latentscape.errors import DataError

Box = tuple[float, float, float, float]  # left, top, right, bottom


def centre_square(width: int, height: int) -> Box:
    """The largest centred square of a width x height image."""
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return (left, top, left + side, top + side)


def box_square(box: Box, width: int, height: int) -> Box:
    """A square around the centre of `box`, with the box's longer side, kept inside the image."""
    left, top, right, bottom = box
    side = min(max(right - left, bottom - top), width, height)
    cx, cy = (left + right) / 2, (top + bottom) / 2
    x0 = min(max(cx - side / 2, 0.0), width - side)
    y0 = min(max(cy - side / 2, 0.0), height - side)
    return (x0, y0, x0 + side, y0 + side)


def load_images(paths: list[Path], size: int, crop: Callable[[int, int, int], Box], mode: str = "RGB") -> np.ndarray:
    """Decode, crop and resize images to uint8 (N, C, size, size).

    Args:
        paths: image files.
        size: output side length.
        crop: (i, width, height) -> crop box of image i.
        mode: Pillow mode of the output, "RGB" (C=3) or "L" (grayscale, C=1).
    """
    from latentscape.progress import Progress

    channels = 1 if mode == "L" else 3
    check_fits(2 * len(paths) * size * size * channels, f"{len(paths)} images of {size}x{size}", "data.image_size")
    out = np.empty((len(paths), size, size, channels), dtype=np.uint8)  # (N, H, W, C)
    with Progress(f"decoding {len(paths)} images (cached afterwards)", len(paths), unit="image", lazy=True) as progress:
        for i, path in enumerate(paths):
            out[i] = _decode_one(path, i, size, crop, mode).reshape(size, size, channels)
            progress.update(i + 1)
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))  # (N, C, H, W)


def _decode_one(path: Path, i: int, size: int, crop: Callable[[int, int, int], Box], mode: str) -> np.ndarray:
    """Image i cropped and resized to uint8 (size, size[, C]); a DataError naming an unreadable file."""
    try:
        with warnings.catch_warnings():
            # a big-but-allowed picture only warns (several lines on stderr) and decodes
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:  # Pillow refuses huge headers before decoding
                rgb = img.convert(mode)
    except Image.DecompressionBombError:
        raise DataError(f"{path} is too large to decode safely (over {2 * Image.MAX_IMAGE_PIXELS} "
                        "pixels: a decompression bomb?)") from None
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as exc:
        raise DataError(f"{path} is not a readable image ({str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__})") from None
    box = crop(i, *rgb.size)
    return np.asarray(rgb.resize((size, size), Image.Resampling.BICUBIC, box=box))


def _digest(paths: list[Path]) -> str:
    """Short digest of a file list (names and order), for cache keys."""
    return hashlib.sha1("\n".join(str(p) for p in paths).encode()).hexdigest()[:16]


def _read_table(path: Path, columns: int) -> list[list[str]]:
    """Whitespace-separated rows with at least `columns` fields."""
    try:
        rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    bad = next((i for i, r in enumerate(rows) if len(r) < columns), None)
    if bad is not None:
        raise DataError(f"{path}: line {bad + 1} has fewer than {columns} fields")
    return rows


# ----------------------------------------------------------------------------- CelebA

CELEBA_PARTITION_MD5 = "d32c9cbf5e040fd4025c592c306e6668"
_CELEBA_MANUAL = (
    "download img_align_celeba.zip and list_eval_partition.txt by hand from the CelebA Google "
    "Drive (https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html) and unzip them into celeba/"
)


def _celeba_files(folder: Path, split: str, seed: int, verify: bool = True) -> list[Path]:
    images = folder / "img_align_celeba"
    partition = folder / "list_eval_partition.txt"
    if partition.is_file():
        if verify:
            verify_md5(partition, CELEBA_PARTITION_MD5, f" ({_CELEBA_MANUAL})")
        wanted = "0" if split == "train" else "2"
        names = [r[0] for r in _read_table(partition, 2) if r[1] == wanted]
    else:  # seeded 4:1 split of every image
        names = sorted(p.name for p in images.iterdir() if p.suffix.lower() in (".jpg", ".png"))
        test = set(fraction_indices(len(names), 0.2, seed).tolist())
        names = [n for i, n in enumerate(names) if (i in test) == (split == "test")]
    if not names:
        raise DataError(f"no CelebA images for split {split!r} in {images}")
    return [images / n for n in names]


def _load_celeba(split: str, cfg: DataConfig, folder: Path) -> ImageDataset:
    size = cfg.image_size or 64
    paths = _celeba_files(folder, split, cfg.split_seed, cfg.verify)
    missing = next((p for p in paths if not p.is_file()), None)
    if missing is not None:
        raise DataError(f"CelebA image {missing} is missing; {_CELEBA_MANUAL}")
    key = {"name": f"celeba-{split}-{size}", "folder": folder.resolve(), "size": size,
           "files": _digest(paths), "mtime": (folder / "img_align_celeba").stat().st_mtime_ns}
    images = cached_parse(
        [folder / "img_align_celeba"], f"celeba:{key['files']}:{size}",
        lambda: torch.from_numpy(disk_cached_array(
            key, lambda: load_images(paths, size, lambda i, w, h: centre_square(w, h)))),
    )
    labels = torch.full((images.shape[0],), -1, dtype=torch.long)
    return ImageDataset(images, labels, name="celeba", split=split,
                        metadata={"source": str(folder), "crop": "centre 178x178"})


CELEBA = DatasetEntry(
    name="celeba",
    description="CelebA aligned faces, centre crop 178 -> 64x64 RGB, official partition (no labels)",
    load=_load_celeba,
    folder="celeba",
    files=(FileSpec("img_align_celeba/"),),
    manual=_CELEBA_MANUAL,
    sized_by_loader=True,
)


# ----------------------------------------------------------------------------- CUB

_CUB_FILES = ("images.txt", "train_test_split.txt", "image_class_labels.txt", "classes.txt")


def _load_cub(split: str, cfg: DataConfig, folder: Path, bbox: bool) -> ImageDataset:
    size = cfg.image_size or 32
    ids = {r[0]: r[1] for r in _read_table(folder / "images.txt", 2)}
    is_train = {r[0]: r[1] == "1" for r in _read_table(folder / "train_test_split.txt", 2)}
    label_of = {r[0]: int(r[1]) - 1 for r in _read_table(folder / "image_class_labels.txt", 2)}
    classes = tuple(r[1] for r in _read_table(folder / "classes.txt", 2))
    chosen = [i for i in ids if is_train.get(i) == (split == "train")]
    if not chosen or any(i not in label_of for i in chosen):
        raise DataError(f"{folder}: images.txt, train_test_split.txt and image_class_labels.txt disagree")
    paths = [folder / "images" / ids[i] for i in chosen]
    boxes: dict[str, Box] = {}
    if bbox:
        for r in _read_table(folder / "bounding_boxes.txt", 5):
            x, y, w, h = map(float, r[1:5])
            boxes[r[0]] = (x, y, x + w, y + h)

    def crop(k: int, w: int, h: int) -> Box:
        return box_square(boxes[chosen[k]], w, h) if bbox else centre_square(w, h)

    tables = [folder / f for f in _CUB_FILES] + ([folder / "bounding_boxes.txt"] if bbox else [])
    key = {"name": f"cub-{split}-{size}{'-bbox' if bbox else ''}", "folder": folder.resolve(),
           "size": size, "files": _digest(paths), "bbox": bbox,
           "tables": [(t.name, t.stat().st_mtime_ns) for t in tables]}
    images = cached_parse(tables, f"cub:{split}:{size}:{bbox}", lambda: torch.from_numpy(
        disk_cached_array(key, lambda: load_images(paths, size, crop))))
    labels = torch.tensor([label_of[i] for i in chosen], dtype=torch.long)
    return ImageDataset(images, labels, split=split, classes=classes,
                        metadata={"source": str(folder), "crop": "bbox" if bbox else "centre"})


_CUB_ARCHIVE = Archive(
    "https://data.caltech.edu/records/65de6-vp158/files/CUB_200_2011.tgz?download=1",
    "CUB_200_2011.tgz", "97eceeb196236b17998738112f37df78",
)
_CUB_MANUAL = (
    "download CUB_200_2011.tgz from https://data.caltech.edu/records/65de6-vp158 and extract it "
    "into the data root"
)

def _cub_entry(name: str, bbox: bool) -> DatasetEntry:
    return DatasetEntry(
        name=name,
        description="CUB-200-2011 birds, 32x32 RGB, 200 classes, official split ("
        + ("bird bounding-box crop)" if bbox else "centre crop)"),
        load=lambda split, cfg, folder: _load_cub(split, cfg, folder, bbox),
        folder="CUB_200_2011",
        files=(FileSpec("images/"), *(FileSpec(f) for f in _CUB_FILES))
        + ((FileSpec("bounding_boxes.txt"),) if bbox else ()),
        archive=_CUB_ARCHIVE,
        manual=_CUB_MANUAL,
        sized_by_loader=True,
    )


CUB = _cub_entry("cub", bbox=False)
CUB_BBOX = _cub_entry("cub-bbox", bbox=True)
