"""Registered datasets and split logic: published train/test, a seeded validation split, fractions.

Every dataset is a `DatasetEntry` in `latentscape.registry.DATASETS`; its `load(split, cfg,
folder)` returns the *published* "train" or "test" split as an in-memory `ImageDataset`.
`load_split` adds what is common to all of them:

- "val" is a seeded `val_fraction` of the published training split, removed from "train";
- `fraction` keeps a seeded subsample of each split (for quick runs);
- `image_size` resizes datasets of fixed size (e.g. MNIST to 32x32 for DCGAN-style nets);
- files are checked (present, MD5) or downloaded first when `download` is set.

Parsed files are cached in-process (see `latentscape.data.files.cached_parse`); the tensors of a
returned dataset may be shared with that cache, so treat them as read-only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from latentscape.config import DataConfig
from latentscape.data.download import Archive, download_archive, download_file
from latentscape.data.files import FileSpec, verify_md5
from latentscape.data.memory import check_fits
from latentscape.data.types import ImageDataset
from latentscape.errors import ConfigError, DataError
from latentscape.registry import DATASETS, UnknownNameError

#: Loader of one published split: (split "train"|"test", config, dataset folder) -> dataset.
LoadFn = Callable[[str, DataConfig, Path], ImageDataset]

_SPLIT_OFFSETS = {"train": 1, "val": 2, "test": 3}


@dataclass(frozen=True)
class DatasetEntry:
    """A registered dataset.

    Attributes:
        name: registry name (`data.name`).
        description: one line for `latentscape data list`.
        load: returns the published "train" or "test" split; receives the dataset folder
            (data root / `folder`), or the data root for embedded datasets.
        folder: folder name under the data root (as in ../shared/data); None for embedded data.
        files: the files `load` reads, with checksums and download URLs.
        archive: an official archive that holds the folder (CIFAR, CUB), downloaded and extracted
            into the data root when `download` is set.
        classes: class names, index = label (empty when unlabelled).
        has_test: whether a test split exists.
        manual: how to get the files by hand, shown when they are missing and cannot be downloaded.
        sized_by_loader: `load` itself honours `cfg.image_size` (generated / resized datasets);
            otherwise `load_split` resizes when `image_size` differs from the stored size.
        aliases: other registered names of this entry.
        user_supplied: the images come from the user's `data.path`, not from the data root.
    """

    name: str
    description: str
    load: LoadFn
    folder: str | None = None
    files: tuple[FileSpec, ...] = ()
    archive: Archive | None = None
    classes: tuple[str, ...] = ()
    has_test: bool = True
    manual: str = ""
    sized_by_loader: bool = False
    aliases: tuple[str, ...] = ()
    user_supplied: bool = False

    @property
    def embedded(self) -> bool:
        return self.folder is None and not self.user_supplied

    @property
    def has_files(self) -> bool:
        """Whether the data are files under the data root (neither embedded nor user-supplied)."""
        return self.folder is not None

    def folder_path(self, root: Path) -> Path:
        return root if self.folder is None else root / self.folder

    def missing_files(self, root: Path, split: str | None = None) -> list[FileSpec]:
        """Files (of `split`, or of all splits) that are not in the local folder."""
        folder = self.folder_path(root)
        return [
            f
            for f in self.files
            if (split is None or f.needed_for(split)) and not _present(folder, f)
        ]

    def availability(self, root: Path) -> str:
        """"embedded", "data.path", "yes", "partial (N missing)" or "no" for `latentscape data list`."""
        if self.user_supplied:
            return "data.path"
        if self.embedded:
            return "embedded"
        if not self.folder_path(root).is_dir():
            return "no"
        missing = self.missing_files(root)
        if not missing:
            return "yes"
        return "no" if len(missing) == len(self.files) else f"partial ({len(missing)} missing)"


def register_dataset(entry: DatasetEntry) -> DatasetEntry:
    """Add `entry` to `DATASETS` under its name and aliases."""
    for name in (entry.name, *entry.aliases):
        DATASETS.register(name, entry)
    return entry


def get_entry(name: str) -> DatasetEntry:
    """The entry registered as `name` (ConfigError listing the allowed names otherwise)."""
    try:
        return DATASETS.get(name)
    except UnknownNameError as exc:
        raise ConfigError(f"data.name: {exc}") from None


def resolve_data_dir(cfg: DataConfig) -> Path:
    """Data root: `cfg.data_dir`, else $LATENTSCAPE_DATA, else ~/.cache/latentscape/data."""
    if cfg.data_dir:
        return Path(cfg.data_dir).expanduser()
    env = os.environ.get("LATENTSCAPE_DATA")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "latentscape" / "data"


def ensure_files(entry: DatasetEntry, cfg: DataConfig, root: Path, split: str) -> Path:
    """Make sure the files of published `split` are present and intact; return the folder.

    Missing files are downloaded when `cfg.download` is set and a source is known; otherwise (or
    for a checksum mismatch) a `DataError` says what to do.
    """
    folder = entry.folder_path(root)
    if not entry.has_files:
        return folder
    missing = entry.missing_files(root, split)
    if missing and cfg.download:
        if entry.archive is not None:
            download_archive(entry.archive, root)
        for spec in entry.missing_files(root, split):
            if spec.url is not None:
                download_file(spec.url, folder / spec.name, spec.md5)
        missing = entry.missing_files(root, split)
    if missing:
        raise DataError(_missing_message(entry, root, missing))
    if not cfg.verify:
        warn_unverified(entry.name, folder)
        return folder
    for spec in entry.files:
        if spec.needed_for(split) and not spec.name.endswith("/"):
            verify_md5(folder / spec.name, spec.md5, hint=_download_hint(entry))
    return folder


_WARNED: set[str] = set()


def warn_unverified(name: str, folder: Path) -> None:
    """Print once per dataset that checksums are skipped (`data.verify=false`)."""
    if name not in _WARNED:
        _WARNED.add(name)
        print(f"warning: data.verify=false: {name} files in {folder} are used without checking "
              "their checksums", file=sys.stderr, flush=True)


def load_published(cfg: DataConfig, split: str) -> ImageDataset:
    """The published "train" or "test" split, whole (no validation carve-out, fraction or resize)."""
    entry = get_entry(cfg.name)
    if split == "test" and not entry.has_test:
        raise DataError(f"dataset {cfg.name!r} has no test split; use data.val_fraction instead")
    root = resolve_data_dir(cfg)
    folder = ensure_files(entry, cfg, root, split)
    data = entry.load(split, cfg, folder)
    check_published(data, f"{entry.name} {split} split ({data.metadata.get('source', folder)})")
    return replace(data, name=entry.name, split=split)


def check_published(data: ImageDataset, where: str) -> None:
    """DataError naming `where` for a split no model can use: no images, or labels outside
    -1 (unknown) .. K-1 for its K class names (a damaged or foreign label file)."""
    if len(data) == 0:
        raise DataError(f"{where} holds no images; its files are empty or damaged")
    low, high = int(data.labels.min()), int(data.labels.max())
    if low < -1:
        raise DataError(f"{where}: label {low} is negative (labels are 0..K-1, or -1 for unknown); the label file is damaged")
    if data.classes and high >= len(data.classes):
        raise DataError(
            f"{where}: label {high} is out of range for its {len(data.classes)} classes (0..{len(data.classes) - 1}); "
            "the label file is damaged or belongs to another dataset"
        )


def load_split(cfg: DataConfig, split: str) -> ImageDataset:
    """One split ("train", "val" or "test") with validation carve-out and `fraction` applied."""
    if split not in _SPLIT_OFFSETS:
        raise ConfigError(f"unknown split {split!r}; allowed: train, val, test")
    if split == "val" and cfg.val_fraction <= 0:
        raise DataError("there is no validation split: set data.val_fraction > 0 (e.g. 0.1)")
    if split == "test":
        data = load_published(cfg, "test")
    else:
        full = load_published(cfg, "train")
        train_idx, val_idx = validation_indices(len(full), cfg.val_fraction, cfg.split_seed)
        if cfg.val_fraction > 0:
            data = full.subset(train_idx if split == "train" else val_idx, split=split)
        else:
            data = full
    if cfg.fraction < 1.0:
        keep = fraction_indices(len(data), cfg.fraction, cfg.split_seed * 1000 + _SPLIT_OFFSETS[split])
        data = data.subset(keep)
    entry = get_entry(cfg.name)
    if not entry.sized_by_loader and cfg.image_size and data.images.shape[-1] != cfg.image_size:
        data = replace(data, images=resize_images(data.images, cfg.image_size))
    return data


def load_splits(cfg: DataConfig) -> dict[str, ImageDataset]:
    """{"train", "test"} (if published) and "val" when `val_fraction` > 0."""
    entry = get_entry(cfg.name)
    names = ["train"] + (["val"] if cfg.val_fraction > 0 else []) + (["test"] if entry.has_test else [])
    splits = {name: load_split(cfg, name) for name in names}
    shape = splits["train"].image_shape
    other = next((s for s in splits.values() if s.image_shape != shape), None)
    if other is not None:  # a model is built for the training images' shape
        raise DataError(
            f"{cfg.name}: the {other.split} images are {'x'.join(map(str, other.image_shape))} but the train images "
            f"are {'x'.join(map(str, shape))} (C x H x W); the {other.split} files are damaged or from another dataset"
        )
    return splits


def validation_indices(n: int, val_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded partition of range(n) into (train, val) index tensors, each sorted, int64.

    `round(n * val_fraction)` examples go to val (at least 1 and at most n - 1 when the
    fraction is positive).
    """
    if val_fraction <= 0:
        return torch.arange(n), torch.zeros(0, dtype=torch.long)
    if n < 2:
        raise DataError(f"cannot hold out a validation split from {n} example(s)")
    n_val = min(max(1, round(n * val_fraction)), n - 1)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[n_val:].sort().values, perm[:n_val].sort().values


