"""`data.name=folder data.path=DIR`: a user's own PNG/JPEG folder is a dataset without code."""

from __future__ import annotations

import hashlib
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from latentscape.cli import main
from latentscape.config import config_from_dict
from latentscape.data.registry import load_split, load_splits
from latentscape.errors import ConfigError, DataError


def _img(path, w, h, value, mode="RGB", fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.full((h, w, 3), value, dtype=np.uint8)
    arr[: h // 2, : w // 2] = 255 - value  # an asymmetric pattern survives the crop
    Image.fromarray(arr).convert(mode).save(path, format=fmt)


def _data(path, **extra):
    return config_from_dict({"model": {"name": "mlp_classifier"},
                             "data": {"name": "folder", "path": str(path), **extra}}).data


@pytest.fixture
def class_folder(tmp_path):
    root = tmp_path / "pets"
    for i in range(5):
        _img(root / "train" / "cat" / f"c{i}.png", 40 + i, 30, 20 + i)
        _img(root / "train" / "dog" / f"d{i}.jpg", 25, 50, 200 - i, fmt="JPEG")
    _img(root / "test" / "dog" / "t0.png", 17, 17, 180, mode="L")
    _img(root / "test" / "cat" / "t1.jpeg", 64, 48, 30, fmt="JPEG")
    (root / "train" / ".DS_Store").write_bytes(b"\0\1")  # hidden files are ignored
    return root


def test_class_subfolders_any_size_resized_rgb_and_grayscale(class_folder):
    train = load_split(_data(class_folder, image_size=16), "train")
    assert train.images.shape == (10, 3, 16, 16) and train.images.dtype.is_floating_point is False
    assert train.classes == ("cat", "dog") and train.labels.tolist() == [0] * 5 + [1] * 5
    test = load_split(_data(class_folder, image_size=16), "test")
    assert test.classes == ("cat", "dog") and sorted(test.labels.tolist()) == [0, 1]
    gray = load_split(_data(class_folder, image_size=8, channels=1), "train")
    assert gray.images.shape == (10, 1, 8, 8)
    # centre crop of a 40x30 picture: the bright top-left quarter is partly cut away, not squeezed
    assert train.images[0, 0, 0, 0] > 200 and train.images[0, 0, -1, -1] < 60


def test_flat_folder_gets_label_0_and_a_seeded_split(tmp_path):
    for i in range(10):
        _img(tmp_path / "flat" / f"{i:02d}.png", 20, 20, 10 * i)
    splits = load_splits(_data(tmp_path / "flat", image_size=8, split_seed=1))
    assert len(splits["train"]) == 8 and len(splits["test"]) == 2
    assert splits["train"].classes == () and splits["train"].labels.tolist() == [0] * 8
    again = load_splits(_data(tmp_path / "flat", image_size=8, split_seed=1))
    assert (again["test"].images == splits["test"].images).all()


def test_train_cli_on_a_user_folder(class_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTSCAPE_NO_TENSORBOARD", "1")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model: {name: mlp_classifier, hidden_dims: [4]}\ntrain: {epochs: 1, batch_size: 4, num_threads: 1}\n")
    run = tmp_path / "run"
    assert main(["train", str(cfg), "data.name=folder", f"data.path={class_folder}", "data.image_size=8",
                 "--run-dir", str(run)]) == 0
    assert (run / "checkpoints" / "final.pt").is_file()


def _png_bomb(path, side=20000):
    """A PNG whose header claims side x side pixels (a few bytes on disk)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _img(path, 1, 1, 0)
    data = bytearray(path.read_bytes())
    data[16:24] = struct.pack(">II", side, side)  # IHDR width, height
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: _png_bomb(d / "train" / "a" / "huge.png"), "huge.png is too large to decode safely"),
        (lambda d: (d / "train" / "a" / "notes.txt").write_text("hi"), "notes.txt is not a PNG/JPEG image"),
        (lambda d: (d / "train" / "a" / "fake.png").write_bytes(b"not a png"), "fake.png is not a readable image"),
        (lambda d: (d / "train" / "a" / "cut.png").write_bytes((d / "train" / "a" / "ok.png").read_bytes()[:60]),
         "cut.png is not a readable image"),
    ],
)
def test_bad_files_in_a_folder_are_one_line_data_errors_naming_the_file(tmp_path, capsys, make, message):
    root = tmp_path / "imgs"
    _img(root / "train" / "a" / "ok.png", 12, 12, 50)
    _img(root / "test" / "a" / "ok.png", 12, 12, 50)
    make(root)
    with pytest.raises(DataError, match=message.split(" ", 1)[1]):
        load_split(_data(root, image_size=8), "train")
    before = {p: hashlib.sha1(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}
    cfg = tmp_path / "c.yaml"
    cfg.write_text("model: {name: mlp_classifier}\n")
    assert main(["train", str(cfg), "data.name=folder", f"data.path={root}", "--run-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and message in err, err
    assert not (tmp_path / "r").exists()
    assert before == {p: hashlib.sha1(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}


def test_missing_path_and_wrong_channels(tmp_path):
    with pytest.raises(ConfigError, match="data.path"):
        load_split(config_from_dict({"model": {"name": "mlp_classifier"}, "data": {"name": "folder"}}).data, "train")
    with pytest.raises(DataError, match="image folder not found"):
        load_split(_data(tmp_path / "nope"), "train")
    with pytest.raises(ConfigError, match="data.channels"):
        _data(tmp_path, channels=2)


def test_verify_false_skips_checksums_with_a_warning(shared_data_dir, tmp_path, capsys):
    import shutil

    from latentscape.data import registry

    import gzip

    copy = tmp_path / "mnist"
    copy.mkdir(parents=True)
    for f in (shared_data_dir / "mnist").glob("t10k-*"):
        shutil.copy(f, copy / f.name)
    labels = copy / "t10k-labels-idx1-ubyte.gz"  # a user's own copy: same data, other gzip header
    labels.write_bytes(gzip.compress(gzip.decompress(labels.read_bytes()), mtime=1))
    base = {"name": "mnist", "data_dir": str(tmp_path)}
    with pytest.raises(DataError):
        load_split(config_from_dict({"model": {"name": "mlp_classifier"}, "data": base}).data, "test")
    registry._WARNED.clear()
    data = load_split(config_from_dict({"model": {"name": "mlp_classifier"},
                                        "data": {**base, "verify": False}}).data, "test")
    assert len(data) == 10000
    assert "data.verify=false" in capsys.readouterr().err
