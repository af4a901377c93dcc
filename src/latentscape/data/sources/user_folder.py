"""`data.name=folder data.path=DIR`: a user's own folder of PNG/JPEG images as a dataset.

Layouts (decided by what DIR holds):
- `DIR/train/` (and optionally `DIR/test/`): the published splits; otherwise every image under DIR
  is split 4:1 into train/test, seeded by `data.split_seed`.
- Inside a split folder: one subfolder per class (class names = sorted subfolder names, labels in
  that order; the test split uses the training split's classes), or images directly (label 0, no
  class names).

Every image is centre-cropped to a square and resized to `data.image_size` (default 64) with
Pillow's bicubic filter, as grayscale (`data.channels=1`) or RGB (3, the default). Hidden files
are ignored; any other file that is not a decodable PNG/JPEG, or a picture too large to decode
safely (a decompression bomb), is a one-line DataError naming the file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from latentscape.config import DataConfig
from latentscape.data.files import cached_parse
from latentscape.data.registry import DatasetEntry, fraction_indices
from latentscape.data.sources.folder import centre_square, load_images
from latentscape.data.types import ImageDataset
from latentscape.errors import ConfigError, DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
DEFAULT_SIZE = 64


def list_images(folder: Path) -> tuple[list[Path], list[int], tuple[str, ...]]:
    """(files, labels, class names) of a class-per-subfolder or flat image folder, sorted."""
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    dirs = [p for p in entries if p.is_dir()]
    files = [p for p in entries if p.is_file()]
    if dirs and files:
        raise DataError(f"{folder} mixes files ({files[0].name}) and class folders ({dirs[0].name}); "
                        "use one subfolder per class or only images")
    if not dirs:
        return _checked(files), [0] * len(files), ()
    paths, labels = [], []
    for label, d in enumerate(dirs):
        found = _checked(sorted(p for p in d.rglob("*") if p.is_file() and not p.name.startswith(".")))
        paths += found
        labels += [label] * len(found)
    return paths, labels, tuple(d.name for d in dirs)


def _checked(files: list[Path]) -> list[Path]:
    bad = next((p for p in files if p.suffix.lower() not in IMAGE_SUFFIXES), None)
    if bad is not None:
        raise DataError(f"{bad} is not a PNG/JPEG image; an image-folder dataset holds only images "
                        "(move it out of the folder)")
    return files


def _root(cfg: DataConfig) -> Path:
    if not cfg.path:
        raise ConfigError("data.name=folder needs data.path=DIR (a folder of PNG/JPEG images)")
    root = Path(cfg.path).expanduser()
    if not root.is_dir():
        raise DataError(f"data.path: image folder not found: {root}")
    return root


def split_files(cfg: DataConfig, split: str) -> tuple[list[Path], list[int], tuple[str, ...]]:
    """Files, labels and class names of published split "train" or "test"."""
    root = _root(cfg)
    if (root / "train").is_dir():
        paths, labels, classes = list_images(root / "train")
        if split == "test":
            if not (root / "test").is_dir():
                raise DataError(f"{root} has train/ but no test/ folder; add one or use data.val_fraction")
            paths, test_labels, test_classes = list_images(root / "test")
            unknown = [c for c in test_classes if c not in classes]
            if unknown:
                raise DataError(f"{root / 'test' / unknown[0]}: class {unknown[0]!r} is not in {root / 'train'}")
            labels = [classes.index(test_classes[t]) for t in test_labels] if test_classes else test_labels
    elif (root / "test").is_dir():  # not a class named "test": the train/ folder is missing
        raise DataError(f"{root} has test/ but no train/ folder; add train/ (or put every image under {root} "
                        "without split folders)")
    else:
        paths, labels, classes = list_images(root)
        test = set(fraction_indices(len(paths), 0.2, cfg.split_seed).tolist()) if len(paths) > 1 else set()
        keep = [i for i in range(len(paths)) if (i in test) == (split == "test")]
        paths, labels = [paths[i] for i in keep], [labels[i] for i in keep]
    if not paths:
        raise DataError(f"{root}: no images for split {split!r} (PNG/JPEG files expected)")
    return paths, labels, classes


def _load(split: str, cfg: DataConfig, _folder: Path) -> ImageDataset:
    size = cfg.image_size or DEFAULT_SIZE
    mode = "L" if cfg.channels == 1 else "RGB"
    paths, labels, classes = split_files(cfg, split)
    tag = hashlib.sha1("\n".join(map(str, paths)).encode()).hexdigest()[:16]
    images = cached_parse(paths, f"folder:{tag}:{size}:{mode}", lambda: torch.from_numpy(
        load_images(paths, size, lambda i, w, h: centre_square(w, h), mode)))  # (N, C, size, size)
    return ImageDataset(images, torch.tensor(labels, dtype=torch.long), split=split, classes=classes,
                        metadata={"source": str(_root(cfg)), "crop": "centre square"})


FOLDER_ENTRY = DatasetEntry(
    name="folder",
    description="your own PNG/JPEG folder: data.path=DIR (class subfolders or flat), "
    "centre crop to data.image_size (64), data.channels 1 or 3",
    load=_load,
    sized_by_loader=True,
    user_supplied=True,
)
