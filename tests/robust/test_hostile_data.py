"""Dataset files that parse but hold nothing a model can use: labels outside the classes, float or
text labels, empty splits, test images of another size, CIFAR batches whose labels or class
names are the wrong type, a folder with test/ but no train/. Each is one DataError line naming
the file or split (exit 2), before a run directory exists."""

from __future__ import annotations

import gzip
import pickle
import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from latentscape.cli import main
from latentscape.config import config_from_dict
from latentscape.data.registry import load_split
from latentscape.errors import DataError

CFG = "model: {name: mlp_classifier, hidden_dims: [4]}\ntrain: {epochs: 1, batch_size: 8, num_threads: 1}\n"


def _idx(path, array: np.ndarray, type_code: int = 0x08) -> None:
    """Write `array` as a gzipped IDX file (big-endian, the MNIST layout)."""
    dtype = {0x08: ">u1", 0x09: ">i1", 0x0D: ">f4"}[type_code]
    header = struct.pack(">HBB", 0, type_code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.astype(dtype).tobytes(), mtime=0))


def _mnist(root, train_labels=None, label_code=0x08, test_side=6, n_test=10):
    """A tiny MNIST folder: 40 training and `n_test` test images of 6x6 (test: test_side)."""
    folder = root / "mnist"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    labels = np.arange(40) % 10 if train_labels is None else np.asarray(train_labels)
    _idx(folder / "train-images-idx3-ubyte.gz", rng.integers(0, 255, (40, 6, 6)))
    _idx(folder / "train-labels-idx1-ubyte.gz", labels, label_code)
    _idx(folder / "t10k-images-idx3-ubyte.gz", rng.integers(0, 255, (n_test, test_side, test_side)))
    _idx(folder / "t10k-labels-idx1-ubyte.gz", np.arange(n_test) % 10)
    return root


def _train_fails(tmp_path, capsys, monkeypatch, overrides, message):
    monkeypatch.setenv("LATENTSCAPE_NO_TENSORBOARD", "1")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(CFG)
    run = tmp_path / "run"
    assert main(["train", str(cfg), *overrides, "--run-dir", str(run)]) == 2
    err = [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith("warning:")]
    assert len(err) == 1 and message in err[0], err
    assert not run.exists()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda r: _mnist(r, train_labels=[200] * 40), "mnist train split (%s/mnist): label 200 is out of range for its 10 classes"),
        (lambda r: _mnist(r, train_labels=[-3] * 40, label_code=0x09), "mnist train split (%s/mnist): label -3 is negative"),
        (lambda r: _mnist(r, train_labels=[1.5] * 40, label_code=0x0D), "train-labels-idx1-ubyte.gz: expected integer labels, got float32"),
        (lambda r: _mnist(r, n_test=0), "mnist test split (%s/mnist) holds no images"),
        (lambda r: _mnist(r, test_side=1), "mnist: the test images are 1x1x1 but the train images are 1x6x6"),
    ],
    ids=["label-too-large", "label-negative", "float-labels", "empty-test", "test-of-another-size"],
)
def test_idx_files_with_unusable_contents(tmp_path, capsys, monkeypatch, make, message):
    root = make(tmp_path / "data")
    _train_fails(tmp_path, capsys, monkeypatch,
                 ["data.name=mnist", "data.verify=false", f"data.data_dir={root}"], message.replace("%s", str(root)))


