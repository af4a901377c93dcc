"""Runs too big to start, and what a full disk or a hostile run folder says: one line, exit 2,
before any run directory exists. An MLP of three 100,000-wide layers (80 GB of weights) and one
that barely fits a 24 GiB machine (30,000-30,000: Adam's state takes it over), counts no study
could finish (train.epochs, tune --repeats / --trials), a storage URL whose password holds `@`
or sits in the query, a checkpoint written to a full disk, data_info.json with num_classes -1."""

from __future__ import annotations

import errno
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

import latentscape
from latentscape.cli import main
from latentscape.data import memory
from latentscape.errors import LatentscapeError
from latentscape.rundir.checkpoint import atomic_save

GIB = 1024**3
MACHINE_24GIB = 22 * GIB  # what a 24 GiB machine has available with nothing else running
SRC = str(Path(latentscape.__file__).resolve().parents[1])


def _yaml(tmp_path: Path, hidden: list[int], **train) -> Path:
    path = tmp_path / "mlp.yaml"
    path.write_text(yaml.safe_dump({
        "model": {"name": "mlp_classifier", "hidden_dims": hidden}, "data": {"name": "digits"},
        "train": {"epochs": 1, "batch_size": 16, **train},
    }))
    return path


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err], err
    return err


@pytest.fixture
def quiet(monkeypatch):
    monkeypatch.setenv("LATENTSCAPE_NO_TENSORBOARD", "1")
    monkeypatch.setenv("LATENTSCAPE_PLOTS", "none")
    monkeypatch.delenv("LATENTSCAPE_NO_LIMITS", raising=False)


@pytest.mark.parametrize("hidden, needs", [([100_000, 100_000, 100_000], 400), ([30_000, 30_000], 19)], ids=["100k-100k-100k", "30k-30k"])
def test_a_model_that_does_not_fit_is_refused_before_the_run_exists(tmp_path, quiet, monkeypatch, capsys, hidden, needs):
    monkeypatch.setattr(memory, "available_memory", lambda: MACHINE_24GIB)
    run = tmp_path / "run"
    assert main(["train", str(_yaml(tmp_path, hidden)), "--run-dir", str(run)]) == 2
    err = _one_line(capsys)
    assert f"training mlp_classifier(hidden_dims={hidden})" in err  # the configuration
    assert float(err.split(" needs ")[1].split(" GiB")[0]) > needs  # the estimate
    assert "optimizer state" in err and "LATENTSCAPE_NO_LIMITS=1" in err
    assert not run.exists() and not list(tmp_path.glob(".run.creating-*"))


def test_a_run_folder_whose_config_asks_for_terabytes_is_refused_on_loading(tmp_path, quiet, monkeypatch, capsys):
    from tinydata import tiny_config, train_quietly

    run = train_quietly(tmp_path, {"run": tiny_config(epochs=1)})["run"]
    raw = yaml.safe_load((run / "config.yaml").read_text())
    raw["model"]["hidden_dims"] = [100_000, 100_000, 100_000]
    (run / "config.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.setattr(memory, "available_memory", lambda: MACHINE_24GIB)
    assert main(["eval", str(run), "--metrics", "loss"]) == 2
    assert "loading mlp_classifier(hidden_dims=[100000, 100000, 100000])" in _one_line(capsys)


def test_the_estimate_can_be_overridden_on_purpose(monkeypatch):
    from latentscape.rundir.footprint import check_model_fits
    from latentscape.rundir.model import DataInfo
    from tinydata import tiny_config

    monkeypatch.setattr(memory, "available_memory", lambda: 1000)
    with pytest.raises(LatentscapeError, match="needs .* more than"):
        check_model_fits(tiny_config(), DataInfo((1, 6, 6), 2, 96))
    monkeypatch.setenv("LATENTSCAPE_NO_LIMITS", "1")
    assert check_model_fits(tiny_config(), DataInfo((1, 6, 6), 2, 96)) is None


@pytest.mark.timeout(120)  # were it not refused, it would train for days
def test_a_run_that_could_not_finish_is_refused(tmp_path, quiet, monkeypatch, capsys):
    from latentscape.rundir import footprint

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(footprint, "PEAK_FLOPS_PER_CPU_CORE", 1e9)  # a slow machine
    assert main(["train", str(_yaml(tmp_path, [4000, 4000], epochs=100_000)), "--run-dir", str(tmp_path / "run")]) == 2
    err = _one_line(capsys)
    assert "days at this CPU's peak rate" in err and "lower train.epochs" in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "CFG", "train.epochs=1000000000"], "train.epochs=1000000000 is above the declared limit 100000"),
        (["train", "CFG", "train.max_steps=1000000000000"], "train.max_steps=1000000000000 is above the declared limit 100000000"),
        (["tune", "CFG", "--grid", "train.optimizer.lr=1e-3", "--repeats", "1000000", "--study-dir", "S"], "--repeats: 1000000 is above the declared limit 100"),
        (["tune", "CFG", "--space", "train.optimizer.lr=loguniform(1e-4,1e-2)", "--trials", "100000000", "--study-dir", "S"], "--trials: 100000000 is above the declared limit 10000"),
        (["connect", "A", "B", "--epochs", "1000000000"], "--epochs: 1000000000 is above the declared limit 100000"),
    ],
    ids=["epochs", "max-steps", "repeats", "trials", "connect-epochs"],
)
def test_counts_no_study_could_finish_are_refused_with_the_way_past_them(tmp_path, quiet, capsys, args, message):
    cfg = _yaml(tmp_path, [8])
    args = [str(cfg) if a == "CFG" else str(tmp_path / a) if a in ("S", "A", "B") else a for a in args]
    with pytest.raises(SystemExit) if args[0] != "train" else _no_exit():
        code = main(args)
        assert code == 2
    err = _one_line(capsys)
    assert message in err and "LATENTSCAPE_NO_LIMITS=1" in err
    assert not (tmp_path / "S").exists()


