"""Well-formed torch files that hold weights no model should load: NaN / infinite values, sparse,
complex or integer tensors where floats belong, step counters that are not counts, and pickles
that try to run code. Each is a one-line CheckpointError naming the file (exit 2), for every
command that reads weights, and nothing runs."""

from __future__ import annotations

import dataclasses
import os
import pickle
import shutil
import warnings

import pytest
import torch

from latentscape.cli import main
from latentscape.errors import CheckpointError
from latentscape.rundir.checkpoint import WEIGHTS_FORMAT, load_checkpoint, read_weights
from tinydata import tiny_config, train_quietly


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    configs = {name: dataclasses.replace(tiny_config(epochs=1, **extra), seed=seed)
               for name, seed, extra in (("a", 1, {"keep_every": 2}), ("b", 2, {}))}
    return train_quietly(tmp_path_factory.mktemp("weights"), configs)


@pytest.fixture
def quiet(monkeypatch):
    monkeypatch.setenv("LATENTSCAPE_NO_TENSORBOARD", "1")
    monkeypatch.setenv("LATENTSCAPE_PLOTS", "none")


def _tamper(run, tmp_path, change) -> tuple:
    """A copy of `run` whose final.pt went through `change(checkpoint dict)`."""
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    path = copy / "checkpoints" / "final.pt"
    ckpt = torch.load(path, weights_only=True)
    change(ckpt)
    torch.save(ckpt, path)
    return copy, path


def _weights(fn):
    def change(ckpt):
        ckpt["state_dict"] = {k: fn(v) for k, v in ckpt["state_dict"].items()}
    return change


def _meta(step):
    def change(ckpt):
        ckpt["meta"] = {"step": step}
    return change


BAD = [
    ("nan", _weights(lambda v: torch.full_like(v, float("nan"))), "holds NaN or infinite values"),
    ("inf", _weights(lambda v: v.clone().fill_(float("inf"))), "holds NaN or infinite values"),
    ("sparse", _weights(lambda v: v.to_sparse()), "is a sparse tensor"),
    ("complex", _weights(lambda v: v.to(torch.complex64)), "is of dtype torch.complex64"),
    ("integer", _weights(lambda v: v.long()), "is of dtype torch.int64"),
    ("meta step text", _meta("abc"), "meta.step 'abc' is not a step count"),
    ("meta step list", _meta([1]), "meta.step [1] is not a step count"),
    ("meta step negative", _meta(-5), "meta.step -5 is not a step count"),
    ("meta step bool", _meta(True), "meta.step True is not a step count"),
    ("meta step huge", _meta(10**30), "is not a step count"),
]


@pytest.mark.parametrize("what, change, message", BAD, ids=[b[0] for b in BAD])
def test_unusable_weights_are_one_line_checkpoint_errors(runs, tmp_path, quiet, capsys, what, change, message):
    run, path = _tamper(runs["a"], tmp_path, change)
    argvs = [
        ["eval", str(run), "--metrics", "loss"],
        ["path", str(run), str(runs["b"]), "--points", "3", "--splits", "test", "--out", str(tmp_path / "p")],
        ["hessian", str(run), "--top-k", "1", "--max-iter", "2", "--out", str(tmp_path / "h")],
    ]
    for argv in argvs:
        assert main(argv) == 2, (what, argv[0])
        err = capsys.readouterr().err.strip()
        assert err.splitlines() == [err] and str(path) in err and message in err, (argv[0], err)
    assert not (tmp_path / "p").exists() and not (tmp_path / "h").exists()


def test_a_kept_checkpoint_of_another_shape_is_named_by_trajectory(runs, tmp_path, quiet, capsys):
    run = tmp_path / "run"
    shutil.copytree(runs["a"], run)
    kept = sorted((run / "checkpoints" / "keep").glob("step_*.pt"))[0]
    ckpt = torch.load(kept, weights_only=True)
    ckpt["state_dict"] = {k: torch.zeros(*(s + 1 for s in v.shape)) for k, v in ckpt["state_dict"].items()}
    torch.save(ckpt, kept)
    assert main(["trajectory", str(run), "--grid", "3", "--splits", "test", "--out", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and f"{kept}: weights do not fit the model" in err, err


def test_resume_refuses_nan_weights_in_last_pt(runs, tmp_path, quiet, capsys):
    run = tmp_path / "run"
    shutil.copytree(runs["a"], run)
    last = run / "checkpoints" / "last.pt"
    ckpt = load_checkpoint(last)
    ckpt["finished"] = False
    ckpt["model"] = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in ckpt["model"].items()}
    torch.save(ckpt, last)
    assert main(["train", "--resume", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and f"{last}: weight" in err and "NaN" in err, err


class _Touch:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [2, 4, pickle.HIGHEST_PROTOCOL])
def test_code_carrying_pickles_never_run_and_print_one_line(tmp_path, protocol):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"format": WEIGHTS_FORMAT, "state_dict": _Touch(marker), "meta": {}}, protocol=protocol))
    with warnings.catch_warnings(record=True) as shown, pytest.raises(CheckpointError) as info:
        warnings.simplefilter("always")
        read_weights(path)
    assert "refused to load" in str(info.value) and "\n" not in str(info.value)
    assert not shown, [str(w.message) for w in shown]  # torch's multi-line protocol warning is not shown
    assert not marker.exists()


