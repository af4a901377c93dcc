"""Atomic writes: no torn or temp files left behind, ordinary permissions."""

import os
import stat

import pytest

from latentscape.io import atomic_write, atomic_write_text


def test_atomic_write_replaces_and_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "a" / "report.html"
    atomic_write_text(path, "old")

    def fail(fh):
        fh.write(b"half")
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        atomic_write(path, fail)
    assert path.read_text() == "old"
    assert os.listdir(path.parent) == ["report.html"]  # temp file removed
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # as open() would create it


def _normal_mode():
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def test_every_writer_gives_normal_permissions(tmp_path):
    """Checkpoints, JSON, text-mode writes and run files all come from the one writer."""
    import torch

    from latentscape.rundir.checkpoint import atomic_save, save_weights
    from latentscape.io import write_json

    paths = [
        atomic_save({"format": "x"}, tmp_path / "c.pt"),
        save_weights({"w": torch.zeros(2)}, tmp_path / "w.pt", step=3),
        write_json(tmp_path / "r.json", {"a": 1}),
        atomic_write(tmp_path / "t.txt", lambda fh: fh.write("text"), mode="w"),
    ]
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) == _normal_mode(), path
    assert (tmp_path / "t.txt").read_text() == "text"


def test_write_json_is_strict_json(tmp_path):
    import json

    import numpy as np
    import torch

    from latentscape.io import write_json

    path = write_json(tmp_path / "x.json", {"nan": float("nan"), "t": torch.tensor([1.5]), "a": np.float32(2.0), 3: tmp_path})
    assert json.loads(path.read_text(), parse_constant=lambda c: pytest.fail(f"non-strict {c}")) == {
        "nan": None, "t": [1.5], "a": 2.0, "3": str(tmp_path),
    }
