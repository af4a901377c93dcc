"""`latentscape data list` and `latentscape data info` through the real CLI entry point."""

from __future__ import annotations

import pytest

from latentscape.cli import main


def test_list_shows_every_dataset_with_availability(tmp_path, capsys):
    assert main(["data", "list", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for name in ("digits", "shapes", "mnist", "fashion-mnist, fmnist", "kmnist", "cifar10",
                 "cifar100", "cifar10-subset", "celeba", "cub"):
        assert name in out
    line = next(l for l in out.splitlines() if l.startswith("mnist "))
    assert " no " in line  # empty data root
    assert "embedded" in next(l for l in out.splitlines() if l.startswith("digits "))
    folder = next(l for l in out.splitlines() if l.startswith("folder "))
    assert "data.path" in folder and "embedded" not in folder  # the user's own images, not bundled


def test_info_digits(capsys):
    assert main(["data", "info", "digits", "--val-fraction", "0.2"]) == 0
    out = capsys.readouterr().out
    assert "classes:  10" in out
    rows = {l.split()[0]: l.split() for l in out.splitlines() if l.split() and l.split()[0] in ("train", "val", "test")}
    assert rows["train"][1:5] == ["1200", "1x8x8", "uint8", "0..255"]
    assert rows["val"][1] == "300" and rows["test"][1] == "297"


def test_info_missing_folder_is_one_line_error(tmp_path, capsys):
    assert main(["data", "info", "mnist", "--data-dir", str(tmp_path), "--verify"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "missing" in err[0]


@pytest.mark.shared_data
def test_info_verify_real_mnist(shared_data_dir, capsys):
    assert main(["data", "info", "mnist", "--data-dir", str(shared_data_dir), "--verify"]) == 0
    out = capsys.readouterr().out
    assert "f68b3c2dcbeaaa9fbdd348bbdeb94873  ok" in out
    assert "60000" in out and "10000" in out