def test_random_bytes_are_not_called_a_python_object(tmp_path):
    path = tmp_path / "noise.pt"
    path.write_bytes(bytes(range(256)) * 20)
    with pytest.raises(CheckpointError, match="neither a torch.save archive nor a pickle of plain data"):
        load_checkpoint(path)


def _restartable(run, tmp_path, change):
    """A copy of `run` whose last.pt is an unfinished state at step 0, changed by `change`."""
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    last = copy / "checkpoints" / "last.pt"
    ckpt = load_checkpoint(last)
    ckpt.update(finished=False, step=0, epoch=0, batch_in_epoch=0, metrics_rows=0)
    change(ckpt)
    torch.save(ckpt, last)
    return copy, last


def _moments(fn):
    def change(ckpt):
        for state in ckpt["optimizers"]["main"]["state"].values():
            for key in ("exp_avg", "exp_avg_sq"):
                state[key] = fn(state[key])
    return change


@pytest.mark.parametrize(
    "change, message",
    [
        (_moments(lambda t: torch.zeros(3)), "optimizer 'main' state 'exp_avg' is torch.float32 (3,), its parameter"),
        (_moments(lambda t: torch.full_like(t, float("nan"))), "optimizer 'main' state 'exp_avg' holds NaN"),
        (lambda c: c.update(window={"loss": "abc"}), "damaged train state (ValueError"),
        (lambda c: c.update(metrics_rows="x"), "metrics_rows 'x' is not a row count"),
    ],
    ids=["moment-shape", "moment-nan", "window", "metrics-rows"],
)
def test_resume_refuses_optimizer_and_counter_state_that_does_not_fit(runs, tmp_path, change, message):
    """The fused Adam kernel does not check shapes: a moment buffer of another shape read and
    wrote out of bounds (SIGSEGV) before; run in a subprocess so a crash is a failure, not the end."""
    import subprocess
    import sys
    from pathlib import Path

    import latentscape

    run, last = _restartable(runs["a"], tmp_path, change)
    src = str(Path(latentscape.__file__).resolve().parents[1])
    done = subprocess.run([sys.executable, "-m", "latentscape.cli", "train", "--resume", str(run)], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": src, "LATENTSCAPE_NO_TENSORBOARD": "1"})
    err = done.stderr.strip()
    assert done.returncode == 2 and err.splitlines() == [err] and f"{last}: " in err and message in err, (done.returncode, err)


@pytest.mark.parametrize("damage", ["truncated", "missing-sigma", "wrong-shape", "nan"])
def test_a_damaged_fid_statistics_cache_is_rebuilt_not_trusted(tmp_path, damage):
    """The reference statistics under ~/.cache are ours to rebuild: a damaged file (a kill while
    copying, another version) is recomputed and replaced instead of failing every FID."""
    from latentscape.data.types import ImageDataset
    from latentscape.metrics.features import FeatureExtractor
    from latentscape.metrics.reference_stats import reference_stats, stats_path

    data = ImageDataset(torch.randint(0, 255, (20, 1, 4, 4), dtype=torch.uint8), torch.zeros(20, dtype=torch.long), name="toy")
    ext = FeatureExtractor("toy", "toy-0001", 3, lambda x: x.flatten(1)[:, :3].double(), torch.device("cpu"))
    good = reference_stats(data, ext, batch_size=8, cache_dir=tmp_path)
    path = stats_path(data, ext, tmp_path)
    raw = torch.load(path, weights_only=True)
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:100])
    else:
        if damage == "missing-sigma":
            del raw["sigma"]
        elif damage == "wrong-shape":
            raw["sigma"] = torch.zeros(2, 2, dtype=torch.float64)
        else:
            raw["mu"] = torch.full_like(raw["mu"], float("nan"))
        torch.save(raw, path)
    again = reference_stats(data, ext, batch_size=8, cache_dir=tmp_path)
    torch.testing.assert_close(again.mu, good.mu)
    torch.testing.assert_close(again.sigma, good.sigma)
    assert torch.load(path, weights_only=True)["sigma"].shape == (3, 3)  # replaced by a good copy


def test_other_torch_files_are_read_quietly_and_never_run_code(tmp_path, monkeypatch):
    """LPIPS / Inception weights given with --opt and the decoded-data cache go through the same
    quiet safe load: a code-carrying protocol-4 pickle is refused with no warning lines."""
    from latentscape.data import files
    from latentscape.errors import LatentscapeError
    from latentscape.nets.weights import load_state_dict

    marker = tmp_path / "pwned"
    path = tmp_path / "heads.pth"
    path.write_bytes(pickle.dumps({"w": _Touch(marker)}, protocol=4))
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        with pytest.raises(LatentscapeError, match="not a readable weights file"):
            load_state_dict(path, "LPIPS heads")
        monkeypatch.setattr(files, "_decoded_path", lambda key: path)
        assert files._load_decoded(("anything",)) is None and not path.exists()  # removed, to be rebuilt
    assert not shown, [str(w.message) for w in shown]
    assert not marker.exists()
