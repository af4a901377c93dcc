"""CelebA and CUB image folders on tiny generated JPEG trees."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from latentscape.config import DataConfig
from latentscape.data.files import clear_cache, md5_file
from latentscape.data.registry import load_split
from latentscape.data.sources import folder as folder_mod
from latentscape.data.sources.folder import box_square, centre_square
from latentscape.errors import DataError


def test_crop_boxes():
    assert centre_square(178, 218) == (0, 20, 178, 198)  # CelebA aligned: 178x178 centre crop
    assert box_square((10, 10, 30, 20), 100, 50) == (10.0, 5.0, 30.0, 25.0)
    assert box_square((0, 0, 90, 10), 100, 50) == (20.0, 0.0, 70.0, 50.0)  # side clipped to 50


def _celeba(root: Path, n: int = 10) -> Path:
    images = root / "celeba" / "img_align_celeba"
    images.mkdir(parents=True)
    for i in range(n):
        arr = np.zeros((218, 178, 3), dtype=np.uint8)
        arr[20:198] = 40 + 20 * i  # the 178x178 centre is flat grey; the cropped bands are black
        Image.fromarray(arr).save(images / f"{i + 1:06d}.jpg", quality=95)
    return root / "celeba"


def test_celeba_seeded_split_without_partition(tmp_path):
    _celeba(tmp_path)
    clear_cache()
    cfg = DataConfig(name="celeba", data_dir=str(tmp_path), split_seed=1)
    train, test = load_split(cfg, "train"), load_split(cfg, "test")
    assert (len(train), len(test)) == (8, 2)  # 4:1
    assert train.images.shape[1:] == (3, 64, 64) and bool((train.labels == -1).all())
    means = sorted(torch.cat([train.images, test.images]).float().mean((1, 2, 3)).round().tolist())
    assert means == pytest.approx([40 + 20 * i for i in range(10)], abs=2)  # black bands cropped away
    small = load_split(DataConfig(name="celeba", data_dir=str(tmp_path), image_size=32), "test")
    assert small.images.shape[1:] == (3, 32, 32)


def test_celeba_official_partition(tmp_path, monkeypatch):
    folder = _celeba(tmp_path)
    lines = [f"{i + 1:06d}.jpg {[0, 0, 0, 0, 0, 1, 1, 2, 2, 2][i]}" for i in range(10)]
    (folder / "list_eval_partition.txt").write_text("\n".join(lines) + "\n")
    clear_cache()
    cfg = DataConfig(name="celeba", data_dir=str(tmp_path))
    with pytest.raises(DataError, match="checksum mismatch.*list_eval_partition"):
        load_split(cfg, "train")
    monkeypatch.setattr(folder_mod, "CELEBA_PARTITION_MD5", md5_file(folder / "list_eval_partition.txt"))
    assert (len(load_split(cfg, "train")), len(load_split(cfg, "test"))) == (5, 3)


def _cub(root: Path) -> Path:
    folder = root / "CUB_200_2011"
    rows = []
    for i in range(6):
        cls = 1 + i % 2
        rel = f"00{cls}.Bird_{cls}/img_{i}.jpg"
        (folder / "images" / rel).parent.mkdir(parents=True, exist_ok=True)
        arr = np.full((60, 80, 3), 30, dtype=np.uint8)
        arr[10:30, 40:60] = 220  # the "bird" box
        mode = "L" if i == 0 else "RGB"  # one grey photo, as in the real set
        Image.fromarray(arr).convert(mode).save(folder / "images" / rel, quality=95)
        rows.append((i + 1, rel, cls, int(i < 4)))
    (folder / "images.txt").write_text("".join(f"{i} {p}\n" for i, p, _, _ in rows))
    (folder / "image_class_labels.txt").write_text("".join(f"{i} {c}\n" for i, _, c, _ in rows))
    (folder / "train_test_split.txt").write_text("".join(f"{i} {t}\n" for i, _, _, t in rows))
    (folder / "classes.txt").write_text("1 001.Bird_1\n2 002.Bird_2\n")
    (folder / "bounding_boxes.txt").write_text("".join(f"{i} 40.0 10.0 20.0 20.0\n" for i, *_ in rows))
    return folder


def test_cub_official_split_and_bbox_crop(tmp_path):
    _cub(tmp_path)
    clear_cache()
    train = load_split(DataConfig(name="cub", data_dir=str(tmp_path)), "train")
    test = load_split(DataConfig(name="cub", data_dir=str(tmp_path)), "test")
    assert (len(train), len(test)) == (4, 2)
    assert train.images.shape[1:] == (3, 32, 32) and train.labels.tolist() == [0, 1, 0, 1]
    assert train.classes == ("001.Bird_1", "002.Bird_2")
    boxed = load_split(DataConfig(name="cub-bbox", data_dir=str(tmp_path)), "train")
    # the bird box fills the bbox crop, but only part of the centre crop
    assert boxed.images.float().mean() > 200 > train.images.float().mean()


def test_cub_missing_and_inconsistent(tmp_path):
    with pytest.raises(DataError, match="CUB_200_2011.*(download|data.caltech)"):
        load_split(DataConfig(name="cub", data_dir=str(tmp_path)), "train")
    folder = _cub(tmp_path)
    (folder / "image_class_labels.txt").write_text("1 1\n")
    clear_cache()
    with pytest.raises(DataError, match="disagree"):
        load_split(DataConfig(name="cub", data_dir=str(tmp_path)), "train")


def test_disk_cache_reused_and_rebuilt(tmp_path):
    from latentscape.data.files import disk_cached_array, processed_cache_dir

    calls = []

    def build():
        calls.append(1)
        return np.arange(6, dtype=np.uint8).reshape(2, 3)

    key = {"name": "t", "folder": tmp_path, "files": "abc"}
    first = disk_cached_array(key, build)
    again = disk_cached_array(key, build)
    assert len(calls) == 1 and np.array_equal(first, again)
    disk_cached_array({**key, "files": "abd"}, build)
    assert len(calls) == 2  # another file list is another entry
    files = sorted(processed_cache_dir().glob("t-*.npy"))
    assert len(files) == 2
    for f in files:
        f.write_bytes(b"garbage")
    assert np.array_equal(disk_cached_array(key, build), first)  # a torn cache file is rebuilt
    assert len(calls) == 3