def _cifar(root, **replace):
    """A tiny cifar-10-batches-py folder (20 images per batch), with some files replaced."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    data = np.random.default_rng(0).integers(0, 255, (20, 3072), dtype=np.uint8)
    files = {f"data_batch_{i}": {b"data": data, b"labels": [i % 10 for i in range(20)]} for i in range(1, 6)}
    files["test_batch"] = {b"data": data, b"labels": [i % 10 for i in range(20)]}
    files["batches.meta"] = {b"label_names": [b"c%d" % i for i in range(10)]}
    files.update(replace)
    for name, obj in files.items():
        (folder / name).write_bytes(pickle.dumps(obj, protocol=2))
    return root


DATA = np.zeros((20, 3072), dtype=np.uint8)


@pytest.mark.parametrize(
    "replace, message",
    [
        ({"data_batch_1": {b"data": DATA, b"labels": {1: 2}}}, "data_batch_1: b'labels' is not a list of integer labels"),
        ({"data_batch_1": {b"data": DATA, b"labels": ["cat"] * 20}}, "data_batch_1: b'labels' is not a list of integer labels"),
        ({"data_batch_1": {b"data": DATA, b"labels": [0.5] * 20}}, "data_batch_1: b'labels' is not a list of integer labels"),
        ({"batches.meta": {b"label_names": 5}}, "batches.meta: b'label_names' in the CIFAR meta file is not a list"),
        ({"batches.meta": {b"label_names": [b"only"]}}, "label 9 is out of range for its 1 classes"),
        ({"test_batch": {b"data": np.zeros((0, 3072), np.uint8), b"labels": []}}, "cifar10 test split"),
    ],
    ids=["labels-dict", "labels-text", "labels-float", "names-int", "too-few-names", "empty-test"],
)
def test_cifar_batches_with_unusable_contents(tmp_path, capsys, monkeypatch, replace, message):
    root = _cifar(tmp_path / "data", **replace)
    _train_fails(tmp_path, capsys, monkeypatch,
                 ["data.name=cifar10", "data.verify=false", f"data.data_dir={root}"], message)


def test_a_folder_with_test_but_no_train_is_not_a_class_named_test(tmp_path):
    root = tmp_path / "imgs"
    for i in range(3):
        (root / "test" / "cat").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (i, i, i)).save(root / "test" / "cat" / f"{i}.png")
    cfg = config_from_dict({"model": {"name": "mlp_classifier"}, "data": {"name": "folder", "path": str(root)}}).data
    with pytest.raises(DataError, match="has test/ but no train/ folder"):
        load_split(cfg, "train")


def test_a_big_but_allowed_picture_header_is_one_line(tmp_path, capsys, monkeypatch):
    """Between Pillow's warning and error thresholds (89M..179M pixels) Pillow only warns, in
    several stderr lines; the truncated file is then the one error line."""
    root = tmp_path / "imgs"
    for split in ("train", "test"):
        (root / split / "a").mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(root / split / "a" / "ok.png")
    big = root / "train" / "a" / "big.png"
    Image.new("RGB", (1, 1)).save(big)
    data = bytearray(big.read_bytes())
    data[16:24] = struct.pack(">II", 12000, 12000)  # IHDR width, height: 144M pixels
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    big.write_bytes(bytes(data))
    with warnings.catch_warnings(record=True) as shown:  # the CLI would print them on stderr
        warnings.simplefilter("always")
        _train_fails(tmp_path, capsys, monkeypatch,
                     ["data.name=folder", f"data.path={root}", "data.image_size=8"], f"{big} is not a readable image")
    assert not [w for w in shown if issubclass(w.category, Image.DecompressionBombWarning)]


@pytest.mark.parametrize("unlabelled", [96, 5], ids=["all", "some"])
def test_a_classifier_on_unlabelled_images_is_refused_before_the_run_exists(tmp_path, monkeypatch, unlabelled):
    import dataclasses

    from latentscape.train.api import train_and_evaluate
    from tinydata import tiny_config, tiny_dataset

    monkeypatch.setenv("LATENTSCAPE_NO_TENSORBOARD", "1")
    train = tiny_dataset()
    labels = train.labels.clone()
    labels[:unlabelled] = -1  # e.g. CelebA, which has no classes
    train = dataclasses.replace(train, labels=labels, classes=() if unlabelled == len(labels) else train.classes)
    with warnings.catch_warnings(record=True) as shown, pytest.raises(DataError, match="classifier needs"):
        warnings.simplefilter("always")
        train_and_evaluate(tiny_config(epochs=1), tmp_path / "run", data={"train": train, "test": tiny_dataset(8, 1, "test")},
                           quiet=True)
    assert not shown and not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["data.name=shapes", "data.image_size=4096", "data.num_examples=100000"], "the shapes dataset (100000 images of 4096x4096) needs"),
        (["data.name=digits", "data.image_size=4096"], "images resized to 4096x4096 needs"),
    ],
    ids=["shapes", "resize"],
)
def test_a_dataset_larger_than_memory_is_refused_before_it_is_built(tmp_path, capsys, monkeypatch, overrides, message):
    """Every value is in its declared range, but together they ask for terabytes: the kernel
    would kill the process (no message) once the pages are touched."""
    from latentscape.data import memory

    if "resize" in message:  # digits at 4096 a side is 'only' ~29 GiB: pretend the machine has 1 GiB
        monkeypatch.setattr(memory, "available_memory", lambda: 1024**3)
    _train_fails(tmp_path, capsys, monkeypatch, overrides, message)


def test_an_image_folder_larger_than_memory_is_refused_before_decoding(tmp_path, monkeypatch):
    from latentscape.data import memory

    root = tmp_path / "imgs"
    for split in ("train", "test"):
        (root / split / "a").mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(root / split / "a" / "x.png")
    monkeypatch.setattr(memory, "available_memory", lambda: 1000)
    cfg = config_from_dict({"model": {"name": "mlp_classifier"},
                            "data": {"name": "folder", "path": str(root), "image_size": 64}}).data
    with pytest.raises(DataError, match=r"1 images of 64x64 needs \d+ KiB of memory, more than the 1000 bytes available; lower data.image_size"):
        load_split(cfg, "train")