class _no_exit:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_lifting_the_limits_accepts_a_long_run_config(monkeypatch):
    from latentscape.config import config_from_dict

    raw = {"model": {"name": "mlp_classifier"}, "data": {"name": "digits"}, "train": {"epochs": 1_000_000}}
    with pytest.raises(LatentscapeError, match="declared limit"):
        config_from_dict(raw)
    monkeypatch.setenv("LATENTSCAPE_NO_LIMITS", "1")
    assert config_from_dict(raw).train.epochs == 1_000_000


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://bob:p@ss-w0rd@127.0.0.1:1/study",
        "postgresql+psycopg://127.0.0.1:1/study?user=bob&password=hunter2-secret",
        "postgresql+psycopg://bob:se:cr/et@127.0.0.1:1/study?sslmode=disable",
    ],
    ids=["at-in-password", "password-query", "slash-in-password"],
)
def test_a_storage_url_is_never_printed_with_its_password(tmp_path, quiet, capsys, url):
    cfg = _yaml(tmp_path, [8])
    code = main(["tune", str(cfg), "--grid", "train.optimizer.lr=1e-3", "--study-dir", str(tmp_path / "s"), "--storage", url])
    assert code == 2
    err = _one_line(capsys)
    for secret in ("p@ss-w0rd", "ss-w0rd", "hunter2", "se:cr/et", "cr/et", "bob:"):
        assert secret not in err, err
    assert "***@127.0.0.1:1/study" in err or "password=***" in err


class FullDisk:
    """A file on a disk that fills up after `room` bytes (writes fail with ENOSPC, as the OS says)."""

    def __init__(self, fh, room: int = 4096):
        self.fh, self.room, self.written = fh, room, 0

    def write(self, data):
        self.written += len(data)
        if self.written > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.fh.write(data)

    def __getattr__(self, name):
        return getattr(self.fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.fh.close()


@pytest.fixture
def full_disk(monkeypatch):
    import builtins

    import latentscape.io as lio

    real_open = builtins.open
    monkeypatch.setattr(lio, "open", lambda *a, **k: FullDisk(real_open(*a, **k)), raising=False)


def test_a_checkpoint_written_to_a_full_disk_names_the_file_and_the_cause(tmp_path, full_disk):
    target = tmp_path / "checkpoints" / "last.pt"
    with pytest.raises(LatentscapeError) as info:
        atomic_save({"w": torch.zeros(100_000)}, target)
    assert str(info.value) == f"cannot write {target}: No space left on device"
    assert not target.exists() and not list(target.parent.glob("*.tmp"))


def test_a_metrics_line_written_to_a_full_disk_names_the_log(tmp_path, full_disk):
    from latentscape.rundir.run import Run

    run = Run(tmp_path)
    run._keys, run._rows = set(), 0
    with pytest.raises(LatentscapeError) as info:
        run.log({"loss": 0.5, "note": "x" * 5000}, step=1)
    assert str(info.value) == f"cannot write {tmp_path / 'metrics.jsonl'}: No space left on device"


def test_a_checkpoint_write_the_kernel_refuses_names_the_file(tmp_path):
    """A real failing write (RLIMIT_FSIZE: the kernel's EFBIG) in a child process: torch.save's
    "[enforce fail at inline_container.cc]" becomes one line naming the file and the cause."""
    code = (
        "import resource, signal, sys, torch\n"
        "from latentscape.rundir.checkpoint import atomic_save\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))\n"
        "atomic_save({'w': torch.zeros(100_000)}, sys.argv[1])\n"
    )
    env = {**os.environ, "PYTHONPATH": SRC}
    target = tmp_path / "last.pt"
    proc = subprocess.run([sys.executable, "-c", f"from latentscape.cli import main\n{code}", str(target)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert f"cannot write {target}: File too large" in last and "inline_container" not in proc.stderr


def test_data_info_with_a_negative_class_count_says_so(tmp_path, quiet, capsys):
    from tinydata import tiny_config, train_quietly

    run = train_quietly(tmp_path, {"run": tiny_config(epochs=1)})["run"]
    info = json.loads((run / "data_info.json").read_text())
    (run / "data_info.json").write_text(json.dumps({**info, "num_classes": -1}))
    assert main(["eval", str(run), "--metrics", "loss"]) == 2
    err = _one_line(capsys)
    assert "num_classes -1" in err and "image_shape" not in err