def fraction_indices(n: int, fraction: float, seed: int) -> torch.Tensor:
    """Seeded, sorted subsample of `round(n * fraction)` (at least 1) indices of range(n)."""
    keep = min(n, max(1, round(n * fraction)))
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[:keep].sort().values


def resize_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize uint8 (N, C, H, W) images to (N, C, size, size) with antialiased bilinear filtering."""
    n, c = images.shape[:2]
    check_fits(2 * n * c * size * size + min(n, 4096) * c * size * size * 4, f"{n} images resized to {size}x{size}",
               "data.image_size")
    out = []
    for chunk in images.split(4096):  # bound the float copy's memory
        x = F.interpolate(chunk.float(), size=(size, size), mode="bilinear", antialias=True,
                          align_corners=False)  # (B, C, size, size)
        out.append(x.round_().clamp_(0, 255).to(torch.uint8))
    return torch.cat(out) if out else images.new_zeros((0, images.shape[1], size, size))


def _present(folder: Path, spec: FileSpec) -> bool:
    path = folder / spec.name
    return path.is_dir() if spec.name.endswith("/") else path.is_file()


def _download_hint(entry: DatasetEntry) -> str:
    if entry.archive is not None or any(f.url for f in entry.files):
        return " (e.g. delete it and run with data.download=true / --download)"
    return f" ({entry.manual})" if entry.manual else ""


def _missing_message(entry: DatasetEntry, root: Path, missing: list[FileSpec]) -> str:
    folder = entry.folder_path(root)
    names = ", ".join(f.name for f in missing[:3]) + (" ..." if len(missing) > 3 else "")
    where = (
        f"dataset folder {folder} does not exist"
        if not folder.is_dir()
        else f"{entry.name}: missing {names} in {folder}"
    )
    downloadable = entry.archive is not None or all(f.url for f in missing)
    if downloadable:
        how = (f"download them with data.download=true (or `latentscape data info {entry.name} "
               "--download`)")
    else:
        how = entry.manual or "copy the files there by hand"
    return (
        f"{where}; {how}, or point --data-dir / $LATENTSCAPE_DATA at a folder that holds "
        f"{entry.folder}/ (see `latentscape data info {entry.name}`)"
    )
